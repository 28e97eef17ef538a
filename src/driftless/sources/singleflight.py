"""Single-flight: concurrent callers asking for the same thing share one run of the work.

Contract of ``SingleFlight.run(key, work)``:

* The first caller for ``key`` starts ``work()`` as a task; every caller that
  asks for ``key`` while that task runs awaits the same task and gets the
  same result, or the same exception (a failure is shared, not retried by
  each waiter at once). When the task ends the key is free again: the next
  caller starts a new run (reusing a result for a while is the caller's
  business, e.g. the git cache's revision cache).
* ``join=False`` never joins a run already in flight: it starts a new one,
  which later callers then join (a hard refresh must not take an answer that
  was asked for before it).
* Cancelling one waiter does not cancel the work while other waiters remain
  (each awaits it through ``asyncio.shield``); when the last waiter goes, the
  work is cancelled (nobody wants its result, and shutdown must not wait for
  it), that caller returns once the work has ended (its clean-up, such as
  killing a git process, is done: nothing outlives the call), and the key is
  freed at once, so a later caller starts afresh instead of joining a dying
  run.
* Event-loop only; not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Flight(Generic[V]):
    task: asyncio.Task[V]
    waiters: int = 0


class SingleFlight(Generic[K, V]):
    """At most one run of the work per key at a time (see the module contract)."""

    def __init__(self) -> None:
        self._flights: dict[K, _Flight[V]] = {}
        self.started = 0  # runs started, for tests and metrics
        self.joined = 0  # callers that joined a run in flight

    def in_flight(self, key: K) -> bool:
        return key in self._flights

    async def run(self, key: K, work: Callable[[], Awaitable[V]], *, join: bool = True) -> V:
        """The result of ``work()`` for ``key``, shared with concurrent callers."""
        flight = self._flights.get(key) if join else None
        if flight is None:
            flight = self._start(key, work)
        else:
            self.joined += 1
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            if not flight.task.done() and flight.waiters == 1:
                # The last one waiting: nobody wants the result any more.
                self._forget(key, flight)
                flight.task.cancel()
                # Nothing outlives the call: the work's own clean-up (a killed git) ends first.
                await asyncio.wait([flight.task])
            raise
        finally:
            flight.waiters -= 1

    def _start(self, key: K, work: Callable[[], Awaitable[V]]) -> _Flight[V]:
        async def call() -> V:
            return await work()

        flight: _Flight[V] = _Flight(asyncio.get_running_loop().create_task(call()))
        self._flights[key] = flight
        self.started += 1
        flight.task.add_done_callback(lambda task: self._finished(key, flight, task))
        return flight

    def _finished(self, key: K, flight: _Flight[V], task: asyncio.Task[V]) -> None:
        self._forget(key, flight)
        if not task.cancelled():
            # Retrieved here so a failure nobody awaited any more is not logged as lost.
            with contextlib.suppress(BaseException):
                task.exception()

    def _forget(self, key: K, flight: _Flight[V]) -> None:
        # Only this run: a ``join=False`` caller may have put a newer one in its place.
        if self._flights.get(key) is flight:
            del self._flights[key]
