"""One refresh round in flight per repository; pushes arriving meanwhile make one more.

A flood of pushes to one repository (a merge train, a script tagging 20
releases) must not become a flood of fetches. ``Coalescer.submit(repo,
keys, urls)`` starts a round ``run(keys, urls)`` at once when none runs for
``repo``; while one runs, the keys and URLs of every later submit are merged
into a single trailing round, started when the running one ends. So N pushes
during a round cost two rounds, not N, and the last push is always seen by a
round that started after it arrived (nothing is lost).

``repo`` is the key of the *apps'* repository (``matching.folded``), never a
URL the payload chose: a payload with a fresh ``clone_url`` each time cannot
open a new round per delivery, and the number of repositories (of rounds in
flight or waiting) is bounded by the apps, not by the callers.

Rounds of different repositories run concurrently, but every round first
takes a token of one ``TokenBucket`` (``ROUNDS_PER_SECOND``, bursts of
``ROUND_BURST``): many repositories pushed at once are refreshed at a steady
pace, not all in the same second. A round that raises is logged (its type
only: messages may carry what a host read) and the next one still runs.
``close()`` cancels what runs and drops what waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from driftless.webhooks.matching import Key

__all__ = ["ROUNDS_PER_SECOND", "ROUND_BURST", "Coalescer", "Round", "TokenBucket"]

log = logging.getLogger(__name__)

ROUNDS_PER_SECOND: Final = 5.0
ROUND_BURST: Final = 20

# ``run(keys, urls)``: refresh the apps ``keys``; ``urls`` are the pushed repository's URL
# forms (every push merged into the round), for a host that forgets cached refs by URL.
Round = Callable[[list[Key], list[str]], Awaitable[None]]


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved. ``reserve()`` takes one and says
    how long to wait before using it (0 when one was there): waiters queue in order
    without a lock, each sleeping its own delay."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def reserve(self) -> float:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class _Pending:
    def __init__(self) -> None:
        self.keys: dict[Key, None] = {}  # insertion-ordered sets
        self.urls: dict[str, None] = {}


class Coalescer:
    def __init__(self, run: Round, *, bucket: TokenBucket | None = None) -> None:
        self._run = run
        self._bucket = bucket if bucket is not None else TokenBucket(ROUNDS_PER_SECOND, ROUND_BURST)
        self._pending: dict[str, _Pending] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.rounds = 0  # rounds started, for tests and logs

    def submit(self, repo: str, keys: Iterable[Key], urls: Iterable[str] = ()) -> None:
        """Refresh ``keys`` of the apps of ``repo``: now, or in the trailing round."""
        pending = self._pending.setdefault(repo, _Pending())
        pending.keys.update(dict.fromkeys(keys))
        pending.urls.update(dict.fromkeys(urls))
        if not pending.keys:
            self._pending.pop(repo, None)
            return
        if repo not in self._tasks:
            self._tasks[repo] = asyncio.create_task(self._drain(repo), name="webhook refresh")

    def busy(self, repo: str) -> bool:
        return repo in self._tasks

    async def _drain(self, repo: str) -> None:
        try:
            while True:
                # The token first: pushes arriving while we wait join this very round.
                await asyncio.sleep(self._bucket.reserve())
                pending = self._pending.pop(repo, None)
                if pending is None or not pending.keys:
                    return
                self.rounds += 1
                keys = list(pending.keys)
                try:
                    await self._run(keys, list(pending.urls))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one failed round must not stop the next
                    log.warning(
                        "webhook refresh of %d apps failed: %s", len(keys), type(exc).__name__
                    )
                if repo not in self._pending:
                    return
        finally:
            self._tasks.pop(repo, None)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._pending.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
