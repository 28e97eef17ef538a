"""Dispatch a live object to the assessor of its (group, kind)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from driftless.health import deployment, job, pod
from driftless.health.conditions import assess_conditions
from driftless.health.result import HEALTHY, HealthResult

Assessor = Callable[[dict[str, Any]], HealthResult]

_ASSESSORS: dict[tuple[str, str], Assessor] = {
    ("apps", "Deployment"): deployment.assess,
    ("", "Pod"): pod.assess,
    ("batch", "Job"): job.assess,
}


def assess(obj: dict[str, Any]) -> HealthResult:
    """The health of one live object."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    assessor = _ASSESSORS.get((group, str(obj.get("kind", ""))))
    if assessor is not None:
        return assessor(obj)
    from_conditions = assess_conditions(obj)
    return from_conditions if from_conditions is not None else HEALTHY
