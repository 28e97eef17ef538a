"""Which Events one reconcile pass records (``controller.events.pass_events``).

Each Event is an API write; a cold start of many apps was bound by them (3 per
one-object app). A sync that starts and ends within one pass is one Event; a
sync spanning passes keeps its start and its end; a Ready flip an operation
Event of the same pass already tells is not repeated, any other flip is.
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.controller.events import Ended, Finished, PassOperation, pass_events
from driftless.core.reasons import Reason

REV = "a" * 40


def ready(status: str, reason: str, message: str = "m") -> dict[str, Any]:
    return {
        "conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message}]
    }


SYNCED = ready("True", "Synced", f"revision {REV[:12]} applied and healthy")
PROGRESSING = ready("False", "Progressing", "syncing")
FAILED = ready("False", "SyncFailed", "apply refused")
DEGRADED = ready("False", "Degraded", "cm: state is broken")
OK = Finished(True, REV, "successfully synced", synced=1)


def reasons(events: list[tuple[str, Reason, str]]) -> list[tuple[str, str]]:
    return [(kind, str(reason)) for kind, reason, _ in events]


@pytest.mark.parametrize(
    ("old", "new", "op", "expected"),
    [
        # First sync of a one-object app: one Event, not started + synced + Ready flip.
        ({}, SYNCED, PassOperation("auto-sync", REV, None, OK), [("Normal", "Synced")]),
        # The same sync failing in its pass: one Warning.
        (
            {},
            FAILED,
            PassOperation("auto-sync", REV, None, Finished(False, REV, "apply refused")),
            [("Warning", "SyncFailed")],
        ),
        # A sync waiting for health: started now (Ready flips to Progressing) ...
        (
            {},
            PROGRESSING,
            PassOperation("auto-sync", REV),
            [("Normal", "Progressing"), ("Normal", "SyncStarted")],
        ),
        # ... and ended in a later pass: the end only, the Ready flip said once.
        (PROGRESSING, SYNCED, PassOperation(finished=OK), [("Normal", "Synced")]),
        # Synced, but Degraded afterwards: a different news, kept.
        (
            {},
            DEGRADED,
            PassOperation("auto-sync", REV, None, OK),
            [("Warning", "Degraded"), ("Normal", "Synced")],
        ),
        # Health changing later, no operation: the Ready flip alone.
        (SYNCED, DEGRADED, PassOperation(), [("Warning", "Degraded")]),
        (SYNCED, DEGRADED, None, [("Warning", "Degraded")]),
        # Steady state: nothing.
        (SYNCED, SYNCED, PassOperation(), []),
        # Superseded while waiting, the new revision started in the same pass.
        (
            PROGRESSING,
            PROGRESSING,
            PassOperation("auto-sync", "b" * 40, Ended(True, REV, "superseded"), None),
            [("Normal", "SyncStarted"), ("Normal", "SyncSuperseded")],
        ),
        (
            PROGRESSING,
            SYNCED,
            PassOperation(ended=Ended(False, REV, "terminated on request")),
            [("Normal", "Synced"), ("Warning", "SyncTerminated")],
        ),
    ],
)
def test_events_of_a_pass(
    old: dict[str, Any], new: dict[str, Any], op: PassOperation | None, expected: list[Any]
) -> None:
    assert reasons(pass_events(old, new, op)) == expected


def test_a_one_pass_sync_says_who_which_revision_and_how_many() -> None:
    done = Finished(True, REV, "successfully synced", synced=3, pruned=2)
    [(_, _, message)] = pass_events({}, SYNCED, PassOperation("self-heal", REV, None, done))
    expected = f"sync to {REV[:12]} started by self-heal: successfully synced; "
    assert message == expected + "3 object(s) applied, 2 pruned"


def test_a_sync_ending_later_names_its_revision_without_a_starter() -> None:
    [(_, reason, message)] = pass_events(PROGRESSING, SYNCED, PassOperation(finished=OK))
    assert reason == Reason.SYNCED
    assert message == f"sync to {REV[:12]}: successfully synced; 1 object(s) applied"


def test_a_sync_started_by_nobody_named_says_a_user() -> None:
    [_, (_, reason, message)] = pass_events({}, PROGRESSING, PassOperation("", REV))
    assert reason == Reason.SYNC_STARTED
    assert message == f"sync to {REV[:12]} started by a user"


def test_an_unknown_ready_reason_records_no_flip_but_the_operation_still() -> None:
    hostile = ready("True", "NotAReason\nforged", "x")
    events = pass_events({}, hostile, PassOperation("auto-sync", REV, None, OK))
    assert reasons(events) == [("Normal", "Synced")]
