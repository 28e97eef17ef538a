"""End to end: ``driftless repo add|list|rm`` against the dev cluster, and a controller
wired with a ``CredentialStore`` syncing apps from an auth-protected https repository and
from an ssh repository.

This module runs its own controller (with the store) watching its own namespace, so it
neither depends on nor disturbs the shared ``controller`` fixture.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from driftless.cli.install import install
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.fixtures.ssh_server import SshServer
from tests.integration.helpers import application, condition, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NS = "driftless-creds-e2e"
TOKEN = "dlt-e2e-token-5e6f7a8b9c0d1e2f"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  from: {via}\n"
JSON = dict[str, Any]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def creds_controller(
    kube: KubeClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CredentialStore]:
    """A controller for namespace ``NS`` whose git cache reads credentials from ``NS``."""
    await install(kube, namespace=NS)
    # A short max_age: a credential added by the CLI is used on the next retry.
    store = CredentialStore(kube, NS, max_age=1.0)
    cache = GitCache(Path(tmp_path_factory.mktemp("git-cache-creds")), credentials=store.auth)
    settings = ControllerSettings(namespace=NS, workers=2, default_interval=3600)
    instance = Controller(kube, cache, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(instance.run(stop))
    yield store
    stop.set()
    await task


def repo_cli(cluster: DevCluster, *args: str, stdin: str | None = None) -> Any:
    """``driftless repo ...`` as a real process."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "driftless.cli.main"),
            *("--kubeconfig", str(cluster.kubeconfig)),
            *("repo", *args, "-n", NS),
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def run_repo_cli(cluster: DevCluster, *args: str, stdin: str | None = None) -> Any:
    result = await asyncio.to_thread(repo_cli, cluster, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result


def app_in_ns(name: str, url: str) -> JSON:
    app = application(name, url, namespace=name)
    app["metadata"]["namespace"] = NS
    return app


async def wait_app(
    kube: KubeClient, name: str, predicate: Callable[[JSON], bool], what: str, timeout: float = 90
) -> JSON:
    deadline = time.monotonic() + timeout
    app: JSON = {}
    while time.monotonic() < deadline:
        app = await kube.get(API_VERSION, APPLICATION_KIND, name, NS) or {}
        if app and predicate(app):
            return app
        await asyncio.sleep(0.3)
    raise AssertionError(f"{name}: timed out waiting for {what}; status: {app.get('status')}")


def ready_is(status: str, reason: str | None = None) -> Callable[[JSON], bool]:
    def check(app: JSON) -> bool:
        found = condition(app, "Ready")
        return (
            found is not None
            and found["status"] == status
            and (reason is None or found["reason"] == reason)
        )

    return check


async def test_https_and_ssh_credentials_from_the_cli_make_apps_ready(
    kube: KubeClient,
    creds_controller: CredentialStore,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
    ssh_server: SshServer,
    tmp_path: Path,
) -> None:
    https_repo = make_git_repo({"cm.yaml": CM.format(name="from-https", via="https")})
    ssh_repo = make_git_repo({"cm.yaml": CM.format(name="from-ssh", via="ssh")})
    https_url = git_http_server.publish(
        https_repo.path, unique("e2e-private"), credentials=("deploy-bot", TOKEN)
    )
    ssh_url = ssh_server.url(ssh_repo.path)

    # 1. Without a credential the https app fails, clearly and without hanging.
    https_app = unique("https-app")
    await kube.apply(app_in_ns(https_app, https_url), field_manager="test")
    failed = await wait_app(
        kube, https_app, ready_is("False", "SourceUnavailable"), "the auth failure"
    )
    message = (condition(failed, "Ready") or {}).get("message", "")
    assert f"authentication failed for {https_url}" in message

    # 2. `repo add` with the token on stdin; the app recovers on its retry.
    await run_repo_cli(
        devcluster,
        "add",
        git_http_server.base_url + "/",
        "--username",
        "deploy-bot",
        "--password-stdin",
        stdin=TOKEN + "\n",
    )
    await wait_app(kube, https_app, ready_is("True"), "Ready over https")
    live = await kube.get("v1", "ConfigMap", "from-https", https_app)
    assert live is not None and live["data"]["from"] == "https"

    # 3. An SSH credential with the server's known_hosts line.
    key_file = tmp_path / "deploy_key"
    key_file.write_text(ssh_server.client_key)
    key_file.chmod(0o600)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(ssh_server.known_hosts + "\n")
    await run_repo_cli(
        devcluster,
        "add",
        f"ssh://{ssh_server.user}@{ssh_server.host}:{ssh_server.port}/",
        "--ssh-private-key-path",
        str(key_file),
        "--known-hosts-path",
        str(known_hosts),
        "--name",
        "e2e-ssh",
    )
    ssh_app = unique("ssh-app")
    await kube.apply(app_in_ns(ssh_app, ssh_url), field_manager="test")
    await wait_app(kube, ssh_app, ready_is("True"), "Ready over ssh")
    live = await kube.get("v1", "ConfigMap", "from-ssh", ssh_app)
    assert live is not None and live["data"]["from"] == "ssh"

    # 4. `repo list` shows both, and no secret in any format.
    listed = await run_repo_cli(devcluster, "list", "-o", "wide")
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "URL", "TYPE", "KNOWN-HOSTS", "AGE", "STATUS"]
    by_name = {r.split()[0]: r.split() for r in rows}
    ssh_row = by_name["e2e-ssh"]
    # the URL is shown as stored, user name redacted like every URL in output
    assert ssh_row[1:4] == [f"ssh://{ssh_server.host}:{ssh_server.port}/", "ssh", "set"]
    assert ssh_row[-1] == "ok"
    as_json = json.loads((await run_repo_cli(devcluster, "list", "-o", "json")).stdout)
    assert as_json["kind"] == "List"
    assert {r["spec"]["type"] for r in as_json["items"]} == {"https", "ssh"}
    secrets = [TOKEN, *ssh_server.client_key.splitlines()[1:-1]]
    for output in (listed.stdout, json.dumps(as_json)):
        for secret in secrets:
            assert secret not in output

    # 5. Nothing secret in the apps' status or in any Event of the namespace.
    events = await kube.list("v1", "Event", NS)
    for app_name in (https_app, ssh_app):
        app = await kube.get(API_VERSION, APPLICATION_KIND, app_name, NS)
        shown = json.dumps(app) + json.dumps(events)
        for secret in secrets:
            assert secret not in shown

    # 6. `repo rm` by URL and by name; then a fresh fetch fails again.
    removed = await run_repo_cli(devcluster, "rm", git_http_server.base_url)
    assert "removed" in removed.stdout
    await run_repo_cli(devcluster, "rm", "e2e-ssh")
    remaining = json.loads((await run_repo_cli(devcluster, "list", "-o", "json")).stdout)
    assert remaining["items"] == []
    await creds_controller.refresh()
    assert creds_controller.credentials == ()


async def test_repo_add_refuses_incomplete_ssh_credentials(
    devcluster: DevCluster, kube: KubeClient, tmp_path: Path
) -> None:
    key = tmp_path / "k"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n")
    result = await asyncio.to_thread(
        repo_cli,
        devcluster,
        "add",
        "ssh://git@example.invalid/x",
        "--ssh-private-key-path",
        str(key),
    )
    assert result.returncode == 2
    assert "needs --known-hosts-path" in result.stderr


async def test_repo_add_upsert_replaces_every_key(
    devcluster: DevCluster, kube: KubeClient, creds_controller: CredentialStore, tmp_path: Path
) -> None:
    url = "https://git.example.invalid/upsert"
    await run_repo_cli(devcluster, "add", url, "--name", "upsert", "--password-stdin", stdin="one")
    again = await asyncio.to_thread(
        repo_cli, devcluster, "add", url, "--name", "upsert", "--password-stdin", stdin="two"
    )
    assert again.returncode == 1
    assert "already exists; use --upsert" in again.stderr
    other = await asyncio.to_thread(
        repo_cli, devcluster, "add", url + ".git", "--password-stdin", stdin="three"
    )
    assert other.returncode == 1
    assert "repository credential upsert already covers" in other.stderr

    key = tmp_path / "k"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n")
    await run_repo_cli(
        devcluster,
        "add",
        "ssh://git@git.example.invalid/upsert",
        "--name",
        "upsert",
        "--ssh-private-key-path",
        str(key),
        "--insecure-ignore-host-key",
        "--upsert",
    )
    stored = await kube.get("v1", "Secret", "upsert", NS)
    assert stored is not None
    # The password and username are gone: a key and a password together would be refused.
    assert set(stored["data"]) == {"url", "sshPrivateKey", "insecureIgnoreHostKey"}
    await creds_controller.refresh()
    (credential,) = [c for c in creds_controller.credentials if c.name == "upsert"]
    assert credential.insecure_ignore_host_key
    await run_repo_cli(devcluster, "rm", "upsert")
