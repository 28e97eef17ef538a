"""CustomResourceDefinition health.

In order: ``NamesAccepted=False`` (a plural or kind clashes with another CRD) →
Degraded; ``NonStructuralSchema=True`` → Degraded; ``Terminating=True`` →
Progressing; ``Established=True`` → Healthy (the API server serves the kind, so
custom resources of it can be applied — the gate sync waits on); otherwise
Progressing, not yet established.
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, degraded, healthy, progressing


def assess(obj: f.Obj) -> HealthResult:
    """The health of an ``apiextensions.k8s.io/v1`` CustomResourceDefinition."""
    conditions = f.conditions(obj)
    names = conditions.get("NamesAccepted")
    if names is not None and f.is_false(names):
        return degraded(f"names not accepted: {f.describe(names)}")
    schema = conditions.get("NonStructuralSchema")
    if schema is not None and f.is_true(schema):
        return degraded(f"schema is not structural: {f.describe(schema)}")
    terminating = conditions.get("Terminating")
    if terminating is not None and f.is_true(terminating):
        return progressing(f"being deleted: {f.describe(terminating)}")
    if f.is_true(conditions.get("Established")):
        return healthy("established")
    return progressing("waiting to be established")
