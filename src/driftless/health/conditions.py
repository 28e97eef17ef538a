"""Health from kstatus-style ``status.conditions`` (Ready / Stalled) and observedGeneration.

Works for any custom resource that follows the Kubernetes API conventions, so
operators' objects get a meaningful health without a dedicated assessor.
"""

from __future__ import annotations

from typing import Any

from driftless.core.models import HealthStatusCode
from driftless.health.result import HealthResult


def generation_pending(obj: dict[str, Any]) -> bool:
    """True while the object's controller has not yet seen its latest spec."""
    generation = obj.get("metadata", {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return generation is not None and observed is not None and observed < generation


def assess_conditions(obj: dict[str, Any]) -> HealthResult | None:
    """A verdict from Ready/Stalled conditions, or None when the object has neither."""
    conditions = {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}
    if generation_pending(obj):
        return HealthResult(HealthStatusCode.PROGRESSING, "waiting for the controller")
    stalled = conditions.get("Stalled")
    if stalled and stalled.get("status") == "True":
        return HealthResult(HealthStatusCode.DEGRADED, str(stalled.get("message", "")))
    ready = conditions.get("Ready")
    if ready is None:
        return None
    message = str(ready.get("message", ""))
    if ready.get("status") == "True":
        return HealthResult(HealthStatusCode.HEALTHY, message)
    if (
        conditions.get("Reconciling", {}).get("status") == "True"
        or ready.get("status") == "Unknown"
    ):
        return HealthResult(HealthStatusCode.PROGRESSING, message)
    return HealthResult(HealthStatusCode.DEGRADED, message)
