"""``driftless project token ...``: API tokens for pipelines, bound to one project role.

=====================================================  ========================================
command                                                what it does
=====================================================  ========================================
``token create PROJECT ROLE [--expires-in 30d]``       issue a token; prints only the token
``[--id ID]``                                          (stdout): ``TOKEN=$(driftless ...)``
``token list [PROJECT] [-o wide|json|yaml|name]``      the records: id, project, role, issued,
                                                       expires, state; never a token
``token revoke ID``                                    the server refuses it within moments
``token rotate-key [--grace 24h]``                     a new signing key; the old one verifies
                                                       its tokens for ``--grace`` more
                                                       (``--grace 0``: every earlier token is
                                                       refused at once)
=====================================================  ========================================

The role must be declared in the Project's ``spec.roles`` (``project set``
or its manifest). The signing keys and records live in Secret
``driftless-api-tokens`` of the controller's namespace (``-n``, like every
``project`` command), written with the caller's kubeconfig (``pipeline.
token_store``); a token is shown once, at creation, and is kept nowhere.
Tokens are JWTs (``pipeline.tokens``): send one as ``Authorization: Bearer
<token>`` to the server's ``/api/v1``.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import click

from driftless.cli.completion import complete_names
from driftless.cli.context import Globals, app_namespace, run_async, with_client
from driftless.cli.objects import get_or_fail
from driftless.cli.options import duration_seconds, namespace_option, no_headers_option
from driftless.cli.output import dump, table
from driftless.cli.project import project_group
from driftless.core.models import API_VERSION
from driftless.core.project import PROJECT_KIND
from driftless.kube.client import KubeClient
from driftless.pipeline import token_store, tokens

complete_project = complete_names(API_VERSION, PROJECT_KIND)
HEADERS = ["id", "project", "role", "issued", "expires", "state"]
_DAYS = re.compile(r"^(\d{1,5})d$")


@project_group.group("token")
def token_group() -> None:
    """API tokens for pipelines: create, list, revoke; rotate the signing key."""


class Lifetime(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """A positive length of time, whole seconds: ``30d``, ``12h``, ``1h30m``, ``90s``, ``3600``."""

    name = "duration"

    def __init__(self, *, zero: bool = False) -> None:
        self.zero = zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip()
        days = _DAYS.match(text)
        try:
            seconds = int(days.group(1)) * 86400 if days else int(duration_seconds(text))
        except ValueError:
            self.fail(f"invalid duration {text!r}: use e.g. 30d, 12h, 1h30m or 90s", param, ctx)
        if seconds <= 0 and not (self.zero and seconds == 0):
            self.fail(f"{text!r} must be positive", param, ctx)
        return seconds


def _when(epoch: int | None) -> str:
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def state_of(record: tokens.TokenRecord, table: tokens.TokenTable, now: float) -> str:
    """``revoked``, ``expired``, ``key-retired`` (its key verifies no more) or ``active``. Pure."""
    if record.revoked:
        return "revoked"
    if record.expired_at(now):
        return "expired"
    key = next((k for k in table.keys if k.kid == record.kid), None)
    if key is None or not key.valid_at(now):
        return "key-retired"
    return "active"


def record_view(record: tokens.TokenRecord, table: tokens.TokenTable, now: float) -> dict[str, Any]:
    return {
        "id": record.id,
        "project": record.project,
        "role": record.role,
        "subject": tokens.subject(record.project, record.role),
        "issued": _when(record.issued),
        "expires": None if record.expires is None else _when(record.expires),
        "state": state_of(record, table, now),
    }


def _roles(project: dict[str, Any]) -> list[str]:
    roles = (project.get("spec") or {}).get("roles") or []
    return [str(r.get("name")) for r in roles if isinstance(r, dict) and r.get("name")]


async def _create(
    client: KubeClient,
    namespace: str,
    project: str,
    role: str,
    expires_in: int | None,
    token_id: str | None,
) -> str:
    found = await get_or_fail(client, API_VERSION, PROJECT_KIND, project, namespace)
    roles = _roles(found)
    if role not in roles:
        known = ", ".join(roles) if roles else "none"
        raise click.ClickException(
            f'project "{project}" has no role "{role}" (its roles: {known});'
            " add it to spec.roles first"
        )

    def change(table: tokens.TokenTable) -> tuple[tokens.TokenTable, str]:
        table, token, _ = tokens.issue(
            table,
            namespace=namespace,
            project=project,
            role=role,
            now=int(time.time()),
            expires_in=expires_in,
            token_id=token_id,
        )
        return table, token

    return await token_store.TokenStore(client, namespace).update(change)


@token_group.command("create")
@click.argument("project", shell_complete=complete_project)
@click.argument("role")
@click.option(
    "--expires-in",
    type=Lifetime(),
    default=None,
    help="Refuse the token after this long (30d, 12h, 1h30m); default: never expires.",
)
@click.option("--id", "token_id", default=None, help="The token's id (default: random).")
@namespace_option("the Project")
@click.pass_obj
@run_async
async def create_token(
    globals_: Globals,
    project: str,
    role: str,
    expires_in: int | None,
    token_id: str | None,
    namespace: str | None,
) -> None:
    """Issue an API token for ROLE of PROJECT; prints the token (only now, keep it secret).

    \b
    Examples:
      driftless project token create team-a ci --expires-in 30d
      TOKEN=$(driftless project token create team-a ci --id deploy-pipeline)
      curl -H "Authorization: Bearer $TOKEN" https://driftless.example/api/v1/applications
    """
    ns = app_namespace(namespace)
    token = await with_client(
        globals_, lambda client: _create(client, ns, project, role, expires_in, token_id)
    )
    click.echo(token)


@token_group.command("list")
@click.argument("project", required=False, shell_complete=complete_project)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json", "yaml", "name"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@no_headers_option
@namespace_option("the Projects")
@click.pass_obj
@run_async
async def list_tokens(
    globals_: Globals, project: str | None, output: str, no_headers: bool, namespace: str | None
) -> None:
    """List the API tokens' records (all projects, or PROJECT's); never the tokens.

    \b
    Examples:
      driftless project token list
      driftless project token list team-a -o yaml
    """
    ns = app_namespace(namespace)
    table_ = await with_client(globals_, lambda c: token_store.TokenStore(c, ns).read())
    now = time.time()
    views = [
        record_view(r, table_, now)
        for r in sorted(table_.records, key=lambda r: (r.project, r.role, r.issued, r.id))
        if project is None or r.project == project
    ]
    if output in ("json", "yaml"):
        click.echo(dump(views, output))
    elif output == "name":
        for view in views:
            click.echo(view["id"])
    else:
        headers = [*HEADERS, "subject"] if output == "wide" else HEADERS
        rows = [[str(v[h] if v[h] is not None else "never") for h in headers] for v in views]
        if rows or no_headers:
            click.echo(table(headers, rows, no_headers=no_headers))
        else:
            click.echo("No API tokens.", err=True)


@token_group.command("revoke")
@click.argument("token_id", metavar="ID")
@namespace_option("the Projects")
@click.pass_obj
@run_async
async def revoke_token(globals_: Globals, token_id: str, namespace: str | None) -> None:
    """Revoke a token: the server refuses it from its next watch event (within moments).

    \b
    Examples:
      driftless project token revoke deploy-pipeline
    """
    ns = app_namespace(namespace)

    def change(table: tokens.TokenTable) -> tuple[tokens.TokenTable, None]:
        return tokens.revoke(table, token_id), None

    await with_client(globals_, lambda c: token_store.TokenStore(c, ns).update(change))
    click.echo(f"token {token_id} revoked")


@token_group.command("rotate-key")
@click.option(
    "--grace",
    type=Lifetime(zero=True),
    default=str(tokens.DEFAULT_GRACE_SECONDS),
    help="How long the old key still verifies the tokens it signed (default 24h);"
    " 0 refuses every earlier token at once.",
)
@namespace_option("the Projects")
@click.pass_obj
@run_async
async def rotate_key(globals_: Globals, grace: int, namespace: str | None) -> None:
    """Make a new signing key; tokens of the old one stop working after --grace.

    \b
    Examples:
      driftless project token rotate-key
      driftless project token rotate-key --grace 0   # every token refused now
    """
    ns = app_namespace(namespace)

    def change(table: tokens.TokenTable) -> tuple[tokens.TokenTable, None]:
        return tokens.rotate(table, now=int(time.time()), grace=grace), None

    await with_client(globals_, lambda c: token_store.TokenStore(c, ns).update(change))
    if grace:
        click.echo(f"signing key rotated; tokens signed before stay valid for {grace} s")
    else:
        click.echo("signing key rotated; every token issued before is refused from now on")
