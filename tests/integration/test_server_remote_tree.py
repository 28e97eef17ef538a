"""The resource tree of an app deployed to another cluster, over HTTP.

A second real control plane (one for the whole file) is registered as the
controller's cluster Secret; ``driftless server`` (login on) reads the same
Secret. What a user sees:

* the remote app's tree: its Deployment owning a ReplicaSet owning two Pods,
  each with its health, read from the remote cluster (the Pod's live
  manifest is the remote Pod; the ReplicaSet's Events are the remote ones,
  beside the Application's own from this cluster);
* a Pod deleted on the remote cluster is replaced in the tree, pushed to
  the app's stream;
* the Secret then pointing to a closed port: the tree is ``partial`` saying
  the cluster cannot be reached (the managed objects from the status, no
  credential in the answer), the node panel is 404, while a local app's
  tree stays whole and quick.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from driftless.controller.manager import Controller
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.kube.clusters import cluster_secret, connection_from_kubeconfig
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    create_app,
    deployment_manifest,
    ready,
    unique,
    wait_for,
)
from tests.integration.server_inprocess import serving
from tests.integration.test_server_ops import read_events
from tests.integration.test_server_tree import OTHERS, Api, by_kind, pods_healthy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
CLUSTER = "rtree-staging"
DEADLINE = 90.0


class Remote:
    def __init__(self, client: KubeClient, secret: JSON) -> None:
        self.client = client
        self.secret = secret


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def remote(
    kube: KubeClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Remote]:
    """A second control plane, registered as ``CLUSTER`` in the apps namespace."""
    cluster = DevCluster("rtree", state_dir=tmp_path_factory.mktemp("rtree"), nodes=1)
    cluster.up(attached=True)
    client = await KubeClient.from_kubeconfig(str(cluster.kubeconfig))
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    connection = connection_from_kubeconfig(
        config, None, read_file=lambda p: Path(p).read_bytes(), name=CLUSTER
    )
    secret = cluster_secret(connection, APPS_NAMESPACE)
    await kube.apply(secret, field_manager="test")
    try:
        yield Remote(client, secret)
    finally:
        await kube.delete("v1", "Secret", secret["metadata"]["name"], APPS_NAMESPACE)
        await client.close()
        cluster.down()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(kube: KubeClient, controller: Controller) -> AsyncIterator[Api]:
    async with serving(kube) as served:
        http = await served.login()
        try:
            yield Api(served.url.rstrip("/"), http)
        finally:
            await http.close()


def uids(tree: JSON) -> set[str]:
    return {node["uid"] for node in tree["nodes"]}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_remote_app_s_tree_comes_from_its_cluster_and_says_when_it_cannot(
    kube: KubeClient, remote: Remote, api: Api, make_git_repo: MakeGitRepo
) -> None:
    name = unique("rtree")
    repo = make_git_repo({"deployment.yaml": deployment_manifest()})
    app = application(name, repo.url)
    app["spec"]["destination"] = {"name": CLUSTER, "namespace": name}
    await create_app(kube, app)
    await wait_for(kube, name, ready, timeout=DEADLINE)
    path = f"/api/v1/applications/{APPS_NAMESPACE}/{name}"

    tree = await api.until(f"{path}/tree", pods_healthy, "two healthy remote Pods")
    assert "partial" not in tree
    (deployment,) = by_kind(tree, "Deployment")
    assert deployment["managed"] is True and deployment["health"]["status"] == "Healthy"
    (replicaset,) = by_kind(tree, "ReplicaSet")
    assert replicaset["parents"] == [deployment["uid"]]
    pods = by_kind(tree, "Pod")
    assert all(p["parents"] == [replicaset["uid"]] for p in pods)
    remote_pods = await remote.client.list("v1", "Pod", name)
    assert {p["uid"] for p in pods} == {p["metadata"]["uid"] for p in remote_pods}
    assert await kube.get("apps/v1", "Deployment", "web", name) is None  # not on this cluster

    status, live = await api.get(
        f"{path}/resource", version="v1", kind="Pod", namespace=name, name=pods[0]["name"]
    )
    assert status == 200 and live["live"]["metadata"]["uid"] == pods[0]["uid"], live
    events = await api.until(
        f"{path}/events",
        lambda body: {"ReplicaSet", "Application"} <= {e["object"]["kind"] for e in body["items"]},
        "the remote ReplicaSet's Events and the Application's own",
    )
    assert "partial" not in events

    gone = pods[0]["uid"]
    async with api.http.get(f"{api.base}{path}/stream") as response:
        assert response.status == 200
        await read_events(response, lambda event, data: event == "tree" and pods_healthy(data))
        # Deleted on the remote cluster: its ReplicaSet makes another, pushed to the stream.
        await remote.client.delete("v1", "Pod", pods[0]["name"], name)
        seen = await read_events(
            response,
            lambda event, data: event == "tree" and pods_healthy(data) and gone not in uids(data),
        )
    assert "partial" not in seen[-1][1]
    status, replaced = await api.get(f"{path}/tree")
    assert status == 200 and gone not in uids(replaced)

    local_name = unique("rtree-local")
    await create_app(kube, application(local_name, make_git_repo({"cm.yaml": OTHERS}).url))
    await wait_for(kube, local_name, ready, timeout=DEADLINE)
    local_path = f"/api/v1/applications/{APPS_NAMESPACE}/{local_name}/tree"
    whole = await api.until(
        local_path, lambda body: len(by_kind(body, "ConfigMap")) == 1, "the local app's tree"
    )
    assert "partial" not in whole

    # The cluster's Secret now points to a port nobody listens on: it cannot be reached.
    data = dict(remote.secret["data"])
    data["server"] = base64.b64encode(f"https://127.0.0.1:{closed_port()}".encode()).decode()
    await kube.merge_patch(
        "v1", "Secret", remote.secret["metadata"]["name"], {"data": data},
        namespace=APPS_NAMESPACE,
    )  # fmt: skip
    broken = await api.until(
        f"{path}/tree", lambda body: "cannot be reached" in body.get("partial", ""),
        "a partial tree",
    )  # fmt: skip
    assert "the managed objects, from the status" in broken["partial"]
    assert sorted(n["kind"] for n in broken["nodes"]) == ["Deployment", "Namespace"]
    assert all(n["managed"] for n in broken["nodes"])  # no stale ReplicaSet or Pod
    token = yaml.safe_load(base64.b64decode(remote.secret["data"]["config"]))
    for secret_value in filter(None, [token.get("bearerToken"), token.get("password")]):
        assert secret_value not in broken["partial"]
    status, body = await api.get(
        f"{path}/resource", version="v1", kind="Pod", namespace=name, name=pods[1]["name"]
    )
    assert status == 404, body

    started = time.monotonic()
    status, local = await api.get(local_path)
    assert status == 200 and "partial" not in local and local["nodes"] == whole["nodes"], local
    assert time.monotonic() - started < 2.0  # the unreachable cluster slows no other app
