"""Metrics of the renders this process runs (or sends to its render server).

Process-wide, on prometheus-client's default registry; only real renders
count (a render served from the ``RenderCache`` is not one):

* ``driftless_render_duration_seconds{renderer}``: a histogram of every
  render, successful or not (its ``_count`` is the number of renders);
  ``renderer`` is ``directory``, ``kustomize``, ``helm`` or ``jsonnet``.
* ``driftless_render_failures_total{renderer}``: renders that raised (the
  input is wrong, a limit or the time ran out, the render server is
  unreachable); a cancelled render is not counted.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

from prometheus_client import Counter, Histogram

DURATION = Histogram(
    "driftless_render_duration_seconds",
    "Duration of renders, by renderer.",
    ["renderer"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
FAILURES = Counter(
    "driftless_render_failures",
    "Renders that failed, by renderer.",
    ["renderer"],
)


def measured(renderer: str) -> _Measured:
    """Time the block as one render by ``renderer``; count it as failed if it raises."""
    return _Measured(renderer)


class _Measured:
    """A plain context manager, not ``@contextmanager``: an error leaves the block untouched
    (contextlib re-sets ``__traceback__``, which the frozen ``ToolError`` refuses)."""

    def __init__(self, renderer: str) -> None:
        self.renderer = renderer
        self.started = time.perf_counter()

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None and issubclass(kind, asyncio.CancelledError):
            return
        if kind is not None:
            FAILURES.labels(self.renderer).inc()
        DURATION.labels(self.renderer).observe(time.perf_counter() - self.started)
