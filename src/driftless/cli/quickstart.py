"""``driftless quickstart``: the whole product on one machine, in one command.

Starts the embedded control plane, installs the CRDs, turns ``examples/`` into
a local git repository and publishes it over smart HTTP on 127.0.0.1 (``git
http-backend``, read-only), creates the example Application on that URL, runs
the controller in this process and ``driftless server`` (API and web UI, on
127.0.0.1) as a child process in the same process group, and shows the apps'
status as it changes, until Ctrl-C, which stops everything it started. The
last line repeats the web UI's URL and login, which the table scrolls away.

The repository is served over HTTP, not as a ``file://`` URL, because the
server (Diff and Manifests views) never reads local repositories; the
controller then needs no ``--allow-local-repositories`` either.

The server's login is printed with the initial admin password itself, not
only the command that reads it: the cluster is a local throwaway one that
Ctrl-C removes, the server listens on loopback only, and whoever runs the
quickstart holds the cluster's admin kubeconfig anyway.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import click
import yaml

from driftless.cli.app import describe
from driftless.cli.context import Globals, run_async
from driftless.cli.controller import configure_logging
from driftless.cli.install import install
from driftless.cli.options import Duration
from driftless.cli.output import table
from driftless.cli.tools import render_tools
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.resources import DEFAULT_APP_NAMESPACE, FIELD_MANAGER
from driftless.devcluster.cluster import DevCluster
from driftless.devcluster.githttp import GitHttpServer
from driftless.kube.client import KubeClient
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache
from driftless.sources.seed import seed_repository

JSON = dict[str, Any]
POLL_SECONDS = 1.0
SERVER_START_SECONDS = 60.0
SERVER_STOP_SECONDS = 15.0
# As ``driftless.server.auth`` names them (the CLI may not import the server).
ADMIN_USER = "admin"
INITIAL_SECRET = "driftless-initial-admin"
INITIAL_KEY = "password"
LISTENING = "driftless server listening on "


def _rows(apps: list[JSON]) -> list[list[str]]:
    rows = []
    for app in sorted(apps, key=lambda a: a["metadata"]["name"]):
        status = app.get("status") or {}
        ready: JSON = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})
        rows.append(
            [
                app["metadata"]["name"],
                (status.get("sync") or {}).get("status", "Unknown"),
                (status.get("health") or {}).get("status", "Unknown"),
                ((status.get("sync") or {}).get("revision") or "")[:12],
                ready.get("message", "waiting for the controller"),
            ]
        )
    return rows


def _ready(app: JSON) -> bool:
    conditions = (app.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def _create_apps(client: KubeClient, examples: Path, repo_url: str) -> list[str]:
    names = []
    for path in sorted((examples / "apps").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            doc["spec"]["source"]["repoURL"] = repo_url
            await client.apply(doc, field_manager=FIELD_MANAGER)
            names.append(doc["metadata"]["name"])
    return names


async def _show_until(
    client: KubeClient, stop: asyncio.Event, *, exit_when_ready: bool, namespace: str, login: str
) -> bool:
    """Print the status table whenever it changes; True once every app is Ready.

    ``login`` (the web UI's URL and password) is repeated in the last line.
    """
    last: list[list[str]] = []
    announced = False
    while not stop.is_set():
        apps = await client.list(API_VERSION, APPLICATION_KIND, namespace)
        rows = _rows(apps)
        if rows != last:
            click.echo(table(["name", "sync", "health", "revision", "message"], rows) + "\n")
            last = rows
        if apps and all(_ready(a) for a in apps) and not announced:
            announced = True
            for app in apps:
                click.echo(describe(app) + "\n")
            if exit_when_ready:
                return True
            click.echo(f"All applications are Synced and Healthy. {login}. Press Ctrl-C to stop.\n")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_SECONDS)
    return announced


async def _forward(stream: asyncio.StreamReader, url: asyncio.Future[str]) -> None:
    """Copy the server's stderr to ours; resolve ``url`` from its "listening on" line."""
    async for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        if line.startswith(LISTENING) and not url.done():
            url.set_result(line.removeprefix(LISTENING).strip())
        elif line:
            click.echo(f"server: {line}", err=True)


async def _until_ready(url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    async with aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            if process.returncode is not None or time.monotonic() > deadline:
                raise click.ClickException(f"driftless server at {url} did not become ready")
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def _serving(kubeconfig: str, port: int) -> AsyncIterator[str]:
    """``driftless server`` on 127.0.0.1:``port`` as a child process; its URL once ready.

    The child stays in our process group, so a Ctrl-C in the terminal reaches
    it too; on the way out it is asked to stop (SIGTERM), then killed.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "driftless.cli.main", "--kubeconfig", kubeconfig,
        "server", "--address", "127.0.0.1", "--port", str(port),
        "--namespace", DEFAULT_APP_NAMESPACE, "--log-level", "warning",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    url: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    forward = asyncio.create_task(_forward(process.stderr, url))
    try:
        waiters: set[asyncio.Future[Any]] = {url, forward}
        done, _ = await asyncio.wait(
            waiters, timeout=SERVER_START_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        if url not in done:
            raise click.ClickException(
                f"driftless server did not start on port {port} (see its messages above;"
                " another port: --port)"
            )
        await _until_ready(url.result(), process)
        yield url.result()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), SERVER_STOP_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
        await asyncio.wait_for(forward, SERVER_STOP_SECONDS)


async def _announce_server(client: KubeClient, url: str) -> str:
    """Print the server's URL and login; that login in one line, for the last line."""
    secret = await client.get("v1", "Secret", INITIAL_SECRET, DEFAULT_APP_NAMESPACE)
    data = (secret or {}).get("data") or {}
    password = base64.b64decode(data.get(INITIAL_KEY, "")).decode() or "(not found)"
    click.echo(
        f"Web UI and API: {url}\n"
        f"  log in as {ADMIN_USER} with password {password}\n"
        f"  (later: kubectl -n {DEFAULT_APP_NAMESPACE} get secret {INITIAL_SECRET}"
        f" -o jsonpath='{{.data.{INITIAL_KEY}}}' | base64 -d)\n"
    )
    return f"Web UI: {url} (user {ADMIN_USER}, password {password})"


@click.command("quickstart")
@click.option(
    "--examples",
    type=click.Path(path_type=Path, file_okay=False),
    default="examples",
    show_default=True,
    help="Directory with the example manifests and apps/.",
)
@click.option(
    "--name", default="quickstart", show_default=True, help="Name of the embedded cluster."
)
@click.option(
    "--interval",
    type=Duration(),
    default="30s",
    show_default=True,
    help="Re-check interval of the controller (e.g. 30s, 1m, or seconds).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port of the web UI and API on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--exit-when-ready",
    is_flag=True,
    help="Stop everything and exit 0 once every app is Ready (for scripts).",
)
@click.pass_obj
@run_async
async def quickstart_command(
    globals_: Globals,
    examples: Path,
    name: str,
    interval: float,
    port: int,
    exit_when_ready: bool,
) -> None:
    """Run driftless end to end on this machine: cluster, git repo, controller, UI, status.

    \b
    Example:
      driftless quickstart            # Ctrl-C stops everything
    """
    if not (examples / "apps").is_dir():
        raise click.ClickException(f"{examples}/apps not found; run from the driftless checkout")
    configure_logging("warning")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cluster = DevCluster(name)
    click.echo("Starting the embedded Kubernetes control plane (first run builds it)...")
    cluster.up()
    try:
        ok = await _run(cluster, examples, interval, port, stop, exit_when_ready=exit_when_ready)
    finally:
        click.echo("Stopping the server, the controller and the control plane...")
        cluster.down()
    if exit_when_ready and not ok:
        raise click.ClickException("stopped before every application was Ready")


async def _run(
    cluster: DevCluster,
    examples: Path,
    interval: float,
    port: int,
    stop: asyncio.Event,
    *,
    exit_when_ready: bool,
) -> bool:
    kubeconfig = str(cluster.kubeconfig)
    click.echo(f"Control plane ready. In another shell:\n  export KUBECONFIG={kubeconfig}\n")
    client = await KubeClient.from_kubeconfig(kubeconfig)
    try:
        for line in await install(client):
            click.echo(line)
        repo_dir = cluster.state_dir / "example-repo"
        await seed_repository(examples, repo_dir)
        with GitHttpServer(cluster.state_dir / "git-http") as git_http:
            repo_url = git_http.publish(repo_dir, "examples.git")
            names = await _create_apps(client, examples, repo_url)
            click.echo(
                f"Example repository: {repo_dir}, served at {repo_url}"
                " (commit there, then `driftless app refresh`)"
            )
            click.echo(f"Applications created: {', '.join(names)}\n")
            return await _control_and_serve(
                cluster, kubeconfig, client, interval, port, stop, exit_when_ready=exit_when_ready
            )
    finally:
        await client.close()


async def _control_and_serve(
    cluster: DevCluster,
    kubeconfig: str,
    client: KubeClient,
    interval: float,
    port: int,
    stop: asyncio.Event,
    *,
    exit_when_ready: bool,
) -> bool:
    """The controller in this process and the server as a child, until ``stop`` (or Ready)."""
    settings = ControllerSettings(namespace=DEFAULT_APP_NAMESPACE, default_interval=interval)
    store = CredentialStore(client, DEFAULT_APP_NAMESPACE)
    cache = GitCache(cluster.state_dir / "repos", credentials=store.auth)
    controller = Controller(client, cache, settings, tools=render_tools())
    controller_stop = asyncio.Event()
    task = asyncio.create_task(controller.run(controller_stop))
    try:
        async with _serving(kubeconfig, port) as url:
            login = await _announce_server(client, url)
            return await _show_until(
                client,
                stop,
                exit_when_ready=exit_when_ready,
                namespace=DEFAULT_APP_NAMESPACE,
                login=login,
            )
    finally:
        controller_stop.set()
        await task
