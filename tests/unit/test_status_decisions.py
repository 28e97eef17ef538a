"""From a reconcile's outcome to the app's status and requeue (``driftless.pipeline.status``).

Fixture tables of the module docstring's table: what the app's objects look
like in the cluster (or which error the reconcile raised), and what a user
then reads on the Application (``Ready``/``Reconciling``/``Stalled`` with
their reasons and messages, sync and health) and when it is checked again.
Expected values are written out, never computed by the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.errors import (
    DriftlessError,
    RenderError,
    SourceError,
    SourceUnavailableError,
    StallingError,
    TransientError,
    ValidationError,
    WaitingError,
)
from driftless.core.models import (
    Application,
    Operation,
    OperationPhase,
    OperationState,
    SyncStep,
)
from driftless.core.resources import Manifest, ResourceRef
from driftless.pipeline import status
from driftless.pipeline.plan import Plan
from driftless.sync.prepare import DesiredObject
from driftless.sync.states import ObjectState, Orphan

JSON = dict[str, Any]
REV, NEWER = "a" * 40, "b" * 40
RAW: JSON = {
    "apiVersion": "driftless.dev/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "a", "namespace": "driftless", "generation": 7},
    "spec": {"source": {"repoURL": "file:///r"}, "destination": {"namespace": "ns"}},
}


def conditions(body: JSON) -> dict[str, tuple[str, str, str]]:
    """type → (status, reason, message), as ``kubectl get -o yaml`` shows them."""
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in body["conditions"]}


# -- a failed reconcile -----------------------------------------------------------------

RETRYING = ("True", "Progressing")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            RenderError("mapping values are not allowed", file="a.yaml", line=3),
            {
                "Ready": ("False", "RenderFailed", "a.yaml:3: mapping values are not allowed"),
                "Stalled": ("True", "RenderFailed", "a.yaml:3: mapping values are not allowed"),
            },
            id="render error: stalled",
        ),
        pytest.param(
            SourceError("no revision v9"),
            {
                "Ready": ("False", "SourceFailed", "no revision v9"),
                "Stalled": ("True", "SourceFailed", "no revision v9"),
            },
            id="source error: stalled",
        ),
        pytest.param(
            ValidationError("kind Widget is unknown"),
            {
                "Ready": ("False", "ValidationFailed", "kind Widget is unknown"),
                "Stalled": ("True", "ValidationFailed", "kind Widget is unknown"),
            },
            id="validation error: stalled",
        ),
        pytest.param(
            StallingError("denied", reason="ProjectViolation"),
            {
                "Ready": ("False", "ProjectViolation", "denied"),
                "Stalled": ("True", "ProjectViolation", "denied"),
            },
            id="reason given by the raiser",
        ),
        pytest.param(
            SourceUnavailableError("connection refused"),
            {
                "Ready": ("False", "SourceUnavailable", "connection refused"),
                "Reconciling": ("True", "Progressing", "retrying after error: connection refused"),
            },
            id="unreachable source: retried",
        ),
        pytest.param(
            TransientError("api server: 503"),
            {
                "Ready": ("False", "ReconciliationFailed", "api server: 503"),
                "Reconciling": ("True", "Progressing", "retrying after error: api server: 503"),
            },
            id="transient: retried",
        ),
        pytest.param(
            DriftlessError("odd"),
            {
                "Ready": ("False", "ReconciliationFailed", "odd"),
                "Reconciling": ("True", "Progressing", "retrying after error: odd"),
            },
            id="generic: retried",
        ),
        pytest.param(
            WaitingError("waiting for the destination cluster"),
            {
                "Ready": ("False", "Progressing", "waiting for the destination cluster"),
                "Reconciling": (
                    "True",
                    "Progressing",
                    "retrying after error: waiting for the destination cluster",
                ),
            },
            id="waiting: reconciling",
        ),
        pytest.param(
            SourceUnavailableError("cannot fetch https://user:s3cret@example.com/r.git: 401"),
            {
                "Ready": (
                    "False", "SourceUnavailable", "cannot fetch https://example.com/r.git: 401"
                ),
                "Reconciling": (
                    "True",
                    "Progressing",
                    "retrying after error: cannot fetch https://example.com/r.git: 401",
                ),
            },
            id="credentials in a URL never reach a condition",
        ),
    ],
)  # fmt: skip
def test_failed(error: DriftlessError, expected: dict[str, tuple[str, str, str]]) -> None:
    body = status.failed(RAW, error)
    assert conditions(body) == expected
    assert body["observedGeneration"] == 7
    assert body["sync"] == {"status": "Unknown"}


PREVIOUS: JSON = {
    "sync": {"status": "Synced", "revision": REV},
    "health": {"status": "Healthy"},
    "resources": [{"kind": "ConfigMap", "name": "c", "namespace": "ns", "status": "Synced"}],
    "conditions": [
        {"type": "Ready", "status": "False", "reason": "RenderFailed", "message": "old",
         "lastTransitionTime": "2026-12-01T00:00:00Z"},
        {"type": "Stalled", "status": "True", "reason": "RenderFailed", "message": "old",
         "lastTransitionTime": "2026-12-01T00:00:00Z"},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("error", "types"),
    [
        pytest.param(TransientError("x"), ["Ready", "Reconciling"], id="stalled → retrying"),
        pytest.param(RenderError("x"), ["Ready", "Stalled"], id="stalled → stalled again"),
    ],
)
def test_failed_after_a_previous_status(error: DriftlessError, types: list[str]) -> None:
    body = status.failed({**RAW, "status": PREVIOUS}, error)
    assert [c["type"] for c in body["conditions"]] == types
    # What was known is kept; only the comparison is unknown now.
    assert body["sync"] == {"status": "Unknown", "revision": REV}
    assert body["health"] == {"status": "Healthy"}
    assert [r["name"] for r in body["resources"]] == ["c"]


def test_failed_on_an_unreadable_status_starts_afresh() -> None:
    body = status.failed({**RAW, "status": {"sync": "not an object"}}, RenderError("bad"))
    assert body["sync"] == {"status": "Unknown"}
    assert set(conditions(body)) == {"Ready", "Stalled"}


# -- a reconcile that reached the cluster --------------------------------------------------


def desired(kind: str, name: str, api_version: str = "v1") -> DesiredObject:
    body = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "ns"}}
    return DesiredObject(ref=ResourceRef.from_object(body), body=body, manifest=Manifest(body))


def live(kind: str, name: str, obj_status: JSON | None = None, api_version: str = "v1") -> JSON:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"suspend": True} if kind == "CronJob" else {},
        "status": obj_status or {},
    }


def state(kind: str, name: str, *, in_sync: bool = True, **kw: Any) -> ObjectState:
    api_version = "batch/v1" if kind == "CronJob" else "v1"
    body = None if kw.get("missing") else live(kind, name, kw.get("status"), api_version)
    message = "" if in_sync else "differs"
    return ObjectState(desired(kind, name, api_version), body, in_sync=in_sync, message=message)


def orphan(name: str, *, prune: bool = True) -> Orphan:
    body = live("ConfigMap", name)
    if not prune:
        body["metadata"]["annotations"] = {"driftless.dev/sync-options": "Prune=false"}
    return Orphan(ResourceRef("", "ConfigMap", "ns", name), "v1", body)


CM = state("ConfigMap", "c")
PENDING = state("PersistentVolumeClaim", "data", status={"phase": "Pending"})
LOST = state("PersistentVolumeClaim", "data", status={"phase": "Lost"})
SUSPENDED = state("CronJob", "nightly")
MISSING = state("ConfigMap", "gone", in_sync=False, missing=True)


@pytest.mark.parametrize(
    ("states", "orphans", "sync", "health", "expected"),
    [
        pytest.param(
            [CM], [], "Synced", "Healthy",
            {"Ready": ("True", "Synced", "revision aaaaaaaaaaaa applied and healthy")},
            id="synced, healthy",
        ),
        pytest.param(
            [CM, PENDING], [], "Synced", "Progressing",
            {
                "Ready": ("False", "Progressing", "revision aaaaaaaaaaaa applied; waiting for: "
                          "PersistentVolumeClaim ns/data: claim is pending"),
                "Reconciling": ("True", "Progressing", "revision aaaaaaaaaaaa applied; waiting "
                                "for: PersistentVolumeClaim ns/data: claim is pending"),
            },
            id="synced, progressing",
        ),
        pytest.param(
            [CM, LOST], [], "Synced", "Degraded",
            {"Ready": ("False", "Degraded", "revision aaaaaaaaaaaa applied; Degraded: "
                       "PersistentVolumeClaim ns/data: claim lost its volume")},
            id="synced, degraded",
        ),
        pytest.param(
            [SUSPENDED], [], "Synced", "Suspended",
            {"Ready": ("False", "Degraded", "revision aaaaaaaaaaaa applied; Suspended: "
                       "CronJob.batch ns/nightly: cronjob is suspended")},
            id="synced, suspended: not Ready",
        ),
        pytest.param(
            [CM, MISSING], [], "OutOfSync", "Missing",
            {"Ready": ("False", "OutOfSync", "1 resource(s) differ from revision aaaaaaaaaaaa")},
            id="out of sync: a missing object",
        ),
        pytest.param(
            [CM], [orphan("old")], "OutOfSync", "Healthy",
            {"Ready": ("False", "OutOfSync", "1 resource(s) differ from revision aaaaaaaaaaaa")},
            id="out of sync: an object to prune",
        ),
        pytest.param(
            [CM], [orphan("kept", prune=False)], "Synced", "Healthy",
            {"Ready": ("True", "Synced", "revision aaaaaaaaaaaa applied and healthy")},
            id="an orphan with Prune=false is no drift",
        ),
    ],
)  # fmt: skip
def test_succeeded(
    states: list[ObjectState],
    orphans: list[Orphan],
    sync: str,
    health: str,
    expected: dict[str, tuple[str, str, str]],
) -> None:
    app = Application.model_validate(RAW)
    body = status.succeeded(app, Plan(app, REV, states, orphans=orphans))
    assert conditions(body) == expected
    assert body["sync"] == {"status": sync, "revision": REV}
    assert body["health"]["status"] == health
    assert body["observedGeneration"] == 7


@pytest.mark.parametrize(
    ("orphan_obj", "blocked", "message"),
    [
        pytest.param(orphan("old"), None, "requires pruning", id="to prune"),
        pytest.param(
            orphan("old"),
            "the render is empty",
            "requires pruning: the render is empty",
            id="pruning blocked",
        ),
        pytest.param(
            orphan("old", prune=False), None, "not in git; kept because of Prune=false", id="kept"
        ),
    ],
)
def test_orphan_rows(orphan_obj: Orphan, blocked: str | None, message: str) -> None:
    app = Application.model_validate(RAW)
    plan = Plan(app, REV, [CM], orphans=[orphan_obj], prune_blocked=blocked)
    row = status.succeeded(app, plan)["resources"][1]
    assert (row["name"], row["status"], row["requiresPruning"], row["message"]) == (
        "old",
        "OutOfSync",
        True,
        message,
    )


def operation(
    phase: OperationPhase,
    *,
    revision: str = REV,
    step: SyncStep | None = None,
    message: str = "",
) -> OperationState:
    return OperationState(
        operation=Operation(),
        phase=phase,
        message=message,
        started_at="2026-12-03T09:00:00Z",
        revision=revision,
        step=step,
    )


@pytest.mark.parametrize(
    ("states", "target", "op", "expected"),
    [
        pytest.param(
            [CM], REV, operation(OperationPhase.RUNNING, step=SyncStep(phase="Sync", wave=1)),
            {"Ready": ("False", "Progressing", "syncing revision aaaaaaaaaaaa (Sync, wave 1)"),
             "Reconciling": ("True", "Progressing",
                             "syncing revision aaaaaaaaaaaa (Sync, wave 1)")},
            id="running: reconciling even when the objects look healthy",
        ),
        pytest.param(
            [CM], REV,
            operation(OperationPhase.RUNNING, step=SyncStep(
                phase="Sync", wave=0, waiting_since="2026-12-03T09:01:00Z")),
            {"Ready": ("False", "Progressing", "syncing revision aaaaaaaaaaaa (Sync, wave 0), "
                       "waiting for health since 2026-12-03T09:01:00Z"),
             "Reconciling": ("True", "Progressing", "syncing revision aaaaaaaaaaaa (Sync, wave "
                             "0), waiting for health since 2026-12-03T09:01:00Z")},
            id="running, waiting for health",
        ),
        pytest.param(
            [CM], NEWER, operation(OperationPhase.RUNNING),
            {"Ready": ("False", "Progressing", "syncing revision aaaaaaaaaaaa; the target is "
                       "now revision bbbbbbbbbbbb"),
             "Reconciling": ("True", "Progressing", "syncing revision aaaaaaaaaaaa; the target "
                             "is now revision bbbbbbbbbbbb")},
            id="running an older revision than git's",
        ),
        pytest.param(
            [MISSING], REV, operation(OperationPhase.FAILED, message="Job x failed"),
            {"Ready": ("False", "SyncFailed", "sync of aaaaaaaaaaaa failed: Job x failed")},
            id="failed sync explains Ready=False",
        ),
        pytest.param(
            [MISSING], REV, operation(OperationPhase.ERROR, message="boom"),
            {"Ready": ("False", "SyncFailed", "sync of aaaaaaaaaaaa failed: boom")},
            id="errored sync too",
        ),
        pytest.param(
            [CM], REV, operation(OperationPhase.FAILED, message="PostSync hook failed"),
            {"Ready": ("True", "Synced", "revision aaaaaaaaaaaa applied and healthy")},
            id="failed sync of an app that is Ready anyway",
        ),
        pytest.param(
            [MISSING], REV, operation(OperationPhase.TERMINATED, message="terminated"),
            {"Ready": ("False", "OutOfSync", "1 resource(s) differ from revision aaaaaaaaaaaa")},
            id="terminated: the app's own state",
        ),
    ],
)  # fmt: skip
def test_succeeded_with_an_operation(
    states: list[ObjectState],
    target: str,
    op: OperationState,
    expected: dict[str, tuple[str, str, str]],
) -> None:
    app = Application.model_validate(RAW)
    body = status.succeeded(app, Plan(app, target, states), operation=op)
    assert conditions(body) == expected
    assert body["operationState"]["phase"] == op.phase


# -- when to look again ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("health", "running", "wait", "low", "high"),
    [
        pytest.param("Healthy", True, 0.0, 3.0, 3.0, id="sync running: 3s"),
        pytest.param("Progressing", False, 0.0, 3.0, 3.0, id="rollout progressing: 3s"),
        pytest.param("Missing", False, 0.0, 3.0, 3.0, id="objects missing: 3s"),
        pytest.param("Progressing", False, 50.0, 3.0, 3.0, id="progress poll beats a retry"),
        pytest.param("Healthy", False, 0.0, 270.0, 330.0, id="healthy: interval, jittered"),
        pytest.param("Degraded", False, 0.0, 270.0, 330.0, id="degraded: interval"),
        pytest.param("Healthy", False, 20.0, 20.0, 20.0, id="a retry due before the interval"),
        pytest.param("Healthy", False, 3600.0, 270.0, 330.0, id="retry due after the interval"),
    ],
)
def test_after_run(health: str, running: bool, wait: float, low: float, high: float) -> None:
    for _ in range(20):  # the jitter is random: every draw stays in bounds
        outcome = status.after_run({"health": {"status": health}}, 300.0, running, wait)
        assert low <= outcome.requeue_after <= high
        assert outcome.error is None


@pytest.mark.parametrize(
    ("interval", "default", "seconds"),
    [
        pytest.param(None, 180.0, 180.0, id="controller default"),
        pytest.param("5m", 180.0, 300.0, id="the app's own"),
        pytest.param("1h30s", 180.0, 3630.0, id="hours and seconds"),
        pytest.param("0s", 180.0, 1.0, id="never below 1s"),
    ],
)
def test_interval_of(interval: str | None, default: float, seconds: float) -> None:
    raw = {**RAW, "spec": {**RAW["spec"], "interval": interval}}
    assert status.interval_of(Application.model_validate(raw), default) == seconds


@pytest.mark.parametrize(
    ("error", "retriable"),
    [
        pytest.param(None, False, id="no error"),
        pytest.param(TransientError("x"), True, id="transient"),
        pytest.param(DriftlessError("x"), True, id="generic"),
        pytest.param(RenderError("x"), False, id="stalling: input must change"),
    ],
)
def test_outcome_retriable(error: DriftlessError | None, retriable: bool) -> None:
    assert status.Outcome(requeue_after=1.0, error=error).retriable is retriable


WRITTEN: JSON = {
    "sync": {"status": "Synced", "revision": REV},
    "health": {"status": "Healthy"},
    "resources": [],
    "conditions": [],
    "history": [],
}


@pytest.mark.parametrize(
    ("old", "same"),
    [
        pytest.param(WRITTEN, True, id="identical"),
        pytest.param({**WRITTEN, "unknownField": 1}, True, id="a field driftless does not know"),
        pytest.param({k: v for k, v in WRITTEN.items() if k != "resources"}, True,
                     id="an empty list left out"),
        pytest.param({**WRITTEN, "sync": {"status": "OutOfSync", "revision": REV}}, False,
                     id="sync changed"),
        pytest.param({**WRITTEN, "health": {"status": "Degraded"}}, False, id="health changed"),
        pytest.param({}, False, id="nothing written yet"),
    ],
)  # fmt: skip
def test_same_status(old: JSON, same: bool) -> None:
    assert status.same_status(old, WRITTEN) is same
