"""``driftless repo ...``: manage repository credentials (labelled Secrets).

A credential is a Secret in the driftless namespace labelled
``driftless.dev/secret-type: repository`` (format: ``sources.credentials``);
the controller uses it for every app whose ``repoURL`` starts with its URL.

Nothing here ever prints a secret value: ``list`` shows name, URL, type and
whether SSH host keys are pinned; ``add`` reads a password from stdin when
asked (``--password-stdin``) so it stays out of shell history and ``ps``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from driftless.cli import listing
from driftless.cli.context import Globals, app_namespace, run_async, with_client
from driftless.cli.options import namespace_option, no_headers_option, output_option
from driftless.core.errors import SourceError
from driftless.core.models import GROUP
from driftless.core.repourl import redact
from driftless.kube.client import KubeClient
from driftless.pipeline import config_views
from driftless.sources import credentials as creds

JSON = dict[str, Any]


@click.group("repo")
def repo_group() -> None:
    """Manage credentials for private git repositories."""


# -- add ---------------------------------------------------------------------------


@repo_group.command("add")
@click.argument("url")
@click.option("--username", default=None, help="User name for https (default: git).")
@click.option("--password", default=None, help="Password or token (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password or token from stdin.")
@click.option(
    "--ssh-private-key-path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Unencrypted private key for ssh:// and user@host:path URLs.",
)
@click.option(
    "--known-hosts-path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="known_hosts lines of the SSH server (e.g. from ssh-keyscan).",
)
@click.option(
    "--insecure-ignore-host-key",
    is_flag=True,
    help="Trust any SSH host key (a man in the middle could read the repository).",
)
@click.option("--name", default=None, help="Secret name (default: derived from the URL).")
@click.option("--upsert", is_flag=True, help="Replace an existing credential for this URL.")
@namespace_option("the credential Secrets")
@click.pass_obj
@run_async
async def add_repo(
    globals_: Globals,
    url: str,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    ssh_private_key_path: Path | None,
    known_hosts_path: Path | None,
    insecure_ignore_host_key: bool,
    name: str | None,
    upsert: bool,
    namespace: str | None,
) -> None:
    """Store a credential for URL and every repository below it.

    \b
    Examples:
      echo "$TOKEN" | driftless repo add https://git.example.com/team --password-stdin
      driftless repo add ssh://git@git.example.com/team/deploy.git \\
          --ssh-private-key-path ~/.ssh/deploy --known-hosts-path known_hosts
    """
    if password_stdin:
        if password is not None:
            raise click.UsageError("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.read().rstrip("\r\n")
    elif password is not None:
        click.echo("warning: --password is visible to other users; use --password-stdin", err=True)
    credential = _credential(
        url,
        name=name,
        username=username,
        password=password,
        key_path=ssh_private_key_path,
        known_hosts_path=known_hosts_path,
        insecure=insecure_ignore_host_key,
    )
    ns = app_namespace(namespace)
    secret = creds.repository_secret(credential, ns)
    await with_client(globals_, lambda client: _store(client, secret, credential, upsert))
    click.echo(
        f"repository credential {credential.name} ({credential.kind.value}) stored for"
        f" {creds.summary(credential)['url']} in namespace {ns}"
    )


def _credential(
    url: str,
    *,
    name: str | None,
    username: str | None,
    password: str | None,
    key_path: Path | None,
    known_hosts_path: Path | None,
    insecure: bool,
) -> creds.RepoCredential:
    """The credential the flags describe, checked exactly as the controller will read it."""
    if known_hosts_path is not None and insecure:
        raise click.UsageError(
            "--known-hosts-path and --insecure-ignore-host-key are mutually exclusive"
        )
    if key_path is not None and not (known_hosts_path or insecure):
        raise click.UsageError(
            "an SSH credential needs --known-hosts-path (e.g. `ssh-keyscan HOST > known_hosts`)"
            " or, knowingly, --insecure-ignore-host-key"
        )
    try:
        secret_name = name or creds.secret_name_for(url)
    except SourceError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    credential = creds.RepoCredential(
        name=secret_name,
        url=url.strip(),
        username=username or "",
        password=password or "",
        ssh_private_key=_read(key_path),
        known_hosts=_read(known_hosts_path),
        insecure_ignore_host_key=insecure,
    )
    try:
        # Round-trip through the Secret format: what is stored is what works.
        return creds.parse_secret(creds.repository_secret(credential, "check"))
    except creds.CredentialError as exc:
        raise click.UsageError(str(exc).replace("repository Secret check: ", "")) from None


def _read(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}") from None


async def _store(
    client: KubeClient, secret: JSON, credential: creds.RepoCredential, upsert: bool
) -> None:
    ns = secret["metadata"]["namespace"]
    clash = [
        c
        for c in await _credentials(client, ns)
        if c.prefix == credential.prefix and c.name != credential.name
    ]
    if clash:
        raise click.ClickException(
            f"repository credential {clash[0].name} already covers {credential.prefix};"
            f" remove it first (driftless repo rm {clash[0].name})"
        )
    existing = await client.get("v1", "Secret", credential.name, ns)
    if existing is None:
        await client.create(secret)
        return
    if not upsert:
        raise click.ClickException(
            f"repository credential {credential.name} already exists; use --upsert to replace it"
        )
    # A merge patch replaces every key: old keys not set now are removed
    # (switching from a password to a key must not leave the password).
    data: dict[str, str | None] = dict.fromkeys(existing.get("data") or {})
    data.update(secret["data"])
    patch = {"metadata": {"labels": secret["metadata"]["labels"]}, "data": data}
    await client.merge_patch("v1", "Secret", credential.name, patch, namespace=ns)


async def _credential_secrets(client: KubeClient, namespace: str) -> list[JSON]:
    return await client.list(
        "v1", "Secret", namespace, label_selector=creds.REPOSITORY_SECRET_LABEL
    )


async def _credentials(client: KubeClient, namespace: str) -> list[creds.RepoCredential]:
    found = []
    for secret in await _credential_secrets(client, namespace):
        try:
            found.append(creds.parse_secret(secret))
        except creds.CredentialError:
            continue
    return found


# -- list --------------------------------------------------------------------------------


REPO_LISTING_COLUMNS = (
    listing.Column("name", listing.field_of("metadata", "name")),
    listing.Column("url", listing.field_of("spec", "url", default="-")),
    listing.Column("type", listing.field_of("spec", "type")),
    listing.Column("known-hosts", listing.field_of("spec", "knownHosts", default="-")),
    listing.age_column(wide=True),
    listing.Column("status", listing.field_of("status", "message"), wide=True),
)


@repo_group.command("list")
@namespace_option("the credential Secrets")
@output_option()
@no_headers_option
@click.pass_obj
@run_async
async def list_repos(
    globals_: Globals, namespace: str | None, output: str, no_headers: bool
) -> None:
    """List repository credentials (never their secret values).

    \b
    Examples:
      driftless repo list
      driftless repo list -o wide
    """
    ns = app_namespace(namespace)
    secrets = await with_client(globals_, lambda client: _credential_secrets(client, ns))
    items = sorted(
        (repository_view(s) for s in secrets),
        key=lambda item: (item["spec"]["url"], item["metadata"]["name"]),
    )
    repos = listing.Listing(
        resource=f"repositorycredential.{GROUP}",
        columns=REPO_LISTING_COLUMNS,
        empty=f"No repository credentials in namespace {ns}.",
    )
    listing.write(repos, items, output, no_headers=no_headers)


def repository_view(secret: JSON) -> JSON:
    """What ``list`` shows of a credential Secret: never a secret value. Pure.

    An unusable Secret is listed with why (type ``invalid``), still without its values.
    """
    meta = secret.get("metadata") or {}
    spec = config_views.repository_summary(secret)
    message = spec.pop("message") or "ok"
    return listing.view(
        "RepositoryCredential",
        str(meta.get("name", "")),
        namespace=meta.get("namespace"),
        created=meta.get("creationTimestamp"),
        spec=spec,
        status={"message": message},
    )


# -- rm ----------------------------------------------------------------------------------


@repo_group.command("rm")
@click.argument("url_or_name")
@namespace_option("the credential Secrets")
@click.pass_obj
@run_async
async def remove_repo(globals_: Globals, url_or_name: str, namespace: str | None) -> None:
    """Remove the repository credential with this name or URL.

    \b
    Examples:
      driftless repo rm https://git.example.com/team
      driftless repo rm repo-git-example-com-team-1a2b3c4d
    """
    ns = app_namespace(namespace)
    name = await with_client(globals_, lambda client: _remove(client, url_or_name, ns))
    click.echo(f"repository credential {name} removed")


async def _remove(client: KubeClient, url_or_name: str, namespace: str) -> str:
    secrets = await _credential_secrets(client, namespace)
    # Only labelled Secrets are candidates: never delete some other Secret by name.
    by_name = [s for s in secrets if s["metadata"]["name"] == url_or_name]
    targets = by_name or [s for s in secrets if _same_url(s, url_or_name)]
    if not targets:
        raise click.ClickException(
            f"no repository credential named or for {redact(url_or_name)!r}"
            f" in namespace {namespace}"
        )
    if len(targets) > 1:
        names = ", ".join(sorted(s["metadata"]["name"] for s in targets))
        raise click.ClickException(f"{redact(url_or_name)!r} matches several credentials: {names}")
    name = str(targets[0]["metadata"]["name"])
    await client.delete("v1", "Secret", name, namespace)
    return name


def _same_url(secret: JSON, url: str) -> bool:
    try:
        return creds.parse_secret(secret).prefix == creds.normalize_prefix(url)
    except (creds.CredentialError, SourceError):
        return False
