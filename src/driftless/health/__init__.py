"""Health assessment of live objects.

``assess(obj)`` maps one live object to a ``HealthResult``; ``worst`` folds
many into the app's health. Each kind has its own small module; ``registry``
dispatches by (group, kind) and falls back to kstatus-style conditions, then to
Healthy for kinds that have no notion of progress (ConfigMap, Service, ...).
Pure: objects in, verdicts out, no I/O.
"""

from driftless.health.registry import assess
from driftless.health.result import HealthResult, worst

__all__ = ["HealthResult", "assess", "worst"]
