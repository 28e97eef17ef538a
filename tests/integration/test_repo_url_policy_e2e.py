"""Repository URLs as a tenant may write them, through a real controller on the embedded
control plane: allow-lists match what git fetches, local repositories need the
administrator's permission, and credentials in a URL never reach a condition, an Event
or the CLI's output."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from driftless.cli.install import install
from driftless.cli.tools import render_tools
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import application, condition

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
NS = "driftless-urls"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  from: {name}\n"
PASSWORD = "s3cr3t-in-a-url-9d1c"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def strict_controller(
    kube: KubeClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[GitCache]:
    """A controller as `driftless controller` runs by default: no local repositories."""
    await install(kube, namespace=NS)
    store = CredentialStore(kube, NS, max_age=1.0)
    cache = GitCache(Path(tmp_path_factory.mktemp("git-cache-strict")), credentials=store.auth)
    settings = ControllerSettings(namespace=NS, workers=2, default_interval=3600)
    instance = Controller(kube, cache, settings, tools=render_tools())
    stop = asyncio.Event()
    task = asyncio.create_task(instance.run(stop))
    yield cache
    stop.set()
    await task


def app_in_ns(name: str, url: str, project: str | None = None) -> JSON:
    app = application(name, url, namespace=name)
    app["metadata"]["namespace"] = NS
    if project is not None:
        app["spec"]["project"] = project
    return app


async def wait_app(
    kube: KubeClient, name: str, predicate: Callable[[JSON], bool], timeout: float = 90
) -> JSON:
    deadline = time.monotonic() + timeout
    app: JSON = {}
    while time.monotonic() < deadline:
        app = await kube.get(API_VERSION, APPLICATION_KIND, name, NS) or {}
        if app and predicate(app):
            return app
        await asyncio.sleep(0.3)
    raise AssertionError(f"{name}: timed out; status: {app.get('status')}")


def ready_is(status: str, reason: str | None = None) -> Callable[[JSON], bool]:
    def check(app: JSON) -> bool:
        found = condition(app, "Ready")
        return (
            found is not None
            and found["status"] == status
            and (reason is None or found["reason"] == reason)
        )

    return check


def publish_under(server: GitHttpServer, repo_path: Path, name: str) -> str:
    """Publish at a nested name such as ``team-a/app`` (its parent made first)."""
    (server.project_root / name).parent.mkdir(parents=True, exist_ok=True)
    return server.publish(repo_path, name)


def cli(cluster: DevCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "driftless.cli.main",
            "--kubeconfig",
            str(cluster.kubeconfig),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_local_repositories_are_refused_with_how_to_allow_them(
    kube: KubeClient, strict_controller: GitCache, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(name="local")})
    name = f"local-{uuid.uuid4().hex[:6]}"
    await kube.apply(app_in_ns(name, repo.url), field_manager="test")
    found = await wait_app(kube, name, ready_is("False", "SourceFailed"))
    message = str((condition(found, "Ready") or {}).get("message"))
    assert "local repository" in message and "--allow-local-repositories" in message
    assert await kube.get("v1", "ConfigMap", "local", name) is None

    # The controller's own clones are never a source, whatever the spelling.
    clone_url = (strict_controller.root / "anything").as_uri()
    other = f"cache-{uuid.uuid4().hex[:6]}"
    await kube.apply(app_in_ns(other, clone_url), field_manager="test")
    await wait_app(kube, other, ready_is("False", "SourceFailed"))


async def test_the_allow_list_matches_what_git_fetches(
    kube: KubeClient,
    strict_controller: GitCache,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
) -> None:
    team = f"team-a-{uuid.uuid4().hex[:6]}"
    mine = make_git_repo({"cm.yaml": CM.format(name="mine")})
    secret = make_git_repo({"cm.yaml": CM.format(name="secret")})
    mine_url = publish_under(git_http_server, mine.path, f"{team}/app")
    publish_under(git_http_server, secret.path, f"{team}-b/secret")
    base = git_http_server.base_url
    project = f"proj-{team}"
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": "Project",
            "metadata": {"name": project, "namespace": NS},
            "spec": {
                "sourceRepos": [f"{base}/{team}/*"],
                "destinations": [{"server": "*", "namespace": "*"}],
            },
        },
        field_manager="test",
    )
    ok = f"ok-{team}"
    # Another spelling of the allowed repository: what git fetches is the canonical one.
    respelled = mine_url.replace(f"/{team}/app", f"//{team}/./x/../app") + "/"
    await kube.apply(app_in_ns(ok, respelled, project), field_manager="test")
    hostile = {
        "dots": f"{base}/{team}/../{team}-b/secret.git",
        "encoded": f"{base}/{team}/%2e%2e/{team}-b/secret.git",
        "deeper": f"{base}/{team}/x/../../{team}-b/secret.git",
    }
    for suffix, url in hostile.items():
        await kube.apply(app_in_ns(f"{suffix}-{team}", url, project), field_manager="test")
    for suffix in hostile:
        found = await wait_app(kube, f"{suffix}-{team}", ready_is("False", "ProjectViolation"))
        assert "is not permitted in project" in str(condition(found, "Ready"))
        assert await kube.get("v1", "ConfigMap", "secret", f"{suffix}-{team}") is None
    await wait_app(kube, ok, ready_is("True"))
    assert await kube.get("v1", "ConfigMap", "mine", ok) is not None


async def test_credentials_in_a_repo_url_never_reach_a_message_or_the_cli(
    kube: KubeClient,
    strict_controller: GitCache,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(name="pw")})
    url = git_http_server.publish(repo.path, f"pw-{uuid.uuid4().hex[:6]}")
    with_password = url.replace("http://", f"http://deploy:p@{PASSWORD}@")
    with_token = f"{url}?private_token={PASSWORD}"
    names = [f"pw-{uuid.uuid4().hex[:6]}", f"tok-{uuid.uuid4().hex[:6]}"]
    for name, spelled in zip(names, (with_password, with_token), strict=True):
        await kube.apply(app_in_ns(name, spelled), field_manager="test")
    for name in names:
        found = await wait_app(kube, name, ready_is("False", "SourceFailed"))
        assert PASSWORD not in str(found.get("status"))
    events = await kube.list("v1", "Event", NS)
    mine = [e for e in events if e["involvedObject"]["name"] in names]
    assert mine, "the controller should have reported the refusal as an Event"
    assert all(PASSWORD not in str(e) for e in mine)

    outputs = [
        cli(devcluster, "app", "list", "-n", NS, "-o", "wide"),
        cli(devcluster, "app", "list", "-n", NS, "-o", "yaml"),
        *(cli(devcluster, "app", "get", name, "-n", NS) for name in names),
        *(cli(devcluster, "app", "get", name, "-n", NS, "-o", "json") for name in names),
    ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
        assert "127.0.0.1" in result.stdout
