"""The server's memory of Applications and Projects, kept current by watches.

Two follow loops (list, then watch from the list's resourceVersion, re-list
when the watch expires) keep, per Application, only what the API serves:

* a ``rows.Row`` (the list's projection, redacted), which list requests
  filter and sort in memory (``apps_query``): no request lists anything
  against the API server;
* the object as the detail route sends it -- redacted, without
  managedFields -- as compressed JSON bytes.

Why not ``kube.cache.WatchCache``: it keeps every object whole, as parsed
dicts, and lists a kind in one go. An Application with a filled status is
tens of KiB as dicts, so 10,000 of them would take the server far past its
memory goal (250 MiB); here a list is read a page at a time
(``KubeClient.list_pages``) and an app costs a row and a few KiB of bytes.
Projects are few: kept as redacted dicts, those of the controller's
namespace only (the only ones the controller reads).

Contract:

* ``start()`` runs both loops until ``close()``; while a kind is not served
  (the CRDs are missing) or the API server is down it retries every
  ``RETRY_SECONDS``; ``problem`` says why it is not ready, for ``/readyz``.
* ``ready`` is true once both kinds have been listed once; from then on the
  reads (``rows``, ``app``, ``app_json``, ``projects``) answer from memory
  and never block. A watch that breaks later keeps the last state served.
* ``subscribe(listener)``: called synchronously on every change of an
  Application as ``listener(row, None)`` (added or changed) or
  ``listener(None, key)`` (deleted, ``key`` = (namespace, name)); keep it
  cheap (a stream enqueues). A relist tells only what changed.
* Everything returned is already redacted and is the caller's to keep.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.core.redaction import redacted
from driftless.core.repourl import redact
from driftless.kube.client import KubeApiError, KubeClient, UnknownKindError, WatchEvent
from driftless.kube.errors import KubeExpiredError
from driftless.server.rows import Row, app_key, app_row

__all__ = ["RETRY_SECONDS", "Caches", "Listener"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
Key = tuple[str, str]
Listener = Callable[[Row | None, Key | None], None]
RETRY_SECONDS = 3.0
WATCH_SECONDS = 300
# Objects of one list page are whole dicts until projected: a small page keeps
# that peak (and the memory the process keeps after it) low.
PAGE_SIZE = 200


def _version(obj: JSON) -> str:
    meta = obj.get("metadata")
    return str(meta.get("resourceVersion", "")) if isinstance(meta, dict) else ""


def _encode(obj: JSON) -> bytes:
    text = json.dumps(redacted(obj), separators=(",", ":"), ensure_ascii=False)
    return zlib.compress(text.encode(), 1)


@dataclass(frozen=True, slots=True)
class _App:
    row: Row
    version: str
    blob: bytes  # zlib-compressed JSON of the redacted object


class _Store(Protocol):
    synced: bool

    def upsert(self, obj: JSON) -> None: ...

    def remove(self, key: Key) -> None: ...

    def keys(self) -> set[Key]: ...


class _Apps:
    def __init__(self, tell: Listener) -> None:
        self.synced = False
        self.entries: dict[Key, _App] = {}
        self.tell = tell

    def upsert(self, obj: JSON) -> None:
        key, version = app_key(obj), _version(obj)
        old = self.entries.get(key)
        if old is not None and version and old.version == version:
            return  # a relist of an object we have
        row = app_row(obj)
        self.entries[key] = _App(row, version, _encode(obj))
        self.tell(row, None)

    def remove(self, key: Key) -> None:
        if self.entries.pop(key, None) is not None:
            self.tell(None, key)

    def keys(self) -> set[Key]:
        return set(self.entries)


class _Projects:
    def __init__(self, namespace: str) -> None:
        self.synced = False
        self.namespace = namespace
        self.objects: dict[Key, JSON] = {}

    def upsert(self, obj: JSON) -> None:
        key = app_key(obj)
        if key[0] == self.namespace:
            self.objects[key] = redacted(obj)

    def remove(self, key: Key) -> None:
        self.objects.pop(key, None)

    def keys(self) -> set[Key]:
        return set(self.objects)


class Caches:
    def __init__(
        self,
        client: KubeClient,
        *,
        controller_namespace: str,
        apps_namespace: str | None = None,
    ) -> None:
        self.client = client
        self.controller_namespace = controller_namespace
        self.apps_namespace = apps_namespace
        self._listeners: list[Listener] = []
        self._apps = _Apps(self._tell)
        self._projects = _Projects(controller_namespace)
        self.problem = "starting: Applications and Projects not listed yet"
        self._tasks: list[asyncio.Task[None]] = []

    # -- reads (memory only) -------------------------------------------

    @property
    def ready(self) -> bool:
        return self._apps.synced and self._projects.synced

    def waiting(self) -> str:
        """What ``/readyz`` tells anyone: the caches not listed yet, and no reason."""
        names = [
            kind
            for kind, store in (("Applications", self._apps), ("Projects", self._projects))
            if not store.synced
        ]
        return f"not ready: {', '.join(names)} not listed yet" if names else "ready"

    def rows(self) -> list[Row]:
        return [entry.row for entry in self._apps.entries.values()]

    def app_json(self, namespace: str, name: str) -> bytes | None:
        """The redacted Application as JSON bytes, or ``None``."""
        entry = self._apps.entries.get((namespace, name))
        return None if entry is None else zlib.decompress(entry.blob)

    def app(self, namespace: str, name: str) -> JSON | None:
        """The redacted Application, or ``None``."""
        raw = self.app_json(namespace, name)
        return None if raw is None else dict(json.loads(raw))

    def projects(self) -> list[JSON]:
        """Projects of the controller's namespace, by name."""
        return [self._projects.objects[key] for key in sorted(self._projects.objects)]

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- lifecycle -----------------------------------------------------

    async def start(self) -> None:
        """Follow both kinds until ``close()`` (see the module contract)."""
        self._tasks = [
            asyncio.create_task(
                self._follow(self._apps, APPLICATION_KIND, self.apps_namespace), name="apps cache"
            ),
            asyncio.create_task(
                self._follow(self._projects, PROJECT_KIND, self.controller_namespace),
                name="projects cache",
            ),
        ]
        await asyncio.gather(*self._tasks)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- list and watch ------------------------------------------------

    async def _follow(self, store: _Store, kind: str, namespace: str | None) -> None:
        while True:
            try:
                version = await self._relist(store, kind, namespace)
                if not store.synced:
                    store.synced = True
                    if self.ready:
                        self.problem = ""
                        log.info("caches ready: %d applications", len(self._apps.entries))
                while True:
                    async for event in self.client.watch(
                        API_VERSION,
                        kind,
                        namespace,
                        resource_version=version,
                        timeout_seconds=WATCH_SECONDS,
                    ):
                        version = self._apply(store, event) or version
            except KubeExpiredError:
                continue  # 410: the watch's resource version is gone; re-list now
            except UnknownKindError:
                self._trouble(store, "the driftless CRDs are not installed: run driftless install")
            except KubeApiError as exc:
                self._trouble(store, f"cannot list or watch {kind}s: {redact(str(exc))}")
            except Exception as exc:  # a bug here must not leave the server silently stale
                log.error(
                    "following %ss failed: %s: %s", kind, type(exc).__name__, redact(str(exc))
                )
                self._trouble(store, f"following {kind}s failed; see the server's log")
            await asyncio.sleep(RETRY_SECONDS)

    def _trouble(self, store: _Store, problem: str) -> None:
        if not store.synced:
            self.problem = problem
        log.warning("%s", problem)

    async def _relist(self, store: _Store, kind: str, namespace: str | None) -> str:
        seen: set[Key] = set()
        version = ""
        async for page, page_version in self.client.list_pages(
            API_VERSION, kind, namespace, page_size=PAGE_SIZE
        ):
            for obj in page:
                store.upsert(obj)
                seen.add(app_key(obj))
            version = page_version
        for key in store.keys() - seen:
            store.remove(key)
        return version

    def _apply(self, store: _Store, event: WatchEvent) -> str:
        obj = event.obj
        if event.type == "BOOKMARK":
            return _version(obj)
        if event.type == "DELETED":
            store.remove(app_key(obj))
        else:
            store.upsert(obj)
        return _version(obj)

    def _tell(self, row: Row | None, key: Key | None) -> None:
        for listener in self._listeners:
            try:
                listener(row, key)
            except Exception:  # one bad listener must not starve the others
                log.exception("application listener failed")
