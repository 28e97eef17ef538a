"""Every command, in the states a new user meets, ends in one line that says what to do.

Each command and subcommand of ``driftless --help`` (found by walking the
click tree, so a new command without an entry here fails the test) is run
through the installed ``driftless`` entry point, with its minimal valid
arguments, in three states:

(a) no kubeconfig at all: ``$KUBECONFIG`` names a missing file, ``$HOME`` is
    empty (so there is no ``~/.kube/config`` either);
(b) a cluster where driftless is not installed: a second dev cluster of its
    own, without the CRDs or the ``driftless`` namespace;
(c) the same cluster with the CRDs but no controller running: the commands
    that wait for the controller must give up with a clear message.

Nothing may end in a traceback; a failure ends with its documented exit code
(``cli.exits``) and a line naming the way out.

Commands that never read a kubeconfig (completion, render, render-server,
quickstart, devcluster) behave the same in every state, so they run in (a)
only. ``devcluster up`` and ``devcluster build`` start or build a cluster
(minutes on a fresh cache, and ``tests/integration/test_devcluster.py``
covers them): they are the one exception to "run", and are only asked for
``--help`` here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import click
import pytest
import yaml

from driftless.cli.main import cli
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.integration.cli_driver import entry_point

pytestmark = [pytest.mark.integration]

APP = "front"
NO_KUBECONFIG = "no kubeconfig"
INSTALL = "run `driftless install`"
NO_CONTROLLER = "is the driftless controller running?"
NO_SERVER = "http://127.0.0.1:1"
MANIFEST = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: front-door}\ndata: {a: "1"}\n'


@dataclass(frozen=True)
class Expect:
    """The outcome a user should see: exit code, and a fragment of stdout or stderr."""

    code: int
    says: str | None = None  # a fragment of stderr (stdout when ``on_stdout``)
    on_stdout: bool = False


# Minimal valid arguments of every command; {dir} is a directory holding one
# manifest, {missing} a path that does not exist, {context} the bare cluster's.
ARGS: dict[str, list[str]] = {
    "app create": [APP, "--repo", "https://git.example.com/x.git", "--dest-namespace", APP],
    "app delete": [APP],
    "app diff": [APP],
    "app get": [APP],
    "app history": [APP],
    "app list": [],
    "app refresh": [APP],
    "app rollback": [APP, "1"],
    "app set": [APP, "--path", "p"],
    "app sync": [APP, "--timeout", "5s"],
    "app terminate-op": [APP, "--timeout", "5s"],
    "app wait": [APP, "--timeout", "5s"],
    "apply": ["--repo", "{dir}", "--dest-namespace", APP, "--create-namespace"],
    "cluster add": ["{context}"],
    "cluster list": [],
    "cluster rm": ["staging"],
    "completion": ["bash"],
    "controller": [],
    "devcluster build": ["--help"],
    "devcluster down": ["--name", "front-door-none"],
    "devcluster kubeconfig": ["--name", "front-door-none"],
    "devcluster status": ["--name", "front-door-none"],
    "devcluster up": ["--help"],
    "diff": ["--local", "{dir}", "--app", APP],
    "import": ["-f", "{dir}"],
    "install": [],
    # A loopback port nothing listens on: never a real server, never a stored login.
    "login": [NO_SERVER, "--password-stdin"],
    "logout": [NO_SERVER],
    "project create": [APP],
    "project delete": [APP],
    "project get": [APP],
    "project list": [],
    "project set": [APP, "--description", "d"],
    "project token create": [APP, "ci"],
    "project token list": [],
    "project token revoke": ["0123456789abcdef"],
    "project token rotate-key": [],
    "quickstart": ["--examples", "{missing}"],
    "render": ["--repo", "{dir}"],
    "render-server": ["--socket", "{missing}/render.sock"],
    "repo add": ["https://git.example.com/team", "--username", "u", "--password-stdin"],
    "repo list": [],
    "repo rm": ["https://git.example.com/team"],
    "server": ["--port", "0"],
    "uninstall": ["--yes"],
    "version": [],
}

# Commands that read no kubeconfig: (a) only, with what they answer there.
OFFLINE: dict[str, Expect] = {
    "completion": Expect(0, "complete", on_stdout=True),
    "devcluster build": Expect(0, "Usage:", on_stdout=True),
    "devcluster down": Expect(0, "is down"),
    "devcluster kubeconfig": Expect(1, "is not running"),
    "devcluster status": Expect(1, "not running", on_stdout=True),
    "devcluster up": Expect(0, "Usage:", on_stdout=True),
    # Files only: no kubeconfig read; a plain manifest is no peer object to convert,
    # and import says so naming it (--allow-partial goes on without it).
    "import": Expect(1, "not expressible: ConfigMap front-door"),
    "login": Expect(1, f"cannot reach the server {NO_SERVER}"),
    "logout": Expect(1, f"not logged in to {NO_SERVER}"),
    "quickstart": Expect(1, "run from the driftless checkout"),
    "render": Expect(0, "name: front-door", on_stdout=True),
    "render-server": Expect(1, "cannot listen on"),
}


def commands() -> list[str]:
    """Every leaf command of ``driftless``, as typed (``app sync``)."""
    found: list[str] = []

    def walk(command: click.Command, path: list[str], ctx: click.Context) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, [*path, name], click.Context(sub, parent=ctx, info_name=name))
        else:
            found.append(" ".join(path))

    walk(cli, [], click.Context(cli, info_name="driftless"))
    return sorted(found)


def test_every_command_has_minimal_arguments_here() -> None:
    assert sorted(ARGS) == commands()


# -- (a) no kubeconfig -------------------------------------------------------------------


def expect_without_kubeconfig(command: str) -> Expect:
    if command in OFFLINE:
        return OFFLINE[command]
    if command == "cluster add":  # reads the kubeconfig file itself, as a flag's value
        return Expect(2, "Invalid value for '--kubeconfig'")
    return Expect(1, NO_KUBECONFIG)


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def run(
    command: str,
    env: dict[str, str],
    places: dict[str, str],
    *,
    stdin: str = "",
    extra: tuple[str, ...] | list[str] = (),
) -> Run:
    argv = [part.format(**places) for part in ARGS[command]] + list(extra)
    result = subprocess.run(
        [entry_point(), *command.split(), *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def check(command: str, result: Run, expect: Expect) -> None:
    shown = f"driftless {command}: exit {result.code}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout, shown
    assert result.code == expect.code, shown
    if expect.says is not None:
        assert expect.says in (result.stdout if expect.on_stdout else result.stderr), shown
    if result.code != 0:
        assert (result.stderr + result.stdout).strip(), shown  # a failure always says why


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("front-door")
    (root / "app").mkdir()
    (root / "app" / "cm.yaml").write_text(MANIFEST)
    (root / "home").mkdir()
    return {"dir": str(root / "app"), "missing": str(root / "missing"), "home": str(root / "home")}


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLESS_")}


@pytest.mark.parametrize("command", sorted(ARGS))
def test_a_without_kubeconfig(command: str, places: dict[str, str]) -> None:
    env = {**base_env(), "KUBECONFIG": places["missing"] + "/kubeconfig"}
    if command not in OFFLINE or command.startswith("devcluster"):
        # Nothing of the user's: no ~/.kube/config, no dev cluster state. (The
        # other offline commands keep HOME: it holds the renderers' cache.)
        env["HOME"] = places["home"]
        env.pop("XDG_CACHE_HOME", None)
    result = run(command, env, {**places, "context": "some-context"}, stdin="token\n")
    check(command, result, expect_without_kubeconfig(command))
    if command == "version":
        assert result.stdout.startswith("Client Version: "), result.stdout


# -- (b) a cluster without driftless -------------------------------------------------------


@pytest.fixture(scope="module")
def bare_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    """A second dev cluster of this module's own: nothing of driftless installed."""
    state_dir = tmp_path_factory.mktemp("devcluster-front")
    with DevCluster("front-door", state_dir=state_dir) as cluster:
        yield cluster


def cluster_env(cluster: DevCluster) -> dict[str, str]:
    return {**base_env(), "KUBECONFIG": str(cluster.kubeconfig)}


def expect_without_crds(command: str) -> Expect:
    special = {
        "apply": Expect(0, "applied"),  # push mode needs nothing installed
        "cluster add": Expect(1, INSTALL),  # no driftless namespace to store it in
        "cluster list": Expect(0, "in-cluster", on_stdout=True),
        "cluster rm": Expect(1, "no cluster named or at 'staging'"),
        "install": Expect(0, "kind: CustomResourceDefinition", on_stdout=True),
        "project token list": Expect(0, "No API tokens"),
        "project token revoke": Expect(1, "no token with id"),
        "repo add": Expect(1, INSTALL),
        "repo list": Expect(0, "No repository credentials"),
        "repo rm": Expect(1, "no repository credential named or for"),
        "uninstall": Expect(0),
        "version": Expect(0, "Controller Version: not found", on_stdout=True),
    }
    return special.get(command, Expect(1, INSTALL))


# The controller runs until stopped: its own test below. (The server, without
# driftless's namespace, ends at once saying to install.)
CLUSTER_COMMANDS = sorted(c for c in ARGS if c not in OFFLINE and c != "controller")


@pytest.mark.parametrize("command", CLUSTER_COMMANDS)
def test_b_without_crds(command: str, bare_cluster: DevCluster, places: dict[str, str]) -> None:
    context = yaml.safe_load(bare_cluster.kubeconfig.read_text())["current-context"]
    # Installing for real would end state (b): what it would apply is enough here.
    extra = ["--dry-run"] if command == "install" else []
    places = {**places, "context": context}
    result = run(command, cluster_env(bare_cluster), places, stdin="token\n", extra=extra)
    check(command, result, expect_without_crds(command))


def test_b_the_controller_waits_for_the_crds_and_says_so(bare_cluster: DevCluster) -> None:
    """The controller may start before its CRDs (a Deployment applied first): it
    waits, saying to run `driftless install`, and stops cleanly on SIGTERM."""
    process = subprocess.Popen(
        [entry_point(), "controller"],
        env=cluster_env(bare_cluster),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(8)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    assert "Traceback" not in stderr, stderr
    assert INSTALL in stderr, stderr
    assert process.returncode == 0, stderr


# -- (c) CRDs, but no controller ---------------------------------------------------------


@pytest.fixture(scope="module")
def crds_only(bare_cluster: DevCluster) -> DevCluster:
    """State (c): `driftless install --crds-only` and one app, but no controller runs.

    Requested only by the tests below, which run after every test of state (b).
    """
    env = cluster_env(bare_cluster)
    for argv in (["install", "--crds-only"], ["app", "create", *ARGS["app create"]]):
        done = subprocess.run(
            [entry_point(), *argv], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    return bare_cluster


@pytest.mark.parametrize(
    ("command", "expect"),
    [
        ("app sync", Expect(4, NO_CONTROLLER)),
        ("app wait", Expect(4, NO_CONTROLLER)),
        ("app terminate-op", Expect(1, NO_CONTROLLER)),
    ],
)
def test_c_without_a_controller(
    command: str, expect: Expect, crds_only: DevCluster, places: dict[str, str]
) -> None:
    started = time.monotonic()
    result = run(command, cluster_env(crds_only), places)
    check(command, result, expect)
    assert time.monotonic() - started < 60  # --timeout 5s is kept


@pytest.mark.parametrize("command", ["app list", "install", "version"])
def test_a_without_kubeconfig_variable_or_file(command: str, places: dict[str, str]) -> None:
    """No $KUBECONFIG and no ~/.kube/config (a fresh machine): the same one line."""
    env = {**base_env(), "HOME": places["home"]}
    env.pop("KUBECONFIG", None)
    env.pop("KUBERNETES_SERVICE_HOST", None)
    result = run(command, env, places)
    check(command, result, Expect(1, "$KUBECONFIG is not set"))


def _store_unreadable_app(cluster: DevCluster, name: str) -> None:
    """An Application the API server stores but this version's model refuses
    (``healthTimeout: 0s`` fits the CRD's duration pattern, not the >= 1s rule)."""
    body = {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "driftless"},
        "spec": {
            "source": {"repoURL": "https://git.example.com/x.git"},
            "destination": {"namespace": name},
            "syncPolicy": {"healthTimeout": "0s"},
        },
    }

    async def store() -> None:
        client = await KubeClient.from_kubeconfig(str(cluster.kubeconfig))
        try:
            await client.apply(body, field_manager="test")
        finally:
            await client.close()

    asyncio.run(store())


@pytest.mark.parametrize("command", ["app diff", "diff"])
def test_c_a_stored_application_this_version_cannot_read(
    command: str, crds_only: DevCluster, places: dict[str, str]
) -> None:
    """One line naming the field, exit 1 — not a pydantic traceback."""
    name = "front-unreadable"
    _store_unreadable_app(crds_only, name)
    argv = [name if part == APP else part.format(**places) for part in ARGS[command]]
    result = subprocess.run(
        [entry_point(), *command.split(), *argv],
        env=cluster_env(crds_only),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    check(command, Run(result.returncode, result.stdout, result.stderr),
          Expect(1, "invalid Application (for this version of driftless): "
                    "spec.syncPolicy.healthTimeout: "))  # fmt: skip
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
