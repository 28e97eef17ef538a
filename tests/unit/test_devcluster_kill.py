"""``procs.kill``: the crash a fault test injects — SIGKILL at once, no grace, nothing left."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from driftless.devcluster import procs


def _stubborn(tmp_path: Path) -> procs.ProcessRecord:
    """A process that ignores SIGTERM: only a kill can stop it."""
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    log = tmp_path / "stubborn.log"
    _, record = procs.spawn("stubborn", [sys.executable, "-c", script], log=log, attached=True)
    deadline = time.monotonic() + 10
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    return record


def test_kill_stops_a_process_that_ignores_sigterm_at_once(tmp_path: Path) -> None:
    record = _stubborn(tmp_path)
    started = time.monotonic()
    assert procs.kill([record]) == []
    assert not procs.alive(record)
    assert time.monotonic() - started < 3.0  # no SIGTERM grace period was waited out


def test_kill_leaves_a_reused_pid_alone(tmp_path: Path) -> None:
    record = _stubborn(tmp_path)
    impostor = dataclasses.replace(record, start_time=record.start_time + 1)
    try:
        assert procs.kill([impostor], wait=0.2) == []
        assert procs.alive(record)
    finally:
        procs.kill([record])
