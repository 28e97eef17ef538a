"""Two sharded controllers (2 shards) in one process on the real control plane: each app's
notifications are sent once, by the replica owning it, and its ``driftless_app_info`` series
is exported by exactly that replica (issue 14 review: nothing about one app counted N times).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from driftless.cli.tools import render_tools
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import default_project
from driftless.core.wellknown import SECRET_TYPE_LABEL
from driftless.kube.client import KubeClient
from driftless.notifications.engine import NOTIFICATION_SECRET_TYPE, NotificationEngine
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.receivers import HttpReceivers, Recorded
from tests.integration.helpers import application, configmap_manifest, ready, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

JSON = dict[str, Any]
APPS = 4
TRIGGERS = ["on-sync-running", "on-sync-succeeded", "on-deployed"]
# A deadline, not a speed test: the control plane shares 2 cores with other tests.
CONVERGE_SECONDS = 180.0


async def until(check: Callable[[], Any], what: str, timeout: float = CONVERGE_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def receivers() -> Any:
    receiver = HttpReceivers().start()
    yield receiver
    receiver.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(kube: KubeClient) -> AsyncIterator[str]:
    """Apps, Leases, the project and the (admin) rule all in one namespace of this test."""
    name = unique("replicas")
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, field_manager="t"
    )
    await kube.apply(default_project(name), field_manager="t")
    yield name


@pytest_asyncio.fixture(loop_scope="session")
async def pair(kube: KubeClient, namespace: str, tmp_path: Path) -> AsyncIterator[list[Controller]]:
    """Replicas ``a`` and ``b`` with ``--shards 2``, each with its notification engine."""
    made: list[tuple[Controller, NotificationEngine, asyncio.Event, asyncio.Task[None]]] = []
    for replica in ("a", "b"):
        git = GitCache(tmp_path / replica, allow_local=True)
        engine = NotificationEngine(
            kube, home=namespace, namespace=namespace, git=git, allow_private_networks=True
        )
        settings = ControllerSettings(
            namespace=namespace, workers=2, default_interval=3600, shards=2, replica_id=replica
        )
        controller = Controller(kube, git, settings, tools=render_tools(), observer=engine)
        stop = asyncio.Event()
        made.append((controller, engine, stop, asyncio.create_task(controller.run(stop))))
    try:
        yield [controller for controller, *_ in made]
    finally:
        for *_, stop, _task in made:
            stop.set()
        for _controller, engine, _stop, task in made:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
            await engine.close()


def app_info_names(controller: Controller) -> set[str]:
    text = generate_latest(controller.metrics.registry).decode()
    for family in text_string_to_metric_families(text):
        if family.name == "driftless_app_info":
            return {sample.labels["name"] for sample in family.samples}
    return set()


async def test_each_app_is_told_once_and_counted_by_one_replica(
    kube: KubeClient,
    namespace: str,
    pair: list[Controller],
    receivers: HttpReceivers,
    make_git_repo: MakeGitRepo,
) -> None:
    a, b = pair
    await until(
        lambda: a.keeper and b.keeper and a.keeper.held | b.keeper.held == {0, 1},
        "the two replicas holding the two shards",
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "hook",
            "namespace": namespace,
            "labels": {SECRET_TYPE_LABEL: NOTIFICATION_SECRET_TYPE},
        },
        "data": {"url": base64.b64encode(receivers.url("hook").encode()).decode()},
    }
    await kube.apply(secret, field_manager="t")
    for kind, spec in (
        ("NotificationService", {"type": "webhook", "secretRef": {"name": "hook"}}),
        ("NotificationRule", {"services": ["hook"], "triggers": TRIGGERS}),
    ):
        body = {
            "apiVersion": API_VERSION,
            "kind": kind,
            "metadata": {"name": "hook", "namespace": namespace},
            "spec": spec,
        }
        await kube.apply(body, field_manager="t")

    async def rule_ready() -> bool:
        rule = await kube.get(API_VERSION, "NotificationRule", "hook", namespace)
        conditions = ((rule or {}).get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    await until(rule_ready, "the rule Ready")
    await asyncio.sleep(1.0)  # both engines have listed the rule and the service

    repo = make_git_repo({"cm.yaml": configmap_manifest("settings", {"color": "blue"})})
    names = [unique("owned") for _ in range(APPS)]
    for name in names:
        app = application(name, repo.url)
        app["metadata"]["namespace"] = namespace
        await kube.apply(app, field_manager="t")
    try:

        async def all_ready() -> bool:
            apps = await kube.list(API_VERSION, APPLICATION_KIND, namespace)
            return sum(1 for obj in apps if ready(obj)) == APPS

        await until(all_ready, "every app Ready")

        def told(name: str, trigger: str) -> list[Recorded]:
            return [
                r
                for r in receivers.of("hook")
                if r.json["app"]["name"] == name and r.json["trigger"] == trigger
            ]

        await until(
            lambda: all(told(name, "on-deployed") for name in names), "on-deployed of every app"
        )
        await asyncio.sleep(3.0)  # a second replica's copy would have arrived by now
        counts = {name: [len(told(name, t)) for t in TRIGGERS] for name in names}
        assert counts == {name: [1, 1, 1] for name in names}
        # The shards are split (both replicas own apps here with 4 apps and 2 shards, most
        # of the time); whatever the split, each app's series is on exactly one replica.
        shown_a, shown_b = app_info_names(a), app_info_names(b)
        assert shown_a.isdisjoint(shown_b)
        assert shown_a | shown_b == set(names)
    finally:
        for name in names:
            with contextlib.suppress(Exception):
                await kube.delete(API_VERSION, APPLICATION_KIND, name, namespace)

        async def gone() -> bool:
            return not await kube.list(API_VERSION, APPLICATION_KIND, namespace)

        with contextlib.suppress(AssertionError):
            await until(gone, "the apps deleted", timeout=60)
