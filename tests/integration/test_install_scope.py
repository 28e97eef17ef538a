"""``driftless install --namespaced`` on the embedded cluster: what the controller may do.

The install is applied for real (so the API server validates every object,
the projected token volume included), then ``kubectl auth can-i`` asks the
API server's own authorizer, as the controller's ServiceAccount, what that
identity may touch. Uninstall removes the namespaced RBAC again.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from driftless.devcluster import binaries
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.integration.helpers import unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

RBAC = "rbac.authorization.k8s.io/v1"


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


async def driftless(cluster: DevCluster, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "driftless.cli.main", "--kubeconfig", str(cluster.kubeconfig)]
    return await asyncio.to_thread(run, [*argv, *args])


async def can_i(cluster: DevCluster, identity: str, *args: str) -> bool:
    kubectl = str(binaries.tool("kubectl"))
    argv = [kubectl, "--kubeconfig", str(cluster.kubeconfig), "auth", "can-i", *args]
    result = await asyncio.to_thread(run, [*argv, f"--as={identity}"])
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


async def test_namespaced_install_confines_the_controller_to_its_namespace(
    devcluster: DevCluster, kube: KubeClient
) -> None:
    namespace = unique("single-tenant")
    installed = await driftless(devcluster, "install", "--namespaced", "--namespace", namespace)
    assert installed.returncode == 0, installed.stderr
    assert "role/driftless-controller applied" in installed.stdout
    deployment = await kube.get("apps/v1", "Deployment", "driftless-controller", namespace)
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False

    me = f"system:serviceaccount:{namespace}:driftless-controller"
    # Everything in its own namespace ...
    for verb, resource in [
        ("create", "configmaps"),
        ("delete", "deployments.apps"),
        ("patch", "applications.driftless.dev"),
        ("list", "secrets"),
    ]:
        assert await can_i(devcluster, me, verb, resource, "-n", namespace), (verb, resource)
    # ... and nothing elsewhere: other namespaces, all namespaces, cluster-scoped kinds.
    for args in [
        ("create", "configmaps", "-n", "default"),
        ("get", "secrets", "-n", "kube-system"),
        ("list", "configmaps", "--all-namespaces"),
        ("create", "namespaces"),
        ("create", "clusterrolebindings"),
        ("create", "customresourcedefinitions.apiextensions.k8s.io"),
        ("get", "nodes"),
        ("escalate", "roles", "-n", "default"),
    ]:
        assert not await can_i(devcluster, me, *args), args

    removed = await driftless(devcluster, "uninstall", "--namespace", namespace)
    assert removed.returncode == 0, removed.stderr
    assert await kube.get(RBAC, "Role", "driftless-controller", namespace) is None
    assert await kube.get(RBAC, "RoleBinding", "driftless-controller", namespace) is None
    assert not await can_i(devcluster, me, "create", "configmaps", "-n", namespace)
