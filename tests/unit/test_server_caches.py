"""The server's caches: paged list, then watch; rows and redacted objects kept; relists
tell only what changed. The client is a stand-in scripted by the test (the real cluster
is in tests/integration/test_server_read.py); this tests the loop, not Kubernetes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp
import pytest

from driftless.core import wellknown
from driftless.kube.client import KubeClient, WatchEvent
from driftless.kube.discovery import UnknownKindError
from driftless.kube.errors import KubeExpiredError, KubeUnavailableError
from driftless.server import caches as caches_module
from driftless.server.app import create_app
from driftless.server.caches import Caches
from driftless.server.rows import Row
from driftless.server.settings import ServerSettings
from tests.fixtures.server_http import idle_state, running

JSON = dict[str, Any]
END = object()


def app(name: str, version: str, *, sync: str = "Synced", namespace: str = "apps") -> JSON:
    return {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name, "namespace": namespace, "resourceVersion": version,
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {"source": {"repoURL": "https://bot:hunter2@git.example.com/x.git"}},
        "status": {"sync": {"status": sync}},
    }  # fmt: skip


def project(name: str, namespace: str = "driftless") -> JSON:
    return {"kind": "Project", "metadata": {"name": name, "namespace": namespace}, "spec": {}}


class Client:
    """Lists answer the scripted pages (one script per relist); watches read a queue."""

    def __init__(self) -> None:
        self.lists: dict[str, list[list[list[JSON]] | BaseException]] = {
            "Application": [], "Project": [[[project("default"), project("x", "elsewhere")]]],
        }  # fmt: skip
        self.events: dict[str, asyncio.Queue[Any]] = {
            "Application": asyncio.Queue(), "Project": asyncio.Queue(),
        }  # fmt: skip
        self.listed: dict[str, int] = {"Application": 0, "Project": 0}

    async def list_pages(
        self, api_version: str, kind: str, namespace: str | None = None, *, page_size: int = 500
    ) -> AsyncIterator[tuple[list[JSON], str]]:
        script = self.lists[kind]
        self.listed[kind] += 1
        pages = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(pages, BaseException):
            raise pages
        for n, page in enumerate(pages):
            yield page, ("100" if n == len(pages) - 1 else "")

    async def watch(self, api_version: str, kind: str, *_: Any, **__: Any) -> AsyncIterator[Any]:
        while True:
            item = await self.events[kind].get()
            if isinstance(item, BaseException):
                raise item
            if item is END:
                return
            yield item


async def until(check: Any, what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setattr(caches_module, "RETRY_SECONDS", 0.01)
    return Client()


async def run(client: Client) -> tuple[Caches, list[str], asyncio.Task[None]]:
    caches = Caches(cast(KubeClient, client), controller_namespace="driftless")
    told: list[str] = []

    def listener(row: Row | None, key: tuple[str, str] | None) -> None:
        told.append(f"{row.data['name']}={row.data['sync']}" if row else f"-{key[1]}")  # type: ignore[index]

    caches.subscribe(listener)
    task = asyncio.create_task(caches.start())
    return caches, told, task


async def test_a_paged_list_then_watch_events(client: Client) -> None:
    client.lists["Application"] = [[[app("a", "1"), app("b", "2")], [app("c", "3")]]]
    caches, told, task = await run(client)
    try:
        await until(lambda: caches.ready, "ready")
        assert sorted(r.data["name"] for r in caches.rows()) == ["a", "b", "c"]
        assert told == ["a=Synced", "b=Synced", "c=Synced"]
        assert [p["metadata"]["name"] for p in caches.projects()] == ["default"]

        await client.events["Application"].put(
            WatchEvent("MODIFIED", app("b", "4", sync="OutOfSync"))
        )
        await client.events["Application"].put(WatchEvent("DELETED", app("a", "5")))
        await client.events["Application"].put(WatchEvent("BOOKMARK", {"metadata": {}}))
        await until(lambda: len(told) == 5, "two changes told")
        assert told[3:] == ["b=OutOfSync", "-a"]
        assert caches.app("apps", "a") is None
        detail = caches.app("apps", "b")
        assert detail is not None and detail["status"]["sync"]["status"] == "OutOfSync"
    finally:
        task.cancel()
        await caches.close()


async def test_an_expired_watch_relists_and_tells_only_what_changed(client: Client) -> None:
    client.lists["Application"] = [
        [[app("a", "1"), app("b", "2")]],
        [[app("b", "2"), app("c", "7")]],  # a went away, c came, b is unchanged
    ]
    caches, told, task = await run(client)
    try:
        await until(lambda: caches.ready, "ready")
        await client.events["Application"].put(KubeExpiredError(410, "too old resource version"))
        await until(lambda: len(told) == 4, "the relist's changes")
        assert told == ["a=Synced", "b=Synced", "c=Synced", "-a"]
        assert client.listed["Application"] == 2
    finally:
        task.cancel()
        await caches.close()


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (UnknownKindError("driftless.dev/v1alpha1", "Application"),
         "the driftless CRDs are not installed: run driftless install"),
        (KubeUnavailableError(0, "cannot reach https://u:pw@api.example.com"),
         "cannot list or watch Applications: cannot reach https://api.example.com"),
    ],
)  # fmt: skip
async def test_not_ready_says_why(client: Client, error: BaseException, problem: str) -> None:
    client.lists["Application"] = [error]
    caches, _, task = await run(client)
    try:
        await until(lambda: caches.problem == problem, "the problem")
        assert not caches.ready
    finally:
        task.cancel()
        await caches.close()


async def test_kept_objects_are_redacted(client: Client) -> None:
    client.lists["Application"] = [[[app("a", "1")]]]
    caches, _, task = await run(client)
    try:
        await until(lambda: caches.ready, "ready")
        raw = caches.app_json("apps", "a")
        assert raw is not None
        assert b"hunter2" not in raw and b"managedFields" not in raw
        assert json.loads(raw)["spec"]["source"]["repoURL"] == "https://git.example.com/x.git"
        assert caches.rows()[0].data["repoURL"] == "https://git.example.com/x.git"
    finally:
        task.cancel()
        await caches.close()


LAST_APPLIED = wellknown.KUBECTL_LAST_APPLIED_ANNOTATION


async def test_the_cache_keeps_an_app_without_its_copies(client: Client) -> None:
    obj = app("a", "1")
    obj["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(obj["spec"]), "team": "web"}
    client.lists["Application"] = [[[obj]]]
    caches, _, task = await run(client)
    try:
        await until(lambda: caches.ready, "ready")
        kept = caches.app("apps", "a")
        assert kept is not None
        assert kept["metadata"]["annotations"] == {"team": "web"}
        assert "managedFields" not in kept["metadata"]
    finally:
        task.cancel()
        await caches.close()


async def test_list_requests_never_reach_the_api_server(client: Client, tmp_path: Any) -> None:
    client.lists["Application"] = [[[app(f"app-{i}", str(i)) for i in range(50)]]]
    settings = ServerSettings(static_dir=tmp_path, auth=False)
    state = idle_state(settings, cast(KubeClient, client))
    task = asyncio.create_task(state.caches.start())
    try:
        await until(lambda: state.caches.ready, "ready")
        async with running(create_app(settings, state)) as url, aiohttp.ClientSession() as http:
            for query in ["", "?sort=-name", "?search=app-1&limit=5", "?offset=40"]:
                async with http.get(f"{url}/api/v1/applications{query}") as resp:
                    assert resp.status == 200
            async with http.get(f"{url}/api/v1/applications/apps/app-7") as resp:
                assert (await resp.json())["metadata"]["name"] == "app-7"
        assert client.listed == {"Application": 1, "Project": 1}
    finally:
        task.cancel()
        await state.caches.close()


async def test_an_unexpected_failure_is_retried_and_said(client: Client) -> None:
    client.lists["Application"] = [RuntimeError("bug at https://u:pw@x.example"), [[app("a", "1")]]]
    caches, told, task = await run(client)
    try:
        await until(lambda: caches.ready, "ready after the retry")
        assert told == ["a=Synced"]
        assert client.listed["Application"] == 2
    finally:
        task.cancel()
        await caches.close()


async def test_readyz_names_the_caches_and_never_the_api_servers_error(client: Client) -> None:
    client.lists["Application"] = [KubeUnavailableError(0, "cannot reach https://u:pw@10.9.8.7")]
    settings = ServerSettings()
    state = idle_state(settings, cast(KubeClient, client))
    caches, _, task = await run(client)
    state.caches = caches
    try:
        await until(lambda: "10.9.8.7" in caches.problem, "the problem")
        async with (
            running(create_app(settings, state)) as base,
            aiohttp.ClientSession() as http,
            http.get(f"{base}/readyz") as resp,
        ):
            assert resp.status == 503
            body = await resp.json()
        message = body["error"]["message"]
        assert message == "not ready: Applications not listed yet"
    finally:
        task.cancel()
        await caches.close()
