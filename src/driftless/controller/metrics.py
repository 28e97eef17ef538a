"""The controller's own metrics, in one registry per ``Controller``.

Several controllers may run in one process (the tests do), so what belongs
to one controller lives in its ``ControllerMetrics.registry``; what the
whole process does (Kubernetes requests, git, renders) is on
prometheus-client's default registry (``kube.metrics``, ``sources.gitmetrics``,
``render.metrics``). ``controller.endpoints`` serves both on ``/metrics``.

Series (names and labels as Argo CD's where they mean the same):

* ``driftless_app_info{namespace, name, project, repo, dest_server,
  dest_namespace, sync_status, health_status}`` = 1 per app: read from the
  controller's in-memory apps at scrape time (no bookkeeping per update).
* ``driftless_app_sync_total{namespace, name, project, phase}``: sync
  operations counted once when they end (phase Succeeded, Failed, Error,
  Superseded or Terminated), as the controller observes the end written in
  the app's status; an app's series go when the app is deleted.
* ``driftless_app_reconcile_duration_seconds``: one reconcile pass (no
  labels: a histogram per app would multiply the series by its buckets).
* ``driftless_workqueue_depth``, ``driftless_workqueue_adds_total``,
  ``driftless_workqueue_wait_seconds`` (time a due key waited for a worker).
* ``driftless_watch_cache_objects{cluster}``: objects held by the watch
  caches, by destination server URL (this cluster is
  ``https://kubernetes.default.svc``).
* ``driftless_reconcile_fast_path_total``: resyncs answered without a plan
  because nothing changed (``controller.fastpath``).

With sharding (several replicas) the two per-app families carry only the
apps this replica owns at scrape time (``shown``), so a sum over replicas
counts each app once; an app's sync counter is kept by every replica and
shows on whichever owns the app (a handover moves its series, with its count,
to another ``instance``).

Label values come from tenants' objects: URLs are redacted (no credentials
or query tokens), statuses outside the documented sets read ``Unknown``,
every value is cut at ``MAX_LABEL``. ``app_info_labels``, ``ended_phase``
and ``bounded`` are pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftless.controller.queue import WorkQueue
from driftless.controller.reconciler import Reconciler
from driftless.core.models import HealthStatusCode, OperationPhase, SyncStatusCode
from driftless.core.project import LOCAL_SERVER
from driftless.core.repourl import redact

JSON = dict[str, Any]
Key = tuple[str, str]

MAX_LABEL = 256
APP_INFO_LABELS = (
    "namespace",
    "name",
    "project",
    "repo",
    "dest_server",
    "dest_namespace",
    "sync_status",
    "health_status",
)
SYNC_LABELS = ("namespace", "name", "project", "phase")
_SYNC = frozenset(SyncStatusCode)
_HEALTH = frozenset(HealthStatusCode)
_ENDED = frozenset(OperationPhase) - {OperationPhase.RUNNING}
# Reconciles take from milliseconds (unchanged app) to minutes (a sync waiting on health).
RECONCILE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def bounded(value: object, limit: int = MAX_LABEL) -> str:
    """A label value: a string, at most ``limit`` characters. Pure."""
    text = value if isinstance(value, str) else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _section(obj: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """``obj[path...]`` when every step is a mapping, else empty (tenants write anything)."""
    current: Any = obj
    for step in path:
        current = current.get(step) if isinstance(current, Mapping) else None
    return current if isinstance(current, Mapping) else {}


def app_info_labels(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``driftless_app_info`` label values of one Application object. Pure."""
    meta, spec = _section(obj, "metadata"), _section(obj, "spec")
    destination = _section(spec, "destination")
    server = destination.get("server") or destination.get("name") or LOCAL_SERVER
    sync = _section(obj, "status", "sync").get("status")
    health = _section(obj, "status", "health").get("status")
    return (
        bounded(meta.get("namespace")),
        bounded(meta.get("name")),
        bounded(spec.get("project") or "default"),
        bounded(redact(bounded(_section(spec, "source").get("repoURL"), 4096))),
        bounded(redact(bounded(server, 4096))),
        bounded(destination.get("namespace") or ""),
        sync if isinstance(sync, str) and sync in _SYNC else SyncStatusCode.UNKNOWN.value,
        health if isinstance(health, str) and health in _HEALTH else HealthStatusCode.UNKNOWN.value,
    )


def ended_phase(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> str | None:
    """The phase of the operation that ended between two observations of an app. Pure.

    ``None`` when no operation ended: none is recorded, it still runs, it
    had already ended when ``previous`` was seen, or there is no
    ``previous`` (the first sight of an app after a start is a baseline).
    """
    if previous is None:
        return None
    new = _section(current, "status", "operationState")
    phase = new.get("phase")
    if not isinstance(phase, str) or phase not in _ENDED:
        return None
    old = _section(previous, "status", "operationState")
    if old.get("startedAt") == new.get("startedAt") and old.get("phase") == phase:
        return None  # the same end, seen again
    return str(phase)


class _AppCollector(Collector):
    """``driftless_app_info`` and ``driftless_app_sync_total`` at scrape time."""

    def __init__(
        self, apps: Callable[[], Mapping[Key, JSON]], shown: Callable[[Key], bool]
    ) -> None:
        self._apps = apps
        self._shown = shown
        # app -> (project, phase) -> operations ended; dropped with the app.
        self.syncs: dict[Key, dict[tuple[str, str], int]] = {}

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "driftless_app_info",
            "Information about each Application (value 1).",
            labels=APP_INFO_LABELS,
        )
        for key, obj in list(self._apps().items()):
            if self._shown(key):
                info.add_metric(app_info_labels(obj), 1)
        yield info
        syncs = CounterMetricFamily(
            "driftless_app_sync",
            "Sync operations ended, by app and phase.",
            labels=SYNC_LABELS,
        )
        for (namespace, name), counts in list(self.syncs.items()):
            if not self._shown((namespace, name)):
                continue
            for (project, phase), count in counts.items():
                syncs.add_metric((namespace, name, project, phase), count)
        yield syncs


class _FastPathCollector(Collector):
    """``driftless_reconcile_fast_path_total``, read from the reconciler at scrape time."""

    def __init__(self, reconciler: Reconciler) -> None:
        self._reconciler = reconciler

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "driftless_reconcile_fast_path",
            "Resyncs answered without a plan: nothing changed since the last full pass.",
            value=self._reconciler.fast.taken,
        )


class _QueueCacheCollector(Collector):
    """Work queue depth and adds, watch cache sizes: read at scrape time."""

    def __init__(
        self, queue: WorkQueue[Key], caches: Callable[[], Iterable[tuple[str, int]]]
    ) -> None:
        self._queue = queue
        self._caches = caches

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "driftless_workqueue_depth", "Apps waiting in the work queue.", value=len(self._queue)
        )
        yield CounterMetricFamily(
            "driftless_workqueue_adds", "Keys added to the work queue.", value=self._queue.adds
        )
        objects = GaugeMetricFamily(
            "driftless_watch_cache_objects",
            "Objects held by the watch caches, by destination cluster.",
            labels=("cluster",),
        )
        totals: dict[str, int] = {}
        for cluster, count in self._caches():
            totals[cluster] = totals.get(cluster, 0) + count
        for cluster, count in sorted(totals.items()):
            objects.add_metric((bounded(redact(cluster)),), count)
        yield objects


class ControllerMetrics:
    """One controller's metrics; ``registry`` is what its ``/metrics`` adds to the default."""

    def __init__(
        self,
        apps: Callable[[], Mapping[Key, JSON]],
        queue: WorkQueue[Key],
        reconciler: Reconciler,
        *,
        shown: Callable[[Key], bool] = lambda _: True,
    ) -> None:
        """``shown(key)``: whether the app's series are exported here (sharding: owned)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self._apps = _AppCollector(apps, shown)
        self.registry.register(self._apps)
        self._reconciler = reconciler
        self.registry.register(_QueueCacheCollector(queue, self._cache_sizes))
        self.registry.register(_FastPathCollector(reconciler))
        self.reconcile_duration = Histogram(
            "driftless_app_reconcile_duration_seconds",
            "Duration of one reconcile pass of an app.",
            buckets=RECONCILE_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "driftless_workqueue_wait_seconds",
            "Time a due app waited in the work queue for a worker.",
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        queue.on_wait = self.queue_wait.observe

    def observed(self, previous: JSON | None, current: JSON) -> None:
        """An app was seen (list or watch): count the operation that ended, if one did."""
        phase = ended_phase(previous, current)
        if phase is None:
            return
        labels = app_info_labels(current)
        counts = self._apps.syncs.setdefault((labels[0], labels[1]), {})
        key = (labels[2], phase)
        counts[key] = counts.get(key, 0) + 1

    def forget(self, key: Key) -> None:
        """The app was deleted: its sync series go with it (bounded cardinality)."""
        self._apps.syncs.pop(key, None)

    def _cache_sizes(self) -> Iterator[tuple[str, int]]:
        planners = [self._reconciler.planner, *self._reconciler.remote_planners().values()]
        for planner in planners:
            cache = planner.live.cache
            if cache is not None:
                yield planner.server_url, cache.object_count()
