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
  from driftless's repository Secrets (through ``gitauth``'s host-bound
  helper, appended to the reset list), and git never stores them anywhere.
  Credentials are injected only through ``extra_env`` and ``config``,
  never through arguments, which other users of the machine can read in
  ``/proc``; ``secrets`` are scrubbed from git's stderr before it is kept.
* Only the transports driftless supports are allowed (``GIT_ALLOW_PROTOCOL``),
  as a second fence behind URL validation; callers that refuse local
  repositories pass ``allow_protocols`` without ``file``.
* ``config`` entries reach git as ``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``
  (after the reset of ``credential.helper``), never as arguments.
* Bounded: stdout is capped at ``max_stdout`` bytes and stderr keeps its last
  ``_STDERR_KEEP`` bytes, so a hostile server cannot fill the controller's
  memory through git's output; with ``disk_limit=(directory, bytes)`` the
  size of ``directory`` is polled while git runs and git is killed once it
  grows past the cap. Both raise ``GitCommandError`` with ``limit`` set.
* Every argv built from user input ends option parsing first (callers pass
  ``--end-of-options`` before URLs, revisions and refspecs), on top of the
  validation that already refuses values starting with ``-``.
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
_STDERR_KEEP = 64 * 1024
DEFAULT_MAX_STDOUT = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_DISK_POLL_SECONDS = 0.25
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
    limit: str | None = None  # which bound git was killed for

    def __str__(self) -> str:
        if self.timed_out:
            return f"git {self.command} timed out"
        if self.limit is not None:
            return f"git {self.command} stopped: {self.limit}"
        return f"git {self.command} failed: {self.stderr or f'exit status {self.returncode}'}"


def git_environment(
    extra_env: Mapping[str, str] | None = None,
    *,
    config: Sequence[tuple[str, str]] = (),
    allow_protocols: str = ALLOWED_PROTOCOLS,
) -> dict[str, str]:
    """The environment for one git process: inherited, cleaned, non-interactive."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATING_VARS}
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            # Empty (not unset): git then skips SSH_ASKPASS too and fails fast.
            "GIT_ASKPASS": "",
            "GCM_INTERACTIVE": "never",
            "GIT_ALLOW_PROTOCOL": allow_protocols,
            "LC_ALL": "C",  # stderr in English, so it can be matched
            "LANGUAGE": "C",
            "GIT_SSH_COMMAND": _DEFAULT_SSH_COMMAND,
            # An empty credential.helper resets the list: no helper of the
            # machine supplies credentials, and none stores ours.
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": "",
        }
    )
    if extra_env:
        env.update(extra_env)
    # Set after extra_env: the config list is ours alone, never the caller's env.
    for index, (key, value) in enumerate(config, start=1):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    env["GIT_CONFIG_COUNT"] = str(1 + len(config))
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
    config: Sequence[tuple[str, str]] = (),
    allow_protocols: str = ALLOWED_PROTOCOLS,
    max_stdout: int = DEFAULT_MAX_STDOUT,
    disk_limit: tuple[Path, int] | None = None,
) -> bytes:
    """Run ``git [--git-dir=DIR] [--work-tree=DIR] ARGS...`` and return its stdout.

    ``time_limit`` (seconds) is mandatory rather than left to the caller's
    ``asyncio.timeout``, so no git call can ever be made without one. Raises
    ``GitCommandError`` on failure, timeout or an exceeded bound,
    ``DriftlessError`` when git cannot be started at all. ``secrets`` never
    appear in the error.
    """
    argv = [GIT]
    if git_dir is not None:
        argv.append(f"--git-dir={git_dir}")
    if work_tree is not None:
        argv.append(f"--work-tree={work_tree}")
    argv.extend(args)
    command = args[0] if args else ""
    env = git_environment(extra_env, config=config, allow_protocols=allow_protocols)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=env,
            # Own process group, so a timeout can kill git's helpers too.
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise DriftlessError("the git executable was not found on PATH") from exc
    except OSError as exc:
        raise DriftlessError(f"cannot start git: {exc}") from exc
    try:
        async with asyncio.timeout(time_limit):
            stdout, stderr = await _collect(proc, stdin, command, max_stdout, disk_limit)
    except TimeoutError:
        await _kill(proc)
        raise GitCommandError(command, None, "", timed_out=True) from None
    except BaseException:
        # Cancelled or over a bound: do not leave a git process behind.
        await _kill(proc)
        raise
    if proc.returncode != 0:
        raise GitCommandError(command, proc.returncode, trim_stderr(stderr, secrets))
    return stdout


async def _collect(
    proc: asyncio.subprocess.Process,
    stdin: bytes | None,
    command: str,
    max_stdout: int,
    disk_limit: tuple[Path, int] | None,
) -> tuple[bytes, bytes]:
    """git's (stdout, tail of stderr) once it exits; ``GitCommandError`` past a bound."""
    assert proc.stdout is not None and proc.stderr is not None
    if stdin is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(stdin)
            await proc.stdin.drain()
        proc.stdin.close()
    stderr_task = asyncio.ensure_future(_read_tail(proc.stderr, _STDERR_KEEP))
    out = bytearray()
    reader = asyncio.ensure_future(_read_capped(proc.stdout, out, command, max_stdout))
    waiting: set[asyncio.Future[None]] = {reader}
    if disk_limit is not None:
        waiting.add(asyncio.ensure_future(_watch_disk(command, disk_limit)))
    try:
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # raises GitCommandError when a bound was crossed
        await proc.wait()
        if disk_limit is not None:
            # git may finish between two polls: the bound holds for the result too.
            await _check_disk(command, disk_limit)
        return bytes(out), await stderr_task
    finally:
        for pending in waiting:
            pending.cancel()
        stderr_task.cancel()


async def _read_capped(
    stream: asyncio.StreamReader, out: bytearray, command: str, limit: int
) -> None:
    while chunk := await stream.read(_CHUNK):
        out += chunk
        if len(out) > limit:
            raise GitCommandError(command, None, "", limit=f"its output exceeded {_size(limit)}")


async def _read_tail(stream: asyncio.StreamReader, keep: int) -> bytes:
    tail = b""
    while chunk := await stream.read(_CHUNK):
        tail = (tail + chunk)[-keep:]
    return tail


async def _watch_disk(command: str, disk_limit: tuple[Path, int]) -> None:
    """Return never; raise once ``directory`` holds more than the cap."""
    while True:
        await asyncio.sleep(_DISK_POLL_SECONDS)
        await _check_disk(command, disk_limit)


async def _check_disk(command: str, disk_limit: tuple[Path, int]) -> None:
    directory, cap = disk_limit
    used = await asyncio.to_thread(directory_size, directory)
    if used > cap:
        raise GitCommandError(
            command, None, "", limit=f"the repository grew past {_size(cap)} on disk"
        )


def directory_size(directory: Path) -> int:
    """Bytes of the regular files under ``directory`` (symlinks not followed)."""
    total = 0
    stack = [directory]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:g} {unit}"
    return f"{n} bytes"


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the process group of ``proc`` and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    # Shielded: reaping must finish even when we are being cancelled.
    with contextlib.suppress(Exception):
        await asyncio.shield(proc.wait())
