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
from driftless.controller.reconciler import Reconciler
from driftless.core.models import API_VERSION, APPLICATION_KIND, Application
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.kube.clusters import CLUSTER_SECRET_SELECTOR, connection_from_secret
from driftless.pipeline.planner import Planner
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
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


async def _add_cluster(
    devcluster: DevCluster, remote_cluster: DevCluster, name: str, namespace: str = APPS_NAMESPACE
) -> None:
    context = yaml.safe_load(Path(remote_cluster.kubeconfig).read_text())["current-context"]
    added = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable, "-m", "driftless.cli.main", f"--kubeconfig={devcluster.kubeconfig}",
            "cluster", "add", context, "--kubeconfig", str(remote_cluster.kubeconfig),
            "--name", name, "--namespace", namespace,
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


def _client_closed(client: KubeClient) -> bool:
    # The HTTP session under the client: closed means no connection is kept
    # open to the old credentials' server.
    return bool(client._api.rest_client.pool_manager.closed)


async def test_rotated_cluster_credentials_stop_the_old_watches_and_client(
    kube: KubeClient,
    controller: Controller,
    devcluster: DevCluster,
    remote: tuple[DevCluster, KubeClient],
    make_git_repo: MakeGitRepo,
) -> None:
    """The cluster Secret changes: later syncs use a new client, the old one is shut.

    Before, the old planner's informers kept watching with the old credentials
    and its client stayed open for the life of the controller.
    """
    remote_cluster, remote_client = remote
    await _add_cluster(devcluster, remote_cluster, "rotating")
    name = unique("rotate")
    repo = make_git_repo({"cm.yaml": CM})
    app = application(name, repo.url)
    app["spec"]["destination"]["name"] = "rotating"
    await create_app(kube, app)
    await wait_for(kube, name, ready, timeout=60)
    before = controller.reconciler.remote_planners()
    secrets = await kube.list(
        "v1", "Secret", APPS_NAMESPACE, label_selector=CLUSTER_SECRET_SELECTOR
    )
    [secret] = [s for s in secrets if connection_from_secret(s).name == "rotating"]
    # Any change of the Secret counts as a rotation (clients are cached per version).
    rotated = {"metadata": {"annotations": {"test.driftless.dev/rotated": "1"}}}
    await kube.merge_patch(
        "v1", "Secret", secret["metadata"]["name"], rotated, namespace=APPS_NAMESPACE
    )
    repo.commit({"cm.yaml": CM.replace("where: remote", "where: rotated")})
    refresh = {"metadata": {"annotations": {"driftless.dev/refresh": "now"}}}
    await kube.merge_patch(API_VERSION, APPLICATION_KIND, name, refresh, namespace=APPS_NAMESPACE)

    deadline = asyncio.get_running_loop().time() + 120
    while True:
        live = await remote_client.get("v1", "ConfigMap", "remote-cm", name)
        if live is not None and live["data"] == {"where": "rotated"}:
            break
        assert asyncio.get_running_loop().time() < deadline, f"never synced: {live}"
        await asyncio.sleep(0.5)
    after = controller.reconciler.remote_planners()
    replaced = [(old, after[server]) for server, old in before.items()
                if server in after and after[server] is not old]  # fmt: skip
    [(old, new)] = replaced
    assert _watches(old) == [] and ("v1", "ConfigMap") in _watches(new)
    assert _client_closed(old.client)
    assert not _client_closed(new.client)


def _watches(planner: Planner) -> list[tuple[str, str]]:
    cache = planner.live.cache
    return cache.kinds() if cache is not None else []


def _app_to(destination: str, namespace: str) -> Application:
    return Application.model_validate(
        {
            "metadata": {"name": "shared", "namespace": namespace},
            "spec": {
                "source": {"repoURL": "file:///unused"},
                "destination": {"name": destination, "namespace": "shared"},
            },
        }
    )


async def test_one_server_registered_in_two_namespaces_keeps_a_planner_per_namespace(
    kube: KubeClient,
    devcluster: DevCluster,
    remote: tuple[DevCluster, KubeClient],
    tmp_path: Path,
) -> None:
    """Cluster Secrets are per app namespace: each namespace gets its own planner
    and client, which the other namespace's reconciles never replace or close.
    A planner replaced (rotated Secret) while a pass still uses it is closed
    only when that pass ends.

    Before, planners were keyed by server only: the two namespaces replaced
    and closed each other's client on every reconcile, and a pass running on
    the closed client failed with "Session is closed".
    """
    remote_cluster, _ = remote
    tenant = unique("tenant")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": tenant}}
    await kube.apply(namespace, field_manager="test")
    await _add_cluster(devcluster, remote_cluster, "shared")
    await _add_cluster(devcluster, remote_cluster, "shared", namespace=tenant)
    home, theirs = _app_to("shared", APPS_NAMESPACE), _app_to("shared", tenant)
    reconciler = Reconciler(kube, GitCache(tmp_path / "git"))
    try:
        home_planner = await reconciler.planner_for(home)
        tenant_planner = await reconciler.planner_for(theirs)
        assert home_planner is not tenant_planner
        assert home_planner.client is not tenant_planner.client
        for _ in range(3):  # reconciles of both namespaces, interleaved
            assert await reconciler.planner_for(home) is home_planner
            assert await reconciler.planner_for(theirs) is tenant_planner
        assert not _client_closed(home_planner.client)
        assert not _client_closed(tenant_planner.client)
        assert sorted(namespace for namespace, _ in reconciler.remote_planners()) == sorted(
            [APPS_NAMESPACE, tenant]
        )

        async with reconciler.using_planner(theirs) as held:
            [secret] = await kube.list(
                "v1", "Secret", tenant, label_selector=CLUSTER_SECRET_SELECTOR
            )
            rotated = {"metadata": {"annotations": {"test.driftless.dev/rotated": "1"}}}
            await kube.merge_patch(
                "v1", "Secret", secret["metadata"]["name"], rotated, namespace=tenant
            )
            newer = await reconciler.planner_for(theirs)
            assert newer is not held
            # The pass holding the replaced planner still works on its client.
            assert not _client_closed(held.client)
            assert await held.client.get("v1", "Namespace", "default") is not None
        assert _client_closed(held.client)
        assert not _client_closed(newer.client)
        assert await reconciler.planner_for(home) is home_planner
        assert not _client_closed(home_planner.client)
    finally:
        await reconciler.close()
