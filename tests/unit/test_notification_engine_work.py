"""The engine's work: apps' messages go in parallel but each app's in order, and a
namespace's notification Secrets are listed once per check pass, not once per rule."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, cast

from driftless.kube.client import KubeApiError, KubeClient
from driftless.notifications.engine import (
    NOTIFICATION_SECRET_SELECTOR,
    SECRET_MISS_RELIST_SECONDS,
    WORKERS,
    Job,
    NotificationEngine,
)
from driftless.notifications.message import Notification, Target

HOME = "driftless"
JSON = dict[str, Any]


def app(name: str) -> JSON:
    return {"metadata": {"name": name, "namespace": "team-a", "uid": f"uid-{name}"}}


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def submit(self, n: Notification, t: Target) -> bool:
        self.sent.append((n.app_name, n.trigger))
        return True


class SlowEngine(NotificationEngine):
    """``process`` that holds the jobs of app ``slow`` until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__(cast(KubeClient, None), home=HOME, delivery=Recorder())
        self.release = asyncio.Event()
        self.progress = asyncio.Event()
        self.done: list[tuple[str, str]] = []

    async def until_done(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.done) < count:
                self.progress.clear()
                await self.progress.wait()

    async def process(self, job: Job) -> None:
        name = job.app["metadata"]["name"]
        if name.startswith("slow"):
            await self.release.wait()
        await asyncio.sleep(0)
        self.done.append((name, job.trigger))
        self.progress.set()


def names_on_other_queues(engine: NotificationEngine, first: str, prefix: str) -> str:
    """A name whose app uses another queue than ``first``'s."""
    taken = engine._queue_of(app(first))
    return next(
        f"{prefix}{i}" for i in range(1000) if engine._queue_of(app(f"{prefix}{i}")) is not taken
    )


async def test_other_apps_go_on_while_one_is_slow_and_each_app_keeps_its_order() -> None:
    engine = SlowEngine()
    assert len(engine.queues) == WORKERS > 1
    fast = names_on_other_queues(engine, "slow", "fast")
    steps = ["on-sync-running", "on-sync-succeeded", "on-deployed"]
    for trigger in steps:
        engine._enqueue(Job(("team-a", "r"), trigger, "a" * 40, app("slow")))
        engine._enqueue(Job(("team-a", "r"), trigger, "a" * 40, app(fast)))
    workers = [asyncio.create_task(engine._worker(q)) for q in engine.queues]
    try:
        await engine.until_done(len(steps))
        assert engine.done == [(fast, t) for t in steps]  # not behind the slow app
        engine.release.set()
        await engine.until_done(2 * len(steps))
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    assert [t for name, t in engine.done if name == "slow"] == steps  # running first


def test_every_job_of_an_app_lands_on_one_queue_and_apps_spread() -> None:
    engine = NotificationEngine(cast(KubeClient, None), home=HOME, delivery=Recorder())
    assert all(engine._queue_of(app("web")) is engine._queue_of(app("web")) for _ in range(3))
    used = {id(engine._queue_of(app(f"app-{i}"))) for i in range(64)}
    assert len(used) == WORKERS


class CountingClient:
    """Just enough of a KubeClient for ``check_all`` and ``_target``: it counts lists."""

    def __init__(self) -> None:
        self.lists: list[tuple[str, str | None, str | None]] = []
        secret = {
            "metadata": {
                "name": "chat",
                "namespace": "team-a",
                "labels": {"driftless.dev/secret-type": "notification"},
            },
            "type": "Opaque",
            "data": {"url": base64.b64encode(b"https://hooks.example.com/x").decode()},
        }
        self.secrets = [secret]

    async def list(
        self, api: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[JSON]:
        self.lists.append((kind, namespace, label_selector))
        await asyncio.sleep(0.01)
        return self.secrets if kind == "Secret" else []

    async def merge_patch(self, *args: Any, **kwargs: Any) -> JSON:
        return {}

    async def create(self, body: JSON) -> JSON:
        return body


async def test_a_check_pass_lists_a_namespaces_secrets_once_not_once_per_rule() -> None:
    client = CountingClient()
    engine = NotificationEngine(cast(KubeClient, client), home=HOME, delivery=Recorder())
    service = {
        "metadata": {"namespace": "team-a", "name": "chat", "generation": 1},
        "spec": {"type": "webhook", "secretRef": {"name": "chat"}},
    }
    engine._on_service("ADDED", service)
    for n in range(5):
        rule = {"services": ["chat"], "triggers": ["on-sync-failed"]}
        engine._on_rule(
            "ADDED", {"metadata": {"namespace": "team-a", "name": f"r{n}"}, "spec": rule}
        )
    await engine.check_all()
    # Jobs sent right after, all at once, read the same list too.
    targets = await asyncio.gather(*(engine._target("team-a", "chat") for _ in range(8)))
    assert all(t is not None and t.secrets["url"].endswith("/x") for t in targets)
    assert client.lists == [("Secret", "team-a", NOTIFICATION_SECRET_SELECTOR)]
    # Past the cache's life the Secret is read again (a rotation shows).
    engine._secrets = {ns: (0.0, task) for ns, (_, task) in engine._secrets.items()}
    client.secrets = []
    assert await engine._target("team-a", "chat") is None
    assert len(client.lists) == 2


async def test_a_failed_list_is_not_kept() -> None:
    client = CountingClient()
    calls = 0

    async def failing(*args: Any, **kwargs: Any) -> list[JSON]:
        nonlocal calls
        calls += 1
        raise KubeApiError(503, "unavailable")

    client.list = failing  # type: ignore[method-assign]
    engine = NotificationEngine(cast(KubeClient, client), home=HOME, delivery=Recorder())
    assert await engine._secret("team-a", "chat") is None
    assert await engine._secret("team-a", "chat") is None
    assert calls == 2


async def test_a_secret_created_after_the_list_is_found_without_waiting_for_the_cache() -> None:
    client = CountingClient()
    created, client.secrets = client.secrets, []
    engine = NotificationEngine(cast(KubeClient, client), home=HOME, delivery=Recorder())
    assert await engine._secret("team-a", "chat") is None
    # A miss right after a list does not list again (a missing Secret costs no storm) ...
    assert await engine._secret("team-a", "chat") is None
    assert len(client.lists) == 1
    # ... but once that list is older than the miss interval, the new Secret is seen at once.
    client.secrets = created
    engine._secrets = {
        ns: (until - SECRET_MISS_RELIST_SECONDS, task)
        for ns, (until, task) in engine._secrets.items()
    }
    found = await engine._secret("team-a", "chat")
    assert found is not None and found["url"].endswith("/x")
    assert len(client.lists) == 2


async def test_a_replica_writes_only_the_conditions_of_the_objects_it_owns() -> None:
    client = CountingClient()
    patched: list[tuple[Any, ...]] = []

    async def merge_patch(*args: Any, **kwargs: Any) -> JSON:
        patched.append((args[1], args[2], kwargs.get("namespace")))
        return {}

    client.merge_patch = merge_patch  # type: ignore[method-assign]
    engine = NotificationEngine(cast(KubeClient, client), home=HOME, delivery=Recorder())
    for n in range(4):
        rule = {"services": ["missing"], "triggers": ["on-sync-failed"]}
        engine._on_rule(
            "ADDED", {"metadata": {"namespace": "team-a", "name": f"r{n}"}, "spec": rule}
        )
    engine.writes_status = lambda key: key[1] in ("r1", "r3")
    await engine.check_all()
    assert sorted(name for _, name, _ in patched) == ["r1", "r3"]
