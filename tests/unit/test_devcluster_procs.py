"""Process control: pid + start time identity, attached children, termination."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from driftless.devcluster import procs


def _sleeper(tmp_path: Path, *, attached: bool) -> procs.ProcessRecord:
    process, record = procs.spawn(
        "sleeper",
        [sys.executable, "-c", "import time; print('hi', flush=True); time.sleep(60)"],
        log=tmp_path / "logs" / "sleeper.log",
        attached=attached,
    )
    assert record.pid == process.pid
    return record


def test_start_time_identifies_a_live_process() -> None:
    assert procs.start_time(os.getpid()) is not None
    assert procs.start_time(2**22 + 12345) is None  # above pid_max: never exists


def test_terminate_stops_the_process_and_reports_nothing_left(tmp_path: Path) -> None:
    record = _sleeper(tmp_path, attached=True)
    assert procs.alive(record)
    assert procs.terminate([record], grace=2.0) == []
    assert not procs.alive(record)


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    record = _sleeper(tmp_path, attached=False)
    impostor = dataclasses.replace(record, start_time=record.start_time + 1)
    try:
        assert not procs.alive(impostor)
        assert procs.terminate([impostor], grace=0.1) == []
        assert procs.alive(record)  # the real process was left alone
    finally:
        procs.terminate([record], grace=1.0)
