"""Status conditions, kstatus style.

Three condition types tell a person (and ``kubectl wait``) where an
Application stands:

* ``Ready``       True when the cluster matches git and every resource is healthy.
* ``Reconciling`` True while the controller is working or waiting for rollout.
* ``Stalled``     True when progress is impossible until the input changes.

``Reconciling`` and ``Stalled`` are only present while True (kstatus
convention), so their absence means "idle" and "not stuck". Pure functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum, unique
from typing import Final

from driftless.core.models import Condition
from driftless.core.reasons import Reason


@unique
class ConditionType(StrEnum):
    """The ``type`` of a condition (its ``reason`` is a ``core.reasons.Reason``)."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


# Short names every caller uses (``cond.READY``).
READY: Final = ConditionType.READY
RECONCILING: Final = ConditionType.RECONCILING
STALLED: Final = ConditionType.STALLED


def now_rfc3339() -> str:
    """The current time in the format metav1.Time uses (second precision, Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[Condition],
    type_: ConditionType,
    status: bool,
    reason: Reason,
    message: str,
    *,
    generation: int | None = None,
    now: str | None = None,
) -> list[Condition]:
    """Return ``conditions`` with ``type_`` set; lastTransitionTime moves only on a flip."""
    status_text = "True" if status else "False"
    previous = find(conditions, type_)
    transition = now or now_rfc3339()
    if previous is not None and previous.status == status_text:
        transition = previous.last_transition_time
    updated = Condition(
        type=type_,
        status=status_text,
        reason=reason,
        message=message,
        last_transition_time=transition,
        observed_generation=generation,
    )
    return [c for c in conditions if c.type != type_] + [updated]


def remove_condition(conditions: list[Condition], type_: str) -> list[Condition]:
    return [c for c in conditions if c.type != type_]


def find(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: list[Condition], type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.status == "True"


def ordered(conditions: list[Condition]) -> list[Condition]:
    """Ready first, then the others by type: stable output for diffs and the CLI."""
    rank: dict[str, int] = {READY: 0, RECONCILING: 1, STALLED: 2}
    return sorted(conditions, key=lambda c: (rank.get(c.type, 3), c.type))
