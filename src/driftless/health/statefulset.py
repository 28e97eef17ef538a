"""StatefulSet health, as ``kubectl rollout status statefulset`` judges it.

In order:

1. ``status.observedGeneration`` absent or behind → Progressing.
2. Fewer ready pods than ``spec.replicas`` (available pods when
   ``spec.minReadySeconds`` is set) → Progressing; more pods than wanted (a
   scale-down in flight) → Progressing.
3. ``updateStrategy.type: OnDelete`` → Healthy: the controller never replaces
   pods itself, so there is no rollout to wait for (pods are updated when a
   person deletes them).
4. ``RollingUpdate`` with ``partition`` > 0: only ordinals ≥ partition are
   updated; Healthy once ``updatedReplicas ≥ replicas - partition``.
5. ``RollingUpdate`` without partition: Healthy once ``currentRevision`` equals
   ``updateRevision`` (every pod runs the latest revision).

StatefulSets have no progress deadline, so nothing here is Degraded: a pod that
never becomes ready keeps the StatefulSet Progressing (its Pod is Degraded).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftless.health import _fields as f
from driftless.health.result import HealthResult, healthy, progressing


def assess(obj: f.Obj) -> HealthResult:
    """The health of an ``apps/v1`` StatefulSet."""
    if f.generation_unobserved(obj):
        return progressing("waiting for the statefulset controller to observe the latest spec")
    spec, status = f.spec(obj), f.status(obj)
    wanted = f.integer(spec, "replicas", 1)
    ready = _ready(spec, status)
    if ready < wanted:
        return progressing(f"{ready} of {wanted} pods ready")
    if f.integer(status, "replicas") > wanted:
        return progressing(f"scaling down to {wanted} pods")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return healthy(f"{ready} pods ready (OnDelete: pods update when deleted)")
    partition = f.integer(strategy.get("rollingUpdate") or {}, "partition")
    if partition > 0:
        return _partitioned(status, wanted, partition)
    return _rolling(status, wanted)


def _ready(spec: Mapping[str, Any], status: Mapping[str, Any]) -> int:
    if f.integer(spec, "minReadySeconds") > 0 and "availableReplicas" in status:
        return f.integer(status, "availableReplicas")
    return f.integer(status, "readyReplicas")


def _partitioned(status: Mapping[str, Any], wanted: int, partition: int) -> HealthResult:
    target = max(wanted - partition, 0)
    updated = f.integer(status, "updatedReplicas")
    if updated < target:
        return progressing(f"partitioned rollout: {updated} of {target} pods updated")
    return healthy(f"partitioned rollout complete: {updated} pods updated, partition {partition}")


def _rolling(status: Mapping[str, Any], wanted: int) -> HealthResult:
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if update and current != update:
        updated = f.integer(status, "updatedReplicas")
        return progressing(f"rolling update: {updated} of {wanted} pods at revision {update}")
    return healthy(f"{wanted} pods at revision {current}" if current else f"{wanted} pods ready")
