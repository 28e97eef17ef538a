"""Shutdown waits for passes in flight only up to its grace, and never hangs on a step."""

from __future__ import annotations

import asyncio
import time

from driftless.controller.shutdown import Drain, bounded, cancel_all


async def test_passes_in_flight_get_their_grace_then_no_more() -> None:
    drain = Drain()

    async def slow_pass() -> None:
        with drain.busy():
            await asyncio.sleep(30)

    task = asyncio.create_task(slow_pass())
    await asyncio.sleep(0)
    started = time.monotonic()
    assert not await drain.wait_idle(0.2)
    assert time.monotonic() - started < 1
    assert drain.stopping and drain.in_flight == 1
    await cancel_all([task], wait=1)
    assert task.cancelled() and drain.in_flight == 0


async def test_a_pass_that_ends_within_the_grace_is_waited_for() -> None:
    drain = Drain()

    async def short_pass() -> None:
        with drain.busy():
            await asyncio.sleep(0.05)

    task = asyncio.create_task(short_pass())
    await asyncio.sleep(0)
    assert await drain.wait_idle(5)
    assert task.done() and not task.cancelled()


async def test_a_hanging_closing_step_is_abandoned_in_bounded_time() -> None:
    started = time.monotonic()
    await bounded("hang", asyncio.sleep(30), seconds=0.1)
    await bounded("fail", _fails(), seconds=1)
    assert time.monotonic() - started < 1


async def test_a_task_that_swallows_cancellation_is_left_behind() -> None:
    async def stubborn() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.5)  # ignores the cancellation for a while

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    started = time.monotonic()
    await cancel_all([task], wait=0.1)
    assert time.monotonic() - started < 0.4
    assert not task.done()
    await task


async def _fails() -> None:
    raise RuntimeError("closing failed")
