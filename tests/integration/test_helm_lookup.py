"""Helm ``lookup`` through the read-only lookup proxy, on the embedded control plane
with the pinned helm v3 and a real controller (issue 15).

A chart whose template reads a live ConfigMap renders its value when the app and
its Project opt in, the empty default when the app does not; a Secret, a
namespace outside the Project, and a Project that does not allow lookup stop
the render with a condition naming why. The proxy itself, against the real
API server: writes, watches, subresources and tokens of other or finished
renders are refused.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from yarl import URL

from driftless.cli.install import install
from driftless.cli.tools import render_tools
from driftless.controller.manager import ControllerSettings
from driftless.core.errors import RenderError, TransientError
from driftless.core.models import API_VERSION, APPLICATION_KIND, ApplicationSource
from driftless.core.project import PROJECT_KIND, Project
from driftless.kube.client import KubeClient
from driftless.render import KubeTarget, render
from driftless.render.isolation import LocalRenderServer
from driftless.render.lookup_proxy import LookupScope
from driftless.render.lookup_server import LookupProxy, granting
from driftless.sources.git import GitCache
from tests.fixtures.git import GitRepo, MakeGitRepo
from tests.integration.helpers import MIN_WAIT, application, condition, running_controller

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
NS = "driftless-lookup"
CHART = {"apiVersion": "v2", "name": "reader", "version": "0.1.0"}
# Reads one object and renders what it found: its data.value, or "empty".
TEMPLATE = """\
{{- $found := lookup .Values.apiVersion .Values.kind .Values.ns .Values.name }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: copied
data:
  value: {{ dig "data" "value" "empty" $found | quote }}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def lookup_controller(
    kube: KubeClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[None]:
    """A controller of its own namespace, rendering in a render server as in production."""
    await install(kube, namespace=NS)
    cache = GitCache(Path(tmp_path_factory.mktemp("git-cache")), allow_local=True)
    settings = ControllerSettings(namespace=NS, workers=2, default_interval=3600)
    async with running_controller(kube, cache, settings):
        yield


@pytest_asyncio.fixture(loop_scope="session")
async def source(kube: KubeClient) -> AsyncIterator[str]:
    """A namespace holding ConfigMap ``settings`` (value from-cluster) and Secret ``db``."""
    name = f"src-{uuid.uuid4().hex[:6]}"
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, field_manager="test"
    )
    meta = {"namespace": name}
    config_map = {"metadata": {"name": "settings", **meta}, "data": {"value": "from-cluster"}}
    secret = {"metadata": {"name": "db", **meta}, "stringData": {"value": "hunter2-do-not-leak"}}
    await kube.apply({"apiVersion": "v1", "kind": "ConfigMap", **config_map}, field_manager="test")
    await kube.apply({"apiVersion": "v1", "kind": "Secret", **secret}, field_manager="test")
    yield name
    await kube.delete("v1", "Namespace", name)


def chart_repo(make_git_repo: MakeGitRepo, values: JSON) -> GitRepo:
    return make_git_repo(
        {
            "reader/Chart.yaml": yaml.safe_dump(CHART),
            "reader/values.yaml": yaml.safe_dump(values),
            "reader/templates/copied.yaml": TEMPLATE,
        }
    )


async def project(kube: KubeClient, name: str, namespaces: list[str], allow: bool) -> None:
    body = {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": ns} for ns in namespaces],
            "allowHelmLookup": allow,
        },
    }
    await kube.apply(body, field_manager="test")


async def deploy(
    kube: KubeClient, name: str, repo: GitRepo, project_name: str, lookup: bool
) -> None:
    app = application(name, repo.url, path="reader", namespace=name)
    app["metadata"]["namespace"] = NS
    app["spec"]["project"] = project_name
    if lookup:
        app["spec"]["source"]["helm"] = {"lookup": True}
    await kube.apply(app, field_manager="test")


async def ready(kube: KubeClient, name: str, status: str) -> JSON:
    deadline = asyncio.get_running_loop().time() + MIN_WAIT
    app: JSON = {}
    while asyncio.get_running_loop().time() < deadline:
        app = await kube.get(API_VERSION, APPLICATION_KIND, name, NS) or {}
        found = condition(app, "Ready")
        if found is not None and found["status"] == status:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"{name}: timed out; status: {app.get('status')}")


async def copied(kube: KubeClient, namespace: str) -> str:
    found = await kube.get("v1", "ConfigMap", "copied", namespace)
    assert found is not None
    return str(found["data"]["value"])


def reads(namespace: str, kind: str = "ConfigMap", name: str = "settings") -> JSON:
    return {"apiVersion": "v1", "kind": kind, "ns": namespace, "name": name}


async def test_a_chart_renders_what_lookup_reads_only_when_the_app_opts_in(
    kube: KubeClient, lookup_controller: None, source: str, make_git_repo: MakeGitRepo
) -> None:
    tag = uuid.uuid4().hex[:6]
    with_lookup, without = f"look-{tag}", f"nolook-{tag}"
    await project(kube, f"p-{tag}", [with_lookup, without, source], allow=True)
    repo = chart_repo(make_git_repo, reads(source))
    await deploy(kube, with_lookup, repo, f"p-{tag}", lookup=True)
    await deploy(kube, without, repo, f"p-{tag}", lookup=False)
    await ready(kube, with_lookup, "True")
    await ready(kube, without, "True")
    assert await copied(kube, with_lookup) == "from-cluster"
    # Without the opt-in helm template runs as it always did: lookup finds nothing.
    assert await copied(kube, without) == "empty"
    # A missing object is an empty map, as Helm documents (the render still succeeds).
    missing = f"gone-{tag}"
    await project(kube, f"q-{tag}", [missing, source], allow=True)
    await deploy(
        kube, missing, chart_repo(make_git_repo, reads(source, name="nope")), f"q-{tag}", True
    )
    await ready(kube, missing, "True")
    assert await copied(kube, missing) == "empty"


async def test_a_secret_is_refused_with_a_condition_and_never_rendered(
    kube: KubeClient, lookup_controller: None, source: str, make_git_repo: MakeGitRepo
) -> None:
    name = f"sec-{uuid.uuid4().hex[:6]}"
    await project(kube, name, [name, source], allow=True)
    await deploy(kube, name, chart_repo(make_git_repo, reads(source, "Secret", "db")), name, True)
    found = await ready(kube, name, "False")
    assert found["reason"] == "RenderFailed", found
    assert f"Helm lookup refused: Secret in namespace {source}" in found["message"], found
    assert "Secrets are never readable" in found["message"]
    assert "hunter2" not in str(await kube.get(API_VERSION, APPLICATION_KIND, name, NS))
    assert await kube.get("v1", "ConfigMap", "copied", name) is None


async def test_a_namespace_outside_the_project_is_refused(
    kube: KubeClient, lookup_controller: None, source: str, make_git_repo: MakeGitRepo
) -> None:
    name = f"out-{uuid.uuid4().hex[:6]}"
    await project(kube, name, [name], allow=True)  # the source namespace is not a destination
    await deploy(kube, name, chart_repo(make_git_repo, reads(source)), name, True)
    found = await ready(kube, name, "False")
    assert found["reason"] == "RenderFailed", found
    assert f"ConfigMap in namespace {source}" in found["message"], found
    assert f"not a destination of project {name}" in found["message"]
    assert "reader/templates/copied.yaml" in found["message"]


async def test_a_project_that_does_not_allow_lookup_stops_the_app(
    kube: KubeClient, lookup_controller: None, source: str, make_git_repo: MakeGitRepo
) -> None:
    name = f"deny-{uuid.uuid4().hex[:6]}"
    await project(kube, name, [name, source], allow=False)
    await deploy(kube, name, chart_repo(make_git_repo, reads(source)), name, True)
    found = await ready(kube, name, "False")
    assert found["reason"] == "ProjectViolation", found
    assert "allowHelmLookup" in found["message"]


async def test_the_proxy_refuses_writes_watches_and_other_renders_tokens(
    kube: KubeClient, source: str
) -> None:
    scope = LookupScope(
        Project.model_validate(
            {"metadata": {"name": "p"}, "spec": {"destinations": [{"namespace": source}]}}
        ),
        "https://kubernetes.default.svc",
    )
    proxy = LookupProxy(kube)
    settings = f"/api/v1/namespaces/{source}/configmaps/settings"
    try:
        async with proxy.grant(scope, 60) as finished:
            pass  # a render that is over: its token must be worth nothing now
        async with proxy.grant(scope, 60) as grant, aiohttp.ClientSession() as http:
            trusted = ssl.create_default_context(cadata=grant.access.ca)
            base, mine = grant.access.url, {"Authorization": f"Bearer {grant.access.token}"}

            async def call(method: str, path: str, headers: dict[str, str]) -> tuple[int, JSON]:
                # encoded=True: sent exactly as written (no `..` folding, no re-quoting).
                url = URL(base + path, encoded=True)
                async with http.request(method, url, headers=headers, json={}, ssl=trusted) as resp:
                    return resp.status, await resp.json(content_type=None)

            code, body = await call("GET", settings, mine)
            assert code == 200 and body["data"] == {"value": "from-cluster"}
            stale = {"Authorization": f"Bearer {finished.access.token}"}
            assert (await call("GET", settings, stale))[0] == 401
            async with proxy.grant(scope, 0.5) as queued:
                # A render that waited for a render slot past its token's lifetime still
                # reads: the clock starts at the first lookup, not at the grant.
                await asyncio.sleep(1.0)
                late = {"Authorization": f"Bearer {queued.access.token}"}
                assert (await call("GET", settings, late))[0] == 200
                await asyncio.sleep(0.7)  # a render past its deadline
                assert (await call("GET", settings, late))[0] == 401
                failed = queued.explain(RenderError("helm template failed: Unauthorized"))
                assert isinstance(failed, TransientError) and not isinstance(failed, RenderError)
            assert (await call("GET", settings, {}))[0] == 401
            assert (await call("GET", settings, {"Authorization": "Bearer guessed"}))[0] == 401
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                code, body = await call(method, settings, mine)
                assert code == 403 and "read-only" in body["message"], (method, body)
            for path in (
                f"/api/v1/namespaces/{source}/configmaps?watch=true",
                f"/api/v1/namespaces/{source}/configmaps/settings/../../secrets/db",
                f"/api/v1/namespaces/{source}/secrets%2Fdb/x",
                f"/api/v1/namespaces/{source}/secrets/db",
                f"/api/v1/namespaces/{source}/serviceaccounts/default/token",
            ):
                code, body = await call("GET", path, mine)
                assert code == 403, (path, body)
                assert "hunter2" not in str(body)
            # Nothing was written through the proxy.
            live = await kube.get("v1", "ConfigMap", "settings", source)
            assert live is not None and live["data"] == {"value": "from-cluster"}
            assert len(grant.refusals) == 9
    finally:
        await proxy.close()


async def test_an_unreachable_destination_is_a_transient_failure(tmp_path: Path) -> None:
    """The proxy's cluster is down: helm's lookup fails, and the render is retried later."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "down", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "down", "context": {"cluster": "down", "user": "u"}}],
        "current-context": "down",
    }
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    down = await KubeClient.from_kubeconfig(str(tmp_path / "kubeconfig"))
    tree = tmp_path / "repo"
    for name, text in {
        "reader/Chart.yaml": yaml.safe_dump(CHART),
        "reader/values.yaml": yaml.safe_dump(reads("team-a")),
        "reader/templates/copied.yaml": TEMPLATE,
    }.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    source = ApplicationSource.model_validate(
        {"repoURL": "file:///repo", "path": "reader", "helm": {"lookup": True}}
    )
    everywhere = Project.model_validate({"spec": {"destinations": [{"namespace": "*"}]}})
    proxy, tools = LookupProxy(down), render_tools()
    try:
        scope = LookupScope(everywhere, "https://kubernetes.default.svc")
        with granting(proxy, scope), pytest.raises(TransientError) as caught:
            await render(
                source, tree, tree / "reader", revision=None, app_name="reader",
                namespace="team-a", kube=KubeTarget("v1.36.3"), tools=tools,
            )  # fmt: skip
        assert not isinstance(caught.value, RenderError)
        assert "Helm lookup could not read the destination" in caught.value.message
        # Outside a planner's context there is no proxy to grant: a clear refusal.
        with pytest.raises(RenderError, match="cannot reach the app's destination cluster"):
            await render(
                source, tree, tree / "reader", revision=None, app_name="reader",
                namespace="team-a", kube=KubeTarget("v1.36.3"), tools=tools,
            )  # fmt: skip
    finally:
        await proxy.close()
        await down.close()
        if isinstance(tools.isolation, LocalRenderServer):
            tools.isolation.close()


LIST_TEMPLATE = """\
{{- $all := lookup "v1" "ConfigMap" .Values.ns "" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: listed
data:
  names: {{ range $all.items }}{{ .metadata.name }} {{ end }}
"""


async def test_a_list_lookup_reads_the_namespace_through_the_proxy(
    kube: KubeClient, source: str, tmp_path: Path
) -> None:
    """Helm's list request (lookup with no name) passes the proxy as helm sends it."""
    tree = tmp_path / "repo"
    files = {
        "lister/Chart.yaml": yaml.safe_dump({**CHART, "name": "lister"}),
        "lister/values.yaml": yaml.safe_dump({"ns": source}),
        "lister/templates/listed.yaml": LIST_TEMPLATE,
    }
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    source_spec = ApplicationSource.model_validate(
        {"repoURL": "file:///repo", "path": "lister", "helm": {"lookup": True}}
    )
    allowed = Project.model_validate({"spec": {"destinations": [{"namespace": source}]}})
    proxy, tools = LookupProxy(kube), render_tools()
    try:
        with granting(proxy, LookupScope(allowed, "https://kubernetes.default.svc")):
            rendered = await render(
                source_spec, tree, tree / "lister", revision=None, app_name="lister",
                namespace=source, kube=KubeTarget("v1.36.3"), tools=tools,
            )  # fmt: skip
    finally:
        await proxy.close()
        if isinstance(tools.isolation, LocalRenderServer):
            tools.isolation.close()
    names = rendered[0].obj["data"]["names"].split()
    assert "settings" in names and "kube-root-ca.crt" in names
    assert "db" not in names  # the Secret is no ConfigMap, and never readable anyway


async def test_a_list_larger_than_16_mib_is_refused_and_fails_the_render_saying_so(
    kube: KubeClient, tmp_path: Path
) -> None:
    """Hostile: a namespace of 18 ConfigMaps of ~1 MB each (the API server's object limit),
    2,000 items under the count cap: the list is refused by size, not held in memory."""
    name = f"big-{uuid.uuid4().hex[:6]}"
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, field_manager="test"
    )
    for index in range(18):
        filler = {"data": {"blob": f"{index}" + "x" * 990_000}}
        body = {"apiVersion": "v1", "kind": "ConfigMap", **filler}
        await kube.apply({**body, "metadata": {"name": f"cm-{index}", "namespace": name}},
                         field_manager="test")  # fmt: skip
    tree = tmp_path / "repo"
    files = {
        "lister/Chart.yaml": yaml.safe_dump({**CHART, "name": "lister"}),
        "lister/values.yaml": yaml.safe_dump({"ns": name}),
        "lister/templates/listed.yaml": LIST_TEMPLATE,
    }
    for path, text in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text)
    source_spec = ApplicationSource.model_validate(
        {"repoURL": "file:///repo", "path": "lister", "helm": {"lookup": True}}
    )
    allowed = Project.model_validate({"spec": {"destinations": [{"namespace": name}]}})
    scope = LookupScope(allowed, "https://kubernetes.default.svc")
    proxy, tools = LookupProxy(kube), render_tools()
    try:
        async with proxy.grant(scope, 60) as grant, aiohttp.ClientSession() as http:
            trusted = ssl.create_default_context(cadata=grant.access.ca)
            mine = {"Authorization": f"Bearer {grant.access.token}"}
            url = f"{grant.access.url}/api/v1/namespaces/{name}/configmaps"
            async with http.get(url, headers=mine, ssl=trusted) as resp:
                assert resp.status == 403
                body = await resp.json(content_type=None)
            assert body["kind"] == "Status" and body["reason"] == "Forbidden"
            assert f"ConfigMap list in namespace {name} is larger than 16 MiB" in body["message"]
            # One object is still readable: only the whole list is too big.
            async with http.get(f"{url}/cm-0", headers=mine, ssl=trusted) as resp:
                assert resp.status == 200
        with granting(proxy, scope), pytest.raises(RenderError) as caught:
            await render(
                source_spec, tree, tree / "lister", revision=None, app_name="lister",
                namespace=name, kube=KubeTarget("v1.36.3"), tools=tools,
            )  # fmt: skip
        assert "Helm lookup refused: ConfigMap list in namespace" in caught.value.message
        assert "larger than 16 MiB" in caught.value.message
    finally:
        await proxy.close()
        if isinstance(tools.isolation, LocalRenderServer):
            tools.isolation.close()
        await kube.delete("v1", "Namespace", name)
