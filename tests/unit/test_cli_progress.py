"""What a waiting command shows and decides, read from an operation or an Application."""

from __future__ import annotations

from typing import Any

import pytest

from driftless.cli.app_ops import _no_controller_hint, history_row, verdict
from driftless.cli.exits import EXIT_DEGRADED, EXIT_FAILED, EXIT_OK
from driftless.cli.progress import app_body, operation_body
from driftless.core.models import OperationState

JSON = dict[str, Any]

STARTED = "2026-01-01T00:00:00Z"


def state(**fields: Any) -> OperationState:
    return OperationState.model_validate({"operation": {}, "startedAt": STARTED, **fields})


@pytest.mark.parametrize(
    ("fields", "total", "healthy", "expected"),
    [
        ({}, 0, 0, "operation=Running phase=- wave=- applied=0/0 healthy=0/0"),
        (
            {
                "step": {"phase": "Sync", "wave": 1},
                "resources": [
                    {"kind": "ConfigMap", "name": "a", "status": "Synced"},
                    {"kind": "Job", "name": "migrate", "status": "Synced",
                     "hookType": "PreSync", "hookPhase": "Running"},
                ],
            },
            3, 1,
            "operation=Running phase=Sync wave=1 applied=1/3 healthy=1/3 hooks=Job/migrate",
        ),
        ({"phase": "Succeeded", "step": {"phase": "PostSync"}}, 2, 2,
         "operation=Succeeded phase=PostSync wave=- applied=0/2 healthy=2/2"),
        # A large app's plain results are counted, not listed (pipeline.status_budget).
        ({"phase": "Succeeded", "resourcesOmitted": 700,
          "resources": [{"kind": "ConfigMap", "name": "x", "status": "Synced"},
                        {"kind": "Secret", "name": "old", "status": "Pruned"}]}, 701, 701,
         "operation=Succeeded phase=- wave=- applied=701/701 healthy=701/701"),
    ],
)  # fmt: skip
def test_operation_body(fields: JSON, total: int, healthy: int, expected: str) -> None:
    assert operation_body(state(**fields), total, healthy) == expected


def app(status: JSON, *, generation: int = 1, operation: JSON | None = None) -> JSON:
    body: JSON = {"metadata": {"name": "web", "generation": generation}, "status": status}
    if operation is not None:
        body["operation"] = operation
    return body


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, "operation=- phase=- wave=- synced=0/0 healthy=0/0 sync=Unknown health=Unknown"),
        (
            {
                "operationState": {"phase": "Running", "step": {"phase": "Sync", "wave": 0},
                                   "resources": [{"kind": "Job", "name": "j",
                                                  "hookPhase": "Running"}]},
                "resources": [{"status": "Synced", "health": {"status": "Healthy"}},
                              {"status": "OutOfSync", "health": {"status": "Missing"}}],
                "sync": {"status": "OutOfSync"}, "health": {"status": "Missing"},
            },
            "operation=Running phase=Sync wave=0 synced=1/2 healthy=1/2 sync=OutOfSync"
            " health=Missing hooks=Job/j",
        ),
    ],
)  # fmt: skip
def test_app_body(status: JSON, expected: str) -> None:
    assert app_body(app(status)) == expected


DONE = {"observedGeneration": 1, "sync": {"status": "Synced"}, "health": {"status": "Healthy"}}


@pytest.mark.parametrize(
    ("body", "want_sync", "want_health", "started", "expected"),
    [
        # Not observed yet (a spec change the controller has not seen): keep waiting.
        (app({**DONE, "observedGeneration": 0}), True, True, None, None),
        (app(DONE), True, True, None, EXIT_OK),
        (app({**DONE, "health": {"status": "Suspended"}}), True, True, None, EXIT_OK),
        (app({**DONE, "health": {"status": "Degraded"}}), True, True, None, EXIT_DEGRADED),
        (app({**DONE, "health": {"status": "Degraded"}}), True, False, None, EXIT_OK),
        (app({**DONE, "sync": {"status": "OutOfSync"}}), True, True, None, None),
        (app({**DONE, "sync": {"status": "OutOfSync"}}), False, True, None, EXIT_OK),
        (app({**DONE, "operationState": {"phase": "Running"}}), True, True, None, None),
        # Our request: not picked up yet, an older operation, then its end.
        (app(DONE, operation={"sync": {}}), True, True, STARTED, None),
        (app({**DONE, "operationState": {"phase": "Failed", "startedAt": "2025-12-31T00:00:00Z"}}),
         True, True, STARTED, None),
        (app({**DONE, "operationState": {"phase": "Failed", "startedAt": STARTED}}),
         True, True, STARTED, EXIT_FAILED),
        (app({**DONE, "operationState": {"phase": "Terminated", "startedAt": STARTED}}),
         False, False, STARTED, EXIT_FAILED),
        (app({**DONE, "operationState": {"phase": "Succeeded", "startedAt": STARTED}}),
         False, False, STARTED, EXIT_OK),
    ],
)  # fmt: skip
def test_verdict(
    body: JSON, want_sync: bool, want_health: bool, started: str | None, expected: int | None
) -> None:
    ended = verdict(body, want_sync, want_health, started)
    assert (None if ended is None else ended[0]) == expected
    if ended is not None and expected != EXIT_OK:
        assert ended[1]  # a failure says what ended it


@pytest.mark.parametrize(
    ("status", "hinted"),
    [
        ({}, True),
        ({"observedGeneration": 1}, False),
        ({"operationState": {"phase": "Running"}}, False),
    ],
)
def test_an_app_no_controller_ever_saw_says_so(status: JSON, hinted: bool) -> None:
    assert ("controller running" in _no_controller_hint(app(status))) is hinted


@pytest.mark.parametrize(
    ("entry", "row"),
    [
        ({"id": 3, "revision": "0123456789abcdef", "deployedAt": STARTED, "result": "Succeeded",
          "initiatedBy": {"automated": True}, "source": {"path": "deploy"}},
         ["3", STARTED, "0123456789ab", "Succeeded", "automated", "deploy"]),
        ({"id": 4, "revision": "abc", "initiatedBy": {"username": "alice"}},
         ["4", "", "abc", "", "alice", ""]),
    ],
)  # fmt: skip
def test_history_row(entry: JSON, row: list[str]) -> None:
    assert history_row(entry) == row
