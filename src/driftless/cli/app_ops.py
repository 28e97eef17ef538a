"""``driftless app sync|wait|history|rollback|terminate-op``: operate on an app's syncs.

These commands talk to the controller only through the Application object,
with the requests of ``pipeline.requests`` (the API server writes the same):
a sync or rollback is a request written to its ``operation`` field (refused
while another operation runs), a termination the annotation
``driftless.dev/terminate-operation`` naming the running operation by its
``startedAt``; progress is read back from
``status.operationState`` and shown by ``cli.progress``. Exit codes
(``cli.exits``, documented in the README): 0 synced and healthy,
1 operation failed, 2 usage error, 3 degraded, 4 timeout.
"""

from __future__ import annotations

import asyncio
import getpass
import time
from datetime import UTC, datetime
from typing import Any

import click

from driftless.cli.app import app_group
from driftless.cli.context import Globals, app_namespace, run_async
from driftless.cli.exits import EXIT_DEGRADED, EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT
from driftless.cli.options import namespace_option, output_option, timeout_option
from driftless.cli.output import dump, table
from driftless.cli.progress import Progress
from driftless.cli.remote.apps import Apps
from driftless.cli.remote.connect import with_apps
from driftless.core.models import HealthStatusCode, OperationPhase, SyncStatusCode
from driftless.core.redaction import redacted
from driftless.health import DONE_HEALTH
from driftless.pipeline import requests

JSON = dict[str, Any]
POLL_SECONDS = 1.0
# Operation phases that end without the revision synced (exit code 1).
ENDED_UNSYNCED = (
    OperationPhase.FAILED,
    OperationPhase.ERROR,
    OperationPhase.TERMINATED,
    OperationPhase.SUPERSEDED,
)


def _parse_resource(text: str) -> JSON:
    """``GROUP:KIND:NAME`` or ``GROUP:KIND:NAMESPACE/NAME`` (empty group for core)."""
    parts = text.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise click.BadParameter(
            f"{text!r}: use GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME "
            "(e.g. apps:Deployment:web)",
            param_hint="--resource",
        )
    namespace, _, name = parts[2].rpartition("/")
    return {"group": parts[0], "kind": parts[1], "namespace": namespace, "name": name}


def _sync_operation(
    revision: str | None, prune: bool, dry_run: bool, resources: list[JSON]
) -> JSON:
    """The operation the flags ask for; a malformed value is a usage error (exit 2)."""
    try:
        return requests.sync_operation(
            getpass.getuser(),
            datetime.now(UTC),
            revision=revision,
            prune=prune,
            dry_run=dry_run,
            resources=resources,
        )
    except requests.InvalidRequestError as exc:
        hint = "--resource" if exc.field.startswith("resources") else f"--{exc.field}"
        raise click.BadParameter(exc.message, param_hint=hint) from None


def _requested_at() -> str:
    """When the request is written, a second early: the operation starts at or after it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))


def _condition(app: JSON, type_: str) -> JSON:
    conditions = (app.get("status") or {}).get("conditions") or []
    found: JSON = next((c for c in conditions if c.get("type") == type_), {})
    return found


async def _wait(
    apps: Apps,
    name: str,
    namespace: str,
    *,
    want_sync: bool,
    want_health: bool,
    timeout: float,
    operation_started: str | None = None,
) -> int:
    """Poll until the app is where it should be; returns the exit code."""
    progress = Progress()
    try:
        while True:
            app = await apps.get(name, namespace)
            progress.show_app(app)
            ended = verdict(app, want_sync, want_health, operation_started)
            if ended is not None:
                code, message = ended
                if message:
                    progress.say(message)
                return code
            if progress.elapsed() > timeout:
                why = [_condition(app, "Ready").get("message", ""), _no_controller_hint(app)]
                progress.say(_joined(f"timed out after {timeout:.0f}s", *why))
                return EXIT_TIMEOUT
            await asyncio.sleep(POLL_SECONDS)
    finally:
        progress.done()


def _no_controller_hint(app: JSON) -> str:
    """When nothing ever reported on the app, say why that may be: no controller runs."""
    status = app.get("status") or {}
    if status.get("observedGeneration") is None and not status.get("operationState"):
        return (
            "the app was never reconciled: is the driftless controller running?"
            " (`driftless install`, or `driftless controller` for a local one)"
        )
    return ""


def _joined(head: str, *details: str) -> str:
    """``head: detail; detail`` without the empty details."""
    shown = [d for d in details if d]
    return f"{head}: {'; '.join(shown)}" if shown else head


def verdict(
    app: JSON, want_sync: bool, want_health: bool, operation_started: str | None
) -> tuple[int, str] | None:
    """Whether the wait is over: (exit code, what to say or ""), or ``None`` to go on. Pure.

    ``operation_started``: the wait is for the operation requested then (sync,
    rollback), whose end decides; otherwise for the app's sync and health.
    """
    status = app.get("status") or {}
    meta = app["metadata"]
    if status.get("observedGeneration") != meta.get("generation"):
        return None
    op = status.get("operationState") or {}
    if operation_started is not None:
        if app.get("operation") is not None or op.get("startedAt", "") < operation_started:
            return None  # our request has not been picked up, or not finished
        if op.get("phase") in ENDED_UNSYNCED:
            return EXIT_FAILED, f"sync {op['phase'].lower()}: {op.get('message', '')}"
        if op.get("phase") == OperationPhase.RUNNING:
            return None
    elif op.get("phase") == OperationPhase.RUNNING:
        return None
    health = (status.get("health") or {}).get("status")
    if want_health and health == HealthStatusCode.DEGRADED:
        return EXIT_DEGRADED, f"degraded: {(status.get('health') or {}).get('message', '')}"
    synced = (status.get("sync") or {}).get("status") == SyncStatusCode.SYNCED
    healthy = health in DONE_HEALTH
    if (synced or not want_sync) and (healthy or not want_health):
        return EXIT_OK, ""
    return None


@app_group.command("sync")
@click.argument("name")
@namespace_option("the Application")
@click.option("--prune", is_flag=True, help="Delete objects that git no longer has.")
@click.option("--dry-run", is_flag=True, help="Report what would be applied, change nothing.")
@click.option("--revision", default=None, help="Sync this commit/branch/tag instead of the target.")
@click.option(
    "--resource",
    "resources",
    multiple=True,
    help="Sync only GROUP:KIND:[NAMESPACE/]NAME (repeatable; runs no hooks).",
)
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the result.")
@timeout_option("5m", "How long to wait")
@click.pass_obj
@run_async
async def sync_app(
    globals_: Globals,
    name: str,
    namespace: str | None,
    prune: bool,
    dry_run: bool,
    revision: str | None,
    resources: tuple[str, ...],
    wait: bool,
    timeout: float,
) -> int:
    """Sync an app now (phases, waves and hooks as in automated syncs).

    \b
    Examples:
      driftless app sync guestbook
      driftless app sync guestbook --prune --timeout 600
      driftless app sync guestbook --resource apps:Deployment:guestbook-ui
      driftless app sync guestbook --dry-run
    """
    ns = app_namespace(namespace)
    selected = [_parse_resource(r) for r in resources]
    operation = _sync_operation(revision, prune, dry_run, selected)

    async def run(apps: Apps) -> int:
        requested_at = _requested_at()
        await apps.sync(name, ns, operation)
        click.echo(f"application.driftless.dev/{name} sync requested", err=True)
        if not wait:
            return EXIT_OK
        # A dry run or a selective sync says nothing about the whole app's state.
        whole_app = not dry_run and not selected
        return await _wait(
            apps,
            name,
            ns,
            want_sync=whole_app,
            want_health=whole_app,
            timeout=timeout,
            operation_started=requested_at,
        )

    return await with_apps(globals_, run)


@app_group.command("wait")
@click.argument("name")
@namespace_option("the Application")
@click.option("--sync", "want_sync", is_flag=True, help="Wait until Synced.")
@click.option("--health", "want_health", is_flag=True, help="Wait until Healthy.")
@timeout_option("5m", "How long to wait")
@click.pass_obj
@run_async
async def wait_app(
    globals_: Globals,
    name: str,
    namespace: str | None,
    want_sync: bool,
    want_health: bool,
    timeout: float,
) -> int:
    """Wait until an app is synced and/or healthy (both when neither flag is given).

    Exit codes: 0 done, 3 degraded, 4 timeout.

    \b
    Examples:
      driftless app wait guestbook --health --timeout 120
    """
    if not want_sync and not want_health:
        want_sync = want_health = True
    ns = app_namespace(namespace)

    async def run(apps: Apps) -> int:
        return await _wait(
            apps, name, ns, want_sync=want_sync, want_health=want_health, timeout=timeout
        )

    return await with_apps(globals_, run)


@app_group.command("history")
@click.argument("name")
@namespace_option("the Application")
@output_option(("table", "json", "yaml"))
@click.pass_obj
@run_async
async def history_app(globals_: Globals, name: str, namespace: str | None, output: str) -> None:
    """List the app's past syncs (newest last); IDs are what `rollback` takes.

    -o json/yaml prints the entries as stored in status.history (a list,
    newest last), so a script can pick the id to roll back to.

    \b
    Examples:
      driftless app history guestbook
      driftless app history guestbook -o json | jq '.[-2].id'
    """
    ns = app_namespace(namespace)
    app = redacted(await with_apps(globals_, lambda apps: apps.get(name, ns)))
    entries: list[JSON] = (app.get("status") or {}).get("history") or []
    if output != "table":
        click.echo(dump(entries, output))
        return
    if not entries:
        click.echo(f"application {name} has no sync history yet", err=True)
        return
    headers = ["id", "date", "revision", "result", "initiated by", "path"]
    click.echo(table(headers, [history_row(entry) for entry in entries]))


def history_row(entry: JSON) -> list[str]:
    """One history table row. Pure."""
    by = entry.get("initiatedBy") or {}
    who = "automated" if by.get("automated") else (by.get("username") or "-")
    return [
        str(entry["id"]),
        entry.get("deployedAt", ""),
        entry["revision"][:12],
        entry.get("result", ""),
        who,
        (entry.get("source") or {}).get("path", ""),
    ]


@app_group.command("rollback")
@click.argument("name")
@click.argument("history_id", type=int)
@namespace_option("the Application")
@click.option("--wait/--no-wait", default=True, show_default=True)
@timeout_option("5m", "How long --wait waits")
@click.pass_obj
@run_async
async def rollback_app(
    globals_: Globals,
    name: str,
    history_id: int,
    namespace: str | None,
    wait: bool,
    timeout: float,
) -> int:
    """Sync the app back to the revision of a history entry.

    Automated sync is turned off first (otherwise the controller would sync
    forward again at once); turn it back on with `driftless app set` or by
    editing spec.syncPolicy.automated.

    \b
    Example:
      driftless app history guestbook
      driftless app rollback guestbook 3
    """
    ns = app_namespace(namespace)

    async def run(apps: Apps) -> int:
        requested_at = _requested_at()
        rollback = await apps.rollback(name, ns, history_id)
        if rollback.automation_disabled:
            click.echo(f"automated sync of {name} disabled for the rollback", err=True)
        click.echo(
            f"rolling back {name} to {rollback.revision[:12]} (history {history_id})", err=True
        )
        if not wait:
            return EXIT_OK
        # The target revision is newer than the one rolled back to, so the app
        # reads OutOfSync afterwards: success is the operation's own result.
        return await _wait(
            apps,
            name,
            ns,
            want_sync=False,
            want_health=False,
            timeout=timeout,
            operation_started=requested_at,
        )

    return await with_apps(globals_, run)


@app_group.command("terminate-op")
@click.argument("name")
@namespace_option("the Application")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until it stopped.")
@timeout_option("2m", "How long --wait waits")
@click.pass_obj
@run_async
async def terminate_op(
    globals_: Globals, name: str, namespace: str | None, wait: bool, timeout: float
) -> int:
    """Stop the app's running sync operation at the next safe point.

    Nothing more is applied; a running hook is left to finish on its own.
    The operation ends Terminated and is kept in the history; an automated
    sync does not retry it (a new commit or `driftless app sync` starts the
    next one). Exit codes: 0 stopped, 1 no operation running, 4 timeout.

    \b
    Example:
      driftless app terminate-op guestbook
    """
    ns = app_namespace(namespace)

    async def run(apps: Apps) -> int:
        try:
            started_at = await apps.terminate(name, ns)
        except requests.NoRunningOperationError as exc:
            click.echo(_joined(exc.message, _no_controller_hint(exc.app)), err=True)
            return EXIT_FAILED
        click.echo(
            f"application.driftless.dev/{name} termination of the operation started "
            f"{started_at} requested",
            err=True,
        )
        if not wait:
            return EXIT_OK
        return await _wait_ended(apps, name, ns, started_at, timeout)

    return await with_apps(globals_, run)


async def _wait_ended(
    apps: Apps, name: str, namespace: str, started_at: str, timeout: float
) -> int:
    """Poll until the operation that started at ``started_at`` is no longer running."""
    deadline = time.monotonic() + timeout
    while True:
        app = await apps.get(name, namespace)
        op = (app.get("status") or {}).get("operationState") or {}
        if op.get("startedAt") != started_at or op.get("phase") != OperationPhase.RUNNING:
            # A newer operation may already have replaced it: history keeps its end.
            ended = op if op.get("startedAt") == started_at else _history_entry(app, started_at)
            if ended.get("phase", ended.get("result")) == "Terminated":
                click.echo(f"operation started {started_at} terminated", err=True)
            else:
                click.echo("the operation ended on its own before it could be stopped", err=True)
            return EXIT_OK
        if time.monotonic() > deadline:
            hint = _no_controller_hint(app)
            click.echo(
                _joined(f"timed out after {timeout:.0f}s", "the operation still runs", hint),
                err=True,
            )
            return EXIT_TIMEOUT
        await asyncio.sleep(POLL_SECONDS)


def _history_entry(app: JSON, started_at: str) -> JSON:
    entries = (app.get("status") or {}).get("history") or []
    found: JSON = next((h for h in entries if h.get("startedAt") == started_at), {})
    return found
