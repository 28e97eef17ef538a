"""The real ``driftless`` CLI, run as a subprocess against the dev cluster."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from driftless import __version__
from driftless.controller.manager import Controller
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.cli_driver import entry_point
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    create_app,
    ready,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_API = "apiextensions.k8s.io/v1"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cli\ndata:\n  n: '{n}'\n"


def driftless(cluster: DevCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [entry_point(), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def run_cli(cluster: DevCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(driftless, cluster, *args)


async def test_list_get_and_refresh(
    kube: KubeClient, controller: Controller, devcluster: DevCluster, make_git_repo: MakeGitRepo
) -> None:
    name = unique("cli")
    repo = make_git_repo({"cm.yaml": CM.format(n=1)})
    # A long interval: only the refresh can bring the next commit in quickly.
    await create_app(kube, application(name, repo.url, interval="1h"))
    await wait_for(kube, name, ready)

    listed = await run_cli(devcluster, "app", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "SYNC", "HEALTH", "REVISION", "AGE"]
    row = next(r.split() for r in rows if r.split()[0] == name)
    assert row[1:4] == ["Synced", "Healthy", repo.head()[:12]]

    as_json = await run_cli(devcluster, "app", "get", name, "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["status"]["sync"]["revision"] == repo.head()
    as_yaml = await run_cli(devcluster, "app", "get", name, "-o", "yaml")
    assert yaml.safe_load(as_yaml.stdout)["metadata"]["name"] == name
    described = await run_cli(devcluster, "app", "get", name)
    assert "Sync Status:   Synced" in described.stdout
    assert "ConfigMap" in described.stdout

    sha = repo.commit({"cm.yaml": CM.format(n=2)}, "second")
    refreshed = await run_cli(devcluster, "app", "refresh", name)
    assert refreshed.returncode == 0, refreshed.stderr
    # With a 1h interval, only the refresh can bring this commit in before the deadline.
    await wait_for(kube, name, lambda a: a["status"]["sync"]["revision"] == sha)
    live = await kube.get("v1", "ConfigMap", "cli", name)
    assert live is not None and live["data"]["n"] == "2"
    app = await wait_for(kube, name, ready)
    assert "driftless.dev/refresh" not in (app["metadata"].get("annotations") or {})


async def test_unknown_app_is_one_clear_line(devcluster: DevCluster, kube: KubeClient) -> None:
    result = await run_cli(devcluster, "app", "get", "does-not-exist")
    assert result.returncode != 0
    assert result.stderr.strip() == (
        f'Error: application "does-not-exist" not found in namespace {APPS_NAMESPACE}'
    )
    assert "Traceback" not in result.stderr


async def test_install_is_idempotent(devcluster: DevCluster, kube: KubeClient) -> None:
    crds = ("applications.driftless.dev", "projects.driftless.dev")
    versions = []
    for _ in range(2):
        result = await run_cli(devcluster, "install")
        assert result.returncode == 0, result.stderr
        assert "customresourcedefinition/applications.driftless.dev applied" in result.stdout
        found = [await kube.get(CRD_API, "CustomResourceDefinition", crd) for crd in crds]
        assert all(crd is not None for crd in found), "install did not create the CRDs"
        versions.append([crd["metadata"]["resourceVersion"] for crd in found if crd])
    # A second install is a no-op on the server: nothing was rewritten.
    assert versions[0] == versions[1]


async def test_install_controller_dry_run_and_uninstall(
    devcluster: DevCluster, kube: KubeClient, controller: Controller
) -> None:
    printed = await run_cli(devcluster, "install", "--dry-run")
    assert printed.returncode == 0, printed.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(printed.stdout)]
    # Application, Project, NotificationService, NotificationRule.
    assert kinds.count("CustomResourceDefinition") == 4
    assert {"Namespace", "Project", "ServiceAccount", "ClusterRole", "Deployment"} <= set(kinds)

    installed = await run_cli(devcluster, "install", "--namespace", "driftless-system")
    assert installed.returncode == 0, installed.stderr
    assert "deployment/driftless-controller applied" in installed.stdout
    assert await kube.get("apps/v1", "Deployment", "driftless-controller", "driftless-system")
    rbac = "rbac.authorization.k8s.io/v1"
    binding_name = "driftless-controller-driftless-system"  # cluster-wide, per install
    binding = await kube.get(rbac, "ClusterRoleBinding", binding_name, None)
    assert binding is not None
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "driftless-controller", "namespace": "driftless-system"}
    ]
    removed = await run_cli(devcluster, "uninstall", "--namespace", "driftless-system")
    assert removed.returncode == 0, removed.stderr
    assert "deployment/driftless-controller deleted" in removed.stdout
    assert (
        await kube.get("apps/v1", "Deployment", "driftless-controller", "driftless-system") is None
    )
    assert await kube.get(rbac, "ClusterRoleBinding", binding_name, None) is None
    assert await kube.get(rbac, "ClusterRole", binding_name, None) is None
    # The CRDs stay unless asked: apps are never deleted by accident.
    assert await kube.get(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", "applications.driftless.dev"
    )

    # The running controller (the test fixture) published its version.
    version = await run_cli(devcluster, "version", "-o", "json")
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["controller"] == __version__


async def test_uninstall_removes_an_earlier_versions_shared_rbac_only_when_it_is_its_own(
    devcluster: DevCluster, kube: KubeClient
) -> None:
    """Earlier versions named the cluster-wide RBAC plainly ``driftless-controller``."""
    rbac = "rbac.authorization.k8s.io/v1"
    legacy = "driftless-controller"

    async def old_shared_rbac(namespace: str) -> None:
        role = {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {"name": legacy},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        }
        binding = {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": legacy},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                               "name": legacy},
                   "subjects": [{"kind": "ServiceAccount", "name": legacy,
                                 "namespace": namespace}]}  # fmt: skip
        for obj in (role, binding):
            await kube.apply(obj, field_manager="earlier-driftless")

    # Bound to another install: uninstalling this one leaves it alone.
    await old_shared_rbac("someone-else")
    removed = await run_cli(devcluster, "uninstall", "--namespace", "legacy-rbac")
    assert removed.returncode == 0, removed.stderr
    assert await kube.get(rbac, "ClusterRoleBinding", legacy) is not None
    assert await kube.get(rbac, "ClusterRole", legacy) is not None

    # Bound to this install only: it goes with it.
    await old_shared_rbac("legacy-rbac")
    removed = await run_cli(devcluster, "uninstall", "--namespace", "legacy-rbac")
    assert removed.returncode == 0, removed.stderr
    assert "clusterrolebinding/driftless-controller deleted" in removed.stdout
    assert await kube.get(rbac, "ClusterRoleBinding", legacy) is None
    assert await kube.get(rbac, "ClusterRole", legacy) is None
