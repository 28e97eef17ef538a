"""One shared watch cache per cluster: the live state of every kind apps manage.

``WatchCache.ensure(api_version, kind)`` starts an informer for that kind the
first time it is asked for (list, then watch from the list's resourceVersion,
re-list when the watch expires) and returns once the first list is in. From
then on ``get`` answers from memory, and every change is handed to the
subscribers — the controller uses that to re-check the owning app within
moments of an out-of-band edit, instead of polling each app.

Contract:
* ``get`` returns ``None`` for "not cached" *and* "does not exist" only
  after ``ensure`` succeeded for the kind; callers check ``synced`` first.
* Objects are the API server's dicts; callers must not mutate them.
* Kept objects carry ``metadata.managedFields`` as the API server sent it
  (diff prediction, ``managedFieldsManagers`` and the dry-run verdict's
  fingerprint read the managers, operations and ``fieldsV1`` trees) except
  each entry's ``time``, which nothing reads; equal lists are shared between
  objects (``FieldsInterner``): objects applied alike own the same fields, so
  a thousand such objects hold one copy instead of a thousand (about half of
  a small object's memory).
* With a ``namespace`` (a namespaced install, whose RBAC allows nothing
  else), informers list and watch only that namespace. A kind this identity
  may not list at all (a cluster-scoped kind there) fails ``ensure`` at once
  with ``ListForbiddenError``, an ``UnknownKindError``: callers read such
  objects one by one, as they do for kinds not served yet.
* Subscribers are called synchronously from the informer task: keep them
  cheap (enqueue a key, nothing more).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from driftless.kube.client import (
    KubeApiError,
    KubeClient,
    KubeExpiredError,
    KubeForbiddenError,
    KubeNotFoundError,
    WatchEvent,
)
from driftless.kube.discovery import UnknownKindError

log = logging.getLogger(__name__)

JSON = dict[str, Any]
Kind = tuple[str, str]  # (apiVersion, kind)
Subscriber = Callable[[str, JSON], None]
RELIST_DELAY_SECONDS = 1.0
# Distinct managedFields lists shared at most; past it the table starts afresh
# (objects keep what they hold): bounded memory whatever the cluster holds.
MAX_INTERNED = 4096


class FieldsInterner:
    """Shares equal ``metadata.managedFields`` lists (less ``time``) between objects.

    Pure apart from its table. The shared lists are never mutated (module
    contract), so sharing cannot leak one object's change into another.
    """

    def __init__(self, limit: int = MAX_INTERNED) -> None:
        self.limit = limit
        self._table: dict[str, list[JSON]] = {}

    def compact(self, obj: JSON) -> JSON:
        """``obj`` with its managedFields replaced by the shared equal list (in place)."""
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            return obj
        entries = meta.get("managedFields")
        if not isinstance(entries, list) or not entries:
            return obj
        kept = [
            {k: v for k, v in entry.items() if k != "time"} if isinstance(entry, dict) else entry
            for entry in entries
        ]
        try:
            key = json.dumps(kept, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):  # not JSON (never from the API server): keep as is
            return obj
        shared = self._table.get(key)
        if shared is None:
            if len(self._table) >= self.limit:
                self._table.clear()
            shared = self._table[key] = kept
        meta["managedFields"] = shared
        return obj

    def __len__(self) -> int:
        return len(self._table)


class ListForbiddenError(UnknownKindError):
    """The kind is served, but this identity may not list it (see the module contract)."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(api_version, kind)
        self.args = (f"not allowed to list kind {kind!r} in apiVersion {api_version!r}",)


class _Informer:
    """List+watch of one kind, cluster-wide or in one namespace."""

    def __init__(
        self,
        client: KubeClient,
        kind: Kind,
        notify: Subscriber,
        namespace: str | None = None,
        fields: FieldsInterner | None = None,
    ) -> None:
        self.client = client
        self.kind = kind
        self.notify = notify
        self.namespace = namespace
        self.fields = fields or FieldsInterner()
        self.objects: dict[tuple[str, str], JSON] = {}
        self.synced = asyncio.Event()
        self.failed: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"informer {self.kind[1]}")

    async def _run(self) -> None:
        api_version, kind = self.kind
        while True:
            try:
                version = await self._relist()
                while True:
                    async for event in self.client.watch(
                        api_version,
                        kind,
                        self.namespace,
                        resource_version=version,
                        timeout_seconds=300,
                    ):
                        version = self._apply(event) or version
            except UnknownKindError as exc:
                self.failed = exc  # the CRD went away; ensure() will report it
                self.synced.set()
                return
            except KubeForbiddenError as exc:
                if not self.synced.is_set():  # RBAC: this identity may not list the kind
                    self.failed = ListForbiddenError(api_version, kind)
                    self.synced.set()
                    return
                log.debug("watch of %s refused: %s", kind, exc)
            except KubeExpiredError:
                pass  # 410: the watch's resource version expired; re-list
            except KubeNotFoundError as exc:  # 404: the kind is not served (any more)
                log.warning("cannot list or watch %s (was its CRD deleted?): %s", kind, exc)
            except KubeApiError as exc:
                log.debug("watch of %s interrupted: %s", kind, exc)
            await asyncio.sleep(RELIST_DELAY_SECONDS)

    async def _relist(self) -> str:
        items, version = await self.client.list_with_version(*self.kind, self.namespace)
        fresh = {_key(obj): self.fields.compact(obj) for obj in items}
        for key, old in self.objects.items():
            if key not in fresh:
                self.notify("DELETED", old)
        for key, obj in fresh.items():
            previous = self.objects.get(key)
            if previous is None or _rv(previous) != _rv(obj):
                self.notify("MODIFIED" if previous else "ADDED", obj)
        self.objects = fresh
        self.synced.set()
        return version

    def _apply(self, event: WatchEvent) -> str:
        obj = event.obj
        version = _rv(obj)
        if event.type == "BOOKMARK":
            return version
        obj.setdefault("apiVersion", self.kind[0])
        obj.setdefault("kind", self.kind[1])
        if event.type == "DELETED":
            self.objects.pop(_key(obj), None)
        else:
            self.objects[_key(obj)] = self.fields.compact(obj)
        self.notify(event.type, obj)
        return version


class WatchCache:
    """Informers for every kind asked for, sharing one set of subscribers."""

    def __init__(self, client: KubeClient, *, namespace: str | None = None) -> None:
        self.client = client
        self.namespace = namespace
        self._informers: dict[Kind, _Informer] = {}
        self._subscribers: list[Subscriber] = []
        # One table for every kind of this cluster (kinds rarely share lists, but
        # one bound is simpler to reason about than one per informer).
        self._fields = FieldsInterner()

    def subscribe(self, callback: Subscriber) -> None:
        self._subscribers.append(callback)

    async def ensure(self, api_version: str, kind: str, timeout: float = 30) -> None:
        """Start watching a kind (once) and wait for its first list."""
        key = (api_version, kind)
        informer = self._informers.get(key)
        if informer is None:
            informer = _Informer(self.client, key, self._notify, self.namespace, self._fields)
            self._informers[key] = informer
            informer.start()
        await asyncio.wait_for(informer.synced.wait(), timeout)
        if informer.failed is not None:
            if not isinstance(informer.failed, ListForbiddenError):
                self._informers.pop(key, None)  # may be served later: try again then
            raise informer.failed

    def synced(self, api_version: str, kind: str) -> bool:
        informer = self._informers.get((api_version, kind))
        return informer is not None and informer.synced.is_set() and informer.failed is None

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> JSON | None:
        informer = self._informers.get((api_version, kind))
        if informer is None:
            return None
        return informer.objects.get((namespace, name))

    def kinds(self) -> list[Kind]:
        return list(self._informers)

    def object_count(self) -> int:
        """How many objects the informers hold now (all kinds; for metrics)."""
        return sum(len(informer.objects) for informer in self._informers.values())

    async def close(self) -> None:
        tasks = [i.task for i in self._informers.values() if i.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._informers.clear()

    def _notify(self, event_type: str, obj: JSON) -> None:
        for callback in self._subscribers:
            try:
                callback(event_type, obj)
            except Exception:  # one bad subscriber must not stop the informer
                log.exception("watch subscriber failed")


def _key(obj: JSON) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name", ""))


def _rv(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))
