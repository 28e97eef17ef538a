"""``driftless app ...``: inspect and nudge Applications."""

from __future__ import annotations

import sys
from typing import Any

import click

from driftless.cli import listing
from driftless.cli.context import Globals, app_namespace, run_async
from driftless.cli.diffs import write_diffs
from driftless.cli.options import (
    controller_namespace_option,
    namespace_option,
    no_headers_option,
    output_option,
)
from driftless.cli.output import dump, table
from driftless.cli.remote.apps import Apps
from driftless.cli.remote.connect import with_apps
from driftless.core.models import GROUP
from driftless.core.redaction import redacted
from driftless.core.repourl import redact
from driftless.diff.report import ResourceDiff

JSON = dict[str, Any]

__all__ = ["app_group", "controller_namespace_option", "namespace_option"]


@click.group("app")
def app_group() -> None:
    """Inspect and operate Applications.

    \b
    list, get, diff, sync, wait, history, rollback, refresh and terminate-op
    work with a kubeconfig or through a driftless server (`driftless login`),
    with the same output and exit codes. Which one, first match wins:
      1. --server URL                       the server
      2. --kubeconfig or --context given    the kubeconfig
      3. $DRIFTLESS_SERVER                  the server
      4. $KUBECONFIG naming a file          the kubeconfig
      5. a server from `driftless login`    the server
      6. ~/.kube/config (or in-cluster)     the kubeconfig
    Through a server, $DRIFTLESS_AUTH_TOKEN (a project token) replaces the login.
    """


def _ready(app: JSON) -> str:
    conditions = (app.get("status") or {}).get("conditions") or []
    ready: JSON = next((c for c in conditions if c.get("type") == "Ready"), {})
    return str(ready.get("status", "Unknown"))


APP_COLUMNS = (
    listing.Column("name", listing.field_of("metadata", "name")),
    listing.Column("sync", listing.field_of("status", "sync", "status", default="Unknown")),
    listing.Column("health", listing.field_of("status", "health", "status", default="Unknown")),
    listing.Column("revision", lambda a: listing.field_of("status", "sync", "revision")(a)[:12]),
    listing.age_column(),
    listing.Column("ready", _ready, wide=True),
    listing.Column(
        "repo", lambda a: redact(listing.field_of("spec", "source", "repoURL")(a)), wide=True
    ),
    listing.Column("path", listing.field_of("spec", "source", "path", default="."), wide=True),
    listing.Column(
        "target", listing.field_of("spec", "source", "targetRevision", default="HEAD"), wide=True
    ),
)
NAMESPACE_COLUMN = listing.Column("namespace", listing.field_of("metadata", "namespace"))


def app_listing(namespace: str | None) -> listing.Listing:
    """Applications of ``namespace`` (``None``: every namespace, with a NAMESPACE column)."""
    where = "any namespace" if namespace is None else f"namespace {namespace}"
    return listing.Listing(
        resource=f"application.{GROUP}",
        columns=APP_COLUMNS,
        empty=f"No Applications found in {where}.",
        leading=(NAMESPACE_COLUMN,) if namespace is None else (),
    )


@app_group.command("list")
@namespace_option("the Application")
@click.option("-A", "--all-namespaces", is_flag=True, help="List Applications of every namespace.")
@output_option()
@no_headers_option
@click.pass_obj
@run_async
async def list_apps(
    globals_: Globals, namespace: str | None, all_namespaces: bool, output: str, no_headers: bool
) -> None:
    """List Applications with their sync and health status.

    \b
    Examples:
      driftless app list
      driftless app list -A -o wide
    """
    ns = None if all_namespaces else app_namespace(namespace)

    async def fetch(apps: Apps) -> list[JSON]:
        return await apps.list_apps(ns, full=output != "name")

    apps = sorted(
        (redacted(a) for a in await with_apps(globals_, fetch)),
        key=lambda a: (a["metadata"].get("namespace", ""), a["metadata"]["name"]),
    )
    listing.write(app_listing(ns), apps, output, no_headers=no_headers)


@app_group.command("get")
@click.argument("name")
@namespace_option("the Application")
@output_option()
@click.pass_obj
@run_async
async def get_app(globals_: Globals, name: str, namespace: str | None, output: str) -> None:
    """Show one Application: source, status, conditions and resources.

    \b
    Examples:
      driftless app get guestbook
      driftless app get guestbook -o yaml
    """
    ns = app_namespace(namespace)
    app = redacted(await with_apps(globals_, lambda apps: apps.get(name, ns)))
    if output in ("json", "yaml"):
        click.echo(dump(app, output))
    elif output == "name":
        click.echo(f"application.driftless.dev/{name}")
    else:
        click.echo(describe(app))


def describe(app: JSON) -> str:
    """A human summary of one Application, like ``kubectl describe`` but shorter."""
    spec, status, meta = app.get("spec") or {}, app.get("status") or {}, app["metadata"]
    source, dest = spec.get("source") or {}, spec.get("destination") or {}
    sync, health = status.get("sync") or {}, status.get("health") or {}
    automated = (spec.get("syncPolicy") or {}).get("automated")
    policy = (
        "manual"
        if automated is None
        else "automated" + "".join(f" +{k}" for k in ("prune", "selfHeal") if automated.get(k))
    )
    lines = [
        f"Name:          {meta.get('namespace')}/{meta['name']}",
        f"Project:       {spec.get('project', 'default')}",
        f"Repo:          {redact(source.get('repoURL', ''))}",
        f"Path:          {source.get('path', '.')}",
        f"Target:        {source.get('targetRevision', 'HEAD')}",
        f"Destination:   {dest.get('server') or 'in-cluster'} / {dest.get('namespace') or '-'}",
        f"Sync Policy:   {policy}",
        f"Sync Status:   {sync.get('status', 'Unknown')} to {sync.get('revision') or '-'}",
        f"Health:        {health.get('status', 'Unknown')}"
        + (f" ({health['message']})" if health.get("message") else ""),
        "",
        "CONDITIONS",
    ]
    cond_rows = [
        [c.get("type", ""), c.get("status", ""), c.get("reason", ""), redact(c.get("message", ""))]
        for c in status.get("conditions") or []
    ]
    lines.append(table(["type", "status", "reason", "message"], cond_rows) if cond_rows else "-")
    lines += ["", "RESOURCES"]
    res_rows = [
        [
            r.get("group") or "-",
            r.get("kind", ""),
            r.get("namespace") or "-",
            r.get("name", ""),
            r.get("status", ""),
            (r.get("health") or {}).get("status", ""),
            (r.get("health") or {}).get("message") or r.get("message") or "",
        ]
        for r in status.get("resources") or []
    ]
    headers = ["group", "kind", "namespace", "name", "status", "health", "message"]
    lines.append(table(headers, res_rows) if res_rows else "-")
    return "\n".join(lines)


@app_group.command("refresh")
@click.argument("name")
@namespace_option("the Application")
@click.option(
    "--hard",
    is_flag=True,
    help="Also bypass the controller's caches: ask the repository for its refs now (even"
    " within the controller's --revision-cache time) and render again.",
)
@click.pass_obj
@run_async
async def refresh_app(globals_: Globals, name: str, namespace: str | None, hard: bool) -> None:
    """Ask the controller to re-check git and the cluster now.

    \b
    Example:
      driftless app refresh guestbook
      driftless app refresh guestbook --hard
    """
    ns = app_namespace(namespace)

    async def annotate(apps: Apps) -> None:
        await apps.refresh(name, ns, hard=hard)

    await with_apps(globals_, annotate)
    what = "hard refresh" if hard else "refresh"
    click.echo(f"application.driftless.dev/{name} {what} requested")


@app_group.command("diff")
@click.argument("name")
@namespace_option("the Application")
@controller_namespace_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal.")
@click.pass_obj
@run_async
async def diff_app(
    globals_: Globals,
    name: str,
    namespace: str | None,
    controller_namespace: str,
    output: str,
    no_color: bool,
) -> int:
    """Show what syncing would change: git (after a server-side dry-run) vs the cluster.

    Secret values are never shown, only whether each key changed. Exits 1
    when there are differences and 0 when the cluster matches git, like
    `kubectl diff`; 5 when the source cannot be fetched or rendered.
    Through a server, the server plans (its Projects: --controller-namespace
    is not used).

    \b
    Examples:
      driftless app diff guestbook
      driftless app diff guestbook -o json
    """
    ns = app_namespace(namespace)

    async def run(apps: Apps) -> list[ResourceDiff]:
        return await apps.diffs(name, ns, home=controller_namespace)

    diffs = await with_apps(globals_, run)
    return write_diffs(diffs, output=output, color=not no_color and sys.stdout.isatty())
