"""``driftless server``: the API and web UI on one port (see ``driftless.server``)."""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import click

from driftless.cli.context import Globals, run_async
from driftless.cli.controller import configure_logging
from driftless.cli.options import (
    checked_namespace,
    log_level_option,
    metrics_address_option,
    render_socket_option,
    webhook_max_body_option,
)
from driftless.cli.tools import render_tools
from driftless.core.paths import cache_root
from driftless.core.resources import DEFAULT_APP_NAMESPACE
from driftless.kube.client import KubeClient
from driftless.render.isolation import LocalRenderServer
from driftless.server import app, memory, settings, tls
from driftless.server.planning import Planning
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache


@click.command("server")
@click.option(
    "--address",
    default=settings.DEFAULT_ADDRESS,
    show_default=True,
    help="Address to listen on; 0.0.0.0 or :: for every interface.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=settings.DEFAULT_PORT,
    show_default=True,
    help="TCP port (0: any free port).",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM certificate chain: serve HTTPS (with --tls-key).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM private key of --tls-cert.",
)
@click.option(
    "--self-signed",
    is_flag=True,
    help="Serve HTTPS with a certificate made at start (browsers warn until it is trusted).",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    envvar="DRIFTLESS_SECURE_COOKIES",
    help="Browsers reach the server over HTTPS through a TLS-terminating proxy (an ingress):"
    " Secure __Host- session cookie and HSTS although this process serves plain HTTP"
    " (always so with TLS of its own).",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Serve the API without login (refused unless --address is a loopback address).",
)
@click.option(
    "-n",
    "--namespace",
    default=DEFAULT_APP_NAMESPACE,
    show_default=True,
    callback=checked_namespace,
    envvar="DRIFTLESS_CONTROLLER_NAMESPACE",
    help="The controller's namespace: Projects and the admin account's Secrets live there.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the server's own repository clones live, for diffs and rendered manifests"
    " (default: ~/.cache/driftless/server-repos; never the controller's).",
)
@render_socket_option
@click.option(
    "--scope",
    type=click.Choice(["cluster", "namespace"]),
    default="cluster",
    show_default=True,
    help="Applications of every namespace, or only of --namespace (a namespaced install).",
)
@click.option(
    "--oidc-issuer",
    default=None,
    envvar="DRIFTLESS_OIDC_ISSUER",
    help="Single sign-on: the OpenID Connect provider's issuer URL.",
)
@click.option(
    "--oidc-client-id", default=None, envvar="DRIFTLESS_OIDC_CLIENT_ID", help="The client id."
)
@click.option(
    "--oidc-client-secret-ref",
    default=None,
    envvar="DRIFTLESS_OIDC_CLIENT_SECRET_REF",
    metavar="SECRET[:KEY]",
    help="The Secret of --namespace holding the client secret (key clientSecret by default);"
    " the secret itself is never an option.",
)
@click.option(
    "--oidc-scopes",
    default="openid,profile,email,groups",
    show_default=True,
    envvar="DRIFTLESS_OIDC_SCOPES",
    help="Scopes asked for, comma-separated.",
)
@click.option(
    "--oidc-groups-claim",
    default="groups",
    show_default=True,
    envvar="DRIFTLESS_OIDC_GROUPS_CLAIM",
    help="The ID token claim listing the user's groups.",
)
@click.option(
    "--oidc-username-claim",
    default="email",
    show_default=True,
    envvar="DRIFTLESS_OIDC_USERNAME_CLAIM",
    help="The ID token claim naming the user (sub when absent).",
)
@click.option(
    "--oidc-redirect-url",
    default=None,
    envvar="DRIFTLESS_OIDC_REDIRECT_URL",
    help="The callback URL registered at the provider, when browsers reach the server under"
    f" another URL (default: this server's URL + {settings.OIDC_CALLBACK_PATH}).",
)
@click.option(
    "--no-local-admin",
    is_flag=True,
    envvar="DRIFTLESS_NO_LOCAL_ADMIN",
    help="Turn the admin account off: only single sign-on logs in.",
)
@metrics_address_option("/metrics (Prometheus; its own listener, never the API's port)")
@webhook_max_body_option
@log_level_option
@click.pass_obj
@run_async
async def server_command(
    globals_: Globals,
    address: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    self_signed: bool,
    secure_cookies: bool,
    insecure_no_auth: bool,
    namespace: str,
    cache_dir: Path | None,
    render_socket: Path | None,
    scope: str,
    oidc_issuer: str | None,
    oidc_client_id: str | None,
    oidc_client_secret_ref: str | None,
    oidc_scopes: str,
    oidc_groups_claim: str,
    oidc_username_claim: str,
    oidc_redirect_url: str | None,
    no_local_admin: bool,
    metrics_address: tuple[str, int] | None,
    webhook_max_body: int,
    log_level: str,
) -> None:
    """Serve the API and the web UI for every Application.

    Reads come from the server's own watch caches; the UI is at / and the
    OpenAPI document at /api/openapi.json.

    \b
    Example:
      driftless server --port 8080
    """
    if self_signed and (tls_cert or tls_key):
        raise click.UsageError("--self-signed or --tls-cert/--tls-key, not both")
    config = settings.ServerSettings(
        address=address,
        port=port,
        controller_namespace=namespace,
        auth=not insecure_no_auth,
        tls_cert=tls_cert,
        tls_key=tls_key,
        https_proxy=secure_cookies,
        local_admin=not no_local_admin,
        metrics_address=metrics_address,
        webhook_max_body=webhook_max_body,
        oidc=_oidc(
            oidc_issuer,
            oidc_client_id,
            oidc_client_secret_ref,
            oidc_scopes,
            oidc_groups_claim,
            oidc_username_claim,
            oidc_redirect_url,
        ),
    )
    try:
        settings.check(config)
    except settings.SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    configure_logging(log_level)
    memory.return_large_buffers()  # a login's 16 MiB must not stay resident
    with tempfile.TemporaryDirectory(prefix="driftless-tls-") as scratch:
        if self_signed:
            cert, key = tls.self_signed(Path(scratch), address)
            config = replace(config, tls_cert=cert, tls_key=key)
        client = await globals_.client()
        try:
            async with _planning(client, namespace, cache_dir, render_socket) as planning:
                apps_namespace = namespace if scope == "namespace" else None
                await app.serve(
                    config,
                    client,
                    asyncio.Event(),
                    planning,
                    apps_namespace=apps_namespace,
                    started=_announce,
                )
        finally:
            await client.close()


@asynccontextmanager
async def _planning(
    client: KubeClient, namespace: str, cache_dir: Path | None, render_socket: Path | None
) -> AsyncIterator[Planning]:
    """What the diff routes plan with: renders in a render server, the server's own clones.

    Local repositories are refused (an app's repository is untrusted input);
    repository credentials are read as the controller reads them.
    """
    tools = render_tools(render_socket, service=True)
    try:
        store = CredentialStore(client, namespace)
        tools = dataclasses.replace(tools, chart_credentials=store.chart_credentials)
        git = GitCache(
            cache_dir or cache_root() / "server-repos",
            credentials=store.auth,
            owner="driftless server",
            local_flag=None,
        )
        yield Planning(client, git, tools, home=namespace)
    finally:
        if isinstance(tools.isolation, LocalRenderServer):
            tools.isolation.close()


def _oidc(
    issuer: str | None,
    client_id: str | None,
    secret_ref: str | None,
    scopes: str,
    groups_claim: str,
    username_claim: str,
    redirect_url: str | None,
) -> settings.OidcSettings | None:
    if issuer is None:
        if client_id or secret_ref:
            raise click.UsageError(
                "--oidc-client-id and --oidc-client-secret-ref need --oidc-issuer"
            )
        return None
    if not client_id or not secret_ref:
        raise click.UsageError("--oidc-issuer needs --oidc-client-id and --oidc-client-secret-ref")
    return settings.OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret_ref=secret_ref,
        scopes=tuple(s for s in (p.strip() for p in scopes.split(",")) if s),
        groups_claim=groups_claim,
        username_claim=username_claim,
        redirect_url=redirect_url,
    )


def _announce(url: str) -> None:
    click.echo(f"driftless server listening on {url}", err=True)
