"""``driftless controller``: run the reconcile loop against the current cluster."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import signal
from pathlib import Path
from urllib.parse import urlsplit

import click

from driftless.cli.context import Globals, run_async
from driftless.cli.options import (
    ByteSize,
    Duration,
    checked_namespace,
    log_level_option,
    metrics_address_option,
    render_socket_option,
    webhook_address_option,
    webhook_max_body_option,
)
from driftless.cli.replicas import Replicas, replicas_options
from driftless.cli.tools import render_tools
from driftless.controller.endpoints import HttpListener, serve_endpoints
from driftless.controller.manager import Controller, ControllerSettings
from driftless.controller.webhooks import serve_webhooks
from driftless.notifications.engine import NotificationEngine
from driftless.pipeline.status_budget import DEFAULT_BUDGET as DEFAULT_STATUS_BUDGET
from driftless.pipeline.status_budget import MAX_BUDGET as MAX_STATUS_BUDGET
from driftless.render.isolation import LocalRenderServer
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache
from driftless.webhooks.receiver import DEFAULT_MAX_BODY


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


async def run_controller(
    globals_: Globals,
    settings: ControllerSettings,
    cache: Path | None,
    stop: asyncio.Event,
    *,
    allow_local_repositories: bool = False,
    render_socket: Path | None = None,
    revision_cache: float = 0.0,
    metrics_address: tuple[str, int] | None = None,
    webhook_address: tuple[str, int] | None = None,
    webhook_max_body: int = DEFAULT_MAX_BODY,
    notifications: bool = True,
    ui_url: str | None = None,
    notifications_allow_private_networks: bool = False,
) -> None:
    """Run until ``stop`` is set (SIGINT/SIGTERM set it when run from the CLI).

    Renders go to the render server on ``render_socket`` (the renderer
    container), or to one started as this process's child. With
    ``metrics_address`` (host, port), ``/metrics``, ``/healthz`` and ``/readyz``
    are served there (``controller.endpoints``); a port that cannot be bound
    stops the start. With ``webhook_address``, git webhooks are received there
    (``controller.webhooks``; bodies up to ``webhook_max_body`` bytes).
    ``notifications`` runs the notification engine (NotificationRule/NotificationService
    objects); its links point at ``ui_url``.
    """
    client = await globals_.client()
    tools = render_tools(render_socket, service=True)
    try:
        # Credentials live with the controller (its namespace is off-limits to apps).
        store = CredentialStore(client, settings.home)
        # Charts and their dependencies are fetched with the same credentials.
        tools = dataclasses.replace(tools, chart_credentials=store.chart_credentials)
        git = GitCache(
            cache,
            credentials=store.auth,
            allow_local=allow_local_repositories,
            revision_ttl=revision_cache,
        )
        engine = (
            NotificationEngine(
                client,
                home=settings.home,
                namespace=settings.namespace,
                git=git,
                ui_url=ui_url,
                allow_private_networks=notifications_allow_private_networks,
            )
            if notifications
            else None
        )
        controller = Controller(client, git, settings, tools=tools, observer=engine)
        if engine is not None and controller.keeper is not None:
            keeper = controller.keeper
            engine.writes_status = lambda key: keeper.owns(key, None)
        listener = await _endpoints(controller, metrics_address)
        try:
            hooks = (
                serve_webhooks(controller, *webhook_address, max_body=webhook_max_body)
                if webhook_address
                else None
            )
            try:
                await controller.run(stop)
            finally:
                if hooks is not None:
                    await hooks.stop()
        finally:
            if listener is not None:
                await listener.stop()
    finally:
        await client.close()
        if isinstance(tools.isolation, LocalRenderServer):
            tools.isolation.close()


async def _endpoints(
    controller: Controller, address: tuple[str, int] | None
) -> HttpListener | None:
    if address is None:
        return None
    return await serve_endpoints(
        *address, controller.metrics.registry, lambda: controller.not_ready
    )


def _ui_url(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if not value:
        return None
    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.username:
        raise click.BadParameter(
            "an http(s) URL without credentials, e.g. https://driftless.example.com", param=param
        )
    return value.rstrip("/")


@click.command("controller")
@click.option(
    "--namespace",
    default=None,
    callback=checked_namespace,
    help="Only watch Applications in this namespace.",
)
@click.option(
    "--interval",
    type=Duration(),
    default="3m",
    show_default=True,
    help="Default re-check interval of every app (jittered by 10%).",
)
@click.option(
    "--workers",
    default=ControllerSettings.workers,
    show_default=True,
    help="Apps reconciled in parallel (a pass mostly waits on git, renders and the API server).",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where repository clones live (default: ~/.cache/driftless/repos).",
)
@click.option(
    "--allow-local-repositories",
    is_flag=True,
    envvar="DRIFTLESS_ALLOW_LOCAL_REPOSITORIES",
    help="Let apps use file:// URLs and paths on this machine (off: any app could read any"
    " repository on the controller's disk; driftless's own cache stays refused).",
)
@click.option(
    "--revision-cache",
    type=Duration(),
    # Measured (bench/monorepo_bench.py, 1,000 apps on one repository): an unchanged poll
    # asks git 63 times without it, once with 2 s, in a third of the time.
    default="2s",
    show_default=True,
    help="Reuse a repository's refs (git ls-remote) for this long, so apps sharing a repository"
    " ask it once per poll; a push is then seen up to this late, except by a refresh (`app"
    " refresh`, a git webhook) (0: ask at every pass; concurrent passes still share one).",
)
@render_socket_option
@click.option(
    "--scope",
    type=click.Choice(["cluster", "namespace"]),
    default="cluster",
    show_default=True,
    help="namespace: the controller's RBAC covers only --namespace (`install --namespaced`),"
    " so it watches objects there only.",
)
@click.option(
    "--controller-namespace",
    default=None,
    callback=checked_namespace,
    envvar="DRIFTLESS_CONTROLLER_NAMESPACE",
    help="The controller's own namespace: Projects are read only there, and apps may not deploy"
    " into it (default: --namespace, else driftless).",
)
@click.option(
    "--reconcile-timeout",
    type=Duration(positive=True),
    default="5m",
    show_default=True,
    help="Deadline of one reconcile; past it the reconcile is cancelled and retried with backoff.",
)
@click.option(
    "--status-budget",
    type=ByteSize(MAX_STATUS_BUDGET),
    default=DEFAULT_STATUS_BUDGET,
    show_default="512KiB",
    envvar="DRIFTLESS_STATUS_BUDGET",
    help="Past this size an app's status lists only the notable results of its last operation"
    " (failed, pruned, hooks) and counts the plain synced ones; status.resources keeps every"
    " object. etcd stores the whole Application in at most 1.5 MiB by default.",
)
@metrics_address_option("/metrics (Prometheus), /healthz and /readyz")
@webhook_address_option("git webhooks (POST /api/v1/webhooks/<provider>; no server needed)")
@webhook_max_body_option
@click.option(
    "--notifications/--no-notifications",
    default=True,
    show_default=True,
    envvar="DRIFTLESS_NOTIFICATIONS",
    help="Send the messages NotificationRule objects ask for (Slack, Teams, webhook, email,"
    " commit statuses).",
)
@click.option(
    "--notifications-allow-private-networks",
    is_flag=True,
    default=False,
    envvar="DRIFTLESS_NOTIFICATIONS_ALLOW_PRIVATE_NETWORKS",
    help="Let every NotificationService reach loopback and private addresses (10/8, 172.16/12,"
    " 192.168/16, 100.64/10, fc00::/7). Without it only services in the controller's namespace"
    " reach private ranges, and none loopback; link-local (cloud metadata) is always refused.",
)
@click.option(
    "--ui-url",
    default=None,
    envvar="DRIFTLESS_UI_URL",
    callback=_ui_url,
    help="Public URL of the web UI (https://driftless.example.com): notifications link to"
    " the app's page there.",
)
@log_level_option
@replicas_options
@click.pass_obj
@run_async
async def controller_command(
    globals_: Globals,
    namespace: str | None,
    interval: float,
    workers: int,
    cache_dir: Path | None,
    allow_local_repositories: bool,
    revision_cache: float,
    render_socket: Path | None,
    scope: str,
    controller_namespace: str | None,
    reconcile_timeout: float,
    status_budget: int,
    metrics_address: tuple[str, int] | None,
    webhook_address: tuple[str, int] | None,
    webhook_max_body: int,
    notifications: bool,
    notifications_allow_private_networks: bool,
    ui_url: str | None,
    log_level: str,
    replicas: Replicas,
) -> None:
    """Watch Applications and keep their clusters converged to git.

    \b
    Example:
      driftless controller --interval 1m --log-level debug
    """
    configure_logging(log_level)
    # Everything imported so far lives as long as the process: the collector's full passes
    # (frequent while a cold start allocates) need not walk it again and again.
    gc.freeze()
    if scope == "namespace" and not namespace:
        raise click.BadParameter("--scope namespace needs --namespace", param_hint="--scope")
    settings = ControllerSettings(
        namespace=namespace,
        workers=workers,
        default_interval=interval,
        scope_namespace=namespace if scope == "namespace" else None,
        controller_namespace=controller_namespace,
        reconcile_timeout=reconcile_timeout,
        status_budget=status_budget,
        shards=replicas.shards,
        replica_id=replicas.replica_id,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await run_controller(
        globals_,
        settings,
        cache_dir,
        stop,
        allow_local_repositories=allow_local_repositories,
        render_socket=render_socket,
        revision_cache=revision_cache,
        metrics_address=metrics_address,
        webhook_address=webhook_address,
        webhook_max_body=webhook_max_body,
        notifications=notifications,
        ui_url=ui_url,
        notifications_allow_private_networks=notifications_allow_private_networks,
    )
