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
once (503 beyond). A comment line every ``KEEPALIVE_SECONDS`` keeps proxies
from closing an idle stream and finds dead connections.

``next_event`` and ``sse`` are pure.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from driftless.server import apps_query
from driftless.server.apps_query import AppQuery
from driftless.server.caches import Caches
from driftless.server.errors import UnavailableError
from driftless.server.routes_apps import list_query
from driftless.server.rows import Row

__all__ = [
    "KEEPALIVE_SECONDS",
    "MAX_CLIENTS",
    "QUEUE_SIZE",
    "Event",
    "Hub",
    "next_event",
    "router",
    "sse",
]

QUEUE_SIZE: Final = 512
MAX_CLIENTS: Final = 1000
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


@dataclass(eq=False)
class _Client:
    query: AppQuery
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

    def open(self, query: AppQuery) -> _Client:
        client = _Client(query)
        self._clients.add(client)
        return client

    def close(self, client: _Client) -> None:
        self._clients.discard(client)

    async def events(self, query: AppQuery) -> AsyncGenerator[str]:
        """The stream of one client, from opening to disconnection or drop."""
        client = self.open(query)
        try:
            yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(client.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if event is None:
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


def router(caches: Caches) -> APIRouter:
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
    async def stream(query: Annotated[AppQuery, Depends(list_query)]) -> StreamingResponse:
        """Changes of the applications matching the list's filters, as Server-Sent Events."""
        if not caches.ready:
            raise UnavailableError(f"the server is starting: {caches.problem}")
        if len(hub) >= MAX_CLIENTS:
            raise UnavailableError(f"more than {MAX_CLIENTS} streams are open; try again later")
        return StreamingResponse(
            hub.events(query),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return routes
