"""Kubernetes Events on Applications, emitted only when something changed.

An event is recorded when the Ready condition flips or changes reason (a
failure, a recovery), and for what a pass did to a sync operation
(``pass_events``): a sync that starts and ends within one pass is ONE Event
saying how it ended (``Synced``/``SyncFailed``, with who started it, the
revision and counts); a sync spanning passes gets ``SyncStarted`` when it
starts and ``Synced``/``SyncFailed`` when it ends. A Ready flip whose reason
an operation Event of the same pass already carries is not repeated (each
Event is an API write: a cold start of many apps is bound by them).
Steady state emits nothing, so `kubectl describe application` shows
history, not noise. Events are best-effort: a failed create is logged, never
raised. Messages come from conditions and operation states, which never
contain credentials (and are redacted all the same).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
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


Event = tuple[str, Reason, str]  # (type, reason, message)


@dataclass(frozen=True)
class Finished:
    """An operation that ended in a pass (after its steps ran)."""

    succeeded: bool
    revision: str
    message: str
    synced: int = 0  # objects applied
    pruned: int = 0


@dataclass(frozen=True)
class Ended:
    """An operation ended early in a pass: superseded or terminated."""

    superseded: bool
    revision: str
    message: str


@dataclass(frozen=True)
class PassOperation:
    """What one reconcile pass did to a sync operation (all None: nothing)."""

    started_by: str | None = None  # who started one in this pass
    started_revision: str = ""
    ended: Ended | None = None
    finished: Finished | None = None


def pass_events(old_status: JSON, new_status: JSON, op: PassOperation | None) -> list[Event]:
    """The Events one pass deserves, in order. Pure.

    One-pass sync: one ``Synced``/``SyncFailed`` naming who started it; a
    Ready flip to a reason one of these Events already has is dropped (the
    same news twice); any other flip (Degraded after a successful sync) stays.
    """
    ops = _operation_events(op) if op is not None else []
    said = {reason for _, reason, _ in ops}
    ready = [event for event in events_for(old_status, new_status) if event[1] not in said]
    return ready + ops


def _operation_events(op: PassOperation) -> list[Event]:
    events: list[Event] = []
    started = f"started by {op.started_by or 'a user'}"
    done = op.finished
    if op.started_by is not None and done is None:
        events.append(
            ("Normal", Reason.SYNC_STARTED, f"sync to {op.started_revision[:12]} {started}")
        )
    if op.ended is not None:
        kind = "Normal" if op.ended.superseded else "Warning"
        reason = Reason.SYNC_SUPERSEDED if op.ended.superseded else Reason.SYNC_TERMINATED
        events.append((kind, reason, f"sync to {op.ended.revision[:12]}: {op.ended.message}"))
    if done is not None:
        kind, reason = (
            ("Normal", Reason.SYNCED) if done.succeeded else ("Warning", Reason.SYNC_FAILED)
        )
        counts = f"{done.synced} object(s) applied" + (
            f", {done.pruned} pruned" if done.pruned else ""
        )
        if op.started_by is not None:  # started and ended in this very pass
            message = f"sync to {done.revision[:12]} {started}: {done.message}; {counts}"
        else:
            message = f"sync to {done.revision[:12]}: {done.message}; {counts}"
        events.append((kind, reason, message))
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
