"""HorizontalPodAutoscaler health, from the autoscaler's own conditions.

``autoscaling/v2`` keeps them in ``status.conditions``; ``autoscaling/v1`` in the
JSON annotation ``autoscaling.alpha.kubernetes.io/conditions``. Both are read.

In order:

1. ``observedGeneration`` behind → Progressing; no conditions yet → Progressing
   (the autoscaler has not run once).
2. ``AbleToScale=False`` → Degraded (``FailedGetScale``: the target does not exist
   or has no scale subresource; ``FailedUpdateScale``), except the legacy
   ``Backoff*`` reasons, which only mean "recently scaled" → Progressing.
3. ``ScalingActive=False``: reason ``ScalingDisabled`` (the target was scaled to
   zero by hand) → Suspended; any other reason (``FailedGetResourceMetric``,
   ``FailedGetExternalMetric``, ``InvalidSelector``, ...: metrics unavailable or the
   spec is wrong) → Degraded.
4. Otherwise Healthy; ``ScalingLimited=True`` (held at min or max replicas) is
   reported in the message but is working as configured.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from driftless.health import _fields as f
from driftless.health.result import HealthResult, degraded, healthy, progressing, suspended

_V1_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"


def assess(obj: f.Obj) -> HealthResult:
    """The health of an ``autoscaling`` HorizontalPodAutoscaler (v1 or v2)."""
    if f.generation_pending(obj):
        return progressing("waiting for the autoscaler to observe the latest spec")
    conditions = _conditions(obj)
    if not conditions:
        return progressing("waiting for the autoscaler's first run")
    able = conditions.get("AbleToScale")
    if able is not None and f.is_false(able):
        if str(able.get("reason", "")).startswith("Backoff"):
            return progressing(f"recently rescaled: {f.describe(able)}")
        return degraded(f"cannot scale: {f.describe(able)}")
    active = conditions.get("ScalingActive")
    if active is not None and f.is_false(active):
        if active.get("reason") == "ScalingDisabled":
            return suspended(f"scaling disabled: {f.describe(active)}")
        return degraded(f"scaling inactive: {f.describe(active)}")
    return healthy(_summary(obj, conditions))


def _conditions(obj: f.Obj) -> dict[str, Mapping[str, Any]]:
    found = f.conditions(obj)
    if found:
        return found
    raw = (f.metadata(obj).get("annotations") or {}).get(_V1_CONDITIONS)
    if not raw:
        return {}
    entries = json.loads(raw)
    if not isinstance(entries, list):
        raise TypeError(f"annotation {_V1_CONDITIONS} is not a list")
    return {str(c.get("type", "")): c for c in entries if isinstance(c, Mapping)}


def _summary(obj: f.Obj, conditions: Mapping[str, Mapping[str, Any]]) -> str:
    status = f.status(obj)
    current = f.integer(status, "currentReplicas")
    desired = f.integer(status, "desiredReplicas")
    message = f"{current} replicas (desired {desired})"
    limited = conditions.get("ScalingLimited")
    if limited is not None and f.is_true(limited):
        message += f"; limited: {f.describe(limited)}"
    return message
