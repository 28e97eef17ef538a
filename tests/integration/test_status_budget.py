"""A large app's status on the real control plane (``pipeline.status_budget``).

The controller here runs with a budget of 8 KiB instead of 512 KiB, so that
60 ConfigMaps cross it as ~2,000 objects would cross the default: the last
operation then lists only its notable results (pruned, failed, hooks) and
counts the plain synced ones, while ``status.resources`` keeps every object,
so pruning still finds exactly what left git.
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.controller.manager import Controller
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    application,
    configmap_manifest,
    create_app,
    get_app,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

JSON = dict[str, Any]
BUDGET = 8 * 1024
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
