"""Handing a repository credential to one git process without leaking it.

Contract:

* ``git_auth(credential, url)`` is an async context manager yielding a
  ``GitAuth``: extra environment variables for git plus the secret strings
  to scrub from anything git prints. Files it needs live in a fresh private
  directory (mode 0700, files 0600) that is removed when the context exits,
  also on error or cancellation.
* https: ``GIT_ASKPASS`` names a tiny ``/bin/sh`` helper (it holds no secret)
  that answers git's username/password prompts from the variables
  ``DRIFTLESS_GIT_USERNAME`` / ``DRIFTLESS_GIT_PASSWORD`` of the git process.
  So the secret is never in a process argument (``/proc/*/cmdline`` is
  world-readable), never in the URL (git would print it and store it in the
  clone's config), and never in a file; a process environment is readable
  only by its owner.
* SSH: ``GIT_SSH_COMMAND`` runs ``ssh`` with the key file, the Secret's
  ``knownHosts`` as the *only* trusted host keys, strict checking and batch
  mode (no prompt can hang a reconcile). Without ``knownHosts`` the
  connection is refused before ssh runs, unless the credential explicitly
  says ``insecureIgnoreHostKey``: a host key is never trusted silently.
* A credential that cannot be used raises ``SourceUnavailableError`` (the
  Secret can be fixed without touching the app, so the app is retried).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from driftless.core.errors import SourceUnavailableError
from driftless.sources.credentials import AuthKind, RepoCredential
from driftless.sources.urls import redact

__all__ = ["NO_AUTH", "GitAuth", "git_auth", "scrub"]

USERNAME_VAR = "DRIFTLESS_GIT_USERNAME"
PASSWORD_VAR = "DRIFTLESS_GIT_PASSWORD"
# git calls the helper with its prompt ("Username for 'https://host': ") as
# the only argument. printf is a shell builtin, so the value is never an
# argument of another process either.
_ASKPASS_SCRIPT = f"""#!/bin/sh
case "$1" in
  [Uu]sername*) printf '%s\\n' "${USERNAME_VAR}" ;;
  *) printf '%s\\n' "${PASSWORD_VAR}" ;;
esac
"""
_SSH_CONNECT_TIMEOUT = 30
_REDACTED = "[redacted]"


@dataclass(frozen=True)
class GitAuth:
    """What one git process needs to authenticate, and what must never be shown.

    ``label`` names the credential in messages (its Secret), never a value.
    """

    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    label: str | None = None

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)


NO_AUTH = GitAuth()


def scrub(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """``text`` with URL userinfo and every one of ``secrets`` replaced."""
    # Longest first, so a secret containing another is not half-replaced.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, _REDACTED)
    return redact(text)


@asynccontextmanager
async def git_auth(credential: RepoCredential | None, url: str) -> AsyncIterator[GitAuth]:
    """The environment that lets git use ``credential`` for ``url``; files removed on exit."""
    if credential is None:
        yield NO_AUTH
        return
    label = f"repository credential {credential.name!r}"
    if credential.kind == AuthKind.SSH:
        _check_host_keys(credential, url, label)
    # mkdtemp creates the directory 0700: nobody else can even list it.
    workdir = Path(tempfile.mkdtemp(prefix="driftless-auth-"))
    try:
        if credential.kind == AuthKind.SSH:
            env = _ssh_env(credential, workdir)
        else:
            env = _https_env(credential, workdir)
        yield GitAuth(env=env, secrets=credential.secret_values(), label=label)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _https_env(credential: RepoCredential, workdir: Path) -> dict[str, str]:
    askpass = _write_private(workdir / "askpass.sh", _ASKPASS_SCRIPT, mode=0o700)
    return {
        "GIT_ASKPASS": str(askpass),
        USERNAME_VAR: credential.username,
        PASSWORD_VAR: credential.password,
    }


def _ssh_env(credential: RepoCredential, workdir: Path) -> dict[str, str]:
    key = _write_private(workdir / "id", credential.ssh_private_key)
    options = {
        "IdentitiesOnly": "yes",
        "BatchMode": "yes",
        "ConnectTimeout": str(_SSH_CONNECT_TIMEOUT),
        # The Secret's knownHosts is the only trust anchor, not /etc/ssh.
        "GlobalKnownHostsFile": "/dev/null",
    }
    if credential.insecure_ignore_host_key:
        options |= {
            "StrictHostKeyChecking": "no",
            "UserKnownHostsFile": "/dev/null",
            "LogLevel": "ERROR",
        }
    else:
        known_hosts = _write_private(workdir / "known_hosts", credential.known_hosts + "\n")
        options |= {"StrictHostKeyChecking": "yes", "UserKnownHostsFile": str(known_hosts)}
    argv = ["ssh", "-i", str(key)]
    for name, value in options.items():
        argv += ["-o", f"{name}={value}"]
    # git runs GIT_SSH_COMMAND through the shell; quote every word.
    return {"GIT_SSH_COMMAND": shlex.join(argv), "GIT_SSH_VARIANT": "ssh"}


def _check_host_keys(credential: RepoCredential, url: str, label: str) -> None:
    if credential.known_hosts or credential.insecure_ignore_host_key:
        return
    raise SourceUnavailableError(
        f"host key verification failed for {redact(url)}: {label} has no knownHosts"
        ' (add the server\'s known_hosts lines, or set insecureIgnoreHostKey: "true")'
    )


def _write_private(path: Path, content: str, *, mode: int = 0o600) -> Path:
    """Create ``path`` with ``mode`` from the start (never briefly readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return path
