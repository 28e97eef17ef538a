"""Wiring of ``driftless server``: which routes, on which state, served how.

``create_app(settings, state)`` builds the FastAPI application and nothing
else (no I/O): probes, the ``/api/v1`` routers, the OpenAPI document at
``/api/openapi.json``, the error shape (``errors.install``) and, last, the
UI's files with their SPA fallback (``static.router``).

``serve(settings, client, stop, planning)`` is what the command runs (``planning``
plans diffs with what the command built: see ``server.planning``): it makes the
admin account unless it exists (``auth``; not with auth off or
``--no-local-admin``), reads the single sign-on client secret (``oidc.load``), then starts the
watch caches (in the background: ``/healthz`` answers at once, ``/readyz``
once they are listed) and uvicorn on ``settings.address:port``, until
``stop`` is set or uvicorn stops (SIGINT/SIGTERM).

Probes: ``GET /healthz`` is 200 ``{"status": "ok"}`` while the process
serves; ``GET /readyz`` is 200 ``{"status": "ready"}`` once every cache is
listed, else 503 in the error shape naming the caches it waits for (never
why: the API server's error text is for the log and the logged-in UI).

Every ``/api/v1`` route but login's passes ``auth.guard`` (401) then
``access.dependency`` (the RBAC policy of ``rbac_source``: 404/403). Git
webhooks (``POST /api/v1/webhooks/{provider}``, ``server.webhooks``) pass
neither: the forge's signature is their authentication, and the Shield's
body cap leaves them to the receiver's own (1 MiB).

Every request first passes ``shield.Shield``: Host check without auth
(DNS rebinding), cross-site refusal, body cap, security headers; every
request is counted by route template and code (``metrics.RequestMetrics``),
and with ``settings.metrics_address`` ``/metrics`` is served on a listener of
its own (``metrics.serve_metrics``), never on the API's port.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse

from driftless import __version__
from driftless.core.errors import DriftlessError
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import DEFAULT_PROJECT
from driftless.kube.client import KubeApiError, KubeClient
from driftless.server import (
    access,
    auth,
    errors,
    metrics,
    oidc,
    routes_apps,
    routes_config,
    routes_diff,
    routes_edit,
    routes_ops,
    routes_tree,
    shield,
    static,
    stream,
)
from driftless.server.caches import Caches
from driftless.server.live import LiveObjects
from driftless.server.planning import Planning
from driftless.server.rbac_source import RbacSource
from driftless.server.remote_live import RemoteLive
from driftless.server.settings import ServerSettings, check
from driftless.server.webhooks import receiver as webhook_receiver
from driftless.webhooks.receiver import PREFIX as WEBHOOKS_PREFIX
from driftless.webhooks.receiver import Receiver

__all__ = ["ListenError", "ServerState", "create_app", "listen", "new_state", "serve"]

log = logging.getLogger(__name__)


class ListenError(DriftlessError):
    """The address or port cannot be bound (in use, not this host's, no permission)."""


@dataclass
class ServerState:
    """What routes read and write through: the caches, login, and the client for writes."""

    client: KubeClient
    caches: Caches
    auth: auth.Auth
    config: routes_config.ConfigCaches
    live: LiveObjects
    views: routes_tree.AppViews  # the trees, of this cluster's apps and remote ones
    planning: Planning
    rbac: RbacSource
    sso: oidc.SingleSignOn | None = None
    webhooks: Receiver | None = None  # git webhooks (``server.webhooks``)


def new_state(
    settings: ServerSettings, client: KubeClient, apps_namespace: str | None, planning: Planning
) -> ServerState:
    """The state of a server: nothing started, no I/O yet."""
    caches = Caches(
        client,
        controller_namespace=settings.controller_namespace,
        apps_namespace=apps_namespace,
    )
    login = auth.for_server(settings, client, caches.projects, caches.app)
    config = routes_config.new_caches(client, settings.controller_namespace)
    live = LiveObjects(client)
    # Remote trees follow their clusters with the diffs' clients (one per cluster Secret).
    remote = RemoteLive(planning.destinations, planning.leases, live.tell)
    views = routes_tree.AppViews(caches, live, client, remote)
    policy = RbacSource(client, settings.controller_namespace, caches.projects)
    return ServerState(
        client=client,
        caches=caches,
        auth=login,
        config=config,
        live=live,
        views=views,
        planning=planning,
        rbac=policy,
        webhooks=webhook_receiver(
            client, caches, settings.controller_namespace, max_body=settings.webhook_max_body
        ),
    )


def _app_project(state: ServerState) -> access.ProjectOf:
    """An app's project for ``access``: from the cache, else read (just created); ``None``
    only when the API server said there is no such app. When that cannot be told (caches
    not listed yet, the read failed) ``UnavailableError`` (503): never let a request past
    authorization on a guess -- the route would act with the server's credentials."""

    async def project_of(namespace: str, name: str) -> str | None:
        app = state.caches.app(namespace, name)
        if app is None:
            if not state.caches.ready:
                raise errors.UnavailableError(f"the server is starting: {state.caches.problem}")
            try:
                app = await state.client.get(API_VERSION, APPLICATION_KIND, name, namespace)
            except KubeApiError as exc:
                # The API server's text is for the log, not the caller.
                log.warning(
                    "cannot read application %s/%s to authorize: %s",
                    namespace,
                    name,
                    type(exc).__name__,
                )
                raise errors.UnavailableError(
                    f"cannot check the rights on application {namespace}/{name} now; try again"
                ) from None
            if app is None:
                return None
        return str((app.get("spec") or {}).get("project") or DEFAULT_PROJECT)

    return project_of


def create_app(settings: ServerSettings, state: ServerState) -> FastAPI:
    app = FastAPI(
        title="driftless",
        version=__version__,
        description="The driftless API: Applications, Projects and their operations.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(
        shield.Shield,
        local_only=not settings.auth,
        tls=settings.secure_cookies,
        own_body=(WEBHOOKS_PREFIX,),
    )
    # Outermost: Shield's refusals are counted too.
    app.add_middleware(metrics.RequestMetrics)

    @app.get("/healthz", tags=["probes"])
    async def healthz() -> dict[str, str]:
        """The process serves requests."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["probes"],
        responses={503: {"description": "The caches are not listed yet."}},
    )
    async def readyz() -> Any:
        """Every cache is listed: reads answer from memory."""
        if not state.caches.ready:
            return JSONResponse(
                errors.error_body(errors.ErrorCode.UNAVAILABLE, state.caches.waiting()),
                status_code=503,
            )
        return {"status": "ready"}

    api = APIRouter(prefix="/api/v1")
    api.include_router(auth.router(state.auth))
    if state.sso is not None:
        api.include_router(oidc.router(state.auth, state.sso))
    # Login first (401), then authorization (``access``: 404 for hidden apps, 403).
    authorize = access.dependency(state.rbac, _app_project(state), state.auth.audit)
    protected = APIRouter(dependencies=[Depends(auth.guard(state.auth)), Depends(authorize)])
    protected.include_router(routes_apps.router(state.caches))
    protected.include_router(routes_tree.router(state.views))
    protected.include_router(routes_config.router(state.config))
    protected.include_router(routes_diff.router(state.caches, state.client, state.planning))
    protected.include_router(
        routes_ops.router(state.client, auth.guard(state.auth), state.auth.audit)
    )
    protected.include_router(
        routes_edit.router(
            state.client,
            auth.guard(state.auth),
            home=settings.controller_namespace,
            apps_namespace=state.caches.apps_namespace,
            trail=state.auth.audit,
        )
    )
    protected.include_router(stream.router(state.caches, state.auth, state.views, state.rbac))
    api.include_router(protected)
    app.include_router(api)
    if state.webhooks is not None:
        # Outside ``protected``: the signature is the authentication.
        app.router.routes.extend(state.webhooks.routes())
    app.include_router(static.router(settings.static_dir))
    return app


async def serve(
    settings: ServerSettings,
    client: KubeClient,
    stop: asyncio.Event,
    planning: Planning,
    *,
    apps_namespace: str | None = None,
    started: Callable[[str], None] | None = None,
) -> None:
    """Run the server until ``stop`` is set or uvicorn exits.

    ``started(url)`` is called once the port is bound, with the URL a local
    browser uses (the bound port, also when ``settings.port`` is 0). An
    address that cannot be bound raises ``ListenError`` before anything starts;
    settings that must not run (``check``) raise ``SettingsError`` before that.
    """
    check(settings)
    state = new_state(settings, client, apps_namespace, planning)
    if settings.auth and settings.local_admin:
        await state.auth.account.ensure()
    sock = listen(settings.address, settings.port)
    port = sock.getsockname()[1]
    if settings.auth:
        # The callback URL names the bound port (``settings.port`` may be 0).
        try:
            state.sso = await oidc.load(replace(settings, port=port), client)
        except BaseException:
            sock.close()
            raise
        if state.sso is not None:
            state.auth.end_session = state.sso.end_session_url
    try:  # the metrics listener (server.metrics): a port in use stops the start
        scrape = (
            metrics.serve_metrics(*settings.metrics_address) if settings.metrics_address else None
        )
    except BaseException:
        sock.close()
        raise
    app = create_app(settings, state)
    config = uvicorn.Config(
        app,
        host=settings.address,
        port=port,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        log_config=None,
        lifespan="off",
        server_header=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    tasks = [
        asyncio.create_task(state.caches.start(), name="server caches"),
        asyncio.create_task(state.config.run(), name="server config caches"),
        asyncio.create_task(state.auth.run(), name="server sessions"),
        asyncio.create_task(state.rbac.run(), name="server rbac policy"),
        asyncio.create_task(_stop_when(stop, server), name="server stop"),
    ]
    if started is not None:
        started(replace(settings, port=port).url())
    try:
        await server.serve(sockets=[sock])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The audit Events in flight, before the client goes (bounded: the API may be down).
        await state.auth.audit.drain(timeout=5)
        if state.webhooks is not None:
            await state.webhooks.close()
        await state.caches.close()
        await state.views.remote.close()
        await state.live.close()
        await state.planning.close()
        sock.close()
        if scrape is not None:
            await scrape.stop()


def listen(address: str, port: int) -> socket.socket:
    """A listening TCP socket on ``address:port`` (IPv4 or IPv6; port 0 picks one)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        sock = socket.create_server((address, port), family=family, backlog=2048)
    except OSError as exc:
        raise ListenError(f"cannot listen on {address}:{port}: {exc.strerror or exc}") from None
    # Accepted connections inherit it: a response's head and body go out at once
    # instead of the body waiting ~40 ms for the client's delayed ACK (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


async def _stop_when(stop: asyncio.Event, server: uvicorn.Server) -> None:
    await stop.wait()
    server.should_exit = True
