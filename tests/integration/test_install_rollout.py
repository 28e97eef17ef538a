"""``driftless install --replicas``: how the controller's pods are replaced, on a real cluster.

One controller holds no Lease: its Deployment is ``Recreate``. Replicas hold
Leases: ``RollingUpdate``, except for the rollout that replaces a Lease-less
pod by Lease-holding ones (``install`` reads the live Deployment), which would
otherwise run an old controller that ignores Leases beside the new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time

import pytest

from driftless.core.deployment import NAME
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeApiError, KubeClient

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

RECREATE = {"type": "Recreate"}
ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


async def install(cluster: DevCluster, namespace: str, replicas: int) -> None:
    await driftless(cluster, "install", "--namespace", namespace, "--replicas", str(replicas))


async def driftless(cluster: DevCluster, *args: str) -> None:
    argv = [sys.executable, "-m", "driftless.cli.main", "--kubeconfig", str(cluster.kubeconfig)]
    done = await asyncio.to_thread(
        subprocess.run, [*argv, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


async def strategy(kube: KubeClient, namespace: str) -> object:
    deployment = await kube.get("apps/v1", "Deployment", NAME, namespace)
    assert deployment is not None
    return deployment["spec"]["strategy"]


async def test_replicas_are_rolled_but_never_over_a_controller_without_leases(
    kube: KubeClient, devcluster: DevCluster
) -> None:
    namespace = f"driftless-rollout-{int(time.time()) % 100000}"
    try:
        await install(devcluster, namespace, 1)
        assert await strategy(kube, namespace) == RECREATE
        await install(devcluster, namespace, 3)  # from the Lease-less pod
        assert await strategy(kube, namespace) == RECREATE
        await install(devcluster, namespace, 3)  # replicas already hold Leases
        assert await strategy(kube, namespace) == ROLLING
        await install(devcluster, namespace, 1)  # back to one: the replicas stop first
        assert await strategy(kube, namespace) == RECREATE
    finally:  # its cluster-wide RBAC too
        await driftless(devcluster, "uninstall", "--namespace", namespace)
        with contextlib.suppress(KubeApiError):
            await kube.delete("v1", "Namespace", namespace)
