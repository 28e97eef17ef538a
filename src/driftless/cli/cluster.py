"""``driftless cluster add|list|rm``: register destination clusters.

``add`` copies one kubeconfig context's server, CA and credentials into a
cluster Secret (format: ``kube.clusters``) in the apps namespace of the
cluster the global ``--kubeconfig``/``--context`` point at. Before storing,
it connects with exactly what will be stored, so a typo or an expired
credential fails now rather than in the controller later (``--skip-check``
to register a cluster not reachable from here).

Nothing here prints a credential: ``list`` shows name, server and the kind of
authentication only. The in-cluster destination is always listed and can be
neither added nor removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from driftless.cli import listing
from driftless.cli.completion import complete_names
from driftless.cli.context import Globals, app_namespace, run_async, with_client
from driftless.cli.objects import JSON, apply
from driftless.cli.options import namespace_option, no_headers_option, output_option
from driftless.cli.output import age
from driftless.core.models import GROUP
from driftless.kube import clusters
from driftless.kube.client import KubeApiError, KubeClient
from driftless.pipeline import config_views


def _cluster_names(secrets: list[JSON]) -> list[str]:
    return [r["name"] for r in map(describe, secrets) if r["auth"] != "invalid"]


complete_cluster = complete_names(
    "v1", "Secret", label_selector=clusters.CLUSTER_SECRET_SELECTOR, names_of=_cluster_names
)


@click.group("cluster")
def cluster_group() -> None:
    """Manage the clusters Applications may deploy to."""


# -- add ---------------------------------------------------------------------------------------


def load_kubeconfig(path: Path) -> tuple[dict[str, Any], clusters.ReadFile]:
    """The parsed kubeconfig and a reader for the files it names (relative to it)."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc}", param_hint="'--kubeconfig'"
        ) from None
    except yaml.YAMLError:
        raise click.BadParameter(f"{path} is not valid YAML", param_hint="'--kubeconfig'") from None
    if not isinstance(config, dict):
        raise click.BadParameter(f"{path} is not a kubeconfig", param_hint="'--kubeconfig'")

    def read_file(name: str) -> bytes:
        target = Path(name).expanduser()
        return (target if target.is_absolute() else path.parent / target).read_bytes()

    return config, read_file


def kubeconfig_path(option: str | None, globals_: Globals) -> Path:
    """``--kubeconfig`` of the command, else the global one, else ``~/.kube/config``."""
    chosen = option or globals_.kubeconfig
    return Path(chosen).expanduser() if chosen else Path.home() / ".kube" / "config"


async def check_reachable(connection: clusters.ClusterConnection) -> str:
    """The cluster's Kubernetes version, connecting with the stored credentials."""
    try:
        client = await clusters.connect(connection)
    except Exception as exc:  # kubernetes_asyncio raises several unrelated types here
        raise click.ClickException(f"cannot use cluster {connection.server}: {exc}") from None
    try:
        info = await client.version()
        # /version is public; listing namespaces proves the credentials work.
        await client.list("v1", "Namespace")
    except KubeApiError as exc:
        raise click.ClickException(
            f"cannot use cluster {connection.name} at {connection.server}: {exc.message}"
            " (use --skip-check to register it anyway)"
        ) from None
    finally:
        await client.close()
    return str(info.get("gitVersion", "unknown"))


async def store(
    client: KubeClient, secret: JSON, connection: clusters.ClusterConnection, upsert: bool
) -> bool:
    """Write the Secret; False if it replaced one. Name or server clashes are errors."""
    namespace = secret["metadata"]["namespace"]
    secret_name = secret["metadata"]["name"]
    rows = [describe(s) for s in await cluster_secrets(client, namespace)]
    same = any(r["secret"] == secret_name for r in rows)
    clash = any(r["name"] == connection.name and r["secret"] != secret_name for r in rows)
    if clash:
        raise click.ClickException(
            f"a cluster named {connection.name} is already registered for another server;"
            " choose another --name"
        )
    if same and not upsert:
        raise click.ClickException(
            f"cluster {connection.server} is already registered; use --upsert to replace it"
        )
    await apply(client, secret, force=True)
    return not same


@cluster_group.command("add")
@click.argument("context")
@click.option(
    "--kubeconfig",
    "kubeconfig_file",
    default=None,
    metavar="FILE",
    help="Kubeconfig holding CONTEXT (default: the global --kubeconfig, $KUBECONFIG).",
)
@click.option("--name", default=None, help="Name apps use as destination.name (default: CONTEXT).")
@click.option("--upsert", is_flag=True, help="Replace the registration of this server.")
@click.option("--skip-check", is_flag=True, help="Do not connect to the cluster first.")
@namespace_option("the cluster Secrets")
@click.pass_obj
@run_async
async def add_cluster(
    globals_: Globals,
    context: str,
    kubeconfig_file: str | None,
    name: str | None,
    upsert: bool,
    skip_check: bool,
    namespace: str | None,
) -> None:
    """Register the cluster of a kubeconfig CONTEXT as a destination.

    The context's server, CA and credentials (client certificate, token, or
    user name and password) are stored in a Secret in the cluster driftless
    runs in. Contexts that log in through an exec plugin or auth-provider
    (cloud CLIs, OIDC) are refused: the controller cannot run those; give it
    a ServiceAccount token instead.

    \b
    Examples:
      driftless cluster add prod-eu
      driftless cluster add kind-staging --kubeconfig ~/.kube/staging --name staging
    """
    path = kubeconfig_path(kubeconfig_file, globals_)
    config, read_file = load_kubeconfig(path)
    try:
        connection = clusters.connection_from_kubeconfig(
            config, context, read_file=read_file, name=name
        )
        secret = clusters.cluster_secret(connection, app_namespace(namespace))
    except clusters.ClusterConfigError as exc:
        raise click.ClickException(str(exc)) from None
    version = "" if skip_check else await check_reachable(connection)
    created = await with_client(globals_, lambda client: store(client, secret, connection, upsert))
    detail = f", Kubernetes {version}" if version else ""
    verb = "added" if created else "updated"
    click.echo(f"cluster {connection.name} ({connection.server}{detail}) {verb}")


# -- list --------------------------------------------------------------------------------------


async def cluster_secrets(client: KubeClient, namespace: str) -> list[JSON]:
    return await client.list(
        "v1", "Secret", namespace, label_selector=clusters.CLUSTER_SECRET_SELECTOR
    )


def describe(secret: JSON) -> dict[str, str]:
    """One listing row; an unusable Secret shows why, never what it holds."""
    meta = secret.get("metadata") or {}
    row = {"secret": str(meta.get("name", "")), "age": age(meta.get("creationTimestamp"))}
    summary = config_views.cluster_summary(secret)
    status = summary.pop("message") or "ok"
    return {**row, **summary, "status": status}


IN_CLUSTER_ROW = {
    "name": clusters.IN_CLUSTER_NAME,
    "server": clusters.IN_CLUSTER_SERVER,
    "auth": "service-account",
    "secret": "-",
    "age": "-",
    "status": "ok",
}


def cluster_view(row: dict[str, str], secret: JSON | None) -> JSON:
    """What ``list`` shows of a cluster (a ``describe`` row): never a credential. Pure."""
    meta = (secret or {}).get("metadata") or {}
    return listing.view(
        "Cluster",
        row["name"],
        namespace=meta.get("namespace"),
        created=meta.get("creationTimestamp"),
        spec={"server": row["server"], "auth": row["auth"], "secret": row["secret"]},
        status={"message": row["status"]},
    )


def _age_or_dash(item: JSON) -> str:
    created = (item.get("metadata") or {}).get("creationTimestamp")
    return age(created) if created else "-"


CLUSTER_LISTING = listing.Listing(
    resource=f"cluster.{GROUP}",
    columns=(
        listing.Column("name", listing.field_of("metadata", "name")),
        listing.Column("server", listing.field_of("spec", "server")),
        listing.Column("auth", listing.field_of("spec", "auth")),
        listing.Column("secret", listing.field_of("spec", "secret"), wide=True),
        listing.Column("age", _age_or_dash, wide=True),
        listing.Column("status", listing.field_of("status", "message"), wide=True),
    ),
)


@cluster_group.command("list")
@namespace_option("the cluster Secrets")
@output_option()
@no_headers_option
@click.pass_obj
@run_async
async def list_clusters(
    globals_: Globals, namespace: str | None, output: str, no_headers: bool
) -> None:
    """List destination clusters (never their credentials).

    \b
    Examples:
      driftless cluster list
      driftless cluster list -o json
    """
    ns = app_namespace(namespace)
    secrets = await with_client(globals_, lambda client: cluster_secrets(client, ns))
    stored = sorted((cluster_view(describe(s), s) for s in secrets), key=listing.name_of)
    items = [cluster_view(IN_CLUSTER_ROW, None), *stored]
    listing.write(CLUSTER_LISTING, items, output, no_headers=no_headers)


# -- rm ----------------------------------------------------------------------------------------


async def remove(client: KubeClient, name_or_server: str, namespace: str) -> str:
    """Delete the cluster Secret whose name, server or Secret name matches; its name."""
    if name_or_server in (clusters.IN_CLUSTER_NAME, clusters.IN_CLUSTER_SERVER):
        raise click.ClickException(f"{clusters.IN_CLUSTER_NAME} is built in and cannot be removed")
    matches = []
    for secret in await cluster_secrets(client, namespace):
        row = describe(secret)
        if name_or_server in (row["name"], row["server"], row["secret"]):
            matches.append(row)
    if not matches:
        raise click.ClickException(
            f"no cluster named or at {name_or_server!r} in namespace {namespace}"
        )
    if len(matches) > 1:
        names = ", ".join(sorted(r["secret"] for r in matches))
        raise click.ClickException(f"{name_or_server!r} matches several clusters: {names}")
    await client.delete("v1", "Secret", matches[0]["secret"], namespace)
    return f"{matches[0]['name']} ({matches[0]['server']})"


@cluster_group.command("rm")
@click.argument("name_or_server", shell_complete=complete_cluster)
@namespace_option("the cluster Secrets")
@click.pass_obj
@run_async
async def remove_cluster(globals_: Globals, name_or_server: str, namespace: str | None) -> None:
    """Unregister a destination cluster by name or server URL.

    Applications deploying there fail until it is added again; what runs
    there keeps running.

    \b
    Examples:
      driftless cluster rm staging
      driftless cluster rm https://10.0.0.5:6443
    """
    ns = app_namespace(namespace)
    removed = await with_client(globals_, lambda client: remove(client, name_or_server, ns))
    click.echo(f"cluster {removed} removed")
