"""Outcome → status conditions: the table in pipeline.status's docstring."""

from typing import Any

from driftless.core.errors import RenderError, SourceUnavailableError
from driftless.core.models import Application
from driftless.core.resources import Manifest
from driftless.pipeline import status as outcome
from driftless.pipeline.plan import Plan
from driftless.sync.prepare import prepare
from driftless.sync.states import ObjectState

RAW: dict[str, Any] = {
    "apiVersion": "driftless.dev/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "a", "namespace": "driftless", "generation": 4},
    "spec": {"source": {"repoURL": "file:///r"}, "destination": {"namespace": "ns"}},
}


def _conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def _states(in_sync: bool) -> list[ObjectState]:
    manifest = Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    desired = prepare(
        [manifest],
        app_namespace="d",
        app_name="a",
        default_namespace="ns",
        is_namespaced=lambda *_: True,
    )
    live = desired[0].body if in_sync else None
    return [ObjectState(desired[0], live, in_sync=in_sync)]


def test_stalling_error_sets_stalled_and_names_the_file() -> None:
    status = outcome.failed(
        RAW, RenderError("mapping values are not allowed", file="a.yaml", line=3)
    )
    assert _conditions(status) == {
        "Ready": ("False", "RenderFailed"),
        "Stalled": ("True", "RenderFailed"),
    }
    assert status["conditions"][0]["message"] == "a.yaml:3: mapping values are not allowed"
    assert status["observedGeneration"] == 4
    assert status["sync"]["status"] == "Unknown"


def test_transient_error_is_reconciling_not_stalled() -> None:
    status = outcome.failed(RAW, SourceUnavailableError("connection refused"))
    assert _conditions(status) == {
        "Ready": ("False", "SourceUnavailable"),
        "Reconciling": ("True", "Progressing"),
    }


def test_synced_and_healthy_is_ready() -> None:
    app = Application.model_validate(RAW)
    status = outcome.succeeded(app, Plan(app, "a" * 40, _states(in_sync=True)))
    assert _conditions(status) == {"Ready": ("True", "Synced")}
    assert status["sync"] == {"status": "Synced", "revision": "a" * 40}
    assert status["resources"][0]["name"] == "c"
    assert status["resources"][0]["namespace"] == "ns"


def test_out_of_sync_and_missing() -> None:
    app = Application.model_validate(RAW)
    status = outcome.succeeded(app, Plan(app, "b" * 40, _states(in_sync=False)))
    assert status["sync"]["status"] == "OutOfSync"
    assert status["health"]["status"] == "Missing"
    assert _conditions(status)["Ready"] == ("False", "OutOfSync")


def test_recovery_clears_stalled_and_unchanged_status_is_not_rewritten() -> None:
    stalled = outcome.failed(RAW, RenderError("bad"))
    app = Application.model_validate({**RAW, "status": stalled})
    status = outcome.succeeded(app, Plan(app, "c" * 40, _states(in_sync=True)))
    assert "Stalled" not in _conditions(status)
    assert outcome.same_status(status, status)
    assert not outcome.same_status(stalled, status)


def test_events_only_on_change() -> None:
    from driftless.controller.events import events_for

    stalled = outcome.failed(RAW, RenderError("bad"))
    assert events_for(stalled, stalled) == []
    [(kind, reason, message)] = events_for({}, stalled)
    assert (kind, reason, message) == ("Warning", "RenderFailed", "bad")


PAUSE = "cannot read ConfigMap ns/c to check its health: the server is currently unable"


def test_a_sync_paused_by_a_failed_read_says_why_on_ready_and_reconciling() -> None:
    """The operation stays Running with its own message; the conditions tell the pause."""
    from driftless.core.models import Operation, SyncOperation, SyncStep
    from driftless.pipeline.policy import start

    app = Application.model_validate(RAW)
    running = start(Operation(sync=SyncOperation()), "d" * 40)
    running.step = SyncStep(phase="Sync", wave=0, applied=True)
    plan = Plan(app, "d" * 40, _states(in_sync=True))
    status = outcome.succeeded(app, plan, operation=running, paused=PAUSE)
    messages = {c["type"]: c["message"] for c in status["conditions"]}
    assert _conditions(status) == {
        "Ready": ("False", "Progressing"),
        "Reconciling": ("True", "Progressing"),
    }
    for kind in ("Ready", "Reconciling"):
        assert messages[kind] == f"syncing revision {'d' * 12} (Sync, wave 0); paused: {PAUSE}"
    assert status["operationState"]["phase"] == "Running"
    assert PAUSE not in str(status["operationState"])

    unpaused = outcome.succeeded(app, plan, operation=running)
    assert all("paused" not in c["message"] for c in unpaused["conditions"])
