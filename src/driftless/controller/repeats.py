"""Log a repeated identical failure once per backoff step, with a count.

When the API server or a git host goes away, every app fails the same way at
every attempt: 1,000 apps retrying every few seconds would write hundreds of
identical lines a second and bury the one that matters. ``Repeats`` collapses
them:

* the first occurrence of a message is logged at once;
* the same message again is only counted until its window has passed; the
  next occurrence after that is logged with how often it was seen (and for how
  many keys) in between, and the window doubles (``base`` .. ``cap`` seconds),
  like the apps' own backoff;
* a message not seen for ``cap`` seconds starts over (logged at once).

"The same message" is the text without the key (the app's name), so one line
stands for every app failing with it. Pure bookkeeping plus one logger call;
the clock is injectable for tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

DEFAULT_BASE_SECONDS = 5.0
DEFAULT_CAP_SECONDS = 300.0
# Bound the bookkeeping: distinct messages are few unless they embed ever-new text.
MAX_MESSAGES = 1024


@dataclass
class _Seen:
    next_at: float
    window: float
    last: float
    count: int = 0
    keys: set[Hashable] = field(default_factory=set)


class Repeats:
    """Collapses identical log lines (see the module doc)."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        base: float = DEFAULT_BASE_SECONDS,
        cap: float = DEFAULT_CAP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._base, self._cap = base, cap
        self._clock = clock
        self._seen: dict[tuple[int, str], _Seen] = {}

    def log(self, level: int, key: Hashable, label: str, message: str) -> bool:
        """Log ``label: message`` unless ``message`` is a repeat inside its window.

        ``key`` (e.g. an app's namespace and name) counts the distinct keys a
        collapsed line stands for; ``label`` names the first one. Returns
        whether a line was written.
        """
        now = self._clock()
        slot = (level, message)
        seen = self._seen.get(slot)
        if seen is None or now - seen.last >= self._cap:
            self._remember(slot, now)
            self._log.log(level, "%s: %s", label, message)
            return True
        seen.last = now
        if now < seen.next_at:
            seen.count += 1
            seen.keys.add(key)
            return False
        suffix = _summary(seen.count, len(seen.keys), seen.window)
        self._log.log(level, "%s: %s%s", label, message, suffix)
        seen.window = min(seen.window * 2, self._cap)
        seen.next_at = now + seen.window
        seen.count, seen.keys = 0, set()
        return True

    def _remember(self, slot: tuple[int, str], now: float) -> None:
        if len(self._seen) >= MAX_MESSAGES:
            self._seen.clear()  # crude but bounded; costs at most one extra line each
        self._seen[slot] = _Seen(next_at=now + self._base, window=self._base, last=now)


def _summary(count: int, keys: int, window: float) -> str:
    if count == 0:
        return ""
    times = "time" if count == 1 else "times"
    return f" (and {count} more {times} for {keys} apps in the last {window:g}s)"
