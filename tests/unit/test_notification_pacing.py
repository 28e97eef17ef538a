"""Delivery's pacing: the token bucket per service and the retry backoff (pure)."""

from __future__ import annotations

import pytest

from driftless.notifications.pacing import TokenBucket, parse_retry_after, retry_delay


def test_bucket_allows_a_five_second_burst_then_the_rate() -> None:
    bucket = TokenBucket.per_minute(60, now=0.0)
    assert [bucket.take(0.0) for _ in range(5)] == [0.0] * 5
    # One a second after the burst; reservations queue behind each other.
    assert [bucket.take(0.0) for _ in range(3)] == pytest.approx([1.0, 2.0, 3.0])
    assert bucket.take(10.0) == 0.0  # refilled, never beyond the burst
    assert bucket.tokens <= bucket.capacity


@pytest.mark.parametrize(("rate", "capacity"), [(1, 1.0), (0, 1.0), (-5, 1.0), (600, 50.0)])
def test_bucket_capacity(rate: int, capacity: float) -> None:
    bucket = TokenBucket.per_minute(rate, now=0.0)
    assert bucket.capacity == capacity and bucket.rate_per_minute >= 1


def test_bucket_holds_its_rate_over_time() -> None:
    bucket = TokenBucket.per_minute(120, now=0.0)  # 2 a second, burst 10
    now, sent = 0.0, 0
    while now < 60.0:
        now += bucket.take(now)
        sent += 1
    assert sent <= 10 + 2 * 60 + 1


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, None, 1.0),
        (2, None, 2.0),
        (4, None, 8.0),
        (9, None, 60.0),
        (1, 7.0, 7.0),
        (1, 86400.0, 60.0),
        (3, -3.0, 0.0),
    ],
)
def test_retry_delay(attempt: int, retry_after: float | None, expected: float) -> None:
    assert retry_delay(attempt, 1.0, 60.0, retry_after) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),
        ("soon", None),
        ("-1", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=40.0) == expected
