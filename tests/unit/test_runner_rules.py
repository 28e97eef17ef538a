"""The runner's pure rules (``driftless.sync.runner``), as fixture tables.

Which step waits for its objects' health (``needs_health_gate``), when an
operation may be stopped between two passes (``at_safe_point``), and what
stopping it leaves in ``status.operationState`` (``end_early``). Expected
values are written out, never computed by the code under test.
"""

from __future__ import annotations

import re

import pytest

from driftless.core.models import (
    InitiatedBy,
    Operation,
    OperationPhase,
    OperationState,
    ResourceResult,
    SyncStep,
)
from driftless.sync import plan as sp
from driftless.sync.runner import at_safe_point, end_early, needs_health_gate

PRUNE = 2**31


def at(phase: str, wave: int) -> sp.Step:
    return sp.Step(sp.phase_index(phase), wave, phase)


@pytest.mark.parametrize(
    ("step", "pool", "waits"),
    [
        pytest.param(at("Sync", 0), [at("Sync", 0)], False, id="the only step"),
        pytest.param(at("Sync", 0), [at("Sync", 0), at("Sync", 1)], True, id="a later wave"),
        pytest.param(at("Sync", 1), [at("Sync", 0), at("Sync", 1)], False, id="the last wave"),
        pytest.param(
            at("Sync", 1),
            [at("Sync", 0), at("Sync", 1), at("Sync", PRUNE)],
            False,
            id="only pruning follows",
        ),
        pytest.param(
            at("Sync", PRUNE), [at("Sync", 0), at("Sync", PRUNE)], False, id="pruning itself"
        ),
        pytest.param(
            at("Sync", 0),
            [at("Sync", 0), at("Sync", PRUNE), at("PostSync", 0)],
            True,
            id="a PostSync hook after pruning",
        ),
        pytest.param(
            at("PreSync", 5), [at("PreSync", 5), at("Sync", -3)], True, id="a later phase"
        ),
        pytest.param(
            at("PostSync", 0), [at("Sync", 0), at("PostSync", 0)], False, id="earlier steps only"
        ),
        pytest.param(
            at("SyncFail", 0),
            [at("SyncFail", 0), at("SyncFail", 2)],
            True,
            id="SyncFail waves among themselves",
        ),
    ],
)
def test_needs_health_gate(step: sp.Step, pool: list[sp.Step], waits: bool) -> None:
    assert needs_health_gate(step, pool) is waits


def operation(phase: OperationPhase, *hooks: tuple[str | None, str | None]) -> OperationState:
    """An operation whose results are ``(hook_type, hook_phase)`` pairs."""
    return OperationState(
        operation=Operation(initiated_by=InitiatedBy(automated=True)),
        phase=phase,
        started_at="2026-12-03T09:00:00Z",
        revision="a" * 40,
        step=SyncStep(phase="Sync", wave=0, applied=True),
        resources=[
            ResourceResult(
                kind="Job", name=f"j{i}", status="Synced", hook_type=hook_type, hook_phase=phase_
            )
            for i, (hook_type, phase_) in enumerate(hooks)
        ],
    )


@pytest.mark.parametrize(
    ("state", "safe"),
    [
        pytest.param(operation(OperationPhase.RUNNING), True, id="running, no hooks"),
        pytest.param(
            operation(OperationPhase.RUNNING, ("PreSync", "Succeeded"), ("PostSync", "Failed")),
            True,
            id="every hook ended",
        ),
        pytest.param(
            operation(OperationPhase.RUNNING, ("PreSync", "Succeeded"), ("Sync", "Running")),
            False,
            id="a hook runs",
        ),
        pytest.param(
            operation(OperationPhase.RUNNING, (None, "Running")),
            True,
            id="a resource, not a hook",
        ),
        pytest.param(operation(OperationPhase.SUCCEEDED), False, id="already succeeded"),
        pytest.param(operation(OperationPhase.FAILED), False, id="already failed"),
        pytest.param(operation(OperationPhase.TERMINATED), False, id="already terminated"),
    ],
)
def test_at_safe_point(state: OperationState, safe: bool) -> None:
    assert at_safe_point(state) is safe


@pytest.mark.parametrize(
    ("phase", "message"),
    [
        pytest.param(OperationPhase.SUPERSEDED, "superseded by revision bbbbbbbbbbbb", id="new"),
        pytest.param(OperationPhase.TERMINATED, "terminated on request", id="terminated"),
    ],
)
def test_end_early(phase: OperationPhase, message: str) -> None:
    state = end_early(operation(OperationPhase.RUNNING, ("PreSync", "Succeeded")), phase, message)
    assert (state.phase, state.message, state.step) == (phase, message, None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", state.finished_at or "")
    # What was done stays recorded.
    assert [(r.name, r.hook_phase) for r in state.resources] == [("j0", "Succeeded")]
