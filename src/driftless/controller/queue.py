"""A work queue of app keys with de-duplication and delayed re-adds.

Semantics (like client-go's delaying queue):
* a key is in the queue at most once; adding it again keeps the earlier due time,
* a key being processed is never handed to a second worker; if it is added
  meanwhile, it is handed out again after ``done``,
* ``get`` waits until some key is due.

For metrics it counts every ``add`` (``adds``) and hands the time each key
waited past its due time, until a worker took it, to ``on_wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._due: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._processing: set[K] = set()
        self._dirty: dict[K, float] = {}
        self._counter = 0
        self._wakeup = asyncio.Event()
        self.adds = 0
        self.on_wait: Callable[[float], None] | None = None

    def add(self, key: K, delay: float = 0.0) -> None:
        """Schedule ``key`` in ``delay`` seconds (or sooner if already scheduled sooner)."""
        self.adds += 1
        due = time.monotonic() + max(delay, 0.0)
        if key in self._processing:
            self._dirty[key] = min(due, self._dirty.get(key, due))
            return
        current = self._due.get(key)
        if current is not None and current <= due:
            return
        self._due[key] = due
        self._counter += 1
        heapq.heappush(self._heap, (due, self._counter, key))
        self._wakeup.set()

    def forget(self, key: K) -> None:
        """Drop a scheduled key (its object was deleted)."""
        self._due.pop(key, None)
        self._dirty.pop(key, None)

    async def get(self) -> K:
        """Wait for the next due key and mark it as being processed."""
        while True:
            self._drop_stale()
            if self._heap:
                due, _, key = self._heap[0]
                wait = due - time.monotonic()
                if wait <= 0:
                    heapq.heappop(self._heap)
                    del self._due[key]
                    self._processing.add(key)
                    if self.on_wait is not None:
                        self.on_wait(-wait)
                    return key
            else:
                wait = None
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=wait)

    def done(self, key: K) -> None:
        """Processing finished; re-queue if the key was added meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            due = self._dirty.pop(key)
            self.add(key, due - time.monotonic())

    def __len__(self) -> int:
        return len(self._due)

    def _drop_stale(self) -> None:
        while self._heap:
            due, _, key = self._heap[0]
            if self._due.get(key) == due:
                return
            heapq.heappop(self._heap)
