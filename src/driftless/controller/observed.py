"""Which Application updates a sharded replica shows its observer (notifications). Pure.

With sharding every replica watches every app, but only the replica that owns
an app's shard may notify about it, or users get each message once per
replica. ``ObserverGate.route(key, owned)`` says what the manager does with
one update of an app (``owned``: this replica holds the app's shard now):

* ``STEP``: owned, and followed since an earlier update:
  ``observe(previous, current)``;
* ``BASELINE``: owned, first update since this replica took the app (or
  ever): ``observe(None, current)``, so a handover never sends a burst of
  messages about what happened before it;
* ``FORGET``: followed but not owned any more: ``forget(current)``, so the
  observer drops its memory and dedupe of the app and a later handover back
  starts from a new baseline;
* ``SKIP``: not owned and not followed.

``drop(key)``: the app was deleted. Without sharding the manager does not
use a gate (every update goes to the observer).

Handover: each replica decides with its own view of the Leases at the moment
its watch delivers an update, so the one update that crosses a handover may
be told by both replicas or by neither (a message repeated or lost).
"""

from __future__ import annotations

import enum

Key = tuple[str, str]


class Route(enum.Enum):
    STEP = "step"
    BASELINE = "baseline"
    FORGET = "forget"
    SKIP = "skip"


class ObserverGate:
    """The apps the observer follows on this replica (those it saw while owned)."""

    def __init__(self) -> None:
        self.following: set[Key] = set()

    def route(self, key: Key, owned: bool) -> Route:
        if owned:
            if key in self.following:
                return Route.STEP
            self.following.add(key)
            return Route.BASELINE
        if key in self.following:
            self.following.discard(key)
            return Route.FORGET
        return Route.SKIP

    def drop(self, key: Key) -> None:
        self.following.discard(key)
