"""Each request runs once (``driftless.pipeline.policy.served``), as a fixture table.

A row is the request found in the app's ``operation`` (as stored: the API
server fills defaults), the operation that ended last (``status.operationState``)
and whether the request was already served (its clearing was interrupted: it is
removed unserved) or is a new one that runs. Requests written by the front ends
carry ``requestedAt``; old objects and requests written by hand do not.
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.models import Operation, OperationPhase, OperationState
from driftless.pipeline import policy

JSON = dict[str, Any]
FIRST = "2026-12-03T11:00:00.123456Z"
SECOND = "2026-12-03T11:00:04.654321Z"


def request(
    requested_at: str | None = FIRST, *, username: str = "ann", prune: bool = False
) -> JSON:
    """A request as the front ends write it (``requested_at=None``: by hand, or older)."""
    body: JSON = {
        "sync": {"prune": prune, "dryRun": False, "resources": [], "revision": None},
        "initiatedBy": {"username": username, "automated": False},
    }
    if requested_at is not None:
        body["requestedAt"] = requested_at
    return body


def stored(body: JSON) -> JSON:
    """``body`` as read back: the API server dropped the nulls and filled the defaults."""
    sync = {k: v for k, v in body["sync"].items() if v is not None}
    return {**body, "sync": sync, "retry": 0}


def ended(body: JSON, phase: str = "Succeeded", *, retry: int = 0) -> JSON:
    return {
        "operation": {**body, "retry": retry},
        "phase": phase,
        "startedAt": "2026-12-03T11:00:01Z",
        "finishedAt": "2026-12-03T11:00:02Z",
        "revision": "a" * 40,
    }


SERVED: list[tuple[str, JSON, JSON | None, bool]] = [
    ("nothing ran before", request(), None, False),
    ("the request read again after it ran", stored(request()), ended(request()), True),
    ("the same options asked again", request(SECOND), ended(request()), False),
    ("the same options asked again, read back", stored(request(SECOND)), ended(request()), False),
    ("other options, same moment", request(prune=True), ended(request()), False),
    ("another person, same moment", request(username="bob"), ended(request()), False),
    ("still running: it is not served yet", request(), ended(request(), "Running"), False),
    ("failed, retried by policy since", request(), ended(request(), "Failed", retry=2), True),
    ("after an automated sync", request(), ended({"initiatedBy": {"automated": True}}), False),
    # Objects from before requestedAt, and requests written by hand: options alone.
    ("unstamped, read again", request(None), ended(request(None)), True),
    ("unstamped, other options", request(None, prune=True), ended(request(None)), False),
    ("a stamped request after an unstamped one", request(), ended(request(None)), False),
    ("an unstamped request after a stamped one", request(None), ended(request()), False),
]


@pytest.mark.parametrize(
    ("case", "requested", "previous", "served"), SERVED, ids=[s[0] for s in SERVED]
)
def test_served(case: str, requested: JSON, previous: JSON | None, served: bool) -> None:
    wanted = Operation.model_validate(requested)
    last = None if previous is None else OperationState.model_validate(previous)
    assert policy.served(wanted, last) is served, case


@pytest.mark.parametrize("phase", [p for p in OperationPhase if p != OperationPhase.RUNNING])
def test_every_ended_phase_serves_the_request(phase: OperationPhase) -> None:
    last = OperationState.model_validate(ended(request(), phase.value))
    assert policy.served(Operation.model_validate(stored(request())), last)
