"""DaemonSet health, as ``kubectl rollout status daemonset`` judges it.

In order:

1. ``status.observedGeneration`` absent or behind → Progressing.
2. ``RollingUpdate`` (the default): ``updatedNumberScheduled`` below
   ``desiredNumberScheduled`` → Progressing (nodes still run the old pod).
   With ``OnDelete`` this step is skipped: pods update only when deleted.
3. ``numberAvailable`` below ``desiredNumberScheduled`` → Progressing.
4. Otherwise Healthy, including a DaemonSet that wants no pods (no matching node).

No progress deadline exists for DaemonSets, so nothing here is Degraded.
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, healthy, progressing


def assess(obj: f.Obj) -> HealthResult:
    """The health of an ``apps/v1`` DaemonSet."""
    if f.generation_unobserved(obj):
        return progressing("waiting for the daemonset controller to observe the latest spec")
    status = f.status(obj)
    desired = f.integer(status, "desiredNumberScheduled")
    strategy = (f.spec(obj).get("updateStrategy") or {}).get("type", "RollingUpdate")
    updated = f.integer(status, "updatedNumberScheduled")
    if strategy != "OnDelete" and updated < desired:
        return progressing(f"{updated} of {desired} pods updated")
    available = f.integer(status, "numberAvailable")
    if available < desired:
        return progressing(f"{available} of {desired} pods available")
    suffix = " (OnDelete: pods update when deleted)" if strategy == "OnDelete" else ""
    return healthy(f"{available} of {desired} pods available{suffix}")
