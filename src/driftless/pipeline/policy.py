"""When to start a sync, when to retry one, and what history keeps. Pure.

Auto-sync rules (``syncPolicy.automated`` set):

* nothing is started while the cluster already matches git;
* a new revision or a changed source (path, options) is synced at once;
* drift at an already synced revision and source is reverted only with
  ``selfHeal`` — and then no more often than the heal backoff allows, so
  driftless never fights another controller in a tight loop;
* an automated sync that failed is not started again for the same revision
  and source, except by the retry policy (``syncPolicy.retry``: limit, then
  exponential backoff from ``duration`` by ``factor`` up to ``maxDuration``).

Manual operations (the ``operation`` field) always run, one at a time, each
request once (``served``: a request whose clearing was interrupted is not run
again, while a new request with the same options is).

Ending early (rules in ``driftless.sync``; the safe point is
``sync.runner.at_safe_point``):

* ``should_supersede``: an automated operation that is only waiting is
  superseded by a newer target revision, unless ``syncPolicy.supersede`` is
  off or the app is no longer automated; a manual one never is;
* ``should_terminate``: ``driftless app terminate-op`` wrote the annotation
  ``driftless.dev/terminate-operation`` naming the running operation by its
  ``startedAt``; a value naming another operation is stale and ignored;
* neither a superseded nor a terminated operation is retried by policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from driftless.core.conditions import now_rfc3339
from driftless.core.models import (
    Application,
    ApplicationSource,
    HistoryEntry,
    InitiatedBy,
    Operation,
    OperationPhase,
    OperationState,
    RetryPolicy,
    SyncOperation,
    parse_duration,
)
from driftless.core.wellknown import TERMINATE_ANNOTATION

TERMINATED_MESSAGE = "terminated on request (driftless app terminate-op); nothing more is applied"
# Phases the retry policy retries (Superseded and Terminated ones are not).
RETRIED = (OperationPhase.FAILED, OperationPhase.ERROR)

HEAL_BACKOFF_BASE = 2.0
HEAL_BACKOFF_MAX = 300.0
# A heal this long after the previous one starts the backoff from scratch.
HEAL_RESET_SECONDS = 600.0


@dataclass
class HealRecord:
    """Recent self-heals of one app (kept in memory by the controller)."""

    count: int = 0
    last: float = 0.0

    def delay(self, now: float) -> float:
        """Seconds to wait before the next heal is allowed (0: allowed now)."""
        if self.count == 0 or now - self.last > HEAL_RESET_SECONDS:
            return 0.0
        wait = min(HEAL_BACKOFF_BASE * 2.0 ** (self.count - 1), HEAL_BACKOFF_MAX)
        return max(0.0, self.last + wait - now)

    def healed(self, now: float) -> None:
        self.count = 1 if now - self.last > HEAL_RESET_SECONDS else self.count + 1
        self.last = now


@dataclass(frozen=True)
class AutoSyncDecision:
    operation: Operation | None
    wait: float = 0.0  # > 0: an operation is due later (heal backoff or retry)
    reason: str = ""
    is_heal: bool = False


def _parse_time(text: str | None) -> float:
    if not text:
        return 0.0
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def same_source(a: ApplicationSource | None, b: ApplicationSource) -> bool:
    return a is not None and a.to_api() == b.to_api()


def last_synced(app: Application) -> HistoryEntry | None:
    succeeded = [h for h in app.status.history if h.result == OperationPhase.SUCCEEDED]
    return succeeded[-1] if succeeded else None


def decide_auto_sync(
    app: Application, revision: str, needs_sync: bool, heal: HealRecord, now: float
) -> AutoSyncDecision:
    """Whether to start an automated sync of ``revision`` now."""
    automated = app.spec.sync_policy.automated
    if automated is None:
        return AutoSyncDecision(None)
    previous = app.status.operation_state
    same_target = previous is not None and _same_target(previous, app, revision)
    if previous is not None and same_target and previous.phase in RETRIED:
        # A failed sync is retried by policy even when the objects look in sync:
        # what failed may be a hook, which is not part of the comparison.
        return _retry(previous, app.spec.sync_policy.retry, now)
    if previous is not None and same_target and previous.phase == OperationPhase.TERMINATED:
        return AutoSyncDecision(
            None, reason="the last sync of this revision was terminated; sync manually"
        )
    if not needs_sync:
        return AutoSyncDecision(None)
    operation = Operation(
        sync=SyncOperation(prune=automated.prune),
        initiated_by=InitiatedBy(automated=True),
    )
    if same_target:
        if not automated.self_heal:
            return AutoSyncDecision(None, reason="drift at a synced revision; selfHeal is off")
        wait = heal.delay(now)
        if wait > 0:
            return AutoSyncDecision(None, wait=wait, reason="self-heal backoff")
        return AutoSyncDecision(operation, reason="self-heal", is_heal=True)
    return AutoSyncDecision(operation, reason=f"new revision {revision[:12]}")


def _same_target(previous: OperationState, app: Application, revision: str) -> bool:
    """Did the previous operation sync this very revision from this very source?"""
    last = app.status.history[-1] if app.status.history else None
    same_src = last is None or same_source(last.source, app.spec.source)
    return previous.revision == revision and same_src


def _retry(previous: OperationState, policy: RetryPolicy | None, now: float) -> AutoSyncDecision:
    if policy is None or previous.operation.retry >= policy.limit:
        return AutoSyncDecision(None, reason="the last sync of this revision failed")
    delay = retry_delay(policy, previous.operation.retry)
    due = _parse_time(previous.finished_at) + delay
    if due > now:
        return AutoSyncDecision(None, wait=due - now, reason="retry backoff")
    operation = previous.operation.model_copy(deep=True)
    operation.retry += 1
    return AutoSyncDecision(operation, reason=f"retry {operation.retry} of {policy.limit}")


def retry_wait(policy: RetryPolicy | None, state: OperationState | None) -> float:
    """Seconds until a just-failed operation may be retried; 0 when it will not be."""
    if policy is None or state is None or state.phase not in RETRIED:
        return 0.0
    if state.operation.retry >= policy.limit:
        return 0.0
    return retry_delay(policy, state.operation.retry)


def retry_delay(policy: RetryPolicy, attempt: int) -> float:
    base = parse_duration(policy.backoff.duration).total_seconds()
    cap = parse_duration(policy.backoff.max_duration).total_seconds()
    return float(min(base * policy.backoff.factor**attempt, cap))


def served(requested: Operation, previous: OperationState | None) -> bool:
    """Did the ended operation ``previous`` run this very request ``requested``?

    True means the request was served and only its removal from the app was
    interrupted (a conflict, an outage, a restart): it must not run twice.
    Requests are compared whole, with ``requestedAt``: every front end stamps
    a new one on each request (``pipeline.requests``), so a second request
    with the same options is a new request, and the request read again is
    the one that ran. ``retry`` is the controller's count (``_retry`` copies
    the operation), not part of what was asked, so it is left out. A request
    without a stamp (written by hand, or by an older client) is told apart by
    its options alone.
    """
    if previous is None or previous.phase == OperationPhase.RUNNING:
        return False
    return _asked(requested) == _asked(previous.operation)


def _asked(operation: Operation) -> dict[str, object]:
    """What a person asked for: the operation without the controller's retry count."""
    asked = operation.to_api()
    asked.pop("retry", None)
    return asked


def start(operation: Operation, revision: str) -> OperationState:
    return OperationState(operation=operation, started_at=now_rfc3339(), revision=revision)


def add_history(app: Application, state: OperationState) -> list[HistoryEntry]:
    """History with the finished ``state`` appended, trimmed to the app's limit."""
    history = list(app.status.history)
    next_id = max((h.id for h in history), default=-1) + 1
    source = app.spec.source.model_copy(deep=True)
    if state.operation.sync.dry_run:
        return history
    history.append(
        HistoryEntry(
            id=next_id,
            revision=state.revision,
            deployed_at=state.finished_at or now_rfc3339(),
            started_at=state.started_at,
            initiated_by=state.operation.initiated_by,
            result=state.phase,
            source=source,
        )
    )
    return history[-app.spec.revision_history_limit :]


def should_supersede(app: Application, running: OperationState, target_revision: str) -> bool:
    """Does ``target_revision`` replace the automated operation ``running``?

    The caller checks the safe point; this is the policy alone.
    """
    policy = app.spec.sync_policy
    return (
        policy.automated is not None
        and policy.supersede
        and running.operation.initiated_by.automated
        and not running.operation.sync.dry_run
        and bool(running.revision)
        and target_revision != running.revision
    )


def superseding_operation(app: Application) -> Operation:
    """The automated operation that replaces a superseded one."""
    automated = app.spec.sync_policy.automated
    return Operation(
        sync=SyncOperation(prune=bool(automated and automated.prune)),
        initiated_by=InitiatedBy(automated=True),
    )


def terminate_request(app: Application) -> str | None:
    """The value of the termination annotation, if any (``None``: no request)."""
    return app.annotations.get(TERMINATE_ANNOTATION)


def should_terminate(app: Application, running: OperationState) -> bool:
    """Does the annotation ask to stop this very operation?"""
    wanted = terminate_request(app)
    return wanted is not None and wanted.strip() == running.started_at
