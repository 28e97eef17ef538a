"""Job health.

In order:

1. A terminal condition decides first, since it is final:
   ``Complete=True`` → Healthy; ``Failed=True`` → Degraded (reason such as
   ``BackoffLimitExceeded`` or ``DeadlineExceeded``, and message).
2. An outcome the Job controller has decided but not finished (pods are still
   being terminated): ``FailureTarget=True`` → Degraded (it will fail);
   ``SuccessCriteriaMet=True`` → Healthy (it will complete).
3. ``spec.suspend: true`` (or condition ``Suspended=True``) → Suspended.
4. Otherwise Progressing, with the active/succeeded/failed pod counts.
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, degraded, healthy, progressing, suspended


def assess(obj: f.Obj) -> HealthResult:
    """The health of a ``batch/v1`` Job."""
    conditions = f.conditions(obj)
    for kind in ("Complete", "Failed", "SuccessCriteriaMet", "FailureTarget"):
        cond = conditions.get(kind)
        if cond is not None and f.is_true(cond):
            return _decided(kind, f.describe(cond))
    if f.spec(obj).get("suspend") or f.is_true(conditions.get("Suspended")):
        return suspended("job is suspended")
    return progressing(_counts(obj))


def _decided(kind: str, detail: str) -> HealthResult:
    if kind == "Complete":
        return healthy("job completed")
    if kind == "SuccessCriteriaMet":
        return healthy("job met its success criteria; terminating remaining pods")
    if kind == "Failed":
        return degraded(f"job failed: {detail}" if detail else "job failed")
    return degraded(f"job is failing: {detail}" if detail else "job is failing")


def _counts(obj: f.Obj) -> str:
    status = f.status(obj)
    completions = f.spec(obj).get("completions")
    succeeded = f.integer(status, "succeeded")
    done = f"{succeeded} of {completions}" if completions is not None else str(succeeded)
    active, failed = f.integer(status, "active"), f.integer(status, "failed")
    return f"job is running: {active} active, {done} succeeded, {failed} failed"
