"""Handing a repository credential to one git process without leaking it.

Contract:

* ``git_auth(credential, url)`` is an async context manager yielding a
  ``GitAuth``: extra environment variables for git plus the secret strings
  to scrub from anything git prints. Files it needs live in a fresh private
  directory (mode 0700, files 0600) that is removed when the context exits,
  also on error or cancellation.
* https: a tiny ``/bin/sh`` *credential helper* (it holds no secret) answers
  git's ``get`` request from the variables ``DRIFTLESS_GIT_USERNAME`` /
  ``DRIFTLESS_GIT_PASSWORD`` of the git process — but only when the
  ``protocol`` and ``host`` (with port) git names on its stdin are exactly
  the scheme and host of the repository the credential was matched for.
  git asks again for a host it was redirected to; the helper stays silent
  there, so a redirect to another host (or scheme or port) never receives
  the token. On top of that, git does not follow redirects at all while a
  credential is attached (``http.followRedirects=false``). So the secret
  is never in a process argument (``/proc/*/cmdline`` is world-readable),
  never in the URL (git would print it and store it in the clone's config),
  never in a file, and never sent to a host it was not registered for; a
  process environment is readable only by its owner.
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
from driftless.sources.urls import parse_repo_url, redact

__all__ = ["NO_AUTH", "GitAuth", "git_auth", "scrub"]

USERNAME_VAR = "DRIFTLESS_GIT_USERNAME"
PASSWORD_VAR = "DRIFTLESS_GIT_PASSWORD"
PROTOCOL_VAR = "DRIFTLESS_GIT_PROTOCOL"
HOST_VAR = "DRIFTLESS_GIT_HOST"
# git runs the helper as "<helper> get|store|erase" with "key=value" lines on
# stdin (protocol, host[:port], path...), ended by an empty line. printf and
# read are shell builtins, so a value is never an argument of another process.
_HELPER_SCRIPT = f"""#!/bin/sh
[ "$1" = get ] || exit 0
protocol=
host=
while IFS= read -r line; do
  case "$line" in
    protocol=*) protocol="${{line#protocol=}}" ;;
    host=*) host="${{line#host=}}" ;;
    "") break ;;
  esac
done
if [ -n "$protocol" ] && [ "$protocol" = "${PROTOCOL_VAR}" ] && [ "$host" = "${HOST_VAR}" ]; then
  printf 'username=%s\npassword=%s\n' "${USERNAME_VAR}" "${PASSWORD_VAR}"
fi
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
    config: tuple[tuple[str, str], ...] = ()  # git -c settings, passed through the environment

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
    else:
        _check_https_values(credential, label)
    # mkdtemp creates the directory 0700: nobody else can even list it.
    workdir = Path(tempfile.mkdtemp(prefix="driftless-auth-"))
    try:
        if credential.kind == AuthKind.SSH:
            yield GitAuth(
                env=_ssh_env(credential, workdir), secrets=credential.secret_values(), label=label
            )
        else:
            env, config = _https_env(credential, url, workdir)
            yield GitAuth(env=env, secrets=credential.secret_values(), label=label, config=config)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _https_env(
    credential: RepoCredential, url: str, workdir: Path
) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    helper = _write_private(workdir / "credential-helper.sh", _HELPER_SCRIPT, mode=0o700)
    target = parse_repo_url(url)
    env = {
        USERNAME_VAR: credential.username,
        PASSWORD_VAR: credential.password,
        PROTOCOL_VAR: target.scheme,
        HOST_VAR: target.hostport,
    }
    config = (
        # "!cmd": git runs cmd through the shell and appends the action (get).
        ("credential.helper", "!" + shlex.quote(str(helper))),
        # git matches credentials by host only; the helper decides, so git
        # must not narrow or widen that by path.
        ("credential.useHttpPath", "false"),
        ("http.followRedirects", "false"),
    )
    return env, config


def _check_https_values(credential: RepoCredential, label: str) -> None:
    """A newline in a value would let it add lines to the helper's answer."""
    if any(ch in value for value in (credential.username, credential.password) for ch in "\r\n\0"):
        raise SourceUnavailableError(f"{label}: username and password must be single-line")


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
