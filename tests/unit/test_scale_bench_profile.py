"""bench/scale_bench.py's profile grouping: py-spy's raw stacks -> the per-app breakdown."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scale_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scale_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_bench"] = module
    spec.loader.exec_module(module)
    return module


CONTROLLER = 'process 10:"python driftless controller --namespace=x"'
RENDER = 'process 11:"python -m driftless.render.server --socket /tmp/s"'


@pytest.mark.parametrize(
    ("frames", "group"),
    [
        # The outermost phase wins: an Event's HTTP request is the Event's cost.
        ([CONTROLLER, "reconcile (driftless/controller/reconciler.py:1)",
          "record (driftless/controller/events.py:80)", "_request (aiohttp/client.py:5)"],
         "events"),
        ([CONTROLLER, "_request (aiohttp/client.py:5)"], "kube client I/O"),
        ([CONTROLLER, "run (driftless/sync/runner.py:3)"], "apply (sync)"),
        ([CONTROLLER, RENDER, "_fork (driftless/render/server.py:259)"],
         "render (render server children)"),
        ([CONTROLLER, "select (selectors.py:468)"], "Python overhead (event loop, other)"),
    ],
)  # fmt: skip
def test_a_stack_is_grouped_by_its_outermost_phase(
    bench: ModuleType, frames: list[str], group: str
) -> None:
    assert bench.categorize(frames) == group


def test_the_breakdown_counts_per_app_and_skips_garbage_lines(
    bench: ModuleType, tmp_path: Path
) -> None:
    raw = tmp_path / "profile.raw"
    raw.write_text(
        f"{CONTROLLER};record (driftless/controller/events.py:80) 200\n"
        f"{CONTROLLER};{RENDER};_fork (driftless/render/server.py:259) 600\n"
        "no count here\n"
        " 5\n"
        f"{CONTROLLER};select (selectors.py:468) notanumber\n"
    )
    text = bench.breakdown(raw, n=100, rate=200)
    # 600 samples at 200 Hz = 3 s over 100 apps = 30 ms per app; 200 -> 10 ms.
    assert "| render (render server children) | 75.0% | 30.00 |" in text
    assert "| events | 25.0% | 10.00 |" in text
    assert "active samples 800" in text
