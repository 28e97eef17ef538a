"""Open what an app command works with: a kubeconfig's client or a logged-in server.

``with_apps(globals_, body)`` applies ``target.choose`` (flags, environment,
the credentials file) and runs ``body`` with a ``KubeApps`` or a
``ServerApps``. Through a server, the credential is ``$DRIFTLESS_AUTH_TOKEN``
when set (a project token, for pipelines: no login, no file), else the one
``driftless login`` stored for that server; with neither, the command ends
with "not logged in to URL: run `driftless login URL`".
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from driftless.cli.context import Globals, NoKubeconfigError
from driftless.cli.remote import credentials
from driftless.cli.remote.apps import Apps, KubeApps, ServerApps, using
from driftless.cli.remote.client import NotLoggedInError, Remote, auth_headers
from driftless.cli.remote.target import Target, choose

__all__ = ["TOKEN_ENV", "remote_for", "target_of", "with_apps"]

T = TypeVar("T")
TOKEN_ENV = "DRIFTLESS_AUTH_TOKEN"
LOGIN_HINT = "or log in to a driftless server (`driftless login SERVER`)"


def target_of(globals_: Globals) -> Target:
    """Where this command goes (``target`` says the rule); reads the credentials file if needed."""
    kube_flag = globals_.kubeconfig_from_flag or globals_.context is not None
    server_flag = globals_.server if globals_.server_from_flag else None
    server_env = None if globals_.server_from_flag else globals_.server
    env_file = (
        not kube_flag
        and globals_.kubeconfig is not None
        and Path(globals_.kubeconfig).expanduser().is_file()
    )
    # The file is read only when it decides: a flag or variable works without it.
    decided = bool(server_flag or kube_flag or server_env or env_file)
    return choose(
        server_flag=server_flag,
        kube_flag=kube_flag,
        server_env=server_env,
        kubeconfig_env_file=env_file,
        logged_in=None if decided else credentials.load().current,
    )


def remote_for(server: str) -> Remote:
    """A client of ``server`` with its credential (see the module doc)."""
    url = credentials.server_url(server)
    token = os.environ.get(TOKEN_ENV, "").strip() or None
    entry = credentials.load().servers.get(url)
    if token is None and entry is None:
        raise NotLoggedInError(f"not logged in to {url}: run `driftless login {url}`")
    return Remote(
        url,
        headers=auth_headers(entry, token),
        insecure=entry.insecure if entry is not None else False,
        ca_file=entry.ca_file if entry is not None else None,
    )


async def with_apps(globals_: Globals, body: Callable[[Apps], Awaitable[T]]) -> T:
    """Run ``body`` with the app commands' backend, closed afterwards."""
    target = target_of(globals_)
    if target.server is not None:
        return await using(ServerApps(remote_for(target.server)), body)
    try:
        client = await globals_.client()
    except NoKubeconfigError as exc:
        raise NoKubeconfigError(f"{exc.message}; {LOGIN_HINT}") from None
    return await using(KubeApps(client), body)
