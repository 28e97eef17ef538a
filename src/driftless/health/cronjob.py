"""CronJob health.

``spec.suspend: true`` → Suspended. Otherwise Healthy: a CronJob is a schedule,
and the Jobs it creates carry their own health. The message says when it last
ran (``status.lastScheduleTime``), how many Jobs are active, and notes when the
last scheduled run has not (yet) succeeded (``lastSuccessfulTime`` older than
``lastScheduleTime``) — informative only, since a run may still be in progress.
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, healthy, suspended


def assess(obj: f.Obj) -> HealthResult:
    """The health of a ``batch/v1`` CronJob."""
    if f.spec(obj).get("suspend"):
        return suspended("cronjob is suspended")
    status = f.status(obj)
    last = status.get("lastScheduleTime")
    if not last:
        return healthy("not scheduled yet")
    active = len(status.get("active") or [])
    message = f"last scheduled {last}, {active} active"
    success = status.get("lastSuccessfulTime")
    # RFC 3339 timestamps in UTC ("Z") compare correctly as strings.
    if success is None or str(success) < str(last):
        message += f"; last success {success or 'never'}"
    return healthy(message)
