"""Pod health: Running and Ready, or Succeeded, is Healthy; Failed is Degraded."""

from __future__ import annotations

from typing import Any

from driftless.core.models import HealthStatusCode
from driftless.health.result import HealthResult


def assess(obj: dict[str, Any]) -> HealthResult:
    status = obj.get("status") or {}
    phase = status.get("phase", "Pending")
    if phase == "Succeeded":
        return HealthResult(HealthStatusCode.HEALTHY, "pod completed")
    if phase == "Failed":
        return HealthResult(HealthStatusCode.DEGRADED, str(status.get("message", "pod failed")))
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"}:
            return HealthResult(
                HealthStatusCode.DEGRADED, f"{container.get('name')}: {waiting['reason']}"
            )
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    if phase == "Running" and ready:
        return HealthResult(HealthStatusCode.HEALTHY, "pod is running and ready")
    return HealthResult(HealthStatusCode.PROGRESSING, f"pod is {phase.lower()}")
