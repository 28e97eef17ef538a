"""The no-op resync fast path: skip the plan of an app when nothing it depends on changed.

A resync of an app whose git revision, spec, Project, live objects and
controller did not change since its last full reconcile would plan the same
objects, find the same verdicts and write nothing. The fast path answers
such a resync from memory: no render, no dry-run, no status write, no
event; only the git ref resolution (``GitCache.resolve``: an ``ls-remote``
or the revision cache, exactly as a full pass) and in-memory lookups.

Contract (every condition must hold, else the full path runs):

* The app may take it (``app_blocker``): no hard refresh or refresh
  annotation, no operation requested, no termination request, not being
  deleted, a git source (a chart's version range is resolved by the render
  only) without SOPS decryption (its keys live in a Secret the fingerprint
  does not cover) or Helm lookup (its render reads live objects of the
  cluster), and the operation in its status, if any, Succeeded.
* The last full pass of this process ended settled (``settled``): no error,
  no sync step started, advanced or ended, no retry or self-heal wait
  pending, health neither Progressing nor Missing (those are polled), and
  Synced (or OutOfSync under a manual sync policy). Its ``Snapshot`` was
  the same before and after its plan (nothing moved while it planned).
* ``Snapshot`` now equals the recorded one: the resolved revision, the
  Application's generation and annotations, the Project's resourceVersion
  (from the Projects watch, ``pipeline.projects``), the destination's
  version and API list (Helm's ``.Capabilities``), the custom health checks,
  the destination's client, the controller's version and settings, and the
  ``(uid, resourceVersion)`` of every object the app manages and every
  orphan it reports, read from the watch cache (a kind not fully watched
  → full path). The live side is captured from the very objects the plan
  compared, so an edit made while the plan ran is seen by the next resync.
* A Helm chart in git whose dependencies were resolved by version range
  (no matching lock, ``render.chart_deps``) renders differently at the
  same commit once a new release matches: the snapshot records when the
  resolution expires (``renders_until``, ``RANGE_TTL`` after it) and from
  then on the full path runs, which resolves the range again.
* The status on the Application is the one the full pass computed (someone
  else writing the status → full path, which rewrites it).
* A safety net: a full pass at least every ``MAX_FAST_PASSES + 1`` resyncs
  and whenever the last full pass is older than ``MAX_AGE_SECONDS``
  (30 min), so what no fingerprint covers (an admission webhook that would
  now refuse an object, a hook's dry-run) is re-checked.

Everything the fast path trusts is held in this process's memory and
compared with what the API server says now; nothing is read from the
Application beyond its generation, annotations and status, so a tenant
editing the app's annotations can only force the full path, never skip it.
Drift is still seen at once: an edited object changes its resourceVersion
in the watch cache, which both wakes the app (``controller.manager``) and
breaks the snapshot. Pure: no I/O; the reconciler gathers the inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftless.core.models import (
    Application,
    HealthStatusCode,
    OperationPhase,
    SyncStatusCode,
)
from driftless.core.wellknown import REFRESH_ANNOTATION, TERMINATE_ANNOTATION

JSON = dict[str, Any]
# (apiVersion, kind, namespace, name): one object the app manages or reports.
ObjectKey = tuple[str, str, str, str]
# (uid, resourceVersion) of a live object; ("", "") when it does not exist.
LiveVersion = tuple[str, str]
ABSENT: LiveVersion = ("", "")

MAX_FAST_PASSES = 9
MAX_AGE_SECONDS = 1800.0
# Apps remembered at most (the oldest record goes first): deleted apps must not pile up.
MAX_RECORDS = 100_000


@dataclass(frozen=True)
class Snapshot:
    """Everything a plan's outcome depends on, as compared between two resyncs."""

    revision: str
    generation: int
    annotations: tuple[tuple[str, str], ...]
    project_version: str
    # Opaque, compared by equality: destination, Capabilities, health checks, settings.
    environment: tuple[object, ...]
    objects: tuple[tuple[ObjectKey, LiveVersion], ...]
    # time.monotonic() from which the same commit may render otherwise (a chart
    # dependency's range is resolved again); None: never. A deadline, not compared.
    renders_until: float | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Record:
    """The last settled full pass of one app: what it saw and the status it left."""

    snapshot: Snapshot
    status: JSON
    at: float  # monotonic seconds
    fast_passes: int = 0


@dataclass(frozen=True)
class Decision:
    fast: bool
    reason: str  # why the full path runs ("" when fast)


def live_version(obj: Mapping[str, Any] | None) -> LiveVersion:
    """(uid, resourceVersion) of a live object, ``ABSENT`` for none."""
    if obj is None:
        return ABSENT
    meta = obj.get("metadata") or {}
    return str(meta.get("uid", "")), str(meta.get("resourceVersion", ""))


def annotations_of(raw: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """All annotations, sorted: any change, whatever its key, forces one full pass."""
    found = (raw.get("metadata") or {}).get("annotations") or {}
    return tuple(sorted((str(k), str(v)) for k, v in found.items()))


def objects_of(entries: Iterable[tuple[ObjectKey, LiveVersion]]) -> tuple[
    tuple[ObjectKey, LiveVersion], ...
]:  # fmt: skip
    """The live side of a snapshot, in a stable order."""
    return tuple(sorted(entries))


def app_blocker(app: Application, raw: Mapping[str, Any], hard: bool) -> str | None:
    """Why this app must take the full path whatever its snapshot says, or None."""
    annotations = (raw.get("metadata") or {}).get("annotations") or {}
    source = app.spec.source
    state = app.status.operation_state
    reasons = (
        (hard, "hard refresh"),
        (REFRESH_ANNOTATION in annotations, "refresh requested"),
        (TERMINATE_ANNOTATION in annotations, "termination requested"),
        (app.operation is not None, "operation requested"),
        (bool((raw.get("metadata") or {}).get("deletionTimestamp")), "being deleted"),
        (bool(source.chart), "chart source"),
        (source.decryption is not None, "SOPS decryption"),
        # Its render reads live objects no snapshot covers (never render-cached either).
        (source.helm is not None and source.helm.lookup, "Helm lookup"),
        (state is not None and state.phase != OperationPhase.SUCCEEDED, "last operation"),
    )
    return next((why for blocked, why in reasons if blocked), None)


def settled(status: Mapping[str, Any], *, automated: bool, quiet: bool) -> bool:
    """May a full pass that ended with ``status`` be answered from memory next time?

    ``quiet``: the pass started, advanced and ended no operation, healed
    nothing, was not interrupted, and has no retry or self-heal wait pending.
    """
    if not quiet:
        return False
    health = (status.get("health") or {}).get("status")
    if health in (None, HealthStatusCode.PROGRESSING, HealthStatusCode.MISSING):
        return False
    sync = (status.get("sync") or {}).get("status")
    if sync == SyncStatusCode.SYNCED:
        return True
    # A manual app stays OutOfSync until someone syncs it: re-reportable.
    return sync == SyncStatusCode.OUT_OF_SYNC and not automated


def decide(
    record: Record | None,
    now_snapshot: Snapshot | None,
    status: Mapping[str, Any],
    now: float,
) -> Decision:
    """Take the fast path only when the last settled pass saw exactly ``now_snapshot``."""
    if record is None:
        return Decision(False, "no settled full pass yet")
    if now_snapshot is None:
        return Decision(False, "snapshot not available")
    if record.fast_passes >= MAX_FAST_PASSES:
        return Decision(False, "periodic full pass (count)")
    if now - record.at > MAX_AGE_SECONDS:
        return Decision(False, "periodic full pass (age)")
    until = record.snapshot.renders_until
    if until is not None and now >= until:
        return Decision(False, "chart dependency ranges to resolve again")
    why = _difference(record.snapshot, now_snapshot)
    if why:
        return Decision(False, f"{why} changed")
    if status != record.status:
        return Decision(False, "status changed")
    return Decision(True, "")


def _difference(old: Snapshot, new: Snapshot) -> str:
    """The first part of the snapshot that differs ("" when none)."""
    parts = ("revision", "generation", "annotations", "project_version", "environment", "objects")
    return next((p for p in parts if getattr(old, p) != getattr(new, p)), "")


class Memory:
    """Per-app ``Record`` of the last settled full pass, in this process only."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self._records: dict[tuple[str, str], Record] = {}
        self.max_records = max_records
        self.taken = 0  # fast passes so far (for metrics and logs)

    def get(self, key: tuple[str, str]) -> Record | None:
        return self._records.get(key)

    def remember(self, key: tuple[str, str], snapshot: Snapshot, status: JSON, now: float) -> None:
        self._records.pop(key, None)  # re-inserted last: the oldest record is the first
        self._records[key] = Record(snapshot, status, now)
        while len(self._records) > self.max_records:
            del self._records[next(iter(self._records))]

    def forget(self, key: tuple[str, str]) -> None:
        self._records.pop(key, None)

    def took(self, key: tuple[str, str]) -> None:
        record = self._records.get(key)
        if record is not None:
            self._records[key] = Record(
                record.snapshot, record.status, record.at, record.fast_passes + 1
            )
        self.taken += 1

    def __len__(self) -> int:
        return len(self._records)
