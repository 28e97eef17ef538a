"""Remote destinations: a second real control plane registered with
`driftless cluster add`, deployed to by name; status stays on the first."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from driftless.controller.manager import Controller
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    application,
    condition,
    create_app,
    ready,
    ready_false_with,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote-cm\ndata:\n  where: remote\n"


@pytest_asyncio.fixture(loop_scope="session")
async def remote(tmp_path: Path) -> AsyncIterator[tuple[DevCluster, KubeClient]]:
    cluster = DevCluster("remote", state_dir=tmp_path / "remote", nodes=1)
    cluster.up(attached=True)
    client = await KubeClient.from_kubeconfig(str(cluster.kubeconfig))
    try:
        yield cluster, client
    finally:
        await client.close()
        cluster.down()


async def test_app_deploys_to_a_registered_cluster(
    kube: KubeClient,
    controller: Controller,
    devcluster: DevCluster,
    remote: tuple[DevCluster, KubeClient],
    make_git_repo: MakeGitRepo,
) -> None:
    remote_cluster, remote_client = remote
    context = yaml.safe_load(Path(remote_cluster.kubeconfig).read_text())["current-context"]
    added = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable, "-m", "driftless.cli.main", f"--kubeconfig={devcluster.kubeconfig}",
            "cluster", "add", context, "--kubeconfig", str(remote_cluster.kubeconfig),
            "--name", "staging",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    name = unique("remote")
    repo = make_git_repo({"cm.yaml": CM})
    app = application(name, repo.url)
    app["spec"]["destination"]["name"] = "staging"
    await create_app(kube, app)
    found = await wait_for(kube, name, ready, timeout=60)
    assert found["status"]["sync"]["status"] == "Synced"
    live = await remote_client.get("v1", "ConfigMap", "remote-cm", name)
    assert live is not None and live["data"] == {"where": "remote"}
    assert await kube.get("v1", "ConfigMap", "remote-cm", name) is None  # not on the control plane

    unknown = unique("nowhere")
    app = application(unknown, repo.url)
    app["spec"]["destination"]["name"] = "production"
    await create_app(kube, app)
    failed = await wait_for(kube, unknown, ready_false_with("ValidationFailed"))
    message = str(condition(failed, "Ready"))
    assert "production is not registered" in message
