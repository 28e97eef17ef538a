"""When delivery may send next: a token bucket per service and the retry backoff (pure).

Contract:

* ``TokenBucket.per_minute(rate, now)`` holds ``rate`` messages a minute with a
  burst of five seconds' worth (at least one): a rule firing for twenty apps at
  once reaches Slack as a short burst, then at the service's rate. A rate below
  one a minute is read as one. ``take(now)`` reserves one send and returns how
  many seconds to wait before it (0 when a token is there); reservations may
  drive the level below zero, so one caller per bucket (a delivery lane) needs
  no lock and later callers queue behind earlier ones in order.
* ``retry_delay(attempt, first, cap, retry_after)`` is the wait after the
  ``attempt``-th failed try (1-based): ``first`` doubling each time, or the
  server's ``Retry-After`` when it gave one; never more than ``cap`` (a hostile
  or confused server must not park a service's queue for a day) and never
  negative.
* ``parse_retry_after(value, now)`` reads an HTTP ``Retry-After`` (seconds or an
  HTTP date) into seconds from ``now`` (a POSIX time), ``None`` when absent or
  unreadable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = ["BURST_SECONDS", "TokenBucket", "parse_retry_after", "retry_delay"]

#: The burst a bucket allows, in seconds of its rate.
BURST_SECONDS = 5.0


@dataclass
class TokenBucket:
    """Tokens refill at ``rate_per_minute / 60`` a second up to ``capacity``."""

    rate_per_minute: int
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def per_minute(cls, rate_per_minute: int, now: float) -> TokenBucket:
        rate = max(1, rate_per_minute)
        capacity = max(1.0, float(math.ceil(rate / 60.0 * BURST_SECONDS)))
        return cls(rate_per_minute=rate, capacity=capacity, tokens=capacity, updated=now)

    @property
    def per_second(self) -> float:
        return self.rate_per_minute / 60.0

    def take(self, now: float) -> float:
        """Reserve one send; the seconds to wait before making it."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.updated = max(self.updated, now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0.0 else -self.tokens / self.per_second


def retry_delay(attempt: int, first: float, cap: float, retry_after: float | None) -> float:
    """Seconds to wait after the ``attempt``-th failed try (see the module docstring)."""
    if retry_after is not None:
        return min(cap, max(0.0, retry_after))
    return min(cap, max(0.0, first * 2.0 ** max(0, attempt - 1)))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds from ``now``: delta-seconds or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text[:12]))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)
