"""ReplicaSet health (also what a Deployment is built from).

In order: ``observedGeneration`` absent or behind → Progressing;
``ReplicaFailure=True`` (pods cannot be created: quota, admission webhook) →
Degraded; fewer available pods than ``spec.replicas``, or more pods than wanted
(scale-down in flight) → Progressing; otherwise Healthy.
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, degraded, healthy, progressing


def assess(obj: f.Obj) -> HealthResult:
    """The health of an ``apps/v1`` ReplicaSet."""
    if f.generation_unobserved(obj):
        return progressing("waiting for the replicaset controller to observe the latest spec")
    failure = f.conditions(obj).get("ReplicaFailure")
    if failure is not None and f.is_true(failure):
        return degraded(f"cannot create pods: {f.describe(failure)}")
    status = f.status(obj)
    wanted = f.integer(f.spec(obj), "replicas", 1)
    available = f.integer(status, "availableReplicas")
    if available < wanted:
        return progressing(f"{available} of {wanted} replicas available")
    if f.integer(status, "replicas") > wanted:
        return progressing(f"scaling down to {wanted} replicas")
    return healthy(f"{available} of {wanted} replicas available")
