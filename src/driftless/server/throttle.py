"""Failed logins per client address: after ``LIMIT`` failures in ``WINDOW_SECONDS``, wait.

``Throttle.retry_after(address)`` is ``None`` while the address may try, else
the whole seconds until its oldest counted failure leaves the window (what a
429's ``Retry-After`` says). ``failed(address)`` counts one failure. Memory is
bounded: at most ``LIMIT`` times per address and ``MAX_ADDRESSES`` addresses
(the least recently failed are forgotten first). In memory, per process; no
I/O (the clock is injected).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

__all__ = ["LIMIT", "MAX_ADDRESSES", "WINDOW_SECONDS", "Throttle"]

LIMIT: Final = 5
WINDOW_SECONDS: Final = 60.0
MAX_ADDRESSES: Final = 10_000


class Throttle:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        times = self._recent(address)
        if times is None or len(times) < LIMIT:
            return None
        return max(1, math.ceil(times[0] + WINDOW_SECONDS - self.clock()))

    def failed(self, address: str) -> None:
        times = self._recent(address)
        if times is None:
            times = self._failures[address] = deque(maxlen=LIMIT)
            while len(self._failures) > MAX_ADDRESSES:
                self._failures.popitem(last=False)
        times.append(self.clock())
        self._failures.move_to_end(address)

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, address: str) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        horizon = self.clock() - WINDOW_SECONDS
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times
