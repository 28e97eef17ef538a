"""A large app's status on the real control plane (``pipeline.status_budget``).

The shared controller here runs with a budget of 14 KiB instead of 512 KiB, so that
60 ConfigMaps cross it as ~2,000 objects would cross the default: the last
operation then lists only its notable results (pruned, failed, hooks) and
counts the plain synced ones, while ``status.resources`` keeps every object,
so pruning still finds exactly what left git. Last, a status larger than the
API server stores (a dev cluster whose etcd takes 64 KiB per write) stalls
the app with a message that says so, deletes nothing, and heals once the
app is smaller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from driftless.cli.install import install
from driftless.controller.manager import Controller, ControllerSettings
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    condition,
    configmap_manifest,
    create_app,
    get_app,
    ready,
    ready_false_with,
    running_controller,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

JSON = dict[str, Any]
BUDGET = 14 * 1024  # a status of these 60 objects takes ~18 KB, ~10 KB without plain results
COUNT = 60


def finished_at(revision: str) -> Any:
    def check(app: JSON) -> bool:
        status = app.get("status") or {}
        operation = status.get("operationState") or {}
        return (
            operation.get("phase") == "Succeeded"
            and operation.get("revision") == revision
            and (status.get("sync") or {}).get("status") == "Synced"
        )

    return check


async def test_a_large_app_lists_notable_results_and_keeps_its_whole_inventory(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(controller.reconciler, "status_budget", BUDGET)
    name = unique("budget")
    names = [f"cm-{i:02d}" for i in range(COUNT)]
    repo = make_git_repo({f"app/{n}.yaml": configmap_manifest(n, {"n": n}) for n in names})
    app = application(name, repo.url, path="app", interval="2s")  # sees the next commit
    app["spec"]["syncPolicy"]["automated"]["prune"] = True
    await create_app(kube, app)

    first = await wait_for(kube, name, finished_at(repo.head()), what="first sync")
    status = first["status"]
    listed = {r["name"] for r in status["resources"] if r["kind"] == "ConfigMap"}
    assert listed == set(names)  # the inventory: every object
    operation = status["operationState"]
    # Every result was a plain apply (the namespace's too): counted, none listed.
    assert operation["resources"] == []
    assert operation["resourcesOmitted"] == len(status["resources"])

    head = repo.commit(delete=["app/cm-00.yaml", "app/cm-01.yaml"], message="drop two")
    second = await wait_for(kube, name, finished_at(head), what="the sync that prunes")
    for gone in ("cm-00", "cm-01"):
        assert await kube.get("v1", "ConfigMap", gone, name) is None
    for kept in names[2:]:
        assert await kube.get("v1", "ConfigMap", kept, name) is not None, kept
    status = second["status"]
    assert {r["name"] for r in status["resources"] if r["kind"] == "ConfigMap"} == set(names[2:])
    operation = status["operationState"]
    # The notable results stay listed: what was pruned, and why.
    assert {(r["name"], r["status"]) for r in operation["resources"]} == {
        ("cm-00", "Pruned"),
        ("cm-01", "Pruned"),
    }
    assert operation["resourcesOmitted"] == len(status["resources"])


async def test_a_small_app_lists_every_result(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("nobudget")
    repo = make_git_repo({"app/one.yaml": configmap_manifest("one", {"n": "1"})})
    await create_app(kube, application(name, repo.url, path="app"))
    app = await wait_for(kube, name, finished_at(repo.head()), what="sync")
    operation = app["status"]["operationState"]
    assert {r["name"] for r in operation["resources"]} >= {"one"}
    assert "resourcesOmitted" not in operation
    assert (await get_app(kube, name))["status"]["operationState"] == operation


# -- an etcd that stores less than the app's status ---------------------------------

ETCD_LIMIT = 64 * 1024
# ConfigMaps: ~100 KB of status.resources alone (~125 bytes an object): over ETCD_LIMIT
# whatever the budget leaves out of the operation.
BIG = 800
KEPT = 100
SMALL_BUDGET = 32 * 1024


@pytest.fixture(scope="module")
def small_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    """A dev cluster whose etcd takes at most 64 KiB per write (no nodes: ConfigMaps only)."""
    with DevCluster(
        "pytest-small-etcd",
        state_dir=tmp_path_factory.mktemp("devcluster-small-etcd"),
        nodes=0,
        etcd_max_request_bytes=ETCD_LIMIT,
    ) as cluster:
        yield cluster


@asynccontextmanager
async def controller_on(cluster: DevCluster, cache_dir: Path) -> AsyncIterator[KubeClient]:
    """A client of ``cluster`` with driftless installed and a controller running there."""
    kube = await KubeClient.from_kubeconfig(str(cluster.kubeconfig))
    await install(kube)
    git = GitCache(cache_dir, allow_local=True)
    settings = ControllerSettings(
        namespace=APPS_NAMESPACE, workers=2, default_interval=3600, status_budget=SMALL_BUDGET
    )
    try:
        async with running_controller(kube, git, settings):
            yield kube
    finally:
        await kube.close()


async def test_a_status_the_api_server_cannot_store_stalls_the_app_and_deletes_nothing(
    small_etcd: DevCluster, make_git_repo: MakeGitRepo, tmp_path: Path
) -> None:
    names = [f"cm-{i:03d}" for i in range(BIG)]
    repo = make_git_repo({f"app/{n}.yaml": configmap_manifest(n, {"n": n}) for n in names})
    name = unique("toolarge")
    async with controller_on(small_etcd, tmp_path / "git") as kube:
        app = application(name, repo.url, path="app", interval="2s")
        app["spec"]["syncPolicy"]["automated"]["prune"] = True
        await create_app(kube, app)
        stalled = await wait_for(
            kube, name, ready_false_with("StatusTooLarge"), what="StatusTooLarge"
        )
        message = condition(stalled, "Ready")["message"]  # type: ignore[index]
        assert f"for {BIG + 1} objects" in message  # the namespace too
        assert "etcdserver: request is too large" in message
        assert "split the app" in message
        assert condition(stalled, "Stalled")["status"] == "True"  # type: ignore[index]
        # Nothing harmed: every object was applied and stays.
        live = await kube.list("v1", "ConfigMap", name)
        assert {cm["metadata"]["name"] for cm in live} >= set(names)

        # A smaller app fits again: it recovers by itself.
        head = repo.commit(delete=[f"app/{n}.yaml" for n in names[KEPT:]], message="split")
        recovered = await wait_for(
            kube,
            name,
            lambda a: ready(a) and (a["status"].get("sync") or {}).get("revision") == head,
            what="a status that fits",
        )
        listed = {r["name"] for r in recovered["status"]["resources"] if r["kind"] == "ConfigMap"}
        assert listed == set(names[:KEPT])
        assert condition(recovered, "Stalled") is None
        # Pruning deletes only what a stored inventory lists, never a guess: the objects
        # applied while no status could be stored stay for a person to remove.
        live = await kube.list("v1", "ConfigMap", name)
        assert {cm["metadata"]["name"] for cm in live} - {"kube-root-ca.crt"} == set(names)
