"""Benchmark: time from ``DevCluster.up()`` to ready, and peak RSS of the control plane.

Usage: ``python bench/devcluster_up.py [--runs N] [--nodes N] [--settle S]``

Binaries are built (if missing) before the clock starts: the figure is the
start of a cluster from cached binaries, the case users and tests live with.
Peak RSS is the sum over the control-plane processes of ``VmHWM`` (the
high-water mark of resident memory) read from ``/proc`` just before ``down()``,
after letting the cluster settle for ``--settle`` seconds. Target: up < 15 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from driftless.devcluster import binaries, versions
from driftless.devcluster.cluster import DevCluster

TARGET_SECONDS = 15.0


def vm_hwm_kib(pid: int) -> int:
    """The peak resident set size of ``pid`` in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def one_run(nodes: int, settle: float) -> tuple[float, dict[str, int]]:
    """Start and stop one cluster; return (seconds to ready, peak KiB per component)."""
    with tempfile.TemporaryDirectory(prefix="driftless-bench-") as tmp:
        cluster = DevCluster("bench", state_dir=Path(tmp) / "state", nodes=nodes, progress=_quiet)
        started = time.perf_counter()
        cluster.up(attached=True)
        elapsed = time.perf_counter() - started
        try:
            time.sleep(settle)
            peaks = {name: vm_hwm_kib(pid) for name, pid in cluster.pids.items()}
        finally:
            cluster.down()
    return elapsed, peaks


def _quiet(_: str) -> None:
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before reading RSS")
    options = parser.parse_args()

    binaries.ensure_all(versions.CONTROL_PLANE)
    times = []
    for run in range(1, options.runs + 1):
        elapsed, peaks = one_run(options.nodes, options.settle)
        times.append(elapsed)
        total_mib = sum(peaks.values()) / 1024
        detail = ", ".join(f"{name} {kib / 1024:.0f}" for name, kib in peaks.items())
        print(f"run {run}: up->ready {elapsed:.2f} s; peak RSS {total_mib:.0f} MiB ({detail})")
    median = statistics.median(times)
    verdict = "OK" if median < TARGET_SECONDS else "SLOW"
    print(
        f"up->ready median {median:.2f} s (min {min(times):.2f}, max {max(times):.2f}) "
        f"over {len(times)} runs; target < {TARGET_SECONDS:.0f} s: {verdict}"
    )
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
