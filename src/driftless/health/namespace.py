"""Namespace health.

``status.phase``: ``Active`` (or not reported yet) → Healthy; ``Terminating`` →
Progressing while the namespace controller deletes its content, but Degraded
when a ``NamespaceDeletion*Failure`` condition is True (discovery, group-version
parsing or content deletion failed: the namespace will not go away by itself).
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, degraded, healthy, progressing

_DELETION_FAILURES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
)


def assess(obj: f.Obj) -> HealthResult:
    """The health of a ``v1`` Namespace."""
    if f.status(obj).get("phase") != "Terminating":
        return healthy()
    conditions = f.conditions(obj)
    for kind in _DELETION_FAILURES:
        cond = conditions.get(kind)
        if cond is not None and f.is_true(cond):
            return degraded(f"deletion is stuck: {f.describe(cond)}")
    return progressing("namespace is terminating")
