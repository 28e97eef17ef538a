"""``controller.durable``: a status write retried through an outage, bounded, cancellable."""

from __future__ import annotations

import asyncio

import pytest

from driftless.controller import durable
from driftless.kube.errors import KubeInvalidError, KubeUnavailableError, unavailable

NO_ANSWER = "cannot reach the API server at https://127.0.0.1:6443: Connection refused"


class Writes:
    """Fails the first ``failures`` calls with ``error``, then answers "written"."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "written"


class Clock:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        (0.0, []),
        (0.4, []),
        (1.5, [0.5, 1.0]),
        (20.0, [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]),
    ],
)
def test_delays_double_up_to_a_cap_within_the_budget(budget: float, expected: list[float]) -> None:
    assert list(durable.delays(budget)) == expected


def test_the_default_budget_outlasts_an_api_server_restart() -> None:
    waits = list(durable.delays(durable.BUDGET_SECONDS))
    assert 60 <= sum(waits) <= durable.BUDGET_SECONDS
    assert max(waits) == durable.MAX_DELAY  # the first write after the restart comes soon


async def test_a_write_is_retried_until_the_api_server_answers() -> None:
    clock, write = Clock(), Writes(3, unavailable(NO_ANSWER))
    assert await durable.retried(write, "status", sleep=clock.sleep) == "written"
    assert (write.calls, clock.slept) == (4, [0.5, 1.0, 2.0])


async def test_a_5xx_is_retried_too() -> None:
    clock, write = Clock(), Writes(1, KubeUnavailableError(503, "etcdserver: leader changed"))
    assert await durable.retried(write, "status", sleep=clock.sleep) == "written"


async def test_a_refusal_is_raised_at_once() -> None:
    clock, write = Clock(), Writes(1, KubeInvalidError(422, "status.x: Invalid value"))
    with pytest.raises(KubeInvalidError):
        await durable.retried(write, "status", sleep=clock.sleep)
    assert (write.calls, clock.slept) == (1, [])


async def test_the_last_error_is_raised_once_the_budget_is_spent() -> None:
    clock, write = Clock(), Writes(100, unavailable(NO_ANSWER))
    with pytest.raises(KubeUnavailableError):
        await durable.retried(write, "status", budget=20.0, sleep=clock.sleep)
    assert write.calls == len(clock.slept) + 1 == 7
    assert sum(clock.slept) <= 20.0


async def test_a_cancelled_pass_stops_waiting_at_once() -> None:
    """The controller's shutdown cancels the pass (``controller.shutdown.cancel_all``)."""
    write = Writes(100, unavailable(NO_ANSWER))
    task = asyncio.create_task(durable.retried(write, "status"))
    await asyncio.sleep(0.1)  # in its first wait (0.5 s)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=1.0)
    assert write.calls == 1
