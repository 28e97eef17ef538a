"""APIService health (aggregated APIs such as metrics-server).

By the ``Available`` condition: True → Healthy; False → Progressing with its
reason (``MissingEndpoints``, ``ServiceNotFound``, ``FailedDiscoveryCheck``): an
APIService is routinely unavailable until the Deployment behind it is up, and
the object does not say for how long, so — like Argo CD — driftless waits rather
than calls it Degraded. No condition yet → Progressing.
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, healthy, progressing


def assess(obj: f.Obj) -> HealthResult:
    """The health of an ``apiregistration.k8s.io/v1`` APIService."""
    available = f.conditions(obj).get("Available")
    if available is None:
        return progressing("waiting for the API server to check availability")
    if f.is_true(available):
        return healthy("available")
    return progressing(f"not available: {f.describe(available)}")
