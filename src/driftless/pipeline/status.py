"""From a reconcile result or error to a status and a requeue delay. Pure.

This is the one place that maps outcomes to conditions:

=====================  =====  ===========  =======  ==========================
outcome                Ready  Reconciling  Stalled  requeue
=====================  =====  ===========  =======  ==========================
synced, healthy        True   -            -        interval
synced, progressing    False  True         -        soon (health is polled)
synced, degraded       False  -            -        interval
out of sync (manual)   False  -            -        interval
StallingError          False  -            True     interval (input must change)
other DriftlessError   False  True         -        backoff (by the manager)
sync paused by a read  as     True         -        backoff (by the manager)
                       above
=====================  =====  ===========  =======  ==========================

A sync pass interrupted by a failed read (``sync.runner``) keeps the
operation Running; the reason is told in the Ready and Reconciling messages
("...; paused: <why>"), never in the operation's own message, which is the
operation's outcome.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from driftless.core import conditions as cond
from driftless.core.errors import DriftlessError, StallingError
from driftless.core.models import (
    Application,
    ApplicationStatus,
    Condition,
    HealthStatus,
    HealthStatusCode,
    HistoryEntry,
    OperationPhase,
    OperationState,
    ResourceStatus,
    SyncStatus,
    SyncStatusCode,
    parse_duration,
)
from driftless.core.reasons import Reason
from driftless.core.repourl import redact
from driftless.core.resources import ResourceRef
from driftless.core.vocabulary import ResultCode
from driftless.health import HealthResult, worst
from driftless.pipeline.plan import Plan
from driftless.sync.states import ObjectState, Orphan

JSON = dict[str, Any]
PROGRESS_POLL_SECONDS = 3.0


@dataclass(frozen=True)
class Outcome:
    """What the manager should do after a reconcile."""

    requeue_after: float
    error: DriftlessError | None = None

    @property
    def retriable(self) -> bool:
        return self.error is not None and not isinstance(self.error, StallingError)


def interval_of(app: Application, default: float) -> float:
    """The app's re-check interval, or the controller default."""
    if app.spec.interval:
        return max(parse_duration(app.spec.interval).total_seconds(), 1.0)
    return default


def jittered(seconds: float, fraction: float = 0.1) -> float:
    """Spread requeues of many apps so they do not hit git and the API in bursts."""
    return seconds * (1 + random.uniform(-fraction, fraction))


def first_error(exc: PydanticValidationError) -> str:
    """``field.path: problem`` of a model's first validation error, for a condition."""
    first = exc.errors()[0]
    location = ".".join(str(p) for p in first["loc"])
    return f"{location}: {first['msg']}" if location else str(first["msg"])


def _status_of(raw: JSON) -> ApplicationStatus:
    try:
        return ApplicationStatus.model_validate(raw.get("status") or {})
    except ValueError:
        return ApplicationStatus()


def failed(raw: JSON, err: DriftlessError) -> JSON:
    """Status after a failed reconcile: previous resources kept, sync Unknown."""
    status = _status_of(raw)
    generation = raw.get("metadata", {}).get("generation")
    status.observed_generation = generation
    status.sync = SyncStatus(status=SyncStatusCode.UNKNOWN, revision=status.sync.revision)
    # Last fence: no URL credential reaches a condition, whatever raised.
    message = redact(err.message)
    conditions = cond.set_condition(
        status.conditions, cond.READY, False, err.reason, message, generation=generation
    )
    if isinstance(err, StallingError):
        conditions = cond.set_condition(
            conditions, cond.STALLED, True, err.reason, message, generation=generation
        )
        conditions = cond.remove_condition(conditions, cond.RECONCILING)
    else:
        conditions = cond.set_condition(
            conditions,
            cond.RECONCILING,
            True,
            Reason.PROGRESSING,
            f"retrying after error: {message}",
            generation=generation,
        )
        conditions = cond.remove_condition(conditions, cond.STALLED)
    status.conditions = cond.ordered(conditions)
    return status.to_api()


def succeeded(
    app: Application,
    plan: Plan,
    *,
    operation: OperationState | None = None,
    history: list[HistoryEntry] | None = None,
    paused: str | None = None,
) -> JSON:
    """Status after a pipeline run that reached the cluster.

    ``paused`` is why the pass's sync step stopped early (a failed read), if it did.
    """
    status = _status_of({"status": app.status.to_api()})
    status.observed_generation = app.generation
    status.operation_state = operation
    if history is not None:
        status.history = history
    done = operation.resources if operation else []
    pruned = sum(1 for r in done if r.status == ResultCode.PRUNED)
    health = plan.health()
    states = plan.states
    resources = [_resource_status(s, health.get(s.desired.ref)) for s in states]
    resources += [_orphan_status(o, plan.prune_blocked) for o in plan.orphans]
    in_sync = all(s.in_sync for s in states) and all(
        o.prune_disabled or o.ignore_extraneous for o in plan.orphans
    )
    status.resources = resources
    status.sync = SyncStatus(
        status=SyncStatusCode.SYNCED if in_sync else SyncStatusCode.OUT_OF_SYNC,
        revision=plan.revision,
    )
    verdicts = [
        health.get(s.desired.ref, HealthResult(HealthStatusCode.MISSING, "not in the cluster"))
        for s in states
    ]
    overall = worst(verdicts)
    status.health = HealthStatus(status=overall.status, message=_health_message(states, health))
    if pruned or any(s.message == "applied" for s in states):
        status.last_synced_at = cond.now_rfc3339()
    conditions = _conditions(status, in_sync, overall.status, plan.revision, app.generation)
    conditions = _with_operation(conditions, operation, app.generation, plan.revision)
    status.conditions = cond.ordered(_paused(conditions, paused, app.generation))
    return status.to_api()


def _paused(conditions: list[Condition], paused: str | None, generation: int) -> list[Condition]:
    """Name why the pass stopped early on Ready, and keep the app Reconciling (it is retried)."""
    if not paused:
        return conditions
    why = f"paused: {redact(paused)}"
    ready = cond.find(conditions, cond.READY)
    if ready is not None:
        message = f"{ready.message}; {why}" if ready.message else why
        conditions = cond.set_condition(
            conditions, cond.READY, ready.status == "True", Reason(ready.reason), message,
            generation=generation,
        )  # fmt: skip
    reconciling = cond.find(conditions, cond.RECONCILING)
    base = reconciling.message if reconciling else ready.message if ready else ""
    message = f"{base}; {why}" if base else why
    return cond.set_condition(
        conditions, cond.RECONCILING, True, Reason.PROGRESSING, message, generation=generation
    )


def _with_operation(
    conditions: list[Condition],
    operation: OperationState | None,
    generation: int,
    target: str = "",
) -> list[Condition]:
    """A running sync keeps the app Reconciling; a failed one explains Ready=False.

    While a sync of an older revision runs, the message names the newer
    ``target`` too (the sync status already compares with it).
    """
    if operation is None:
        return conditions
    if operation.phase == OperationPhase.RUNNING:
        step = operation.step
        where = f" ({step.phase}, wave {step.wave})" if step and step.wave is not None else ""
        message = f"syncing revision {operation.revision[:12]}{where}"
        if step is not None and step.waiting_since:
            message += f", waiting for health since {step.waiting_since}"
        if target and operation.revision and target != operation.revision:
            message += f"; the target is now revision {target[:12]}"
        conditions = cond.set_condition(
            conditions, cond.READY, False, Reason.PROGRESSING, message, generation=generation
        )
        return cond.set_condition(
            conditions, cond.RECONCILING, True, Reason.PROGRESSING, message, generation=generation
        )
    ready = cond.find(conditions, cond.READY)
    failed = operation.phase in (OperationPhase.FAILED, OperationPhase.ERROR)
    if failed and ready is not None and ready.status != "True":
        return cond.set_condition(
            conditions,
            cond.READY,
            False,
            Reason.SYNC_FAILED,
            f"sync of {operation.revision[:12]} failed: {operation.message}",
            generation=generation,
        )
    return conditions


def _orphan_status(orphan: Orphan, blocked: str | None) -> ResourceStatus:
    ref = orphan.ref
    if orphan.prune_disabled:
        message = "not in git; kept because of Prune=false"
    else:
        message = f"requires pruning: {blocked}" if blocked else "requires pruning"
    return ResourceStatus(
        group=ref.group,
        version=orphan.api_version.rpartition("/")[2],
        kind=ref.kind,
        namespace=ref.namespace,
        name=ref.name,
        status=SyncStatusCode.OUT_OF_SYNC,
        message=message,
        requires_pruning=True,
    )


def _conditions(
    status: ApplicationStatus,
    in_sync: bool,
    health: HealthStatusCode,
    revision: str,
    generation: int,
) -> list[Condition]:
    conditions = cond.remove_condition(status.conditions, cond.STALLED)
    short = revision[:12]
    if not in_sync:
        count = sum(1 for r in status.resources if r.status != SyncStatusCode.SYNCED)
        ready = (False, Reason.OUT_OF_SYNC, f"{count} resource(s) differ from revision {short}")
        reconciling = None
    elif health == HealthStatusCode.HEALTHY:
        ready = (True, Reason.SYNCED, f"revision {short} applied and healthy")
        reconciling = None
    elif health in (HealthStatusCode.PROGRESSING, HealthStatusCode.MISSING):
        message = f"revision {short} applied; waiting for: {status.health.message}"
        ready = (False, Reason.PROGRESSING, message)
        reconciling = message
    else:
        message = f"revision {short} applied; {health}: {status.health.message}"
        ready = (False, Reason.DEGRADED, message)
        reconciling = None
    conditions = cond.set_condition(
        conditions, cond.READY, ready[0], ready[1], ready[2], generation=generation
    )
    if reconciling is None:
        return cond.remove_condition(conditions, cond.RECONCILING)
    return cond.set_condition(
        conditions, cond.RECONCILING, True, Reason.PROGRESSING, reconciling, generation=generation
    )


def _resource_status(state: ObjectState, health: HealthResult | None) -> ResourceStatus:
    ref = state.desired.ref
    version = state.desired.api_version.rpartition("/")[2]
    return ResourceStatus(
        group=ref.group,
        version=version,
        kind=ref.kind,
        namespace=ref.namespace,
        name=ref.name,
        status=SyncStatusCode.SYNCED if state.in_sync else SyncStatusCode.OUT_OF_SYNC,
        health=HealthStatus(status=health.status, message=health.message or None)
        if health
        else HealthStatus(status=HealthStatusCode.MISSING),
        message=None if state.in_sync else state.message or None,
    )


def _health_message(states: list[ObjectState], health: dict[ResourceRef, HealthResult]) -> str:
    """Name the resources that keep the app from being healthy (at most three)."""
    unhealthy = []
    for state in states:
        verdict = health.get(state.desired.ref)
        if verdict is None:
            unhealthy.append(f"{state.desired.ref} is missing")
        elif verdict.status != HealthStatusCode.HEALTHY:
            unhealthy.append(f"{state.desired.ref}: {verdict.message or verdict.status}")
    if not unhealthy:
        return ""
    more = f" (+{len(unhealthy) - 3} more)" if len(unhealthy) > 3 else ""
    return "; ".join(unhealthy[:3]) + more


def after_run(status: JSON, interval: float, running: bool, wait: float) -> Outcome:
    """Poll again soon while a sync runs or a rollout progresses, otherwise at the interval."""
    health = (status.get("health") or {}).get("status")
    progressing = health in (HealthStatusCode.PROGRESSING, HealthStatusCode.MISSING)
    if running or progressing:
        return Outcome(requeue_after=PROGRESS_POLL_SECONDS)
    if wait > 0:
        return Outcome(requeue_after=min(wait, jittered(interval)))
    return Outcome(requeue_after=jittered(interval))


def same_status(old: JSON, new: JSON) -> bool:
    """True when writing ``new`` would not change what the object shows."""
    # Usually the stored status is exactly what was written last time: a plain
    # comparison avoids re-validating hundreds of resource rows on every reconcile.
    return old == new or _status_of({"status": old}).to_api() == new
