"""Job health: Complete is Healthy, Failed is Degraded, suspended is Suspended."""

from __future__ import annotations

from typing import Any

from driftless.core.models import HealthStatusCode
from driftless.health.result import HealthResult


def assess(obj: dict[str, Any]) -> HealthResult:
    if (obj.get("spec") or {}).get("suspend"):
        return HealthResult(HealthStatusCode.SUSPENDED, "job is suspended")
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return HealthResult(HealthStatusCode.HEALTHY, "job completed")
        if cond.get("type") == "Failed":
            return HealthResult(HealthStatusCode.DEGRADED, str(cond.get("message", "job failed")))
    return HealthResult(HealthStatusCode.PROGRESSING, "job is running")
