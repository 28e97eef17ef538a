"""The SSE stream's decisions and its memory bound (``server.stream``), without a cluster.

Tables: which event a change gives a client with a filter (and whether it
may show the app); the text/event-stream format of hostile values. The hub
is fed by a stand-in for ``Caches`` (its subscribe/rows/ready surface): a
client that never reads is dropped once its queue is full, and never holds
more than ``QUEUE_SIZE`` events. An app's stream (``AppHub``) coalesces any
number of changes into one update sending only what changed, ignores other
namespaces, ends when its app is deleted, and counts against the same
per-session cap as the list's streams.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp
import pytest
from fastapi import APIRouter, Depends, FastAPI

from driftless.kube.client import KubeClient
from driftless.pipeline import tokens as pipeline_tokens
from driftless.pipeline.tokens import TokenTable
from driftless.server import access, apps_query, errors, stream
from driftless.server.auth import COOKIE, AdminAccount, Auth, Sessions, guard
from driftless.server.caches import Caches, Listener
from driftless.server.live import EVENT_KIND, ChangeListener, LiveObjects
from driftless.server.rbac_source import RbacSource
from driftless.server.routes_tree import AppViews
from driftless.server.rows import Row, app_row
from driftless.server.tokens import BearerTokens
from tests.fixtures.server_http import running

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

    def app(self, namespace: str, name: str) -> JSON | None:
        found = [r for r in self._rows if r.key == (namespace, name)]
        return _app_object(namespace, name) if found else None

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
    events = hub.events(hub.open(OUT_OF_SYNC))
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
    slow = hub.events(hub.open(EVERYTHING))
    await anext(slow)
    (slow_client,) = hub._clients
    fast = hub.events(hub.open(EVERYTHING))
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
    events = hub.events(hub.open(EVERYTHING))
    await anext(events)
    assert await asyncio.wait_for(anext(events), 5) == ": keepalive\n\n"
    await events.aclose()


async def test_a_stream_ends_when_its_session_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    hub, caches = hub_of([])
    live = {"session": True}
    events = hub.events(hub.open(EVERYTHING, "s1", lambda: live["session"]))
    await anext(events)
    live["session"] = False  # logged out
    caches.change(row("a"))  # the next event is not sent: the stream ends
    assert [text async for text in events] == []
    assert len(hub) == 0
    # and an idle one ends at its next keepalive
    monkeypatch.setattr(stream, "KEEPALIVE_SECONDS", 0.01)
    live["session"] = True
    idle = hub.events(hub.open(EVERYTHING, "s1", lambda: live["session"]))
    await anext(idle)
    live["session"] = False
    assert await asyncio.wait_for(_rest(idle), 5) == []
    assert len(hub) == 0


async def _rest(events: AsyncIterator[str]) -> list[str]:
    return [text async for text in events]


def _stream_app(caches: FakeCaches) -> tuple[FastAPI, Auth]:
    login = Auth(
        enabled=True,
        account=AdminAccount(cast(KubeClient, None), "driftless"),
        sessions=Sessions(3600),
        secure_cookies=False,
    )
    app = FastAPI()
    errors.install(app)
    client = cast(KubeClient, None)  # nothing here reads the cluster
    views = AppViews(cast(Caches, caches), LiveObjects(client), client)
    views.tree_body = _no_tree  # type: ignore[method-assign]
    views.events_body = _no_events  # type: ignore[method-assign]
    policy = RbacSource(client, "driftless", lambda: [])  # built-in roles: admin may all

    async def project_of(namespace: str, name: str) -> str | None:
        return "default"

    protected = APIRouter(
        prefix="/api/v1",
        dependencies=[Depends(guard(login)), Depends(access.dependency(policy, project_of))],
    )
    protected.include_router(stream.router(cast(Caches, caches), login, views, policy))
    app.include_router(protected)
    return app, login


async def _no_tree(app: JSON) -> JSON:
    return {"nodes": []}


async def _no_events(app: JSON) -> JSON:
    return {"items": []}


async def _open(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientResponse:
    resp = await http.get(url)
    if resp.status == 200:
        assert (await resp.content.readline()).startswith(b"retry: ")
    return resp


async def test_streams_per_session_are_bounded_and_end_at_logout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "KEEPALIVE_SECONDS", 0.05)
    app, login = _stream_app(FakeCaches([]))
    session = login.sessions.create("admin")
    async with running(app) as base, aiohttp.ClientSession(cookies={COOKIE: session}) as http:
        url = f"{base}/api/v1/stream"
        opened = [await _open(http, url) for _ in range(stream.MAX_PER_SESSION)]
        assert [resp.status for resp in opened] == [200] * stream.MAX_PER_SESSION
        refused = await _open(http, url)
        assert refused.status == 503
        assert "streams open" in (await refused.json())["error"]["message"]
        login.sessions.end(session)  # logout
        for resp in opened:  # each stream ends by itself: reading it to the end returns
            rest = await asyncio.wait_for(resp.content.read(), 10)
            assert set(rest.decode().split("\n")) <= {": connected", ": keepalive", ""}
            resp.release()


async def test_streams_are_counted_before_they_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "MAX_CLIENTS", 2)
    app, login = _stream_app(FakeCaches([]))
    session = login.sessions.create("admin")
    async with running(app) as base, aiohttp.ClientSession(cookies={COOKIE: session}) as http:
        url = f"{base}/api/v1/stream"
        answers = await asyncio.gather(*(http.get(url) for _ in range(6)))
        assert sorted(resp.status for resp in answers) == [200, 200, 503, 503, 503, 503]
        for resp in answers:
            resp.close()


# -- one application's stream -----------------------------------------------------------------


def _app_object(namespace: str, name: str, managed: tuple[str, ...] = ()) -> JSON:
    resources = [{"kind": "ConfigMap", "name": "c", "namespace": ns} for ns in managed]
    return {"metadata": {"namespace": namespace, "name": name}, "status": {"resources": resources}}


WATCHED: list[tuple[str, JSON, frozenset[str]]] = [
    ("own namespace", _app_object("apps", "a"), frozenset({"apps"})),
    (
        "and its objects'",
        _app_object("apps", "a", ("web", "db", "web")),
        frozenset({"apps", "web", "db"}),
    ),
    ("cluster-scoped objects add none", _app_object("apps", "a", ("",)), frozenset({"apps"})),
    (
        "hostile status",
        {"metadata": {"namespace": "apps"}, "status": {"resources": "x"}},
        frozenset({"apps"}),
    ),
    ("no metadata", {"status": None}, frozenset()),
]


@pytest.mark.parametrize(("case", "app", "wanted"), WATCHED, ids=[c[0] for c in WATCHED])
def test_watched_namespaces(case: str, app: JSON, wanted: frozenset[str]) -> None:
    assert stream.watched_namespaces(app) == wanted, case


@pytest.mark.parametrize(
    ("namespace", "wanted"), [("apps", True), ("web", True), ("", True), ("other", False)]
)
def test_concerns(namespace: str, wanted: bool) -> None:
    assert stream.concerns(frozenset({"apps", "web"}), namespace) is wanted


class FakeLive:
    def __init__(self) -> None:
        self.listeners: list[ChangeListener] = []

    def subscribe(self, listener: ChangeListener) -> None:
        self.listeners.append(listener)

    def change(self, namespace: str, kind: tuple[str, str] = ("v1", "Pod")) -> None:
        for listener in self.listeners:
            listener(kind, namespace)


class FakeViews:
    """The bodies an app's stream sends: ``pods`` and ``events`` as the test sets them."""

    def __init__(self) -> None:
        self.live = FakeLive()
        self.pods: list[str] = []
        self.events: list[str] = []

    async def tree_body(self, app: JSON) -> JSON:
        return {"nodes": [{"name": pod} for pod in self.pods]}

    async def events_body(self, app: JSON) -> JSON:
        return {"items": [{"reason": reason} for reason in self.events]}


def app_hub() -> tuple[stream.AppHub, FakeCaches, FakeViews]:
    caches, views = FakeCaches([row("a", ns="apps")]), FakeViews()
    return stream.AppHub(cast(Caches, caches), cast(AppViews, views)), caches, views


async def test_an_app_stream_starts_with_a_snapshot_then_sends_only_what_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "COALESCE_SECONDS", 0.01)
    hub, _, views = app_hub()
    views.pods = ["p1"]
    client = hub.open(("apps", "a"))
    events = hub.events(client)
    assert (await anext(events)).startswith("retry: ")
    assert (await anext(events)).startswith('event: app\ndata: {"metadata":{"namespace":"apps"')
    assert await anext(events) == 'event: tree\ndata: {"nodes":[{"name":"p1"}]}\n\n'
    assert await anext(events) == 'event: events\ndata: {"items":[]}\n\n'
    assert client.watched == frozenset({"apps"})

    # A burst of changes (a re-list, a rollout) is one update; the Events did not change.
    views.pods = ["p1", "p2"]
    for _ in range(10_000):
        views.live.change("apps")
    assert await anext(events) == ('event: tree\ndata: {"nodes":[{"name":"p1"},{"name":"p2"}]}\n\n')
    assert client.updates == 2  # the snapshot, and one for the whole burst
    views.events = ["Killing"]
    views.live.change("apps", EVENT_KIND)
    assert await anext(events) == 'event: events\ndata: {"items":[{"reason":"Killing"}]}\n\n'
    assert client.updates == 3
    await events.aclose()
    assert len(hub) == 0


async def test_an_app_stream_ignores_other_namespaces_and_other_apps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "COALESCE_SECONDS", 0.01)
    hub, caches, views = app_hub()
    client = hub.open(("apps", "a"))
    events = hub.events(client)
    for _ in range(4):  # retry, app, tree, events
        await anext(events)
    views.live.change("other")
    caches.change(row("b", ns="apps"))
    assert not client.dirty.is_set()
    views.live.change("")  # a cluster-scoped object may be the app's
    assert client.dirty.is_set()
    await events.aclose()


async def test_an_app_stream_ends_when_the_app_is_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "COALESCE_SECONDS", 0.01)
    hub, caches, _ = app_hub()
    events = hub.events(hub.open(("apps", "a")))
    for _ in range(4):
        await anext(events)
    caches._rows.clear()
    caches.change(None, ("apps", "a"))
    rest = [text async for text in events]
    assert rest == ['event: deleted\ndata: {"namespace":"apps","name":"a"}\n\n']
    assert len(hub) == 0


async def test_an_app_stream_sends_the_app_whenever_it_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app's page keeps its summary and operation current from this one stream."""
    monkeypatch.setattr(stream, "COALESCE_SECONDS", 0.01)
    hub, caches, _ = app_hub()
    events = hub.events(hub.open(("apps", "a")))
    assert (await anext(events)).startswith("retry: ")
    first = await anext(events)
    assert first.startswith("event: app\n")
    assert json.loads(first.split("data: ", 1)[1]) == _app_object("apps", "a")
    for _ in range(2):  # tree, events
        await anext(events)
    running_op = {"operationState": {"phase": "Running", "message": "wave 1"}}
    monkeypatch.setattr(caches, "app", lambda ns, n: {**_app_object(ns, n), "status": running_op})
    caches.change(row("a", ns="apps"))
    changed = await anext(events)  # the tree and Events did not change: only the app is sent
    assert changed.startswith("event: app\n")
    assert json.loads(changed.split("data: ", 1)[1])["status"] == running_op
    await events.aclose()


async def test_app_streams_count_with_list_streams_per_session() -> None:
    app, login = _stream_app(FakeCaches([row("a", ns="apps")]))
    session = login.sessions.create("admin")
    async with running(app) as base, aiohttp.ClientSession(cookies={COOKIE: session}) as http:
        half = stream.MAX_PER_SESSION // 2
        opened = [await _open(http, f"{base}/api/v1/stream") for _ in range(half)]
        app_url = f"{base}/api/v1/applications/apps/a/stream"
        opened += [await _open(http, app_url) for _ in range(stream.MAX_PER_SESSION - half)]
        assert [resp.status for resp in opened] == [200] * stream.MAX_PER_SESSION
        refused = await _open(http, app_url)
        assert refused.status == 503
        missing = await _open(http, f"{base}/api/v1/applications/apps/nope/stream")
        assert missing.status == 404 and "apps/nope" in (await missing.json())["error"]["message"]
        for resp in opened:
            resp.close()


# -- streams of an API token ----------------------------------------------------------------

NOW = 1_800_000_000


def _token_stream_app() -> tuple[FastAPI, BearerTokens, str, TokenTable]:
    """The stream app whose ``Auth`` takes API tokens: one valid token of ``team-a``'s ``ci``."""
    app, login = _stream_app(FakeCaches([]))
    table, token, _ = pipeline_tokens.issue(
        TokenTable(), namespace="driftless", project="team-a", role="ci", now=NOW,
        expires_in=3600, token_id="ci-1",
    )  # fmt: skip
    project = {"metadata": {"name": "team-a"}, "spec": {"roles": [{"name": "ci"}]}}
    bearer = BearerTokens(
        cast(KubeClient, None), "driftless", lambda: [project], clock=lambda: NOW + 1
    )
    bearer.update({"data": pipeline_tokens.data_of(table)})
    login.tokens = bearer
    return app, bearer, token, table


async def test_streams_of_a_token_are_bounded_and_end_when_it_is_revoked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "KEEPALIVE_SECONDS", 0.05)
    monkeypatch.setattr(stream, "TOKEN_RECHECK_SECONDS", 0.0)
    app, bearer, token, table = _token_stream_app()
    headers = {"Authorization": f"Bearer {token}"}
    async with running(app) as base, aiohttp.ClientSession(headers=headers) as http:
        url = f"{base}/api/v1/stream"
        opened = [await _open(http, url) for _ in range(stream.MAX_PER_SESSION)]
        assert [resp.status for resp in opened] == [200] * stream.MAX_PER_SESSION
        refused = await _open(http, url)
        assert refused.status == 503
        assert "API token has" in (await refused.json())["error"]["message"]
        # project token revoke: the Secret's watch brings the new table.
        bearer.update({"data": pipeline_tokens.data_of(pipeline_tokens.revoke(table, "ci-1"))})
        for resp in opened:  # each stream ends by itself: reading it to the end returns
            rest = await asyncio.wait_for(resp.content.read(), 10)
            assert set(rest.decode().split("\n")) <= {": connected", ": keepalive", ""}
            resp.release()
