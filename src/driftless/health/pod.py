"""Pod health.

In order:

1. Phase ``Succeeded`` → Healthy; ``Failed`` (including evictions) → Degraded
   with the pod's reason and message; ``Unknown`` (node lost) → Unknown.
2. Any init or app container waiting for a reason that does not fix itself by
   waiting → Degraded: ``CrashLoopBackOff``, ``ImagePullBackOff``, ``ErrImagePull``,
   ``ErrImageNeverPull``, ``InvalidImageName``, ``CreateContainerConfigError``
   (a missing ConfigMap/Secret key), ``CreateContainerError``,
   ``RunContainerError``, and — like Argo CD — any reason starting with ``Err`` or
   ending in ``Error`` or ``BackOff``. Init containers are looked at first: a
   broken one blocks the pod before its app containers exist.
3. ``restartPolicy`` ``Never`` or ``OnFailure``: the pod runs to completion, so
   until it has Succeeded it is Progressing, even while Running.
4. ``restartPolicy: Always`` (the default): Running with condition ``Ready=True``
   → Healthy; otherwise Progressing, saying why (unschedulable, init containers
   still running, containers not ready).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from driftless.health import _fields as f
from driftless.health.result import HealthResult, degraded, healthy, progressing, unknown

_FAILING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


def assess(obj: f.Obj) -> HealthResult:
    """The health of a ``v1`` Pod."""
    status = f.status(obj)
    phase = str(status.get("phase") or "Pending")
    if phase == "Succeeded":
        return healthy("pod completed")
    if phase == "Failed":
        return degraded(_explain(status, _exits(status) or "pod failed"))
    if phase == "Unknown":
        return unknown(_explain(status, "the pod's node does not report"))
    broken = _broken_container(status)
    if broken is not None:
        return broken
    if f.spec(obj).get("restartPolicy", "Always") != "Always":
        return progressing(f"pod is {phase.lower()}, not yet completed")
    if phase == "Running" and f.is_true(f.conditions(obj).get("Ready")):
        return healthy("pod is running and ready")
    return progressing(_waiting_for(obj, phase))


def is_failing_reason(reason: str) -> bool:
    """True for container waiting reasons that waiting alone will not fix."""
    return (
        reason in _FAILING_REASONS
        or reason.startswith("Err")
        or reason.endswith(("Error", "BackOff"))
    )


def _explain(status: Mapping[str, Any], default: str) -> str:
    reason, message = status.get("reason") or "", status.get("message") or ""
    return ": ".join(part for part in (reason, message) if part) or default


def _broken_container(status: Mapping[str, Any]) -> HealthResult | None:
    groups = (("init container", "initContainerStatuses"), ("container", "containerStatuses"))
    for label, key in groups:
        for container in _statuses(status, key):
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = str(waiting.get("reason") or "")
            if reason and is_failing_reason(reason):
                detail = f": {waiting['message']}" if waiting.get("message") else ""
                return degraded(f"{label} {container.get('name')}: {reason}{detail}")
    return None


def _statuses(status: Mapping[str, Any], key: str) -> Iterable[Mapping[str, Any]]:
    return [c for c in status.get(key) or [] if isinstance(c, Mapping)]


def _waiting_for(obj: f.Obj, phase: str) -> str:
    conditions = f.conditions(obj)
    scheduled = conditions.get("PodScheduled")
    if scheduled is not None and f.is_false(scheduled):
        return f"pod is not scheduled: {f.describe(scheduled)}"
    inits = list(_statuses(f.status(obj), "initContainerStatuses"))
    done = sum(1 for c in inits if _exit_code(c) == 0)
    if done < len(inits) and phase == "Pending":
        return f"initializing: {done} of {len(inits)} init containers done"
    return f"pod is {phase.lower()}, not ready"


def _exit_code(container: Mapping[str, Any]) -> object:
    return ((container.get("state") or {}).get("terminated") or {}).get("exitCode")


def _exits(status: Mapping[str, Any]) -> str:
    """``container app exited 2 (Error)`` for each container that exited non-zero."""
    found = []
    for container in _statuses(status, "containerStatuses"):
        terminated = (container.get("state") or {}).get("terminated") or {}
        if terminated.get("exitCode"):
            reason = f" ({terminated['reason']})" if terminated.get("reason") else ""
            found.append(
                f"container {container.get('name')} exited {terminated['exitCode']}{reason}"
            )
    return ", ".join(found)
