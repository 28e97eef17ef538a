"""Kubernetes Events on Applications, emitted only when something changed.

An event is recorded when the Ready condition flips or changes reason (a
failure, a recovery); the reconciler adds one when a sync starts and ends.
Steady state emits nothing, so `kubectl describe application` shows
history, not noise.
Messages come from conditions, which never contain credentials.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from driftless.controller.repeats import Repeats
from driftless.core.conditions import now_rfc3339
from driftless.core.reasons import Reason
from driftless.core.repourl import redact
from driftless.kube.client import KubeApiError, KubeClient

log = logging.getLogger(__name__)
JSON = dict[str, Any]
COMPONENT = "driftless-controller"
MAX_MESSAGE = 1024
_REASONS = frozenset(Reason)


def _ready(status: JSON) -> tuple[str, str, str]:
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status", ""), cond.get("reason", ""), cond.get("message", "")
    return "", "", ""


def events_for(old_status: JSON, new_status: JSON) -> list[tuple[str, Reason, str]]:
    """(type, reason, message) of the events a status transition deserves. Pure.

    ``new_status`` is one this controller computed, so its Ready reason is a
    ``Reason``; a reason it does not know (never written by this version)
    records nothing rather than an Event no table documents.
    """
    events = []
    old, new = _ready(old_status), _ready(new_status)
    if new[:2] != old[:2] and new[0] and new[1] in _REASONS:
        kind = "Normal" if new[0] == "True" or new[1] == Reason.PROGRESSING else "Warning"
        events.append((kind, Reason(new[1]), new[2]))
    return events


class EventRecorder:
    def __init__(self, client: KubeClient) -> None:
        self.client = client
        # The API server gone: one line per backoff step, not one per app and event.
        self.repeats = Repeats(log)

    async def record(self, app: JSON, type_: str, reason: Reason, message: str) -> None:
        """Create one core/v1 Event about ``app``; failures are logged, never raised."""
        meta = app.get("metadata", {})
        now = now_rfc3339()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name')}.{uuid.uuid4().hex[:16]}",
                "namespace": meta.get("namespace"),
            },
            "involvedObject": {
                "apiVersion": app.get("apiVersion"),
                "kind": app.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason.value,
            "message": redact(message)[:MAX_MESSAGE],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.client.create(event)
        except KubeApiError as exc:
            label = f"cannot record event on {meta.get('name')}"
            self.repeats.log(logging.WARNING, meta.get("name"), label, str(exc))
