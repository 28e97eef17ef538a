"""The verdict of a health check and how verdicts combine."""

from __future__ import annotations

from dataclasses import dataclass

from driftless.core.models import HealthStatusCode

# Worst first: the app's health is the first of these any resource has.
_SEVERITY = [
    HealthStatusCode.DEGRADED,
    HealthStatusCode.MISSING,
    HealthStatusCode.PROGRESSING,
    HealthStatusCode.SUSPENDED,
    HealthStatusCode.UNKNOWN,
    HealthStatusCode.HEALTHY,
]


@dataclass(frozen=True)
class HealthResult:
    status: HealthStatusCode
    message: str = ""


HEALTHY = HealthResult(HealthStatusCode.HEALTHY)


def worst(results: list[HealthResult]) -> HealthResult:
    """The most severe result; Healthy for an empty list (nothing to be unhealthy)."""
    if not results:
        return HEALTHY
    return min(results, key=lambda r: _SEVERITY.index(r.status))
