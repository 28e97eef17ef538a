"""Whether an app command talks to the Kubernetes API or to a driftless server. Pure.

The one rule (also in ``driftless --help`` and the README), first match wins,
the way kubectl ranks a flag over an environment variable over a default:

1. ``--server URL``                               -> that server
2. ``--kubeconfig`` or ``--context`` on the command line -> the kubeconfig
3. ``$DRIFTLESS_SERVER``                          -> that server
4. ``$KUBECONFIG`` naming a file that exists      -> the kubeconfig
5. a current server from ``driftless login``      -> that server
6. otherwise                                      -> the kubeconfig
   (``~/.kube/config``, or the in-cluster account; none: an error that
   names both ways in)

Why a login outranks ``~/.kube/config`` but not ``$KUBECONFIG``: logging in
is a deliberate act, later than a kubeconfig left in the home directory, and
``driftless logout`` undoes it; a ``$KUBECONFIG`` exported in the shell is
just as deliberate and scoped to that shell, so it wins -- and a flag always
says what this one command wants.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Target", "choose"]


@dataclass(frozen=True)
class Target:
    """``server``: the URL to talk to, or ``None`` for the kubeconfig; ``why``: the rule's words."""

    server: str | None
    why: str


def choose(
    *,
    server_flag: str | None,
    kube_flag: bool,
    server_env: str | None,
    kubeconfig_env_file: bool,
    logged_in: str | None,
) -> Target:
    """Apply the module's rule.

    ``kube_flag``: ``--kubeconfig`` or ``--context`` was given on the command
    line; ``kubeconfig_env_file``: ``$KUBECONFIG`` is set and its first path
    is a file; ``logged_in``: the current server of the credentials file.
    """
    if server_flag:
        return Target(server_flag, "--server")
    if kube_flag:
        return Target(None, "--kubeconfig/--context")
    if server_env:
        return Target(server_env, "$DRIFTLESS_SERVER")
    if kubeconfig_env_file:
        return Target(None, "$KUBECONFIG")
    if logged_in:
        return Target(logged_in, "driftless login")
    return Target(None, "default kubeconfig")
