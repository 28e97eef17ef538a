"""Helm lookup through the API server's diff and manifests views (``server.planning``),
on the embedded control plane with the pinned helm, rendering in a render server.

The same API server is registered a second time as cluster ``other`` (its real
URL, so the views plan it as a remote destination). What an operator relies on:

* a tenant app pointed at a cluster its Project does not deploy to is refused
  by both views before anything is rendered: its chart's ``lookup`` of a
  Namespace there never runs (the allow list names kinds, not clusters);
* the same app in a Project that deploys to ``other`` renders what lookup read;
* requests leave no lookup proxy listening behind (each remote request's
  planner is closed; ``Planning.close`` closes the local one's).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from driftless.cli.tools import render_tools
from driftless.core.models import API_VERSION, Application
from driftless.core.project import PROJECT_KIND, ProjectViolationError
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.kube.clusters import cluster_secret, connection_from_kubeconfig
from driftless.render.isolation import LocalRenderServer
from driftless.server.planning import Planning
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
HOME = "driftless-lookup-views"
OTHER = "other"
IN_CLUSTER = "https://kubernetes.default.svc"
# Reads a cluster-scoped object and renders its uid.
TEMPLATE = """\
{{- $found := lookup "v1" "Namespace" "" "kube-system" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: seen
data:
  uid: {{ dig "metadata" "uid" "none" $found | quote }}
"""


def loopback_listeners() -> int:
    """TCP sockets of this process listening (``/proc``): a started lookup proxy is one."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A":  # TCP_LISTEN
            listening.add(fields[9])
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:[") and target[len("socket:[") : -1] in listening:
            count += 1
    return count


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def other_url(kube: KubeClient, devcluster: DevCluster) -> AsyncIterator[str]:
    """This cluster registered again as ``OTHER`` in ``HOME``, by its real URL."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": HOME}}
    await kube.apply(namespace, field_manager="test")
    config = yaml.safe_load(Path(devcluster.kubeconfig).read_text())
    connection = connection_from_kubeconfig(
        config, None, read_file=lambda p: Path(p).read_bytes(), name=OTHER
    )
    secret = cluster_secret(connection, HOME)
    await kube.apply(secret, field_manager="test")
    yield connection.server
    await kube.delete("v1", "Secret", secret["metadata"]["name"], HOME)


@pytest.fixture
def chart_url(make_git_repo: MakeGitRepo, git_http_server: GitHttpServer) -> str:
    repo = make_git_repo(
        {
            "seer/Chart.yaml": yaml.safe_dump({"apiVersion": "v2", "name": "seer", "version": "1"}),
            "seer/templates/seen.yaml": TEMPLATE,
        }
    )
    return git_http_server.publish(repo.path, f"seer-{uuid.uuid4().hex[:6]}.git")


@pytest.fixture
def planning_parts(tmp_path: Path) -> Iterator[tuple[GitCache, Any]]:
    tools = render_tools()
    try:
        yield GitCache(tmp_path / "git"), tools
    finally:
        if isinstance(tools.isolation, LocalRenderServer):
            tools.isolation.close()


async def project(kube: KubeClient, name: str, server: str) -> None:
    body = {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": name, "namespace": HOME},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": server, "namespace": "*"}],
            "clusterResourceAllowList": [{"group": "", "kind": "Namespace"}],
            "allowHelmLookup": True,
        },
    }
    await kube.apply(body, field_manager="test")


def app(url: str, project_name: str, destination: JSON, version: int = 1) -> Application:
    return Application.model_validate(
        {
            "apiVersion": API_VERSION,
            "kind": "Application",
            "metadata": {
                "name": "seer",
                "namespace": HOME,
                "uid": f"uid-{project_name}",
                "resourceVersion": str(version),  # each version: a new plan, not a kept result
            },
            "spec": {
                "project": project_name,
                "source": {"repoURL": url, "path": "seer", "helm": {"lookup": True}},
                "destination": {**destination, "namespace": "team-a"},
            },
        }
    )


async def test_a_tenant_cannot_look_up_a_cluster_its_project_does_not_deploy_to(
    kube: KubeClient, other_url: str, chart_url: str, planning_parts: tuple[GitCache, Any]
) -> None:
    tag = uuid.uuid4().hex[:6]
    git, tools = planning_parts
    kube_system = await kube.get("v1", "Namespace", "kube-system")
    assert kube_system is not None
    uid = kube_system["metadata"]["uid"]
    # Confined to the in-cluster server, pointed at OTHER (the same API server, another URL).
    await project(kube, f"theirs-{tag}", IN_CLUSTER)
    tenant = app(chart_url, f"theirs-{tag}", {"name": OTHER})
    planning = Planning(kube, git, tools, home=HOME)
    try:
        for view in (planning.manifests, planning.diffs):
            with pytest.raises(ProjectViolationError) as caught:
                await view(tenant, None)
            message = caught.value.message
            assert f"destination {other_url} namespace team-a is not permitted" in message, view
            assert uid not in message

        # A Project that deploys to OTHER reads there (lookup is the Project's grant).
        await project(kube, f"mine-{tag}", other_url)
        baseline = loopback_listeners()
        for version in range(1, 5):
            allowed = app(chart_url, f"mine-{tag}", {"name": OTHER}, version)
            rendered = await planning.manifests(allowed, None)
            (seen,) = rendered.manifests
            assert seen["data"]["uid"] == uid
            await planning.diffs(
                app(chart_url, f"mine-{tag}", {"name": OTHER}, 100 + version), None
            )
        # Each remote request's planner (and its proxy's TLS listener) closed with it.
        assert loopback_listeners() == baseline

        # The local planner keeps its proxy between requests; closing Planning stops it.
        await project(kube, f"local-{tag}", IN_CLUSTER)
        local = app(chart_url, f"local-{tag}", {"server": IN_CLUSTER})
        (seen,) = (await planning.manifests(local, None)).manifests
        assert seen["data"]["uid"] == uid
        assert loopback_listeners() == baseline + 1
    finally:
        await planning.close()
    assert loopback_listeners() == baseline
