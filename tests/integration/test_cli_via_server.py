"""The app commands through ``driftless server``, for a user who has no kubeconfig.

On the real cluster with the real controller and the server (``serving``),
the CLI is run twice per step: once with the kubeconfig (``--kubeconfig``),
once with ``$KUBECONFIG`` naming no file, logged in to the server with the
admin's initial password (``driftless login --password-stdin``). What a user
sees must not depend on the path:

* ``app list`` (table, wide, json, yaml, name), ``app get`` (text, json),
  ``app history``, ``app diff`` print the same stdout and exit with the same
  code, for an OutOfSync app (diff: 1) and a synced one (diff: 0);
* ``sync --wait``, ``refresh --hard``, ``rollback``, ``wait`` act through
  the server (the cluster shows it) with the kubeconfig path's exit codes;
  an unknown app or history id, and ``terminate-op`` with nothing running,
  are the same one-line error (1) both ways;
* the credentials file is 0600 and holds no password; after ``logout`` the
  next command says to run ``driftless login`` (1).
"""

from __future__ import annotations

import asyncio
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner, Result

from driftless.cli.main import cli
from driftless.cli.remote.connect import TOKEN_ENV
from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION
from driftless.core.project import PROJECT_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.server import tls
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    create_app,
    unique,
    wait_for,
)
from tests.integration.server_inprocess import Served, serving

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
DEADLINE = 60.0
SERVER_ENV = "DRIFTLESS_SERVER"


def config_map(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  value: {value}\n"


@dataclass
class Cli:
    """The CLI both ways: ``kube(...)`` with the kubeconfig, ``server(...)`` with none."""

    kubeconfig: Path
    config_home: Path

    def _run(self, args: list[str], env: dict[str, str], stdin: str | None) -> Result:
        result = CliRunner().invoke(cli, args, input=stdin, env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"driftless {' '.join(args)} raised") from result.exception
        return result

    async def kube(self, *args: str) -> Result:
        env = {SERVER_ENV: "", "XDG_CONFIG_HOME": str(self.config_home)}
        argv = ["--kubeconfig", str(self.kubeconfig), *args]
        return await asyncio.to_thread(self._run, argv, env, None)

    async def server(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        environ = {
            "KUBECONFIG": str(self.config_home / "no-such-kubeconfig"),
            "XDG_CONFIG_HOME": str(self.config_home),
            SERVER_ENV: "",
            TOKEN_ENV: "",
            **(env or {}),
        }
        return await asyncio.to_thread(self._run, list(args), environ, stdin)

    async def same(self, *args: str) -> Result:
        """Run both ways until they agree (the server's caches follow the cluster by watch)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            by_kube, by_server = await self.kube(*args), await self.server(*args)
            seen = (by_server.exit_code, by_server.stdout)
            if seen == (by_kube.exit_code, by_kube.stdout):
                return by_server
            assert time.monotonic() < deadline, (
                f"driftless {' '.join(args)} differs:\n-- kubeconfig ({by_kube.exit_code}):\n"
                f"{by_kube.stdout}{by_kube.stderr}\n-- server ({by_server.exit_code}):\n"
                f"{by_server.stdout}{by_server.stderr}"
            )
            await asyncio.sleep(0.5)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(kube: KubeClient, controller: Controller) -> AsyncIterator[Served]:
    async with serving(kube) as server:
        yield server


async def test_the_app_commands_through_the_server_print_and_exit_as_with_a_kubeconfig(
    kube: KubeClient,
    served: Served,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
    tmp_path: Path,
) -> None:
    name = unique("via-server")
    repo = make_git_repo({"cm.yaml": config_map("v1")})
    url = git_http_server.publish(repo.path, f"{name}.git")
    await create_app(kube, application(name, url, automated=False))
    await wait_for(
        kube,
        name,
        lambda a: (a.get("status") or {}).get("sync", {}).get("status") == "OutOfSync",
        what="OutOfSync",
    )
    run = Cli(Path(devcluster.kubeconfig), tmp_path / "config")
    password = await served.initial_password()

    # Not logged in: the server path says how to get in.
    before = await run.server("app", "list")
    assert before.exit_code == 1 and "driftless login SERVER" in before.stderr

    login = await run.server("login", served.url, "--password-stdin", stdin=password + "\n")
    assert login.exit_code == 0, login.output
    assert login.stdout.startswith(f"logged in to {served.url.rstrip('/')} as admin")
    stored = tmp_path / "config" / "driftless" / "servers.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert password not in stored.read_text() and password not in login.output

    for output in ("table", "wide", "json", "yaml", "name"):
        listed = await run.same("app", "list", "-o", output)
        assert listed.exit_code == 0 and name in listed.stdout
    described = await run.same("app", "get", name)
    assert f"Name:          {APPS_NAMESPACE}/{name}" in described.stdout
    assert '"managedFields"' not in (await run.same("app", "get", name, "-o", "json")).stdout
    assert (await run.same("app", "diff", name)).exit_code == 1
    missing = await run.server("app", "get", "no-such-app")
    assert (missing.exit_code, missing.stderr) == (
        1,
        'Error: application "no-such-app" not found in namespace driftless\n',
    )
    assert (await run.kube("app", "get", "no-such-app")).stderr == missing.stderr

    synced = await run.server("app", "sync", name, "--timeout", "60")
    assert synced.exit_code == 0, synced.output
    live = await kube.get("v1", "ConfigMap", "conf", name)
    assert live is not None and live["data"]["value"] == "v1"
    assert (await run.same("app", "diff", name)).exit_code == 0
    assert (await run.same("app", "wait", name, "--timeout", "30")).exit_code == 0

    repo.commit({"cm.yaml": config_map("v2")}, "v2")
    refreshed = await run.server("app", "refresh", name, "--hard")
    assert refreshed.exit_code == 0 and refreshed.stdout == (
        f"application.driftless.dev/{name} hard refresh requested\n"
    )
    await wait_for(
        kube,
        name,
        lambda a: (a.get("status") or {}).get("sync", {}).get("revision") == repo.head(),
        what="the refresh to see v2",
        timeout=DEADLINE,
    )
    assert (await run.kube("app", "sync", name, "--timeout", "60")).exit_code == 0
    history = await run.same("app", "history", name)
    assert len(history.stdout.splitlines()) == 3  # the header and two syncs
    await run.same("app", "history", name, "-o", "yaml")

    back = await run.server("app", "rollback", name, "0", "--timeout", "60")
    assert back.exit_code == 0, back.output
    assert f"rolling back {name} to " in back.stderr and "(history 0)" in back.stderr
    live = await kube.get("v1", "ConfigMap", "conf", name)
    assert live is not None and live["data"]["value"] == "v1"
    unknown = await run.server("app", "rollback", name, "99", "--no-wait")
    by_kube = await run.kube("app", "rollback", name, "99", "--no-wait")
    assert (unknown.exit_code, unknown.stderr) == (by_kube.exit_code, by_kube.stderr)
    assert unknown.exit_code == 1 and "99" in unknown.stderr
    idle = await run.server("app", "terminate-op", name, "--no-wait")
    idle_by_kube = await run.kube("app", "terminate-op", name, "--no-wait")
    assert (idle.exit_code, idle.stderr) == (idle_by_kube.exit_code, idle_by_kube.stderr)
    assert idle.exit_code == 1 and idle.stderr, idle.output

    out = await run.server("logout")
    assert out.exit_code == 0 and out.stdout == f"logged out of {served.url.rstrip('/')}\n"
    after = await run.server("app", "list")
    assert after.exit_code == 1
    assert "driftless login" in after.stderr
    assert "127.0.0.1" not in stored.read_text()


async def _until(
    what: str, attempt: Callable[[], Awaitable[Result]], ok: Callable[[Result], bool]
) -> Result:
    deadline = time.monotonic() + DEADLINE
    while True:
        result = await attempt()
        if ok(result):
            return result
        assert time.monotonic() < deadline, f"not within {DEADLINE} s: {what}: {result.output}"
        await asyncio.sleep(0.3)


async def test_a_pipeline_s_project_token_sees_its_project_only_and_stops_when_revoked(
    kube: KubeClient, served: Served, devcluster: DevCluster, tmp_path: Path
) -> None:
    project, mine, other = unique("cli-tok"), unique("cli-tok-app"), unique("cli-tok-other")
    role = f"p, proj:{project}:ci, applications, *, {project}/*, allow"
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": PROJECT_KIND,
            "metadata": {"name": project, "namespace": APPS_NAMESPACE},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "namespace": "*"}],
                "roles": [{"name": "ci", "policies": [role]}],
            },
        },
        field_manager="test",
    )
    for app, in_project in ((mine, project), (other, "default")):
        manifest = application(app, "https://git.example/none.git", automated=False)
        manifest["spec"]["project"] = in_project
        await create_app(kube, manifest)
    run = Cli(Path(devcluster.kubeconfig), tmp_path / "config")
    created = await run.kube("project", "token", "create", project, "ci", "--id", f"{project}-ci")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()

    # A pipeline: no login, no file; the server and the token from the environment.
    listed = await _until(
        "the project's app listed",
        lambda: run.server(
            "app", "list", "-o", "name", env={TOKEN_ENV: token, SERVER_ENV: served.url}
        ),
        lambda r: r.exit_code == 0 and mine in r.stdout,
    )
    assert other not in listed.stdout
    assert not (tmp_path / "config" / "driftless").exists()

    login = await run.server("login", served.url, "--token", env={TOKEN_ENV: token})
    assert login.exit_code == 0, login.output
    assert token not in login.output and login.stdout.startswith(
        f"logged in to {served.url.rstrip('/')} with a token"
    )
    stored = tmp_path / "config" / "driftless" / "servers.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    got = await run.server("app", "get", mine, "-o", "name")
    assert (got.exit_code, got.stdout) == (0, f"application.driftless.dev/{mine}\n")

    revoked = await run.kube("project", "token", "revoke", f"{project}-ci")
    assert revoked.exit_code == 0, revoked.output
    refused = await _until(
        "the revoked token refused",
        lambda: run.server("app", "list"),
        lambda r: r.exit_code == 1,
    )
    url = served.url.rstrip("/")
    assert refused.stderr == (
        f"Error: not logged in to {url} (or the session ended): run `driftless login {url}`\n"
    )
    assert token not in refused.output


async def test_over_tls_login_checks_the_certificate_and_keeps_the_host_cookie(
    kube: KubeClient, controller: Controller, devcluster: DevCluster, tmp_path: Path
) -> None:
    cert, key = tls.self_signed(tmp_path, "127.0.0.1")
    run = Cli(Path(devcluster.kubeconfig), tmp_path / "config")
    async with serving(kube, tls_cert=cert, tls_key=key) as served:
        assert served.url.startswith("https://127.0.0.1:")
        password = (await served.initial_password()) + "\n"
        untrusted = await run.server("login", served.url, "--password-stdin", stdin=password)
        assert untrusted.exit_code == 1
        assert "cannot reach the server" in untrusted.stderr
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        assert "`driftless login --ca-file` names the CA that signed it" in untrusted.stderr
        assert not (tmp_path / "config" / "driftless" / "servers.json").exists()

        args = ("login", served.url, "--password-stdin", "--ca-file", str(cert))
        trusted = await run.server(*args, stdin=password)
        assert trusted.exit_code == 0, trusted.output
        stored = (tmp_path / "config" / "driftless" / "servers.json").read_text()
        assert '"cookie": "__Host-driftless_session"' in stored
        listed = await run.server("app", "list")
        assert listed.exit_code == 0, listed.output

        skip = ("login", served.url, "--password-stdin", "--insecure-skip-tls-verify")
        assert (await run.server(*skip, stdin=password)).exit_code == 0
        assert (await run.server("app", "list")).exit_code == 0
        assert (await run.server("logout")).exit_code == 0
