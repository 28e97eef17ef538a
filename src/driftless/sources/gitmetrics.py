"""Metrics of the git cache's work: ls-remote, fetch and checkout.

Process-wide, on prometheus-client's default registry (Argo CD's repo server
names its own ``argocd_git_request_total`` alike):

* ``driftless_git_request_total{request_type, outcome}``: ``request_type``
  is ``ls-remote``, ``fetch`` or ``checkout``; ``outcome`` is ``success`` or
  ``failure`` (a failure of git, a limit, a timeout; a cancelled request is
  not counted).
* ``driftless_git_request_duration_seconds{request_type}``.

No repository URL in a label: URLs may carry credentials, and one series per
repository would grow with the tenants' repositories.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Literal

from prometheus_client import Counter, Histogram

RequestType = Literal["ls-remote", "fetch", "checkout"]

REQUESTS = Counter(
    "driftless_git_request",
    "Git requests of the git cache, by type and outcome (success, failure).",
    ["request_type", "outcome"],
)
DURATION = Histogram(
    "driftless_git_request_duration_seconds",
    "Duration of the git cache's requests, by type.",
    ["request_type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)


def measured(request_type: RequestType) -> _Measured:
    """Count and time the block as one ``request_type`` request."""
    return _Measured(request_type)


class _Measured:
    """A plain context manager, not ``@contextmanager``: an error leaves the block untouched.

    contextlib re-sets the ``__traceback__`` of what the block raised, which a frozen
    dataclass exception refuses: ``GitCommandError`` became a FrozenInstanceError and
    crashed the reconcile instead of reporting the git failure.
    """

    def __init__(self, request_type: RequestType) -> None:
        self.request_type = request_type
        self.started = time.perf_counter()

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            _count(self.request_type, "success", self.started)
        elif not issubclass(kind, asyncio.CancelledError):
            _count(self.request_type, "failure", self.started)


def _count(request_type: str, outcome: str, started: float) -> None:
    REQUESTS.labels(request_type, outcome).inc()
    DURATION.labels(request_type).observe(time.perf_counter() - started)
