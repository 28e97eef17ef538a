"""Failed logins per client address and per user: after too many failures in a window, wait.

``Throttle`` counts failures of one kind of key (an address, a user name):
``retry_after(key)`` is ``None`` while the key may try, else the whole
seconds until its oldest counted failure leaves the window (what a 429's
``Retry-After`` says); ``failed(key)`` counts one failure. Memory is
bounded: at most ``limit`` times per key and ``MAX_ADDRESSES`` keys (the
least recently failed are forgotten first). In memory, per process; no I/O
(the clock is injected).

``LoginThrottle`` is what the login route asks:

* per address: ``LIMIT`` failures in ``WINDOW_SECONDS`` (one guesser);
* per user: ``USER_LIMIT`` failures in ``USER_WINDOW_SECONDS`` of one
  account from any addresses (a distributed guess against ``admin`` from
  many addresses is slowed to that rate too). Only accounts that exist are
  counted (``known``), so a spray of made-up names cannot push the real
  account's count out of the bounded table.

The trade-off of the per-user limit: while someone keeps failing as
``admin``, ``admin`` is refused (429) for a while from everywhere -- except
from an address that logged in as that user successfully within
``TRUSTED_SECONDS`` (``succeeded``): the administrator's usual machine keeps
logging in during an attack, and the attack never locks the account for
longer than the window after it stops. Such a trusted address still has its
own per-address limit. Single sign-on logins are not throttled here (the
provider checks the passwords).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection
from typing import Final

__all__ = [
    "LIMIT",
    "MAX_ADDRESSES",
    "TRUSTED_SECONDS",
    "USER_LIMIT",
    "USER_WINDOW_SECONDS",
    "WINDOW_SECONDS",
    "LoginThrottle",
    "Throttle",
]

LIMIT: Final = 5
WINDOW_SECONDS: Final = 60.0
USER_LIMIT: Final = 10
USER_WINDOW_SECONDS: Final = 300.0
TRUSTED_SECONDS: Final = 30 * 86400.0
MAX_ADDRESSES: Final = 10_000


class Throttle:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        limit: int = LIMIT,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        times = self._recent(address)
        if times is None or len(times) < self.limit:
            return None
        return max(1, math.ceil(times[0] + self.window - self.clock()))

    def failed(self, address: str) -> None:
        times = self._recent(address)
        if times is None:
            times = self._failures[address] = deque(maxlen=self.limit)
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
        horizon = self.clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times


class LoginThrottle:
    """Per address and per (known) user, with trusted addresses (see the module docstring)."""

    def __init__(
        self, known: Collection[str], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.known = frozenset(known)
        self.clock = clock
        self.addresses = Throttle(clock=clock)
        self.users = Throttle(clock=clock, limit=USER_LIMIT, window=USER_WINDOW_SECONDS)
        self._trusted: OrderedDict[tuple[str, str], float] = OrderedDict()

    def retry_after(self, address: str, user: str) -> int | None:
        """Seconds to wait before this address may try this user again, or ``None``."""
        waits = [self.addresses.retry_after(address)]
        if user in self.known and not self._is_trusted(address, user):
            waits.append(self.users.retry_after(user))
        found = [w for w in waits if w is not None]
        return max(found) if found else None

    def failed(self, address: str, user: str) -> None:
        self.addresses.failed(address)
        if user in self.known:
            self.users.failed(user)

    def succeeded(self, address: str, user: str) -> None:
        """Remember that ``address`` logged in as ``user`` (bounded, like the failures)."""
        self._trusted[(address, user)] = self.clock()
        self._trusted.move_to_end((address, user))
        while len(self._trusted) > MAX_ADDRESSES:
            self._trusted.popitem(last=False)

    def _is_trusted(self, address: str, user: str) -> bool:
        at = self._trusted.get((address, user))
        return at is not None and self.clock() - at < TRUSTED_SECONDS
