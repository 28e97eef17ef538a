"""The Secret caches behind /repositories and /clusters: one labelled list, then a labelled
watch; only views are kept; an expired watch re-lists; a refused list says why and retries.
The client is a stand-in scripted by the test (the real cluster is in
tests/integration/test_server_config.py); this tests the loop, not Kubernetes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from driftless.kube.client import KubeClient, WatchEvent
from driftless.kube.errors import KubeExpiredError, KubeForbiddenError
from driftless.server import secrets_cache
from driftless.server.secrets_cache import SecretViews

JSON = dict[str, Any]
SELECTOR = "driftless.dev/secret-type=repository"


def secret(name: str, version: str, value: str = "hunter2") -> JSON:
    return {
        "metadata": {"name": name, "namespace": "driftless", "resourceVersion": version},
        "data": {"password": value},
    }


def view(obj: JSON) -> JSON:
    if obj["metadata"]["name"] == "boom":
        raise RuntimeError(obj["data"]["password"])
    return {"name": obj["metadata"]["name"], "version": obj["metadata"]["resourceVersion"]}


class Client:
    def __init__(self, lists: list[list[JSON] | BaseException]) -> None:
        self.lists = lists
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.selectors: list[tuple[str, str | None]] = []

    async def list_pages(
        self, api_version: str, kind: str, namespace: str | None = None, **kwargs: Any
    ) -> AsyncIterator[tuple[list[JSON], str]]:
        assert (api_version, kind, namespace) == ("v1", "Secret", "driftless")
        self.selectors.append(("list", kwargs.get("label_selector")))
        item = self.lists.pop(0) if len(self.lists) > 1 else self.lists[0]
        if isinstance(item, BaseException):
            raise item
        yield item, "10"

    async def watch(
        self, api_version: str, kind: str, namespace: str | None = None, **kwargs: Any
    ) -> AsyncIterator[WatchEvent]:
        self.selectors.append(("watch", kwargs.get("label_selector")))
        while True:
            item = await self.events.get()
            if isinstance(item, BaseException):
                raise item
            yield item


async def until(check: Any, what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def names(cache: SecretViews) -> list[str]:
    return sorted(v["name"] for v in cache.views())


@pytest.fixture(autouse=True)
def fast_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets_cache, "RETRY_SECONDS", 0.01)


async def test_list_watch_relist_keep_only_views(caplog: pytest.LogCaptureFixture) -> None:
    client = Client([[secret("a", "1"), secret("boom", "2", "s3cr3t")], [secret("c", "7")]])
    cache = SecretViews(
        cast(KubeClient, client), namespace="driftless", selector=SELECTOR, what="x", view=view
    )
    task = asyncio.create_task(cache.run())
    try:
        await until(lambda: cache.synced, "synced")
        assert names(cache) == ["a"]  # the view that raised is left out
        assert "s3cr3t" not in caplog.text and "boom" in caplog.text
        assert all("data" not in v for v in cache.views())

        await client.events.put(WatchEvent("ADDED", secret("b", "3")))
        await client.events.put(WatchEvent("MODIFIED", secret("a", "4")))
        await client.events.put(WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "5"}}))
        await until(lambda: names(cache) == ["a", "b"], "b added")
        assert {v["name"]: v["version"] for v in cache.views()}["a"] == "4"
        await client.events.put(WatchEvent("DELETED", secret("b", "6")))
        await until(lambda: names(cache) == ["a"], "b deleted")

        # An expired watch re-lists: what is gone from the list goes.
        await client.events.put(KubeExpiredError(410, "too old resource version"))
        await until(lambda: names(cache) == ["c"], "relisted")
        assert set(client.selectors) == {("list", SELECTOR), ("watch", SELECTOR)}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_refused_list_is_the_problem_until_it_succeeds() -> None:
    client = Client([KubeForbiddenError(403, "secrets is forbidden"), [secret("a", "1")]])
    cache = SecretViews(
        cast(KubeClient, client),
        namespace="driftless",
        selector=SELECTOR,
        what="repository credentials",
        view=view,
    )
    assert cache.problem == "starting: repository credentials not listed yet"
    task = asyncio.create_task(cache.run())
    try:
        await until(lambda: cache.synced, "synced after the retry")
        assert names(cache) == ["a"] and cache.problem == ""
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
