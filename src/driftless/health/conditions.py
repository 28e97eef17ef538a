"""Health of any object from kstatus-style conditions and observedGeneration.

Works for every custom resource that follows the Kubernetes API conventions
(Flux objects, cert-manager Certificates, Crossplane resources, driftless's own
Applications), so operators' objects get a meaningful health without a
dedicated assessor. In order:

1. ``status.observedGeneration`` behind ``metadata.generation`` → Progressing:
   the object's controller has not acted on the latest spec yet.
2. ``Stalled=True`` → Degraded: the controller gave up until the input changes.
3. ``Reconciling=True`` → Progressing: work in flight (wins over a stale Ready).
4. ``Ready``: a Ready condition whose own ``observedGeneration`` is behind →
   Progressing; ``True`` → Healthy; ``Unknown`` → Progressing; ``False`` →
   Degraded.
5. None of these conditions → no verdict (``None``); the registry then calls the
   object Healthy: it exists, and nothing says it is unwell.
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health._fields import generation_pending
from driftless.health.result import HealthResult, degraded, healthy, progressing

__all__ = ["assess_conditions", "generation_pending"]


def assess_conditions(obj: f.Obj) -> HealthResult | None:
    """A verdict from Stalled/Reconciling/Ready, or None when the object has none of them."""
    if generation_pending(obj):
        return progressing("waiting for the controller to observe the latest spec")
    conditions = f.conditions(obj)
    stalled = conditions.get("Stalled")
    if stalled is not None and f.is_true(stalled):
        return degraded(f.describe(stalled) or "stalled")
    reconciling = conditions.get("Reconciling")
    if reconciling is not None and f.is_true(reconciling):
        return progressing(f.describe(reconciling) or "reconciling")
    ready = conditions.get("Ready")
    if ready is None:
        return None
    message = f.describe(ready)
    observed = ready.get("observedGeneration")
    generation = f.metadata(obj).get("generation")
    if observed is not None and generation is not None and int(observed) < int(generation):
        return progressing(f"Ready describes an older generation: {message}")
    if ready.get("status") == "True":
        return healthy(message)
    if ready.get("status") == "False":
        return degraded(message or "not ready")
    return progressing(message or "readiness unknown")
