"""The walking skeleton end to end: git → controller → real cluster → status."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.wellknown import TRACKING_ANNOTATION
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.devcluster import Kubectl
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.cli_driver import invoke
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    condition,
    configmap_manifest,
    create_app,
    deployment_manifest,
    get_app,
    ready,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SERVICE_AND_SECRET = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: hunter2
"""


async def test_directory_app_is_applied_and_reported(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo, kubectl: Kubectl
) -> None:
    name = unique("basic")
    repo = make_git_repo(
        {
            "app/configmap.yaml": configmap_manifest("settings", {"color": "blue"}),
            "app/deployment.yaml": deployment_manifest(),
            "app/more.yaml": SERVICE_AND_SECRET,
            "README.md": "not a manifest",
        }
    )
    await create_app(kube, application(name, repo.url, path="app"))

    # What a user checks first: kubectl wait on the Ready condition.
    waited = await asyncio.to_thread(
        kubectl,
        "wait",
        f"application/{name}",
        "-n",
        APPS_NAMESPACE,
        "--for=condition=Ready",
        "--timeout=90s",
        check=False,
    )
    assert waited.returncode == 0, waited.stderr
    app = await wait_for(kube, name, ready)
    status = app["status"]
    assert status["sync"] == {"status": "Synced", "revision": repo.head()}
    assert status["health"]["status"] == "Healthy"
    assert status["observedGeneration"] == app["metadata"]["generation"]
    listed = {(r["kind"], r["namespace"], r["name"]) for r in status["resources"]}
    assert listed >= {
        ("ConfigMap", name, "settings"),
        ("Deployment", name, "web"),
        ("Service", name, "web"),
        ("Secret", name, "creds"),
    }
    assert all(r["status"] == "Synced" for r in status["resources"])

    live = await kube.get("v1", "ConfigMap", "settings", name)
    assert live is not None
    assert live["data"] == {"color": "blue"}
    annotations = live["metadata"]["annotations"]
    # The tracking id names the app by namespace and name.
    assert annotations[TRACKING_ANNOTATION] == f"{APPS_NAMESPACE}_{name}:/ConfigMap:{name}/settings"
    managers = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert "driftless" in managers
    deployment = await kube.get("apps/v1", "Deployment", "web", name)
    assert deployment is not None
    assert deployment["status"].get("availableReplicas") == 2  # kwok really ran the pods

    # The printer columns show what kubectl users expect.
    table = await asyncio.to_thread(kubectl, "get", "applications", "-n", APPS_NAMESPACE, name)
    header, row = table.stdout.splitlines()[:2]
    assert header.split()[:5] == ["NAME", "SYNC", "HEALTH", "REVISION", "AGE"]
    assert row.split()[1:4] == ["Synced", "Healthy", repo.head()]


async def test_new_commit_reaches_cluster_within_interval(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("poll")
    repo = make_git_repo({"cm.yaml": configmap_manifest("settings", {"color": "blue"})})
    await create_app(kube, application(name, repo.url, interval="2s"))
    await wait_for(kube, name, ready)
    sha = repo.commit({"cm.yaml": configmap_manifest("settings", {"color": "green"})}, "green")
    app = await wait_for(
        kube, name, lambda a: a["status"]["sync"]["revision"] == sha, timeout=30, what="new sha"
    )
    assert ready(app)
    live = await kube.get("v1", "ConfigMap", "settings", name)
    assert live is not None and live["data"]["color"] == "green"


async def test_smart_http_repository(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
) -> None:
    name = unique("http")
    repo = make_git_repo({"deploy/cm.yaml": configmap_manifest("settings", {"color": "red"})})
    url = git_http_server.publish(repo.path)
    served = f"/{url.rsplit('/', 1)[1]}/"
    await create_app(kube, application(name, url, path="deploy"))
    app = await wait_for(kube, name, ready)
    assert app["status"]["sync"]["revision"] == repo.head()
    # The controller fetched through the HTTP server (smart protocol), not some other way.
    paths = [path for _, path in list(git_http_server.requests) if path.startswith(served)]
    assert any("service=git-upload-pack" in path for path in paths), paths
    assert ("POST", f"{served}git-upload-pack") in git_http_server.requests
    live = await kube.get("v1", "ConfigMap", "settings", name)
    assert live is not None and live["data"]["color"] == "red"


async def test_manual_app_reports_out_of_sync_and_applies_nothing(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("manual")
    repo = make_git_repo({"cm.yaml": configmap_manifest("settings", {"color": "blue"})})
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, field_manager="test"
    )
    await create_app(kube, application(name, repo.url, automated=False))
    app = await wait_for(
        kube, name, lambda a: (a.get("status") or {}).get("sync", {}).get("status") == "OutOfSync"
    )
    found = condition(app, "Ready")
    assert found is not None and found["reason"] == "OutOfSync"
    rows = {r["kind"]: r for r in app["status"]["resources"]}
    assert rows["ConfigMap"]["status"] == "OutOfSync"
    assert rows["ConfigMap"]["health"]["status"] == "Missing"
    assert await kube.get("v1", "ConfigMap", "settings", name) is None


async def test_generation_change_is_picked_up_at_once(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("respec")
    repo = make_git_repo(
        {
            "a/cm.yaml": configmap_manifest("settings", {"color": "blue"}),
            "b/cm.yaml": configmap_manifest("settings", {"color": "pink"}),
        }
    )
    await create_app(kube, application(name, repo.url, path="a"))
    await wait_for(kube, name, ready)
    await create_app(kube, application(name, repo.url, path="b"))
    await wait_for(
        kube,
        name,
        lambda a: a["status"].get("observedGeneration") == a["metadata"]["generation"] and ready(a),
        timeout=20,
    )
    live = await kube.get("v1", "ConfigMap", "settings", name)
    assert live is not None and live["data"]["color"] == "pink"


def _last_operation(app: dict[str, Any]) -> dict[str, Any]:
    return dict((app.get("status") or {}).get("operationState") or {})


def _history(app: dict[str, Any]) -> list[dict[str, Any]]:
    return list((app.get("status") or {}).get("history") or [])


async def test_a_second_sync_with_the_same_options_runs_and_a_request_read_again_does_not(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo, devcluster: DevCluster
) -> None:
    name = unique("twice")
    repo = make_git_repo({"cm.yaml": configmap_manifest("settings", {"color": "blue"})})
    await create_app(kube, application(name, repo.url, automated=False))
    await wait_for(
        kube, name, lambda a: bool((a.get("status") or {}).get("sync", {}).get("revision"))
    )

    first = await invoke(devcluster.kubeconfig, "app", "sync", name, "--timeout", "120")
    assert first.exit_code == 0, first.output
    app = await get_app(kube, name)
    before = _last_operation(app)
    assert before["phase"] == "Succeeded" and len(_history(app)) == 1
    # Someone changes the object by hand; pressing Sync again, same options, puts git back.
    drift = {"data": {"color": "red"}}
    await kube.merge_patch("v1", "ConfigMap", "settings", drift, namespace=name)
    # startedAt has second precision: let the clock pass that second (at most
    # one), so "the second sync started later" is a fact the status can show.
    started = datetime.strptime(before["startedAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    await asyncio.sleep(
        max(0.0, (started + timedelta(seconds=1) - datetime.now(UTC)).total_seconds())
    )

    second = await invoke(devcluster.kubeconfig, "app", "sync", name, "--timeout", "120")
    assert second.exit_code == 0, second.output
    app = await get_app(kube, name)
    after = _last_operation(app)
    assert after["phase"] == "Succeeded"
    assert after["startedAt"] > before["startedAt"]
    assert after["operation"]["sync"] == before["operation"]["sync"]  # the very same options
    assert after["operation"]["requestedAt"] > before["operation"]["requestedAt"]
    assert [h["startedAt"] for h in _history(app)] == [before["startedAt"], after["startedAt"]]
    live = await kube.get("v1", "ConfigMap", "settings", name)
    assert live is not None and live["data"] == {"color": "blue"}

    # The served request read again, as if the controller's clearing was
    # interrupted: it is removed, and does not run a third time.
    await kube.merge_patch(
        API_VERSION,
        APPLICATION_KIND,
        name,
        {"operation": after["operation"]},
        namespace=APPS_NAMESPACE,
    )
    app = await wait_for(
        kube,
        name,
        lambda a: (
            "operation" not in a
            and (a.get("status") or {}).get("observedGeneration") == a["metadata"]["generation"]
        ),
        what="the replayed request removed",
    )
    assert _last_operation(app)["startedAt"] == after["startedAt"]
    assert len(_history(app)) == 2
