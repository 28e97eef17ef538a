"""``GET /api/v1/stream``: the application list's changes as Server-Sent Events.

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
once, and ``MAX_PER_SESSION`` per login session (503 beyond); a client is
counted from the moment its request is accepted. A comment line every
``KEEPALIVE_SECONDS`` keeps proxies from closing an idle stream and finds dead
connections. A stream ends once its session ends (logout, expiry): checked
before each event and keepalive.

``next_event`` and ``sse`` are pure.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from driftless.server import apps_query
from driftless.server.apps_query import AppQuery
from driftless.server.auth import Auth, SessionCookie
from driftless.server.caches import Caches
from driftless.server.errors import UnavailableError
from driftless.server.routes_apps import list_query
from driftless.server.rows import Row

__all__ = [
    "KEEPALIVE_SECONDS",
    "MAX_CLIENTS",
    "MAX_PER_SESSION",
    "QUEUE_SIZE",
    "Event",
    "Hub",
    "next_event",
    "router",
    "sse",
]

QUEUE_SIZE: Final = 512
MAX_CLIENTS: Final = 1000
MAX_PER_SESSION: Final = 10
KEEPALIVE_SECONDS: Final = 15.0
RETRY_MILLISECONDS: Final = 3000

Key = tuple[str, str]


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


def _always() -> bool:
    return True


@dataclass(eq=False)
class _Client:
    query: AppQuery
    owner: str | None = None  # the session id it streams for
    alive: Callable[[], bool] = _always  # whether that session still lives
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False

    def offer(self, before: Row | None, row: Row | None, key: Key) -> bool:
        """Queue what this change means to the client; ``False`` once it is dropped."""
        event = next_event(self.query, before, row, key)
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


class Hub:
    """The stream clients of one server, fed by its Application cache.

    Made before the cache starts, so it sees every row from the first: its
    ``_last`` is the cache's rows as of the previous change.
    """

    def __init__(self, caches: Caches) -> None:
        self.caches = caches
        self._clients: set[_Client] = set()
        self._last: dict[Key, Row] = {row.key: row for row in caches.rows()}
        caches.subscribe(self._on_change)

    def __len__(self) -> int:
        return len(self._clients)

    def of(self, owner: str) -> int:
        """How many streams session ``owner`` has open."""
        return sum(1 for client in self._clients if client.owner == owner)

    def open(
        self, query: AppQuery, owner: str | None = None, alive: Callable[[], bool] = _always
    ) -> _Client:
        """Count a client from now on; ``close`` it (``events`` does, once iterated)."""
        client = _Client(query, owner, alive)
        self._clients.add(client)
        return client

    def close(self, client: _Client) -> None:
        self._clients.discard(client)

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


def router(caches: Caches, auth: Auth) -> APIRouter:
    routes = APIRouter(tags=["applications"])
    hub = Hub(caches)

    @routes.get(
        "/stream",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "Events, see stream.py."},
            503: {"description": "The caches are not listed yet, or too many streams are open."},
        },
    )
    async def stream(
        query: Annotated[AppQuery, Depends(list_query)], session: SessionCookie = None
    ) -> StreamingResponse:
        """Changes of the applications matching the list's filters, as Server-Sent Events."""
        if not caches.ready:
            raise UnavailableError(f"the server is starting: {caches.problem}")
        if len(hub) >= MAX_CLIENTS:
            raise UnavailableError(f"more than {MAX_CLIENTS} streams are open; try again later")
        owner: str | None = None
        alive = _always
        if auth.enabled and session:
            if hub.of(session) >= MAX_PER_SESSION:
                raise UnavailableError(
                    f"this session has {MAX_PER_SESSION} streams open; close one first"
                )
            owner = session

            def alive() -> bool:
                return auth.sessions.user(session) is not None

        client = hub.open(query, owner, alive)
        return _Stream(hub.events(client), lambda: hub.close(client))

    return routes
