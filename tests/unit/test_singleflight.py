"""Single-flight: one run per key shared by concurrent callers, failures shared, a cancelled
waiter never cancels the others' work, the last one leaving cancels it."""

from __future__ import annotations

import asyncio

import pytest

from driftless.sources.singleflight import SingleFlight


class Work:
    """Counts its runs; each run waits for ``gate`` then returns (or raises) ``outcome``."""

    def __init__(self, outcome: object = "answer") -> None:
        self.runs = 0
        self.cancelled = 0
        self.gate = asyncio.Event()
        self.outcome = outcome

    async def __call__(self) -> object:
        self.runs += 1
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_concurrent_callers_share_one_run() -> None:
    flights: SingleFlight[str, object] = SingleFlight()
    work = Work()
    callers = [asyncio.create_task(flights.run("repo", work)) for _ in range(50)]
    await settle()
    work.gate.set()
    assert await asyncio.gather(*callers) == ["answer"] * 50
    assert work.runs == 1 and flights.started == 1 and flights.joined == 49
    assert not flights.in_flight("repo")


async def test_different_keys_run_separately() -> None:
    flights: SingleFlight[str, object] = SingleFlight()
    work = Work()
    work.gate.set()
    assert await asyncio.gather(flights.run("a", work), flights.run("b", work)) == [
        "answer",
        "answer",
    ]
    assert work.runs == 2


async def test_a_failure_is_shared_not_retried_by_each_waiter() -> None:
    flights: SingleFlight[str, object] = SingleFlight()
    work = Work(RuntimeError("unreachable"))
    callers = [asyncio.create_task(flights.run("repo", work)) for _ in range(10)]
    await settle()
    work.gate.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and str(r) == "unreachable" for r in results)
    assert work.runs == 1
    # The key is free again: the next caller (a later poll) tries anew.
    again = Work()
    again.gate.set()
    assert await flights.run("repo", again) == "answer"


async def test_cancelling_one_waiter_does_not_cancel_the_others() -> None:
    flights: SingleFlight[str, object] = SingleFlight()
    work = Work()
    first = asyncio.create_task(flights.run("repo", work))
    second = asyncio.create_task(flights.run("repo", work))
    await settle()
    first.cancel()
    await settle()
    assert first.cancelled()
    work.gate.set()
    assert await second == "answer"
    assert work.runs == 1 and work.cancelled == 0


async def test_the_last_waiter_leaving_cancels_the_work_and_frees_the_key() -> None:
    flights: SingleFlight[str, object] = SingleFlight()
    work = Work()
    only = asyncio.create_task(flights.run("repo", work))
    await settle()
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await only
    assert work.cancelled == 1  # ended before the cancelled caller returned
    assert not flights.in_flight("repo")
    # A later caller starts afresh instead of joining the dying run.
    work.gate.set()
    assert await flights.run("repo", work) == "answer"
    assert work.runs == 2


async def test_join_false_starts_a_new_run_that_later_callers_join() -> None:
    flights: SingleFlight[str, object] = SingleFlight()
    old, new = Work("old answer"), Work("new answer")
    early = asyncio.create_task(flights.run("repo", old))
    await settle()
    fresh = asyncio.create_task(flights.run("repo", new, join=False))
    await settle()
    late = asyncio.create_task(flights.run("repo", old))
    await settle()
    old.gate.set()
    assert await early == "old answer"
    # The old run ending does not free the key the fresh run now holds.
    assert flights.in_flight("repo")
    new.gate.set()
    assert await fresh == "new answer"
    assert await late == "new answer"
    assert old.runs == 1 and new.runs == 1


async def test_a_cancelled_work_surfaces_as_cancellation_to_its_waiter() -> None:
    flights: SingleFlight[str, object] = SingleFlight()

    async def cancelled_inside() -> object:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await flights.run("repo", cancelled_inside)
    assert not flights.in_flight("repo")
