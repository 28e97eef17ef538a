"""Issue 9, pure rules: which step waits for health, safe points, supersession,
termination requests, retries of operations that ended early, healthTimeout."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from driftless.core.models import (
    Application,
    InitiatedBy,
    Operation,
    OperationPhase,
    OperationState,
    ResourceResult,
    RetryPolicy,
    SyncOperation,
    SyncPolicy,
    SyncStep,
)
from driftless.pipeline import policy as ops
from driftless.sync import plan as sp
from driftless.sync.runner import at_safe_point, end_early, needs_health_gate

OLD, NEW = "a" * 40, "b" * 40


def step(phase: str, wave: int) -> sp.Step:
    return sp.Step(sp.phase_index(phase), wave, phase)


def app(
    *,
    automated: bool = True,
    supersede: bool = True,
    annotations: dict[str, str] | None = None,
    state: OperationState | None = None,
) -> Application:
    policy: dict[str, object] = {"supersede": supersede}
    if automated:
        policy["automated"] = {"prune": True}
    return Application.model_validate(
        {
            "metadata": {"name": "a", "namespace": "driftless", "annotations": annotations or {}},
            "spec": {"source": {"repoURL": "https://example.com/r.git"}, "syncPolicy": policy},
            "status": {"operationState": state.to_api() if state else None},
        }
    )


def running(*, automated: bool = True, dry_run: bool = False, revision: str = OLD,
            hook_phase: str | None = None) -> OperationState:  # fmt: skip
    state = OperationState(
        operation=Operation(
            sync=SyncOperation(dry_run=dry_run),
            initiated_by=InitiatedBy(automated=automated, username=None if automated else "me"),
        ),
        started_at="2026-12-03T09:00:00Z",
        revision=revision,
        step=SyncStep(phase="Sync", wave=0, applied=True),
    )
    if hook_phase is not None:
        state.resources.append(
            ResourceResult(
                kind="Job",
                name="migrate",
                status="Synced",
                hook_type="PreSync",
                hook_phase=hook_phase,
            )
        )
    return state


# -- which steps wait for health ------------------------------------------------


def test_only_a_step_with_a_later_non_prune_step_waits_for_health() -> None:
    pool = [step("Sync", 0), step("Sync", 1), step("Sync", sp.PRUNE_WAVE)]
    assert needs_health_gate(pool[0], pool)
    assert not needs_health_gate(pool[1], pool)  # only pruning follows
    assert not needs_health_gate(pool[2], pool)
    with_post = [step("Sync", 0), step("PostSync", 0)]
    assert needs_health_gate(with_post[0], with_post)
    assert not needs_health_gate(with_post[1], with_post)
    assert not needs_health_gate(step("Sync", 0), [step("Sync", 0)])


# -- safe points -------------------------------------------------------------------


def test_a_running_hook_is_no_safe_point() -> None:
    assert at_safe_point(running())
    assert at_safe_point(running(hook_phase="Succeeded"))
    assert at_safe_point(running(hook_phase="Failed"))
    assert not at_safe_point(running(hook_phase="Running"))
    finished = running()
    finished.phase = OperationPhase.SUCCEEDED
    assert not at_safe_point(finished)


def test_end_early_records_phase_message_and_time() -> None:
    state = end_early(running(), OperationPhase.SUPERSEDED, "superseded by bbb")
    assert state.phase == OperationPhase.SUPERSEDED
    assert state.message == "superseded by bbb"
    assert state.step is None and state.finished_at


# -- supersession ----------------------------------------------------------------


def test_newer_revision_supersedes_an_automated_operation() -> None:
    assert ops.should_supersede(app(), running(), NEW)


@pytest.mark.parametrize(
    ("the_app", "state", "target"),
    [
        (app(), running(), OLD),  # same revision: nothing newer
        (app(supersede=False), running(), NEW),  # switched off
        (app(automated=False), running(), NEW),  # automation turned off meanwhile
        (app(), running(automated=False), NEW),  # a person asked for this revision
        (app(), running(dry_run=True), NEW),
        (app(), running(revision=""), NEW),  # not pinned yet
    ],
)
def test_what_is_never_superseded(the_app: Application, state: OperationState, target: str) -> None:
    assert not ops.should_supersede(the_app, state, target)


def test_the_superseding_operation_is_automated_with_the_app_s_prune() -> None:
    operation = ops.superseding_operation(app())
    assert operation.initiated_by.automated and operation.sync.prune and operation.retry == 0


# -- termination requests -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stops"),
    [
        ("2026-12-03T09:00:00Z", True),
        (" 2026-12-03T09:00:00Z\n", True),
        ("2026-12-03T08:59:59Z", False),  # another (older) operation: stale
        ("", False),
        ("true", False),
        ("x" * 10_000, False),
    ],
)
def test_a_termination_request_names_the_operation(value: str, stops: bool) -> None:
    the_app = app(annotations={ops.TERMINATE_ANNOTATION: value})
    assert ops.should_terminate(the_app, running()) is stops
    assert ops.terminate_request(the_app) == value


def test_no_annotation_no_termination() -> None:
    assert ops.terminate_request(app()) is None
    assert not ops.should_terminate(app(), running())


# -- retries of operations that ended early ------------------------------------------


@pytest.mark.parametrize("phase", [OperationPhase.SUPERSEDED, OperationPhase.TERMINATED])
def test_ended_early_is_never_retried(phase: OperationPhase) -> None:
    state = end_early(running(), phase, "stopped")
    assert ops.retry_wait(RetryPolicy(limit=5), state) == 0.0


def test_a_terminated_revision_is_not_synced_again_by_the_automation() -> None:
    state = end_early(running(revision=OLD), OperationPhase.TERMINATED, "terminated")
    the_app = app(state=state)
    decision = ops.decide_auto_sync(the_app, OLD, True, ops.HealRecord(), 0.0)
    assert decision.operation is None and "terminated" in decision.reason
    newer = ops.decide_auto_sync(the_app, NEW, True, ops.HealRecord(), 0.0)
    assert newer.operation is not None


def test_a_failed_operation_is_still_retried() -> None:
    state = end_early(running(), OperationPhase.FAILED, "health deadline")
    assert ops.retry_wait(RetryPolicy(limit=5), state) > 0


# -- healthTimeout -----------------------------------------------------------------------


def test_health_timeout_default_and_parse() -> None:
    assert SyncPolicy().health_timeout_seconds() == 300
    assert SyncPolicy.model_validate({"healthTimeout": "1h30s"}).health_timeout_seconds() == 3630


@pytest.mark.parametrize("bad", ["0s", "", "-5s", "5", "1d", "1m;rm", "0h0m0s"])
def test_health_timeout_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        SyncPolicy.model_validate({"healthTimeout": bad})
