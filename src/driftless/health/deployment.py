"""Deployment health, as ``kubectl rollout status`` judges it.

Progressing while the controller has not observed the latest generation or
replicas are not yet updated/available; Degraded when the rollout exceeded
its progressDeadlineSeconds; Suspended when paused; otherwise Healthy.
"""

from __future__ import annotations

from typing import Any

from driftless.core.models import HealthStatusCode
from driftless.health.conditions import generation_pending
from driftless.health.result import HealthResult


def assess(obj: dict[str, Any]) -> HealthResult:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if spec.get("paused"):
        return HealthResult(HealthStatusCode.SUSPENDED, "deployment is paused")
    if generation_pending(obj) or "observedGeneration" not in status:
        return HealthResult(HealthStatusCode.PROGRESSING, "waiting for rollout to start")
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    progressing = conditions.get("Progressing", {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return HealthResult(
            HealthStatusCode.DEGRADED, f"rollout stuck: {progressing.get('message', '')}"
        )
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas", 0))
    total = int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    if updated < wanted:
        return HealthResult(HealthStatusCode.PROGRESSING, f"{updated} of {wanted} replicas updated")
    if total > updated:
        return HealthResult(
            HealthStatusCode.PROGRESSING, f"{total - updated} old replicas pending termination"
        )
    if available < updated:
        return HealthResult(
            HealthStatusCode.PROGRESSING, f"{available} of {updated} updated replicas available"
        )
    return HealthResult(HealthStatusCode.HEALTHY, f"{available} of {wanted} replicas available")
