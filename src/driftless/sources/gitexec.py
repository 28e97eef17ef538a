"""Running the git executable: the one exec edge of ``driftless.sources``.

Contract:

* ``run_git`` starts ``git`` with ``asyncio.create_subprocess_exec`` (never a
  shell), waits at most ``time_limit`` seconds, and returns its stdout. On a
  non-zero exit it raises ``GitCommandError`` carrying git's trimmed,
  redacted stderr; callers translate that into the typed errors of
  ``driftless.core.errors``, because only they know whether a failure means
  "unreachable" or "no such revision".
* A timeout or a cancellation of the awaiting task kills git's whole process
  group (git forks helpers such as ``git-remote-https``), so nothing outlives
  the call.
* The environment never lets git prompt: ``GIT_TERMINAL_PROMPT=0`` and an
  empty ``GIT_ASKPASS`` make a repository that needs credentials fail at once
  instead of hanging; ssh runs in batch mode with strict host key checking,
  so an unknown host or a missing key fails instead of prompting. Credential
  helpers configured on the machine are switched off: credentials come only
  from driftless's repository Secrets, and git never stores them anywhere.
  Credentials are injected only through ``extra_env`` (see ``gitauth``),
  never through arguments, which other users of the machine can read in
  ``/proc``; ``secrets`` are scrubbed from git's stderr before it is kept.
* Only the transports driftless supports are allowed (``GIT_ALLOW_PROTOCOL``),
  as a second fence behind URL validation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from driftless.core.errors import DriftlessError
from driftless.sources.gitauth import scrub

GIT = "git"
ALLOWED_PROTOCOLS = "file:http:https:ssh:git"
# Variables that would point git at some other repository than the one we
# name; they leak in when driftless itself runs from a git hook or an IDE.
_REPO_LOCATING_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_CEILING_DIRECTORIES",
        "GIT_DISCOVERY_ACROSS_FILESYSTEM",
        "GIT_CONFIG",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
        "GIT_PREFIX",
        "GIT_QUARANTINE_PATH",
    }
)
_MAX_STDERR = 600
# Without a repository credential, ssh still must never ask (host key or
# passphrase) and never trust an unknown host on first use.
_DEFAULT_SSH_COMMAND = "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes"


@dataclass(frozen=True)
class GitCommandError(Exception):
    """git exited non-zero (or did not finish in time).

    ``stderr`` is already trimmed and redacted; ``timed_out`` tells a hung
    command from a failed one.
    """

    command: str
    returncode: int | None
    stderr: str
    timed_out: bool = False

    def __str__(self) -> str:
        if self.timed_out:
            return f"git {self.command} timed out"
        return f"git {self.command} failed: {self.stderr or f'exit status {self.returncode}'}"


def git_environment(extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for one git process: inherited, cleaned, non-interactive."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATING_VARS}
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            # Empty (not unset): git then skips SSH_ASKPASS too and fails fast.
            "GIT_ASKPASS": "",
            "GCM_INTERACTIVE": "never",
            "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
            "LC_ALL": "C",  # stderr in English, so it can be matched
            "LANGUAGE": "C",
            "GIT_SSH_COMMAND": _DEFAULT_SSH_COMMAND,
            # An empty credential.helper resets the list: no helper of the
            # machine supplies credentials, and none stores ours.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": "",
        }
    )
    if extra_env:
        env.update(extra_env)
    return env


def trim_stderr(raw: bytes, secrets: Sequence[str] = ()) -> str:
    """git's stderr as one short redacted line: progress noise dropped, last lines kept.

    ``secrets`` are replaced wherever they occur, before trimming can cut one
    in half and leave a recognizable piece behind.
    """
    text = scrub(raw.decode("utf-8", errors="replace"), list(secrets))
    lines = [
        line.strip()
        for line in text.replace("\r", "\n").splitlines()
        if line.strip() and not line.lstrip().startswith("hint:")
    ]
    joined = "; ".join(lines)
    if len(joined) > _MAX_STDERR:
        joined = "..." + joined[-_MAX_STDERR:]
    return scrub(joined, list(secrets))


async def run_git(
    args: Sequence[str],
    *,
    git_dir: Path | None = None,
    work_tree: Path | None = None,
    cwd: Path | None = None,
    time_limit: float,
    extra_env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    secrets: Sequence[str] = (),
) -> bytes:
    """Run ``git [--git-dir=DIR] [--work-tree=DIR] ARGS...`` and return its stdout.

    ``time_limit`` (seconds) is mandatory rather than left to the caller's
    ``asyncio.timeout``, so no git call can ever be made without one. Raises
    ``GitCommandError`` on failure or timeout, ``DriftlessError`` when git
    cannot be started at all. ``secrets`` never appear in the error.
    """
    argv = [GIT]
    if git_dir is not None:
        argv.append(f"--git-dir={git_dir}")
    if work_tree is not None:
        argv.append(f"--work-tree={work_tree}")
    argv.extend(args)
    command = args[0] if args else ""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=git_environment(extra_env),
            # Own process group, so a timeout can kill git's helpers too.
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise DriftlessError("the git executable was not found on PATH") from exc
    except OSError as exc:
        raise DriftlessError(f"cannot start git: {exc}") from exc
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(stdin), time_limit)
    except TimeoutError:
        await _kill(proc)
        raise GitCommandError(command, None, "", timed_out=True) from None
    except BaseException:
        # Cancelled: do not leave a git process behind.
        await _kill(proc)
        raise
    if proc.returncode != 0:
        raise GitCommandError(command, proc.returncode, trim_stderr(stderr, secrets))
    return stdout


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the process group of ``proc`` and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    # Shielded: reaping must finish even when we are being cancelled.
    with contextlib.suppress(Exception):
        await asyncio.shield(proc.wait())
