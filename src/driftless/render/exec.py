"""Running external renderer tools (kustomize, helm): the one exec edge of ``render``.

Contract of ``run_tool(argv, ...)``:

* Starts ``argv`` with ``asyncio.create_subprocess_exec`` (never a shell) in
  its own process group, waits at most ``time_limit`` seconds and returns its
  stdout. A timeout or a cancellation of the awaiting task kills the whole
  process group, so nothing outlives the call.
* The environment is built from scratch, never inherited: a fixed ``PATH``,
  ``LC_ALL=C`` and ``HOME``/``TMPDIR``/XDG and Helm directories pointing at a
  private temporary directory that is removed afterwards. So the tools read
  no user configuration (``~/.config/helm/repositories.yaml``, registry
  logins, kustomize plugins) and no credentials of the controller's own
  environment (cloud tokens, ``KUBECONFIG``) reach them. Callers add what a
  single call needs through ``extra_env``.
* stdout is capped at ``max_stdout`` bytes: a render that explodes (a template
  looping over a huge range) is killed instead of exhausting memory.
* On a non-zero exit, a timeout or an oversized output it raises
  ``ToolError``, whose ``output`` is the tool's stderr trimmed to its last
  lines (where tools print the actual error) with ``path_aliases`` applied, so
  messages name repository paths rather than cache directories. Callers turn
  a ``ToolError`` into the typed error they mean (a ``RenderError`` for a
  broken chart, a ``SourceUnavailableError`` for an unreachable registry).
* A tool that cannot be started at all (not installed, not executable) is a
  ``DriftlessError``: an operator problem, retried, not the user's input. An
  argument the OS cannot pass (a NUL, a lone surrogate that has no UTF-8
  form) is the input's fault: ``RenderError``, checked before anything starts.
* Inside a render server child (after ``stay_in_process_group()``), tools are
  started in the caller's process group instead of a session of their own:
  the render server enforces a render's deadline by killing that group, and a
  tool in a group of its own would outlive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from driftless.core.errors import DriftlessError, RenderError

DEFAULT_MAX_STDOUT = 64 * 1024 * 1024
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
_MAX_LINES = 8
_MAX_CHARS = 1200
_CHUNK = 64 * 1024
_REAP_SECONDS = 5.0
_HEAD = 8 * 1024
_GO_CRASH = re.compile(r"^(fatal error|panic): ")


class _Grouping:
    """Whether tools get a session (and process group) of their own."""

    own_session = True


def stay_in_process_group() -> None:
    """From now on start tools in this process's group (see the module contract)."""
    _Grouping.own_session = False


@dataclass(frozen=True)
class ToolError(Exception):
    """A tool exited non-zero, timed out, or printed more than allowed.

    ``output`` is already trimmed and has the path aliases applied.
    """

    tool: str
    returncode: int | None
    output: str
    timed_out: bool = False
    too_large: bool = False

    def __str__(self) -> str:
        if self.timed_out:
            return f"{self.tool} timed out"
        if self.too_large:
            return f"{self.tool} {self.output or 'output exceeds the size limit'}"
        return f"{self.tool} failed: {self.output or f'exit status {self.returncode}'}"

    def as_render_error(self, *, file: str | None = None) -> RenderError:
        """The same failure as a ``RenderError`` located at ``file``."""
        return RenderError(str(self), file=file)


def tool_environment(home: Path, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment of one tool process, rooted at the private ``home``."""
    env = {
        "PATH": _SAFE_PATH,
        "HOME": str(home),
        "TMPDIR": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        # Helm derives these from XDG, but being explicit survives a HELM_* default change.
        "HELM_CONFIG_HOME": str(home / ".config" / "helm"),
        "HELM_CACHE_HOME": str(home / ".cache" / "helm"),
        "HELM_DATA_HOME": str(home / ".local" / "share" / "helm"),
        "HELM_PLUGINS": str(home / "helm-plugins"),
        "LC_ALL": "C",  # English messages, so callers can recognise them
        "LANGUAGE": "C",
    }
    if extra_env:
        env.update(extra_env)
    return env


def trim_output(raw: bytes, path_aliases: Mapping[str, str] | None = None) -> str:
    """A tool's stderr as a short message: last non-empty lines, joined, capped."""
    text = raw.decode("utf-8", errors="replace")
    # Longest first, so a path is not half-replaced by an alias of its parent.
    for real, shown in sorted((path_aliases or {}).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(real, shown)
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    crash = next((line for line in lines if _GO_CRASH.match(line)), None)
    if crash is not None:
        # A Go runtime crash prints its cause first, then every goroutine's stack.
        return crash[:_MAX_CHARS] + " (stack trace omitted)"
    joined = "; ".join(lines[-_MAX_LINES:])
    if len(lines) > _MAX_LINES:
        joined = "...; " + joined
    if len(joined) > _MAX_CHARS:
        joined = "..." + joined[-_MAX_CHARS:]
    return joined


async def run_tool(
    argv: Sequence[str | Path],
    *,
    time_limit: float,
    cwd: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    max_stdout: int = DEFAULT_MAX_STDOUT,
    path_aliases: Mapping[str, str] | None = None,
) -> bytes:
    """Run ``argv`` (no shell) with a scrubbed environment; return its stdout.

    Raises ``ToolError`` on failure, timeout or oversized output and
    ``DriftlessError`` when the executable cannot be started.
    """
    args = [str(a) for a in argv]
    name = Path(args[0]).name
    _check_passable(args, name)
    home = Path(tempfile.mkdtemp(prefix="driftless-tool-"))
    try:
        proc = await _start(args, name, home, cwd, extra_env)
        stdout, stderr = await _communicate(proc, max_stdout, time_limit)
    except TimeoutError:
        raise ToolError(name, None, "", timed_out=True) from None
    except _TooLargeError:
        limit = f"output exceeds the limit of {max_stdout // (1024 * 1024)} MiB"
        raise ToolError(name, None, limit, too_large=True) from None
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if proc.returncode != 0:
        raise ToolError(name, proc.returncode, trim_output(stderr, path_aliases))
    return stdout


def _check_passable(args: Sequence[str], name: str) -> None:
    """``RenderError`` for an argument that exec cannot carry (Python would raise
    ``ValueError``/``UnicodeEncodeError`` from deep inside ``subprocess``)."""
    for index, arg in enumerate(args[1:], start=1):
        if "\x00" in arg:
            raise RenderError(f"argument {index} of {name} contains a NUL character")
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise RenderError(
                f"argument {index} of {name} is not valid Unicode text (a lone surrogate)"
            ) from None


async def _start(
    args: list[str],
    name: str,
    home: Path,
    cwd: Path | None,
    extra_env: Mapping[str, str] | None,
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd if cwd is not None else home,
            env=tool_environment(home, extra_env),
            # Own process group: a timeout kills helpers too (unless the render
            # server owns the group, see stay_in_process_group).
            start_new_session=_Grouping.own_session,
        )
    except FileNotFoundError as exc:
        raise DriftlessError(f"the {name} executable was not found ({args[0]})") from exc
    except OSError as exc:
        raise DriftlessError(f"cannot start {name}: {exc.strerror}") from exc


class _TooLargeError(Exception):
    pass


async def _communicate(
    proc: asyncio.subprocess.Process, max_stdout: int, time_limit: float
) -> tuple[bytes, bytes]:
    """stdout (capped) and stderr (its end) of ``proc``, which is reaped.

    On a timeout, an oversized output or a cancellation the process group is
    killed, its pipes drained and the process reaped, so nothing is left open.
    """
    assert proc.stdout is not None and proc.stderr is not None
    out_task = asyncio.ensure_future(_read_capped(proc.stdout, max_stdout))
    err_task = asyncio.ensure_future(_read_tail(proc.stderr))
    try:
        async with asyncio.timeout(time_limit):
            stdout = await out_task
            stderr = await err_task
            await proc.wait()
    except BaseException:
        _signal_group(proc)
        # Shielded: the reaping must finish even while we are being cancelled.
        with contextlib.suppress(Exception):
            await asyncio.shield(_drain_and_reap(proc, (out_task, err_task)))
        raise
    return stdout, stderr


async def _read_capped(stream: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_tail(stream: asyncio.StreamReader) -> bytes:
    """The start (where Go puts a crash's cause) and the end (where tools put
    their error) of a stream; memory stays bounded on chatty tools."""
    head = b""
    kept = b""
    while chunk := await stream.read(_CHUNK):
        if len(head) < _HEAD:
            head += chunk[: _HEAD - len(head)]
        kept = (kept + chunk)[-4 * _CHUNK :]
    if len(head) < _HEAD or kept.startswith(head):
        return kept
    return head + b"\n...\n" + kept


def _signal_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process group of ``proc`` (helpers included)."""
    if _Grouping.own_session:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


async def _drain_and_reap(
    proc: asyncio.subprocess.Process, readers: tuple[asyncio.Future[bytes], ...]
) -> None:
    """Read the killed process's pipes to EOF, then reap it.

    Why drain: a reader that stopped early (output over the cap) leaves its
    pipe transport paused by flow control, so it would never see EOF, and on
    Python 3.11 ``wait()`` only returns once every pipe is closed.
    """
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    streams = [s for s in (proc.stdout, proc.stderr) if s is not None]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(_discard(s) for s in streams)), _REAP_SECONDS)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), _REAP_SECONDS)


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(_CHUNK):
        pass
