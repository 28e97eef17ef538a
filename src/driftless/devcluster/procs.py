"""Starting and stopping the control plane's processes, by pid, safely.

Two lifetimes:

* **attached** — the children receive SIGKILL the moment the process that
  spawned them dies, however it dies (even SIGKILL), through Linux's
  ``PR_SET_PDEATHSIG``. The kernel ties that signal to the *thread* that forked
  the child, so attached processes must be spawned from the main thread
  (:func:`spawn` refuses otherwise): a worker thread that ends would take the
  cluster with it.
* **detached** — the children outlive the caller (the CLI's ``up`` returns);
  a later ``down`` finds them through the pids recorded in the state file.

Either way each child runs in its own session, so a Ctrl-C in the terminal
reaches only the Python process, which then stops the cluster in order.

A pid alone can be reused after its process exits, so every recorded pid goes
with the process's start time (``/proc/<pid>/stat`` field 22); :func:`alive`
and :func:`terminate` act only when both match, never on a stranger.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from driftless.devcluster.errors import DevClusterError

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessRecord:
    """A started process, identified by pid *and* kernel start time."""

    name: str
    pid: int
    start_time: int
    log: Path


def _pdeathsig_preexec(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(121)
        # The parent may have died between fork and prctl; then nobody would
        # ever send the signal, so exit now instead of running as an orphan.
        if os.getppid() != parent_pid:
            os._exit(122)

    return preexec


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log: Path,
    attached: bool,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    """Start ``argv`` with stdout and stderr appended to ``log``.

    Returns the Popen handle (to reap it) and the record to persist.
    """
    if attached and threading.current_thread() is not threading.main_thread():
        raise DevClusterError(
            "an attached dev cluster must be started from the main thread: the kernel "
            "kills attached processes when the thread that spawned them exits"
        )
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_pdeathsig_preexec(os.getpid()) if attached else None,
        )
    return process, ProcessRecord(name, process.pid, start_time(process.pid) or 0, log)


def start_time(pid: int) -> int | None:
    """The kernel start time of ``pid`` in clock ticks, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses; fields resume after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its exit status remains
        return None
    return int(fields[19])


def alive(record: ProcessRecord) -> bool:
    """True while the very process of ``record`` runs (not a reused pid)."""
    return start_time(record.pid) == record.start_time


def terminate(records: Sequence[ProcessRecord], *, grace: float = 3.0) -> list[ProcessRecord]:
    """Stop ``records``: SIGTERM all, wait ``grace`` s, then SIGKILL the rest.

    Returns the records still alive afterwards (empty on success). Processes
    that are not ours any more (pid reused) are never signalled.
    """
    for record in records:
        _signal(record, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(r) for r in records):
        _reap(records)
        time.sleep(0.05)
    for record in records:
        _signal(record, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(alive(r) for r in records):
        _reap(records)
        time.sleep(0.05)
    return [r for r in records if alive(r)]


def kill(records: Sequence[ProcessRecord], *, wait: float = 5.0) -> list[ProcessRecord]:
    """SIGKILL ``records`` at once (a crash, no grace); wait until they are gone.

    Returns the records still alive after ``wait`` seconds (empty on success).
    """
    for record in records:
        _signal(record, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(alive(r) for r in records):
        _reap(records)
        time.sleep(0.05)
    return [r for r in records if alive(r)]


def _signal(record: ProcessRecord, signum: int) -> None:
    if alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signum)


def _reap(records: Sequence[ProcessRecord]) -> None:
    # Our own children stay zombies until waited for. Reap exactly these pids,
    # never waitpid(-1): that would steal exit statuses from the caller's other
    # subprocesses. Pids that are not our children raise ChildProcessError.
    for record in records:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(record.pid, os.WNOHANG)
