"""One refresh round in flight per repository; pushes arriving meanwhile make one more.

A flood of pushes to one repository (a merge train, a script tagging 20
releases) must not become a flood of fetches. ``Coalescer.submit(repo,
keys)`` starts a round ``run(keys, repo)`` at once when none runs for
``repo``; while one runs, the keys of every later submit are merged into a
single trailing round, started when the running one ends. So N pushes during
a round cost two rounds, not N, and the last push is always seen by a round
that started after it arrived (nothing is lost).

Rounds of different repositories run concurrently. A round that raises is
logged (its type only: messages may carry what a host read) and the next
one still runs. ``close()`` cancels what runs and drops what waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from driftless.webhooks.matching import Key

__all__ = ["Coalescer", "Round"]

log = logging.getLogger(__name__)

Round = Callable[[list[Key], str], Awaitable[None]]


class Coalescer:
    def __init__(self, run: Round) -> None:
        self._run = run
        self._pending: dict[str, dict[Key, None]] = {}  # insertion-ordered sets
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.rounds = 0  # rounds started, for tests and logs

    def submit(self, repo: str, keys: Iterable[Key]) -> None:
        """Refresh ``keys`` for a push to ``repo``: now, or in the trailing round."""
        pending = self._pending.setdefault(repo, {})
        pending.update(dict.fromkeys(keys))
        if not pending:
            self._pending.pop(repo, None)
            return
        if repo not in self._tasks:
            self._tasks[repo] = asyncio.create_task(self._drain(repo), name=f"webhook {repo}")

    def busy(self, repo: str) -> bool:
        return repo in self._tasks

    async def _drain(self, repo: str) -> None:
        try:
            while keys := list(self._pending.pop(repo, {})):
                self.rounds += 1
                try:
                    await self._run(keys, repo)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one failed round must not stop the next
                    log.warning(
                        "webhook refresh of %d apps failed: %s", len(keys), type(exc).__name__
                    )
        finally:
            self._tasks.pop(repo, None)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._pending.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
