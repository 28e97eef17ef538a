"""Deployment health, as ``kubectl rollout status`` judges it, plus maxUnavailable.

In order:

1. ``spec.paused`` → Suspended (a paused rollout never finishes on its own).
2. ``status.observedGeneration`` absent or behind ``metadata.generation`` →
   Progressing: the deployment controller has not seen the latest spec.
3. Condition ``Progressing`` with reason ``ProgressDeadlineExceeded`` → Degraded:
   the rollout made no progress for ``spec.progressDeadlineSeconds``.
   Condition ``ReplicaFailure=True`` (pods cannot be created: quota, admission)
   → Degraded.
4. The rollout itself, as kubectl: fewer updated replicas than wanted, old
   replicas still running, or updated replicas not yet available → Progressing.
5. Once a rollout has completed (``Progressing`` reason ``NewReplicaSetAvailable``)
   and only availability lags, the Deployment's own ``Available`` condition decides,
   which encodes ``maxUnavailable``: ``Available=True`` → Healthy (a pod restarting
   within the budget does not make the app unhealthy); ``Available=False`` →
   Progressing. Not Degraded: a scale-up looks exactly like this too, and the
   object carries no deadline for it.

``spec.replicas`` defaults to 1; counts the API omits are zero.
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, degraded, healthy, progressing, suspended

_COMPLETE = "NewReplicaSetAvailable"


def assess(obj: f.Obj) -> HealthResult:
    """The health of a ``apps/v1`` Deployment."""
    if f.spec(obj).get("paused"):
        return suspended("deployment is paused")
    if f.generation_unobserved(obj):
        return progressing("waiting for the deployment controller to observe the latest spec")
    failure = _failure(obj)
    if failure is not None:
        return failure
    return _rollout(obj)


def _failure(obj: f.Obj) -> HealthResult | None:
    conditions = f.conditions(obj)
    progress = conditions.get("Progressing")
    if progress is not None and progress.get("reason") == "ProgressDeadlineExceeded":
        return degraded(f"rollout exceeded its progress deadline: {f.describe(progress)}")
    replica_failure = conditions.get("ReplicaFailure")
    if replica_failure is not None and f.is_true(replica_failure):
        return degraded(f"cannot create pods: {f.describe(replica_failure)}")
    return None


def _rollout(obj: f.Obj) -> HealthResult:
    status = f.status(obj)
    wanted = f.integer(f.spec(obj), "replicas", 1)
    updated = f.integer(status, "updatedReplicas")
    total = f.integer(status, "replicas")
    available = f.integer(status, "availableReplicas")
    if updated < wanted:
        return progressing(f"{updated} of {wanted} replicas updated")
    if total > updated:
        return progressing(f"{total - updated} old replicas pending termination")
    if available < updated:
        return _availability(obj, available, updated)
    return healthy(f"{available} of {wanted} replicas available")


def _availability(obj: f.Obj, available: int, updated: int) -> HealthResult:
    conditions = f.conditions(obj)
    progress = conditions.get("Progressing") or {}
    lagging = f"{available} of {updated} updated replicas available"
    if progress.get("reason") != _COMPLETE:
        return progressing(lagging)
    if f.is_true(conditions.get("Available")):
        return healthy(f"{lagging} (within maxUnavailable)")
    return progressing(f"{lagging}, below the minimum (maxUnavailable exceeded)")
