"""The SSE stream's decisions and its memory bound (``server.stream``), without a cluster.

Tables: which event a change gives a client with a filter (and whether it
may show the app); the text/event-stream format of hostile values. The hub
is fed by a stand-in for ``Caches`` (its subscribe/rows/ready surface): a
client that never reads is dropped once its queue is full, and never holds
more than ``QUEUE_SIZE`` events.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from driftless.server import apps_query, stream
from driftless.server.caches import Caches, Listener
from driftless.server.rows import Row, app_row

JSON = dict[str, Any]


def row(name: str, *, sync: str = "Synced", project: str = "default", ns: str = "apps") -> Row:
    return app_row(
        {
            "metadata": {"namespace": ns, "name": name, "labels": {"team": "a"}},
            "spec": {
                "project": project,
                "source": {"repoURL": "https://user:secret@git.example.com/r.git"},
            },
            "status": {"sync": {"status": sync}},
        }
    )


OUT_OF_SYNC = apps_query.parse(sync=["OutOfSync"])
EVERYTHING = apps_query.parse()

SYNCED, OUT = row("a"), row("a", sync="OutOfSync")
CASES: list[tuple[str, apps_query.AppQuery, Row | None, Row | None, str | None]] = [
    ("new, matching", OUT_OF_SYNC, None, OUT, "app"),
    ("matching, matched before", OUT_OF_SYNC, OUT, OUT, "app"),
    ("enters the filter", OUT_OF_SYNC, SYNCED, OUT, "app"),
    ("change outside the filter", OUT_OF_SYNC, SYNCED, SYNCED, None),
    ("new, outside the filter", OUT_OF_SYNC, None, SYNCED, None),
    ("leaves the filter", OUT_OF_SYNC, OUT, SYNCED, "deleted"),
    ("deleted, matched", EVERYTHING, SYNCED, None, "deleted"),
    ("deleted, outside the filter", OUT_OF_SYNC, SYNCED, None, None),
    ("deleted, never seen", EVERYTHING, None, None, None),
    ("no filter", EVERYTHING, None, SYNCED, "app"),
    ("project filter", apps_query.parse(project=["other"]), None, SYNCED, None),
    ("selector", apps_query.parse(selector=["team=a"]), None, SYNCED, "app"),
    ("search", apps_query.parse(search="APPS/A"), None, SYNCED, "app"),
]


@pytest.mark.parametrize(
    ("case", "query", "before", "now", "wanted"), CASES, ids=[c[0] for c in CASES]
)
def test_next_event(
    case: str, query: apps_query.AppQuery, before: Row | None, now: Row | None, wanted: str | None
) -> None:
    event = stream.next_event(query, before, now, ("apps", "a"))
    assert (event.name if event else None) == wanted, case
    if event is not None and event.name == "deleted":
        assert event.data == {"namespace": "apps", "name": "a"}


def test_app_event_carries_the_redacted_row() -> None:
    event = stream.next_event(EVERYTHING, None, row("a"), ("apps", "a"))
    assert event is not None
    text = stream.sse(event)
    assert text.startswith("event: app\ndata: {") and text.endswith("}\n\n")
    assert "secret" not in text and '"name":"a"' in text


@pytest.mark.parametrize(
    "hostile", ["line\nbreak", "cr\rreturn", "event: deleted\n\ndata: x", "\u2028sep", "\x00nul"]
)
def test_sse_keeps_one_event_one_data_line(hostile: str) -> None:
    text = stream.sse(stream.Event("app", {"name": hostile}))
    lines = text.split("\n")
    assert lines[0] == "event: app" and lines[1].startswith("data: ") and lines[2:] == ["", ""]
    assert "\r" not in text


class FakeCaches:
    """What the hub uses of ``Caches``."""

    def __init__(self, rows: list[Row]) -> None:
        self._rows = rows
        self.listeners: list[Listener] = []
        self.ready = True
        self.problem = ""

    def rows(self) -> list[Row]:
        return list(self._rows)

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def change(self, now: Row | None, key: tuple[str, str] | None = None) -> None:
        for listener in self.listeners:
            listener(now, key)


def hub_of(rows: list[Row]) -> tuple[stream.Hub, FakeCaches]:
    caches = FakeCaches(rows)
    return stream.Hub(cast(Caches, caches)), caches


async def test_hub_tells_a_client_what_it_shows() -> None:
    hub, caches = hub_of([row("a", sync="OutOfSync"), row("b")])
    events = hub.events(OUT_OF_SYNC)
    assert (await anext(events)).startswith("retry: 3000\n")
    assert len(hub) == 1
    caches.change(row("b"))  # not in the filter, never shown: nothing
    caches.change(row("a"))  # shown when opened, now Synced: leaves the list
    caches.change(row("c", sync="OutOfSync"))
    caches.change(None, ("apps", "c"))
    caches.change(None, ("apps", "zzz"))  # never shown: nothing
    got = [await anext(events) for _ in range(3)]
    assert got[0] == 'event: deleted\ndata: {"namespace":"apps","name":"a"}\n\n'
    assert got[1].startswith("event: app\n") and '"name":"c"' in got[1]
    assert got[2] == 'event: deleted\ndata: {"namespace":"apps","name":"c"}\n\n'
    await events.aclose()
    assert len(hub) == 0


async def test_a_client_that_does_not_read_is_dropped_with_bounded_memory() -> None:
    hub, caches = hub_of([])
    slow = hub.events(EVERYTHING)
    await anext(slow)
    (slow_client,) = hub._clients
    fast = hub.events(EVERYTHING)
    await anext(fast)
    (fast_client,) = hub._clients - {slow_client}
    for index in range(stream.QUEUE_SIZE + 10):
        caches.change(row(f"app-{index}"))
        assert (await anext(fast)).startswith("event: app\n")  # keeps up
        assert slow_client.queue.qsize() <= stream.QUEUE_SIZE
    assert slow_client.dropped and not fast_client.dropped
    assert len(hub) == 1
    # The slow client's stream ends at once: nothing is buffered for it any more.
    assert [text async for text in slow] == []
    await fast.aclose()
    assert len(hub) == 0


async def test_keepalive_on_an_idle_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "KEEPALIVE_SECONDS", 0.01)
    hub, _ = hub_of([])
    events = hub.events(EVERYTHING)
    await anext(events)
    assert await asyncio.wait_for(anext(events), 5) == ": keepalive\n\n"
    await events.aclose()
