"""The server's memory of live cluster objects and Events, for apps' resource trees.

Objects are followed lazily, per (kind, namespace): ``ensure(scopes)``
starts a list+watch of each ``((apiVersion, kind), namespace)`` not followed
yet -- in that one namespace, or cluster-wide for a cluster-scoped kind
(namespace ``""``; a namespaced kind is never followed across all
namespaces) -- and waits, up to ``wait_seconds``, for their first lists.
``ensure_events(namespaces)`` does the same for the core/v1 Events of each
namespace. A follow (Events too) nobody has ensured for ``idle_seconds`` is
stopped and forgotten (``sweep``, run every ``SWEEP_SECONDS``; ``clock`` is
injected): memory follows the trees asked for, not the cluster. A follow
keeps at most ``max_objects`` objects; past that it refuses new ones and
says so. Each follow holds one connection while it watches: the follows
have a pool of their own (``pool_size``, ``KubeClient.with_pool``, made on
the first follow and closed by ``close``), so they never starve the
client's requests; at most ``max_follows`` run at once (kinds and Events
together: 60, the trees of about six apps in different namespaces); a new
one stops the one least recently ensured, never one the same call ensures
(when those alone are too many, the rest are not followed, said as a
problem). Reads (``lookup``, ``dependents``, ``object``, ``events``) answer
from memory and never make an API call.

What is kept is slim: no ``managedFields``, no
``kubectl.kubernetes.io/last-applied-configuration`` annotation, and every
Secret value masked (``driftless.diff.secrets.mask``) before it is stored --
a Secret's value never sits in the server's memory. Events keep only the
fields the API sends, with URL credentials redacted.

``subscribe(listener)`` tells ``listener(kind, namespace)`` of every change
a follow sees (an object or Event added, changed or gone; ``namespace`` is
the follow's, ``""`` for a cluster-scoped kind): the apps' streams
(``server.stream``) are fed by it. A listener must be quick and never raise.
``tell(kind, namespace)`` tells them of a change seen elsewhere: the follows
of remote clusters (``server.remote_live``) reach the same streams so.

``ensure`` and ``ensure_events`` return problems in words (a kind not served,
not allowed to be listed, still listing, over ``max_objects``): the caller
says them as the answer's ``partial``. A follow that failed is tried again on
the next ``ensure``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from driftless.core import wellknown
from driftless.core.redaction import redacted
from driftless.core.repourl import redact
from driftless.diff.secrets import mask
from driftless.kube.client import KubeApiError, KubeClient, WatchEvent
from driftless.kube.discovery import UnknownKindError
from driftless.kube.errors import KubeExpiredError, KubeForbiddenError
from driftless.server.tree import MISSING, Missing

__all__ = [
    "CHILD_KINDS",
    "EVENT_KIND",
    "LAST_APPLIED",
    "OWNS",
    "ChangeListener",
    "LiveObjects",
    "Scope",
    "api_version",
    "child_kinds",
    "slim",
]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
Kind = tuple[str, str]  # (apiVersion, kind)
Key = tuple[str, str]  # (namespace, name)
Scope = tuple[Kind, str]  # (kind, namespace); namespace "" for a cluster-scoped kind
ChangeListener = Callable[[Kind, str], None]
LAST_APPLIED: Final = wellknown.KUBECTL_LAST_APPLIED_ANNOTATION
CHILD_KINDS: Final[tuple[Kind, ...]] = (
    ("apps/v1", "ReplicaSet"),
    ("v1", "Pod"),
    ("batch/v1", "Job"),
    ("apps/v1", "ControllerRevision"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
)
"""Kinds whose objects controllers make for the ones apps manage."""
OWNS: Final[dict[tuple[str, str], tuple[Kind, ...]]] = {
    ("apps", "Deployment"): (("apps/v1", "ReplicaSet"),),
    ("apps", "ReplicaSet"): (("v1", "Pod"),),
    ("apps", "StatefulSet"): (("apps/v1", "ControllerRevision"), ("v1", "Pod")),
    ("apps", "DaemonSet"): (("apps/v1", "ControllerRevision"), ("v1", "Pod")),
    ("batch", "CronJob"): (("batch/v1", "Job"),),
    ("batch", "Job"): (("v1", "Pod"),),
    ("", "ReplicationController"): (("v1", "Pod"),),
    ("", "Service"): (("discovery.k8s.io/v1", "EndpointSlice"),),
}
"""What the built-in controllers make, by (group, kind) of the owner."""
EVENT_KIND: Final[Kind] = ("v1", "Event")
RETRY_SECONDS = 3.0
WATCH_SECONDS = 300
PAGE_SIZE = 500
IDLE_SECONDS = 600.0
SWEEP_SECONDS = 60.0
MAX_OBJECTS = 5000
MAX_FOLLOWS = 60
#: The follows' own pool: a connection per follow, and a few for a re-list racing a stop.
POOL_SIZE = MAX_FOLLOWS + 4


def api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def child_kinds(kind: Kind) -> tuple[Kind, ...]:
    """The kinds of what controllers make for an object of ``kind``, down to Pods
    (``OWNS``, transitively: a CronJob's Jobs and their Pods). A custom kind (its group
    has a dot and is not a Kubernetes one, ``*.k8s.io``) may own anything an operator
    makes: every ``CHILD_KINDS``, as one cannot tell which. Other built-in kinds own
    nothing."""
    group = kind[0].rpartition("/")[0]
    if "." in group and not group.endswith(".k8s.io"):
        return CHILD_KINDS
    found: dict[Kind, None] = {}
    owners = [(group, kind[1])]
    while owners:
        for child in OWNS.get(owners.pop(), ()):
            if child not in found:
                found[child] = None
                owners.append((child[0].rpartition("/")[0], child[1]))
    return tuple(found)


def slim(obj: JSON, kind: Kind) -> JSON:
    """``obj`` as kept: apiVersion/kind set, managedFields and last-applied dropped, masked."""
    out = dict(obj)
    out.setdefault("apiVersion", kind[0])
    out.setdefault("kind", kind[1])
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k != "managedFields"}
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        out["metadata"] = meta
    if out.get("kind") == "Secret":
        out["apiVersion"] = "v1"  # what mask() recognizes; a core Secret is always v1
        out = mask(out)
    return out


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def slim_event(obj: JSON) -> JSON:
    """An Event as the API sends it: who, what, how often, when (credentials redacted)."""
    meta = _dict(obj.get("metadata"))
    series = _dict(obj.get("series"))
    involved = _dict(obj.get("involvedObject"))
    created = _str(meta.get("creationTimestamp"))
    event_time = _str(obj.get("eventTime"))
    count = obj.get("count") or series.get("count") or 1
    return {
        "type": _str(obj.get("type")),
        "reason": _str(obj.get("reason")),
        "message": redacted(_str(obj.get("message"))),
        "count": count if isinstance(count, int) else 1,
        "firstTimestamp": _str(obj.get("firstTimestamp")) or event_time or created,
        "lastTimestamp": _str(obj.get("lastTimestamp"))
        or _str(series.get("lastObservedTime"))
        or event_time
        or created,
        "object": {
            "kind": _str(involved.get("kind")),
            "namespace": _str(involved.get("namespace")),
            "name": _str(involved.get("name")),
        },
        "uid": _str(involved.get("uid")),
        "metadata": {"namespace": _str(meta.get("namespace")), "name": _str(meta.get("name"))},
    }


def _key(obj: JSON) -> Key:
    meta = _dict(obj.get("metadata"))
    return _str(meta.get("namespace")), _str(meta.get("name"))


def _version(obj: JSON) -> str:
    return _str(_dict(obj.get("metadata")).get("resourceVersion"))


class _Follow:
    """List+watch of one kind in one namespace (or cluster-wide), kept slim in ``objects``.

    At most ``max_objects`` are kept: a new object past that is refused and
    ``capped`` is set, until a re-list finds them all within the cap.
    """

    def __init__(
        self,
        client: KubeClient,
        kind: Kind,
        namespace: str,
        keep: Callable[[JSON], JSON],
        changed: Callable[[JSON | None, JSON | None], None],
        *,
        max_objects: int,
        asked: float,
    ) -> None:
        self.client = client
        self.kind = kind
        self.namespace = namespace
        self.keep = keep
        self.changed = changed
        self.max_objects = max_objects
        self.asked = asked
        self.objects: dict[Key, JSON] = {}
        self.synced = asyncio.Event()
        self.failed = ""
        self.capped = False
        self.task: asyncio.Task[None] | None = None

    @property
    def where(self) -> str:
        return f"{self.kind[1]} of {self.namespace}" if self.namespace else self.kind[1]

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"live {self.where}")

    def stop(self) -> None:
        """Cancel the watch and forget every object (out of the owner index too)."""
        if self.task is not None:
            self.task.cancel()
        for key in list(self.objects):
            self._remove(key)

    def _put(self, obj: JSON) -> bool:
        """Keep ``obj``; False when it is new and the follow is full."""
        kept = self.keep(obj)
        key = _key(kept)
        old = self.objects.get(key)
        if old is None and len(self.objects) >= self.max_objects:
            self.capped = True
            return False
        self.objects[key] = kept
        self.changed(old, kept)
        return True

    def _remove(self, key: Key) -> None:
        old = self.objects.pop(key, None)
        if old is not None:
            self.changed(old, None)

    async def _run(self) -> None:
        api, kind = self.kind
        while True:
            try:
                version = await self._relist()
                self.synced.set()
                while True:
                    async for event in self.client.watch(
                        api, kind, self.namespace or None, resource_version=version,
                        timeout_seconds=WATCH_SECONDS,
                    ):  # fmt: skip
                        version = self._apply(event) or version
            except KubeExpiredError:
                continue  # 410: re-list now
            except UnknownKindError:
                self._fail(f"{kind} ({api}) is not served by the cluster")
                return
            except KubeForbiddenError:
                if not self.synced.is_set():
                    self._fail(f"the server may not list {self.where} ({api})")
                    return
                log.warning("watch of %s refused; retrying", self.where)
            except KubeApiError as exc:
                log.warning("cannot list or watch %s: %s", self.where, redact(str(exc)))
            except Exception as exc:  # never silently stale
                log.error(
                    "following %s failed: %s: %s", self.where, type(exc).__name__, redact(str(exc))
                )
            await asyncio.sleep(RETRY_SECONDS)

    def _fail(self, problem: str) -> None:
        self.failed = problem
        for key in list(self.objects):  # forgotten, and out of the owner index
            self._remove(key)
        self.synced.set()

    async def _relist(self) -> str:
        seen: set[Key] = set()
        version = ""
        whole = True
        async for page, page_version in self.client.list_pages(
            *self.kind, self.namespace or None, page_size=PAGE_SIZE
        ):
            for obj in page:
                if self._put(obj):
                    seen.add(_key(obj))
                else:
                    whole = False
            version = page_version
        for key in set(self.objects) - seen:
            self._remove(key)
        self.capped = not whole
        return version

    def _apply(self, event: WatchEvent) -> str:
        if event.type == "BOOKMARK":
            return _version(event.obj)
        if event.type == "DELETED":
            self._remove(_key(event.obj))
        else:
            self._put(event.obj)
        return _version(event.obj)


class LiveObjects:
    def __init__(
        self,
        client: KubeClient,
        *,
        wait_seconds: float = 15.0,
        idle_seconds: float = IDLE_SECONDS,
        max_objects: int = MAX_OBJECTS,
        max_follows: int = MAX_FOLLOWS,
        pool_size: int = POOL_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.pool_size = pool_size
        self.wait_seconds = wait_seconds
        self.idle_seconds = idle_seconds
        self.max_objects = max_objects
        self.max_follows = max_follows
        self.clock = clock
        self._kinds: dict[Scope, _Follow] = {}
        self._events: dict[str, _Follow] = {}
        # owner uid -> the (kind, key) of objects naming it in ownerReferences
        self._owned: dict[str, set[tuple[Kind, Key]]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._listeners: list[ChangeListener] = []
        self._watcher: KubeClient | None = None  # the follows' pool, made when first needed

    def subscribe(self, listener: ChangeListener) -> None:
        """Tell ``listener(kind, namespace)`` of every change from now on."""
        self._listeners.append(listener)

    def tell(self, kind: Kind, namespace: str) -> None:
        """Tell every listener of a change (of another cluster's follow, see the module doc)."""
        for listener in self._listeners:
            listener(kind, namespace)

    # -- following -----------------------------------------------------

    @property
    def followed(self) -> set[Scope]:
        """The (kind, namespace) pairs followed now (Events as ``(EVENT_KIND, namespace)``)."""
        return {*self._kinds, *((EVENT_KIND, namespace) for namespace in self._events)}

    async def ensure(self, scopes: Iterable[Scope]) -> list[str]:
        """Follow each (kind, namespace) (once each); problems of those not (yet) readable.

        The namespace of a cluster-scoped kind is ignored (followed once,
        cluster-wide); a namespaced kind without a namespace is not followed.
        """
        self._sweep_soon()
        problems: list[str] = []
        wanted: dict[Scope, None] = {}
        for kind, namespace in dict.fromkeys(scopes):
            api, name = kind
            try:
                namespaced = (await self.client.resource_type(api, name)).namespaced
            except UnknownKindError:
                problems.append(f"{name} ({api}) is not served by the cluster")
                continue
            except KubeApiError as exc:
                log.warning("cannot discover %s (%s): %s", name, api, redact(str(exc)))
                problems.append(f"cannot tell whether the cluster serves {name} ({api})")
                continue
            if namespaced and not namespace:
                problems.append(f"{name} ({api}) is namespaced: not followed without a namespace")
                continue
            wanted[(kind, namespace if namespaced else "")] = None
        watcher = await self._watching(s not in self._kinds for s in wanted)
        follows = self._asked([self._kinds[s] for s in wanted if s in self._kinds])
        for kind, namespace in wanted:
            if (kind, namespace) in self._kinds:
                continue
            if not self._room(follows):
                problems.append(self._too_many(namespace, kind[1]))
                continue
            follow = self._follow(watcher, kind, namespace, self._slim(kind), self._index(kind))
            self._kinds[(kind, namespace)] = follow
            follows.append(follow)
        problems += await self._wait(follows, lambda f: f"still listing {f.where}")
        for follow in follows:
            scope = (follow.kind, follow.namespace)
            if follow.failed and self._kinds.get(scope) is follow:
                del self._kinds[scope]  # may be served later: try again then
        return problems

    async def ensure_events(self, namespaces: Iterable[str]) -> list[str]:
        """Follow the Events of ``namespaces`` (once each); problems as for ``ensure``."""
        self._sweep_soon()
        problems: list[str] = []
        wanted = sorted(set(namespaces) - {""})
        watcher = await self._watching(n not in self._events for n in wanted)
        follows = self._asked([self._events[n] for n in wanted if n in self._events])
        for namespace in wanted:
            if namespace in self._events:
                continue
            if not self._room(follows):
                problems.append(self._too_many(namespace, EVENT_KIND[1]))
                continue
            follow = self._follow(watcher, EVENT_KIND, namespace, slim_event, _ignore)
            self._events[namespace] = follow
            follows.append(follow)
        problems += await self._wait(follows, lambda f: f"still listing {f.where}")
        for follow in follows:
            if follow.failed and self._events.get(follow.namespace) is follow:
                del self._events[follow.namespace]
        return problems

    async def _watching(self, new: Iterable[bool]) -> KubeClient:
        """The follows' client, with its own pool (one, even for callers racing here),
        made when a follow is ``new``; before that, no connection is needed."""
        if self._watcher is None and any(new):
            watcher = await self.client.with_pool(self.pool_size)
            if self._watcher is None:
                self._watcher = watcher
            else:
                await watcher.close()
        return self._watcher or self.client

    def _asked(self, follows: list[_Follow]) -> list[_Follow]:
        now = self.clock()
        for follow in follows:
            follow.asked = now
        return follows

    def _room(self, asked: list[_Follow]) -> bool:
        """Whether one more follow may start, stopping the least recently ensured one
        (not in ``asked``) when ``max_follows`` run."""
        if len(self._kinds) + len(self._events) < self.max_follows:
            return True
        others = [f for f in [*self._kinds.values(), *self._events.values()] if f not in asked]
        if not others:
            return False
        self._drop(min(others, key=lambda f: f.asked))
        return True

    def _too_many(self, namespace: str, kind: str) -> str:
        where = f"{kind} of {namespace}" if namespace else kind
        return f"{where} not followed: the server follows {self.max_follows} at most"

    def _drop(self, follow: _Follow) -> None:
        if self._events.get(follow.namespace) is follow:
            del self._events[follow.namespace]
        elif self._kinds.get((follow.kind, follow.namespace)) is follow:
            del self._kinds[(follow.kind, follow.namespace)]
        follow.stop()

    def _follow(
        self,
        client: KubeClient,
        kind: Kind,
        namespace: str,
        keep: Callable[[JSON], JSON],
        changed: Callable[[JSON | None, JSON | None], None],
    ) -> _Follow:
        def told(old: JSON | None, new: JSON | None) -> None:
            changed(old, new)
            self.tell(kind, namespace)

        follow = _Follow(
            client, kind, namespace, keep, told,
            max_objects=self.max_objects, asked=self.clock(),
        )  # fmt: skip
        follow.start()
        return follow

    async def _wait(self, follows: list[_Follow], pending: Callable[[_Follow], str]) -> list[str]:
        waits = [asyncio.ensure_future(f.synced.wait()) for f in follows]
        if waits:
            _, late = await asyncio.wait(waits, timeout=self.wait_seconds)
            for task in late:
                task.cancel()
        problems = [f.failed or pending(f) for f in follows if f.failed or not f.synced.is_set()]
        problems += [
            f"more than {f.max_objects} {f.where}: only {f.max_objects} kept"
            for f in follows
            if f.capped and not f.failed
        ]
        return problems

    def sweep(self) -> list[Scope]:
        """Stop and forget every follow not ensured for ``idle_seconds``; the stopped ones."""
        now = self.clock()
        stopped: list[Scope] = []
        for scope, follow in list(self._kinds.items()):
            if now - follow.asked >= self.idle_seconds:
                self._drop(follow)
                stopped.append(scope)
        for namespace, follow in list(self._events.items()):
            if now - follow.asked >= self.idle_seconds:
                self._drop(follow)
                stopped.append((EVENT_KIND, namespace))
        return stopped

    def _sweep_soon(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="live sweeper")

    async def _sweep_forever(self) -> None:
        while self._kinds or self._events:
            await asyncio.sleep(SWEEP_SECONDS)
            self.sweep()

    async def close(self) -> None:
        """Stop every follow and close their pool. Forgotten at once, before waiting for
        the tasks: an ``ensure`` meanwhile starts afresh, on a pool of its own."""
        tasks = [f.task for f in [*self._kinds.values(), *self._events.values()] if f.task]
        if self._sweeper is not None:
            tasks.append(self._sweeper)
        watcher, self._watcher = self._watcher, None
        self._kinds.clear()
        self._events.clear()
        self._owned.clear()
        self._sweeper = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if watcher is not None:
            await watcher.close()

    # -- reads (memory only) -------------------------------------------

    def lookup(self, group: str, version: str, kind: str, namespace: str, name: str) -> (
        JSON | Missing | None
    ):  # fmt: skip
        """The object; ``MISSING`` when its kind and namespace are listed whole and it is
        not there; else None (cannot tell)."""
        follow = self._kinds.get(((api_version(group, version), kind), namespace))
        if not version or follow is None or not follow.synced.is_set() or follow.failed:
            return None
        found = follow.objects.get((namespace, name))
        if found is None:
            return None if follow.capped else MISSING
        return found

    def object(self, api: str, kind: str, namespace: str, name: str) -> JSON | None:
        follow = self._kinds.get(((api, kind), namespace))
        return None if follow is None else follow.objects.get((namespace, name))

    def dependents(self, uid: str) -> list[JSON]:
        """Objects of followed kinds and namespaces naming ``uid`` as an owner."""
        out = []
        for kind, key in self._owned.get(uid, ()):
            obj = self.object(*kind, *key)
            if obj is not None:
                out.append(obj)
        return out

    def events(self, namespaces: Iterable[str]) -> list[JSON]:
        out: list[JSON] = []
        for namespace in set(namespaces):
            follow = self._events.get(namespace)
            if follow is not None:
                out.extend(follow.objects.values())
        return out

    # -- indexing ------------------------------------------------------

    def _slim(self, kind: Kind) -> Callable[[JSON], JSON]:
        return lambda obj: slim(obj, kind)

    def _index(self, kind: Kind) -> Callable[[JSON | None, JSON | None], None]:
        def changed(old: JSON | None, new: JSON | None) -> None:
            if old is not None:
                for owner in _owners(old):
                    refs = self._owned.get(owner)
                    if refs is not None:
                        refs.discard((kind, _key(old)))
                        if not refs:
                            del self._owned[owner]
            if new is not None:
                for owner in _owners(new):
                    self._owned.setdefault(owner, set()).add((kind, _key(new)))

        return changed


def _owners(obj: JSON) -> list[str]:
    refs = _dict(obj.get("metadata")).get("ownerReferences")
    return [
        _str(ref.get("uid"))
        for ref in (refs if isinstance(refs, list) else [])
        if isinstance(ref, dict) and _str(ref.get("uid"))
    ]


def _ignore(old: JSON | None, new: JSON | None) -> None:
    """Events are not indexed by owner."""
