"""An umbrella chart in git whose dependencies live in a Helm repository and an OCI
registry, synced by a real controller on the embedded control plane (issue 15).

The charts are built with the pinned ``helm`` and served by a real HTTP Helm
repository and distribution's registry; the controller fetches them like ``helm
dependency build`` (``Chart.lock`` honoured, alias, condition and values of the
umbrella applied by Helm), and a dependency that cannot be fetched fails the
render with the repository and version named while the live objects stay as
they were.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from driftless.cli.install import install
from driftless.cli.tools import render_tools
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.devcluster import binaries
from driftless.kube.client import KubeClient
from driftless.pipeline.requests import refresh_patch
from driftless.sources.credentials import RepoCredential, repository_secret
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache
from tests.fixtures.chart_servers import HelmRepository, OciRegistry, package
from tests.fixtures.git import GitRepo, MakeGitRepo
from tests.integration.helpers import MIN_WAIT, application, condition

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
NS = "driftless-chartdeps"
CM = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\n"
    "data:\n  version: {{ .Chart.Version | quote }}\n"
    "  size: {{ .Values.size | default 1 | quote }}\n"
)


@pytest.fixture(scope="module")
def helm() -> str:
    return str(binaries.tool("helm"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chart-home")


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, helm: str, home: Path
) -> Iterator[tuple[OciRegistry, str]]:
    """The OCI registry holding ``web`` 1.0.0; yields it and the repository URL."""
    found = OciRegistry.start(tmp_path_factory.mktemp("registry"))
    try:
        archive = package(helm, home, home / "oci", "web", "1.0.0", {"cm.yaml": CM})
        yield found, found.push(helm, home, archive)
    finally:
        found.stop()


@pytest.fixture
def helm_repository(tmp_path: Path, helm: str, home: Path) -> Iterator[HelmRepository]:
    """A Helm repository of its own per test (a test may take it down)."""
    out = tmp_path / "packages"
    for version in ("1.0.0", "1.3.0"):
        package(helm, tmp_path, out, "db", version, {"cm.yaml": CM})
    package(helm, tmp_path, out, "cache", "1.0.0", {"cm.yaml": CM})
    repository = HelmRepository(helm, home, out)
    yield repository
    repository.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def chart_controller(
    kube: KubeClient,
    tmp_path_factory: pytest.TempPathFactory,
    registry: tuple[OciRegistry, str],
) -> AsyncIterator[None]:
    """A controller of its own namespace whose renders may speak plain HTTP to the registry."""
    await install(kube, namespace=NS)
    store = CredentialStore(kube, NS, max_age=1.0)
    cache = GitCache(
        Path(tmp_path_factory.mktemp("git-cache")), credentials=store.auth, allow_local=True
    )
    tools = dataclasses.replace(
        render_tools(),
        chart_cache=tmp_path_factory.mktemp("charts"),
        plain_http_registries=frozenset({registry[0].host}),
        chart_credentials=store.chart_credentials,
    )
    settings = ControllerSettings(namespace=NS, workers=2, default_interval=3600)
    instance = Controller(kube, cache, settings, tools=tools)
    stop = asyncio.Event()
    task = asyncio.create_task(instance.run(stop))
    yield
    stop.set()
    await task


def umbrella_files(repo_url: str, oci_url: str, db_version: str) -> dict[str, str]:
    dependencies = [
        {"name": "db", "alias": "database", "version": "^1.0.0", "repository": repo_url},
        {"name": "web", "version": "1.0.0", "repository": oci_url},
        {"name": "cache", "version": "1.0.0", "repository": repo_url, "condition": "cache.enabled"},
    ]
    lock = [
        {"name": "db", "version": db_version, "repository": repo_url},
        {"name": "web", "version": "1.0.0", "repository": oci_url},
        {"name": "cache", "version": "1.0.0", "repository": repo_url},
    ]
    chart = {"apiVersion": "v2", "name": "shop", "version": "0.1.0", "dependencies": dependencies}
    return {
        "shop/Chart.yaml": yaml.safe_dump(chart),
        "shop/Chart.lock": yaml.safe_dump({"dependencies": lock, "digest": "sha256:0"}),
        "shop/values.yaml": "database:\n  size: 3\ncache:\n  enabled: false\n",
        "shop/templates/cm.yaml": CM,
    }


def app_for(name: str, repo: GitRepo, project: str | None = None) -> JSON:
    app = application(name, repo.url, path="shop", namespace=name)
    app["metadata"]["namespace"] = NS
    if project:
        app["spec"]["project"] = project
    return app


async def wait_app(kube: KubeClient, name: str, check: Any) -> JSON:
    deadline = asyncio.get_running_loop().time() + MIN_WAIT
    app: JSON = {}
    while asyncio.get_running_loop().time() < deadline:
        app = await kube.get(API_VERSION, APPLICATION_KIND, name, NS) or {}
        if app and check(app):
            return app
        await asyncio.sleep(0.3)
    raise AssertionError(f"{name}: timed out; status: {app.get('status')}")


def ready_is(status: str, reason: str | None = None) -> Any:
    def check(app: JSON) -> bool:
        found = condition(app, "Ready")
        return (
            found is not None
            and found["status"] == status
            and (reason is None or found["reason"] == reason)
        )

    return check


async def config_maps(kube: KubeClient, namespace: str) -> dict[str, JSON]:
    found = await kube.list("v1", "ConfigMap", namespace)
    return {
        cm["metadata"]["name"]: cm for cm in found if cm["metadata"]["name"] != "kube-root-ca.crt"
    }


async def test_umbrella_chart_syncs_and_an_unfetchable_dependency_changes_nothing(
    kube: KubeClient,
    chart_controller: None,
    helm_repository: HelmRepository,
    registry: tuple[OciRegistry, str],
    make_git_repo: MakeGitRepo,
) -> None:
    name = f"shop-{uuid.uuid4().hex[:6]}"
    repo = make_git_repo(umbrella_files(helm_repository.url, registry[1], "1.0.0"))
    await kube.apply(app_for(name, repo), field_manager="test")
    await wait_app(kube, name, ready_is("True"))
    live = await config_maps(kube, name)
    # alias renamed db, the lock kept it at 1.0.0 (not ^1's 1.3.0), the umbrella's
    # values reached it, the OCI chart came too, and cache.enabled=false left cache out.
    assert sorted(live) == [f"{name}-database", f"{name}-shop", f"{name}-web"]
    assert live[f"{name}-database"]["data"] == {"version": "1.0.0", "size": "3"}
    assert live[f"{name}-web"]["data"]["version"] == "1.0.0"

    # The Helm repository goes down; the next commit asks for a version never fetched.
    helm_repository.stop()
    repo.commit(umbrella_files(helm_repository.url, registry[1], "1.3.0"), "db 1.3.0")
    await kube.merge_patch(
        API_VERSION, APPLICATION_KIND, name, refresh_patch(datetime.now(UTC)), namespace=NS
    )
    failed = await wait_app(kube, name, ready_is("False", "RenderFailed"))
    message = (condition(failed, "Ready") or {}).get("message", "")
    assert f"dependency db 1.3.0 from {helm_repository.url}" in message, message
    assert "shop/Chart.yaml" in message, message
    after = await config_maps(kube, name)
    assert {k: v["metadata"]["resourceVersion"] for k, v in after.items()} == {
        k: v["metadata"]["resourceVersion"] for k, v in live.items()
    }


async def test_dependency_repository_outside_the_project_is_refused(
    kube: KubeClient,
    chart_controller: None,
    helm_repository: HelmRepository,
    registry: tuple[OciRegistry, str],
    make_git_repo: MakeGitRepo,
) -> None:
    name = f"narrow-{uuid.uuid4().hex[:6]}"
    repo = make_git_repo(umbrella_files(helm_repository.url, registry[1], "1.0.0"))
    project = {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            # The git repository and the registry, not the Helm repository.
            "sourceRepos": [repo.url, f"oci://{registry[0].host}/*"],
            "destinations": [{"server": "*", "namespace": "*"}],
        },
    }
    await kube.apply(project, field_manager="test")
    await kube.apply(app_for(name, repo, project=name), field_manager="test")
    failed = await wait_app(kube, name, ready_is("False", "RenderFailed"))
    message = (condition(failed, "Ready") or {}).get("message", "")
    assert "dependency db" in message and "not permitted in project" in message, message
    assert await kube.get("v1", "Namespace", name) is None


async def test_a_private_repository_is_read_with_the_repository_secret(
    kube: KubeClient,
    chart_controller: None,
    registry: tuple[OciRegistry, str],
    make_git_repo: MakeGitRepo,
    helm: str,
    home: Path,
    tmp_path: Path,
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    out = tmp_path / "private"
    for chart in ("db", "cache"):
        package(helm, tmp_path, out, chart, "1.0.0", {"cm.yaml": CM})
    private = HelmRepository(helm, home, out, auth=("robot", password))
    try:
        name = f"private-{uuid.uuid4().hex[:6]}"
        repo = make_git_repo(umbrella_files(private.url, registry[1], "1.0.0"))
        await kube.apply(app_for(name, repo), field_manager="test")
        failed = await wait_app(kube, name, ready_is("False", "RenderFailed"))
        message = (condition(failed, "Ready") or {}).get("message", "")
        assert "requires credentials" in message, message

        credential = RepoCredential(name=name, url=private.url, username="robot", password=password)
        await kube.apply(repository_secret(credential, NS), field_manager="test")
        # The controller re-reads credentials once its last list is 1 s old (max_age).
        await asyncio.sleep(1.5)
        await kube.merge_patch(
            API_VERSION, APPLICATION_KIND, name, refresh_patch(datetime.now(UTC)), namespace=NS
        )
        synced = await wait_app(kube, name, ready_is("True"))
        assert f"{name}-database" in await config_maps(kube, name)
        assert password not in str(synced)
    finally:
        private.stop()
