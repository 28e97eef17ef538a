"""``GET /api/v1/stream``: the application list's changes as Server-Sent Events;
``GET /api/v1/applications/{ns}/{name}/stream``: one app's resource tree and Events.

Fed by the server's Application cache (``Caches.subscribe``), never by a
request to the API server. One ``Hub`` per server subscribes once and fans
each change out to the connected clients; each client filters with the list's
own query parameters (``routes_apps.list_query``, ``apps_query.matches``;
``sort``, ``limit`` and ``offset`` are accepted and ignored).

Events (``text/event-stream``, UTF-8, one JSON object per ``data`` line)::

    event: app        data: <AppRow>               added or changed, and matching
    event: deleted    data: {"namespace", "name"}  gone, or no longer matching

A client starts from ``GET /api/v1/applications`` and applies the events on
top: ``deleted`` is sent for an app that matched the filter before the change
(so the client may show it) and was deleted or no longer matches. The stream
sends no snapshot; after any reconnection (``EventSource`` reconnects by
itself, ``retry`` is 3 s) the client lists again.

Bounded memory: the hub keeps one reference per application (the row before
each change, shared by all clients); each client has only a queue of at most
``QUEUE_SIZE`` events. A
client that does not read fast enough to keep it from filling is dropped:
its queue is emptied and its stream ends (it reconnects and lists again); the
server never buffers more for it. At most ``MAX_CLIENTS`` streams are open at
once, and ``MAX_PER_SESSION`` per login session or per API token (owner
``token:<record id>``; 503 beyond); a client is counted from the moment its
request is accepted. A comment line every
``KEEPALIVE_SECONDS`` keeps proxies from closing an idle stream and finds dead
connections. A stream ends once its session ends (logout, expiry), or its
API token does (revoked, expired, its role gone: the token is verified
again, at most once every ``TOKEN_RECHECK_SECONDS``): checked before each
event and keepalive.

One application's stream (``AppHub``) is fed by the live objects
(``LiveObjects.subscribe``: any change of a followed kind or of the Events in
a namespace of the app's tree, or a cluster-scoped kind) and by the app's
own changes (``Caches.subscribe``). It sends, each time they differ from what
it sent last, the very bodies ``GET .../tree`` and ``GET .../events`` answer
(``routes_tree.AppViews``)::

    event: app        data: <Application>             ``GET .../{name}``'s body
    event: tree       data: {"nodes": [...], "partial"?}
    event: events     data: {"items": [...], "partial"?}
    event: deleted    data: {"namespace", "name"}     the app is gone; the stream ends

The first three come at once (a snapshot: a client needs no GET, also after
reconnecting). Its queue is one flag, so its memory is bounded by
construction: changes mark the client dirty (``concerns`` says which do), and
``COALESCE_SECONDS`` after the first the bodies are computed once from memory
for the whole burst (a rollout, a re-list). Every ``KEEPALIVE_SECONDS`` they
are computed again too, which also keeps the tree's follows asked for while
someone looks. App streams count with the list's towards ``MAX_CLIENTS`` and
``MAX_PER_SESSION``, and end with their session alike.

``next_event``, ``concerns``, ``watched_namespaces`` and ``sse`` are pure.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Generic, Protocol, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from driftless.core.project import DEFAULT_PROJECT
from driftless.server import access, apps_query, metrics, tokens
from driftless.server.apps_query import AppQuery
from driftless.server.auth import Auth, Principal, SessionCookie
from driftless.server.caches import Caches
from driftless.server.errors import UnauthorizedError, UnavailableError
from driftless.server.live import Kind
from driftless.server.params import Name, Namespace
from driftless.server.rbac_source import RbacSource
from driftless.server.routes_apps import list_query
from driftless.server.routes_tree import AppViews
from driftless.server.rows import Row
from driftless.server.tree import managed_refs

__all__ = [
    "COALESCE_SECONDS",
    "KEEPALIVE_SECONDS",
    "MAX_CLIENTS",
    "MAX_PER_SESSION",
    "QUEUE_SIZE",
    "TOKEN_RECHECK_SECONDS",
    "AppHub",
    "Event",
    "Hub",
    "concerns",
    "next_event",
    "router",
    "sse",
    "watched_namespaces",
]

QUEUE_SIZE: Final = 512
MAX_CLIENTS: Final = 1000
MAX_PER_SESSION: Final = 10
KEEPALIVE_SECONDS: Final = 15.0
RETRY_MILLISECONDS: Final = 3000
COALESCE_SECONDS: Final = 0.25
# A token's signature is checked again at most this often (a burst of events is many checks).
TOKEN_RECHECK_SECONDS: Final = 1.0

Key = tuple[str, str]

JSON = dict[str, Any]


@dataclass(frozen=True)
class Event:
    """One event to send: ``name`` is ``app`` or ``deleted``."""

    name: str
    data: Any


def next_event(query: AppQuery, before: Row | None, row: Row | None, key: Key) -> Event | None:
    """What a client with ``query`` is told of a change of app ``key``, or ``None``. Pure.

    ``before`` is the app before the change (``None``: new), ``row`` after it
    (``None``: deleted).
    """
    if row is not None and apps_query.matches(row, query):
        return Event("app", row.data)
    if before is not None and apps_query.matches(before, query):
        return Event("deleted", {"namespace": key[0], "name": key[1]})
    return None


def sse(event: Event) -> str:
    """``event`` in the text/event-stream format. Pure.

    ``json.dumps`` escapes control characters, so one event is one ``data``
    line whatever the app holds.
    """
    data = json.dumps(event.data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event.name}\ndata: {data}\n\n"


def watched_namespaces(app: Any) -> frozenset[str]:
    """The namespaces whose changes may change ``app``'s tree or Events: its own and
    those of its managed objects. Pure."""
    meta = app.get("metadata") if isinstance(app, dict) else None
    own = str(meta.get("namespace", "")) if isinstance(meta, dict) else ""
    managed = {str(ref.get("namespace", "")) for ref in managed_refs(app.get("status"))}
    return frozenset({own, *managed} - {""})


def concerns(watched: frozenset[str], namespace: str) -> bool:
    """Whether a change of a live object in ``namespace`` (``""``: a cluster-scoped one)
    may concern an app whose tree is in ``watched``. Pure."""
    return namespace == "" or namespace in watched


def _always() -> bool:
    return True


def _everything(_: Row) -> bool:
    return True


@dataclass(eq=False)
class _Client:
    query: AppQuery
    owner: str | None = None  # the session id it streams for, or ``token:<record id>``
    alive: Callable[[], bool] = _always  # whether that session still lives
    sees: Callable[[Row], bool] = _everything  # whether its identity may see an app now
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False

    def offer(self, before: Row | None, row: Row | None, key: Key) -> bool:
        """Queue what this change means to the client; ``False`` once it is dropped."""
        # A hidden app is as good as absent: one made hidden is "deleted" for this client.
        event = next_event(
            self.query,
            before if before is not None and self.sees(before) else None,
            row if row is not None and self.sees(row) else None,
            key,
        )
        if event is None:
            return True
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        """Too slow: forget what it did not read, and end its stream."""
        self.dropped = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class _Owned(Protocol):
    @property
    def owner(self) -> str | None: ...


C = TypeVar("C", bound=_Owned)


class _Streams(Generic[C]):
    """The open streams of one hub, each counted for its owner (``MAX_PER_SESSION``)."""

    def __init__(self) -> None:
        self._clients: set[C] = set()
        metrics.track_streams(self)

    def __len__(self) -> int:
        return len(self._clients)

    def of(self, owner: str) -> int:
        """How many streams ``owner`` (a session, or ``token:<record id>``) has open."""
        return sum(1 for client in self._clients if client.owner == owner)

    def close(self, client: C) -> None:
        self._clients.discard(client)


class Hub(_Streams[_Client]):
    """The stream clients of one server, fed by its Application cache.

    Made before the cache starts, so it sees every row from the first: its
    ``_last`` is the cache's rows as of the previous change.
    """

    def __init__(self, caches: Caches) -> None:
        super().__init__()
        self.caches = caches
        self._last: dict[Key, Row] = {row.key: row for row in caches.rows()}
        caches.subscribe(self._on_change)

    def open(
        self,
        query: AppQuery,
        owner: str | None = None,
        alive: Callable[[], bool] = _always,
        sees: Callable[[Row], bool] = _everything,
    ) -> _Client:
        """Count a client from now on; ``close`` it (``events`` does, once iterated).
        ``sees``: whether the client may see an app (``access.Access.sees_row``)."""
        client = _Client(query, owner, alive, sees)
        self._clients.add(client)
        return client

    async def events(self, client: _Client) -> AsyncGenerator[str]:
        """The stream of an opened client, until disconnection, drop or its session's end."""
        try:
            yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n"
            while client.alive():
                try:
                    event = await asyncio.wait_for(client.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if client.alive():
                        yield ": keepalive\n\n"
                    continue
                if event is None or not client.alive():
                    return
                yield sse(event)
        finally:
            self.close(client)

    def _on_change(self, row: Row | None, key: Key | None) -> None:
        where = row.key if row is not None else key
        if where is None:
            return
        before = self._last.pop(where, None)
        if row is not None:
            self._last[where] = row
        for client in list(self._clients):
            if not client.offer(before, row, where):
                self._clients.discard(client)


@dataclass(eq=False)
class _AppClient:
    """One app's stream: its queue is the ``dirty`` flag (changes coalesce into it)."""

    key: Key
    owner: str | None = None
    alive: Callable[[], bool] = _always
    sees: Callable[[JSON], bool] = lambda _: True  # whether its identity may see the app now
    watched: frozenset[str] = frozenset()
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    updates: int = 0  # how many times the bodies were computed (for tests and logs)


class AppHub(_Streams[_AppClient]):
    """The streams of single applications, fed by the live objects and the app cache."""

    def __init__(self, caches: Caches, views: AppViews) -> None:
        super().__init__()
        self.caches = caches
        self.views = views
        caches.subscribe(self._on_app)
        views.live.subscribe(self._on_live)

    def open(
        self,
        key: Key,
        owner: str | None = None,
        alive: Callable[[], bool] = _always,
        sees: Callable[[JSON], bool] = lambda _: True,
    ) -> _AppClient:
        """Count a client from now on; its first update (the snapshot) is due at once.
        ``sees(app)``: whether the client may see the app (checked at each update)."""
        client = _AppClient(key, owner, alive, sees)
        client.dirty.set()
        self._clients.add(client)
        return client

    def _on_app(self, row: Row | None, key: Key | None) -> None:
        where = row.key if row is not None else key
        for client in self._clients:
            if client.key == where:
                client.dirty.set()

    def _on_live(self, kind: Kind, namespace: str) -> None:
        for client in self._clients:
            if concerns(client.watched, namespace):
                client.dirty.set()

    async def events(self, client: _AppClient) -> AsyncGenerator[str]:
        """The stream of an opened client, until disconnection, the app's deletion or the
        end of its session."""
        last: dict[str, Any] = {}
        try:
            yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n"
            while client.alive():
                try:
                    await asyncio.wait_for(client.dirty.wait(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if not client.alive():
                        return
                    yield ": keepalive\n\n"
                    client.dirty.set()  # a missed change, or follows to keep asked for
                    continue
                await asyncio.sleep(COALESCE_SECONDS)  # the rest of the burst joins in
                client.dirty.clear()
                if not client.alive():
                    return
                app = self.caches.app(*client.key)
                if app is None or not client.sees(app):  # gone, or hidden from now on
                    yield sse(Event("deleted", {"namespace": client.key[0], "name": client.key[1]}))
                    return
                client.watched = watched_namespaces(app)
                client.updates += 1
                for name, body in (
                    ("app", app),  # its page needs no other stream (summary, operation)
                    ("tree", await self.views.tree_body(app)),
                    ("events", await self.views.events_body(app)),
                ):
                    if last.get(name) != body:
                        last[name] = body
                        yield sse(Event(name, body))
        finally:
            self.close(client)


class _Stream(StreamingResponse):
    """A streaming response that runs ``closed`` however it ends (even never iterated)."""

    def __init__(self, content: AsyncGenerator[str], closed: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self.closed = closed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.closed()


def router(caches: Caches, auth: Auth, views: AppViews, rbac_source: RbacSource) -> APIRouter:
    routes = APIRouter(tags=["applications"])
    hub = Hub(caches)
    app_hub = AppHub(caches, views)

    def token_alive(header: str) -> Callable[[], bool]:
        """Whether the bearer ``header`` still logs in (verified again once it is stale)."""
        checked = time.monotonic()

        def alive() -> bool:
            nonlocal checked
            if time.monotonic() - checked < TOKEN_RECHECK_SECONDS:
                return True
            if auth.tokens is None:
                return False
            try:
                auth.tokens.principal(header)
            except UnauthorizedError:
                return False
            checked = time.monotonic()
            return True

        return alive

    def session_of(request: Request, session: str | None) -> tuple[str | None, Callable[[], bool]]:
        """(the owner to count the stream for: the session, or ``token:<id>``; whether it
        still lives); 503 over the caps."""
        if len(hub) + len(app_hub) >= MAX_CLIENTS:
            raise UnavailableError(f"more than {MAX_CLIENTS} streams are open; try again later")
        if not auth.enabled:
            return None, _always
        principal: Principal = request.state.principal
        header = request.headers.get("authorization")
        owner: str
        if principal.method == tokens.METHOD and header is not None:
            owner, alive = f"token:{principal.token}", token_alive(header)
        elif session:
            owner = session

            def alive() -> bool:
                return auth.sessions.user(session) is not None
        else:
            return None, _always
        if hub.of(owner) + app_hub.of(owner) >= MAX_PER_SESSION:
            who = "API token" if principal.method == tokens.METHOD else "session"
            raise UnavailableError(
                f"this {who} has {MAX_PER_SESSION} streams open; close one first"
            )
        return owner, alive

    @routes.get(
        "/stream",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "Events, see stream.py."},
            503: {"description": "The caches are not listed yet, or too many streams are open."},
        },
    )
    async def stream(
        request: Request,
        query: Annotated[AppQuery, Depends(list_query)],
        session: SessionCookie = None,
    ) -> StreamingResponse:
        """Changes of the applications matching the list's filters, as Server-Sent Events."""
        if not caches.ready:
            raise UnavailableError(f"the server is starting: {caches.problem}")
        owner, alive = session_of(request, session)
        who = access.of(request).who

        def sees(row: Row) -> bool:
            # The policy of each change's moment: a reload applies to open streams.
            return rbac_source.policy().allows(
                who, "applications", "get", f"{row.data['project']}/{row.data['name']}"
            )

        client = hub.open(query, owner, alive, sees)
        return _Stream(hub.events(client), lambda: hub.close(client))

    @routes.get(
        "/applications/{namespace}/{name}/stream",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "Events, see stream.py."},
            404: {"description": "No such application."},
            422: {"description": "A malformed name; the message names it."},
            503: {"description": "The caches are not listed yet, or too many streams are open."},
        },
    )
    async def app_stream(
        request: Request, namespace: Namespace, name: Name, session: SessionCookie = None
    ) -> StreamingResponse:
        """The app, its resource tree and Events, sent again whenever they change (SSE)."""
        views.app_or_404(namespace, name)
        owner, alive = session_of(request, session)
        who = access.of(request).who

        def sees(app: JSON) -> bool:
            project = str((app.get("spec") or {}).get("project") or DEFAULT_PROJECT)
            policy, obj = rbac_source.policy(), f"{project}/{name}"
            return all(policy.allows(who, res, "get", obj) for res in ("applications", "events"))

        client = app_hub.open((namespace, name), owner, alive, sees)
        return _Stream(app_hub.events(client), lambda: app_hub.close(client))

    return routes
