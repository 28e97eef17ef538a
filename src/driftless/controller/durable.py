"""Status writes that a short API server outage must not lose.

A pass that advanced or ended a sync operation records it only in the
app's status: the cursor, each hook created (``sync.runner``), the finished
operation and its history entry. If that write is lost, the next pass reads
the older status: the app shows Synced with no history entry, or an
operation started again. So such a write is retried while the API server
does not answer (``kube.errors.KubeUnavailableError``: no answer, 5xx,
throttled) — with backoff (``delays``), within ``BUDGET_SECONDS``, and
cancellable: a cancelled pass (the controller's shutdown, the reconcile
deadline) stops waiting at once. A refusal (4xx) is raised at once: asking
again cannot help.

Repeating the write is harmless: it replaces the whole status with the
same value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from driftless.kube.errors import KubeUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Longer than a restart of the API server (~10 s here, under a minute on a
# managed control plane) and well inside the reconcile deadline (5 min).
BUDGET_SECONDS = 120.0
FIRST_DELAY = 0.5
MAX_DELAY = 5.0


def delays(budget: float, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> Iterator[float]:
    """The waits between attempts: doubling from ``first`` up to ``cap``, summing to
    at most ``budget``. Pure."""
    spent, delay = 0.0, first
    while delay > 0 and spent + delay <= budget:
        yield delay
        spent += delay
        delay = min(delay * 2, cap)


async def retried(
    write: Callable[[], Awaitable[T]],
    what: str,
    *,
    budget: float = BUDGET_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``write()``, again after each ``KubeUnavailableError`` until ``budget`` is spent.

    The last error is raised once the budget is spent; any other error at once.
    """
    for delay in delays(budget):
        try:
            return await write()
        except KubeUnavailableError as exc:
            log.debug("%s: retrying in %gs: %s", what, delay, exc)
        await sleep(delay)
    return await write()
