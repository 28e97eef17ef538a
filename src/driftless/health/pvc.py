"""PersistentVolumeClaim health.

By ``status.phase``: ``Bound`` → Healthy, ``Pending`` → Progressing, ``Lost``
(its volume is gone) → Degraded. A Bound claim being expanded — condition
``Resizing`` or ``FileSystemResizePending`` True — is Progressing; an expansion the
storage driver refused (``status.allocatedResourceStatuses`` ending in
``Infeasible``) is Degraded.

Caveat: with a StorageClass in ``WaitForFirstConsumer`` binding mode a claim stays
Pending until a pod uses it, which the claim alone does not reveal; put such
claims in the same sync wave as the workload that mounts them.
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, degraded, healthy, progressing


def assess(obj: f.Obj) -> HealthResult:
    """The health of a ``v1`` PersistentVolumeClaim."""
    phase = f.status(obj).get("phase") or "Pending"
    if phase == "Lost":
        return degraded("claim lost its volume")
    if phase != "Bound":
        return progressing(f"claim is {str(phase).lower()}")
    return _resize(obj) or healthy("claim is bound")


def _resize(obj: f.Obj) -> HealthResult | None:
    statuses = f.status(obj).get("allocatedResourceStatuses") or {}
    refused = [f"{k}: {v}" for k, v in statuses.items() if str(v).endswith("Infeasible")]
    if refused:
        return degraded(f"volume expansion refused ({', '.join(refused)})")
    conditions = f.conditions(obj)
    for kind in ("Resizing", "FileSystemResizePending"):
        cond = conditions.get(kind)
        if cond is not None and f.is_true(cond):
            return progressing(f"volume expansion in progress ({kind})")
    return None
