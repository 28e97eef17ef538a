"""``driftless login`` and ``driftless logout``: sessions with a driftless server.

``login SERVER`` logs in with the password of a local account (``POST
/api/v1/session``; asked at the terminal, or one line of stdin with
``--password-stdin``) or stores a project token (``--token``: from
``$DRIFTLESS_AUTH_TOKEN`` or one line of stdin, never an argument, which
``ps`` would show) or logs in through the browser with the server's single
sign-on (``--sso``: ``remote.sso``), then records the server in the credentials file
(``remote.credentials``: 0600) and makes it the current one: the app
commands go through it from then on (the rule: ``remote.target``).
``logout [SERVER]`` ends the session on the server (``DELETE
/api/v1/session``) and forgets it here; a token is only forgotten here (it
stays valid until revoked). No password, token or cookie is ever printed.
"""

from __future__ import annotations

import os
import sys

import click

from driftless.cli.context import run_async
from driftless.cli.exits import UsageFailedError
from driftless.cli.remote import credentials, sso
from driftless.cli.remote.client import (
    NotLoggedInError,
    Remote,
    ServerError,
    Session,
    auth_headers,
    shown,
)
from driftless.cli.remote.connect import TOKEN_ENV
from driftless.core.errors import DriftlessError

__all__ = ["login_command", "logout_command"]

MAX_SECRET = 4096


def _line_of_stdin(what: str) -> str:
    """The first line of stdin, for a password or token; a usage error when there is none."""
    text = sys.stdin.readline(MAX_SECRET + 1).rstrip("\r\n")
    if not text:
        raise UsageFailedError(f"no {what} on stdin")
    if len(text) > MAX_SECRET:
        raise UsageFailedError(f"the {what} on stdin is longer than {MAX_SECRET} characters")
    return text


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return _line_of_stdin("password")
    if not sys.stdin.isatty():
        raise UsageFailedError("no terminal to ask the password at: use --password-stdin")
    password: str = click.prompt("Password", hide_input=True)
    return password


@click.command("login")
@click.argument("server")
@click.option("--username", default="admin", show_default=True, help="The account to log in with.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (one line).")
@click.option(
    "--token",
    "use_token",
    is_flag=True,
    help=f"Log in with a project token instead, read from ${TOKEN_ENV} or stdin (one line).",
)
@click.option(
    "--sso",
    "use_sso",
    is_flag=True,
    help="Log in through the browser with the server's single sign-on.",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="With --sso: only print the URL to open. The browser must run on this machine"
    " (it comes back to a port of 127.0.0.1), or forward that port to where it runs.",
)
@click.option(
    "--timeout",
    type=click.IntRange(1, 3600),
    default=300,
    show_default=True,
    help="With --sso: how long to wait for the browser's login, in seconds.",
)
@click.option(
    "--insecure-skip-tls-verify",
    "insecure",
    is_flag=True,
    help="Do not check the server's certificate (its traffic can then be read and changed).",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Check the server's certificate against this CA bundle (PEM).",
)
@run_async
async def login_command(
    server: str,
    username: str,
    password_stdin: bool,
    use_token: bool,
    use_sso: bool,
    no_browser: bool,
    timeout: int,
    insecure: bool,
    ca_file: str | None,
) -> None:
    """Log in to a driftless server; the app commands then go through it.

    The session (or token) is stored 0600 in $XDG_CONFIG_HOME/driftless/
    servers.json (~/.config/...), one entry per server; the last login is the
    current server. See `driftless app --help` for when a command uses the
    server and when a kubeconfig.

    \b
    Examples:
      driftless login https://driftless.example.com
      kubectl -n driftless get secret driftless-initial-admin \\
        -o jsonpath='{.data.password}' | base64 -d \\
        | driftless login https://driftless.example.com --password-stdin
      DRIFTLESS_AUTH_TOKEN=... driftless login https://driftless.example.com --token
      driftless login https://driftless.example.com --sso
    """
    if insecure and ca_file:
        raise UsageFailedError("--insecure-skip-tls-verify and --ca-file contradict each other")
    if sum((use_token, password_stdin, use_sso)) > 1:
        raise UsageFailedError("--token, --password-stdin and --sso contradict each other")
    if no_browser and not use_sso:
        raise UsageFailedError("--no-browser goes with --sso")
    url = credentials.server_url(server)
    stored = credentials.load()
    if use_token:
        token = os.environ.get(TOKEN_ENV, "").strip() or _line_of_stdin("token")
        entry = await _check_token(url, token, insecure, ca_file)
    else:
        remote = Remote(url, insecure=insecure, ca_file=ca_file)
        try:
            if use_sso:
                session = await sso.browser_login(
                    remote,
                    timeout=timeout,
                    open_browser=not no_browser,
                    say=lambda text: click.echo(text, err=True),
                )
            else:
                session = await _password_login(remote, username, _password(password_stdin))
        finally:
            await remote.close()
        entry = credentials.Entry(
            url,
            session.user,
            credentials.PASSWORD,
            session.value,
            cookie=session.cookie,
            insecure=insecure,
            ca_file=ca_file,
        )
    path = credentials.save(stored.with_entry(entry))
    who = f" as {shown(entry.user)}" if entry.user else " with a token"
    click.echo(f"logged in to {url}{who} (credentials in {path})")


async def _password_login(remote: Remote, username: str, password: str) -> Session:
    try:
        return await remote.login(username, password)
    except ServerError as exc:
        if exc.status == 401:
            raise DriftlessError(f"login to {remote.url} refused: {exc.message}") from None
        raise


async def _check_token(
    url: str, token: str, insecure: bool, ca_file: str | None
) -> credentials.Entry:
    """The entry of a token the server takes (a 403 to list apps is still a known token)."""
    entry = credentials.Entry(url, "", credentials.TOKEN, token, insecure=insecure, ca_file=ca_file)
    remote = Remote(url, headers=auth_headers(entry), insecure=insecure, ca_file=ca_file)
    try:
        await remote.call("GET", "/api/v1/applications", params={"limit": 1})
    except NotLoggedInError:
        raise DriftlessError(f"{url} refused the token (unknown, revoked or expired)") from None
    except ServerError as exc:
        if exc.status != 403:
            raise
    finally:
        await remote.close()
    return entry


@click.command("logout")
@click.argument("server", required=False)
@run_async
async def logout_command(server: str | None) -> None:
    """End the session with a driftless server (default: the current one) and forget it.

    A token is only forgotten here: it stays valid on the server until it is
    revoked or expires.
    """
    stored = credentials.load()
    url = credentials.server_url(server) if server else stored.current
    entry = stored.servers.get(url) if url is not None else None
    if url is None or entry is None:
        raise DriftlessError(f"not logged in to {url or 'any server'}")
    if entry.method == credentials.PASSWORD:
        remote = Remote(
            url, headers=auth_headers(entry), insecure=entry.insecure, ca_file=entry.ca_file
        )
        try:
            answer = await remote.call("DELETE", "/api/v1/session")
        except ServerError as exc:
            click.echo(
                f"warning: the session could not be ended on the server ({exc.message});"
                " it ends when it expires",
                err=True,
            )
            answer = None
        finally:
            await remote.close()
        provider = answer.get("endSessionUrl") if isinstance(answer, dict) else None
        if isinstance(provider, str) and provider:
            click.echo(f"to log out of the identity provider too, open {shown(provider)}")
    credentials.save(stored.without(url))
    click.echo(f"logged out of {url}")
