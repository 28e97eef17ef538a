"""Delivery's lanes, retries and failure reports, with a stand-in sender (no network)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from driftless.notifications.delivery import Delivery, RetryPolicy
from driftless.notifications.message import DeliveryError, Notification, Target

pytestmark = pytest.mark.asyncio(loop_scope="session")

N = Notification(
    trigger="on-sync-failed",
    app_namespace="ns",
    app_name="app",
    project="default",
    repo_url="https://example.com/o/r",
    revision=None,
    title="t",
    body="",
    status="failure",
    app_url=None,
)
T = Target(type="webhook", name="hook", namespace="ns", secrets={"url": "https://x/s3cr3t"})
QUICK = RetryPolicy(attempts=4, first_delay=0.01, max_delay=0.05)


class Script:
    """A sender answering from a list: an exception to raise, or None for success."""

    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, float]] = []

    async def __call__(self, n: Notification, t: Target, http: httpx.AsyncClient) -> None:
        self.calls.append((n.title, time.monotonic()))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


async def _run(sender: Script, *items: tuple[Notification, Target]) -> list[str]:
    reasons: list[str] = []

    async def on_failure(n: Notification, t: Target, reason: str) -> None:
        await asyncio.sleep(0)
        reasons.append(reason)

    delivery = Delivery(on_failure, retry=QUICK, sender=sender)
    for n, t in items:
        delivery.submit(n, t)
    await delivery.idle()
    await delivery.close()
    return reasons


async def test_retriable_failures_are_retried_up_to_the_attempts() -> None:
    sender = Script(*[DeliveryError("x: HTTP 503", retriable=True)] * 10)
    assert await _run(sender, (N, T)) == ["x: HTTP 503"]
    assert len(sender.calls) == QUICK.attempts


async def test_retry_after_is_honoured_within_the_cap() -> None:
    sender = Script(DeliveryError("x: HTTP 429", retriable=True, retry_after=0.2))
    assert await _run(sender, (N, T)) == []
    (_, first), (_, second) = sender.calls
    assert 0.045 <= second - first < 0.2  # capped at max_delay (0.05 s), not 0.2 s


async def test_a_permanent_failure_is_tried_once_and_the_next_message_goes() -> None:
    sender = Script(DeliveryError("x: HTTP 404", retriable=False), None)
    later = Notification(**{**N.__dict__, "title": "later"})
    assert await _run(sender, (N, T), (later, T)) == ["x: HTTP 404"]
    assert [title for title, _ in sender.calls] == ["t", "later"]


async def test_an_unexpected_error_is_reported_by_its_type_only() -> None:
    sender = Script(ValueError("https://x/s3cr3t is odd"), None)
    assert await _run(sender, (N, T), (N, T)) == ["webhook service ns/hook: ValueError"]
    assert len(sender.calls) == 2  # the lane survived


async def test_a_failing_callback_does_not_end_the_lane() -> None:
    sender = Script(DeliveryError("x", retriable=False), None)

    def on_failure(n: Notification, t: Target, reason: str) -> None:
        raise RuntimeError("callback bug")

    delivery = Delivery(on_failure, retry=QUICK, sender=sender)
    delivery.submit(N, T)
    delivery.submit(N, T)
    await delivery.idle()
    await delivery.close()
    assert len(sender.calls) == 2


async def test_one_lane_per_service_in_order() -> None:
    sender = Script()
    other = Target(type="webhook", name="other", namespace="ns")
    items = [
        (Notification(**{**N.__dict__, "title": f"m{i}"}), T if i % 2 else other) for i in range(6)
    ]
    await _run(sender, *items)
    titles = [title for title, _ in sender.calls]
    assert [t for t in titles if int(t[1:]) % 2] == ["m1", "m3", "m5"]
    assert [t for t in titles if not int(t[1:]) % 2] == ["m0", "m2", "m4"]
