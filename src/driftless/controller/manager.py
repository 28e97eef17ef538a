"""The controller process: watch Applications, queue them, reconcile with workers.

* An informer-style loop lists Applications, then watches them; it keeps the
  latest object of each in memory and enqueues a key when the spec changed
  (generation), the object is new, or it carries the refresh annotation.
  Status-only updates (our own writes) do not enqueue, so there is no loop.
* A shared ``WatchCache`` per cluster (the local one here, remote ones in the
  reconciler) watches every kind the apps render; a change to an object that
  carries an app's tracking id enqueues that app within moments, which is how
  drift is seen without polling each app.
* Workers take keys from a ``WorkQueue`` (one worker per key at a time) and
  run the ``Reconciler``. Each app is requeued after its outcome's delay;
  retriable failures back off exponentially (5 s doubling, capped at the
  interval) and reset on success.
* A refresh annotation is removed once its pass ran, and only if it still
  holds the value served. Any refresh (``app refresh``, a git webhook's)
  makes that pass ask the repository for its refs, whatever the revision
  cache holds (``GitCache.forget_refs``, ``since`` the moment the watch first
  showed that refresh value: apps refreshed together share one ``ls-remote``); a hard one
  (``pipeline.requests.is_hard_refresh``) also bypasses the render cache.
* Every reconcile runs under a deadline (``reconcile_timeout``, 5 min by
  default): past it the reconcile is cancelled, the app gets ``Ready=False``
  with reason ``ReconcileTimedOut`` and is retried with backoff, so a few
  hostile or stuck apps cannot hold every worker. A sync cut short resumes
  from the cursor its last status write stored (so a hook created in the
  cancelled pass may be created again: keep the deadline well above a sync
  step's duration).
* Projects are read from the controller's own namespace (``home``: the
  ``controller_namespace`` setting, else the watched namespace, else
  ``driftless``), which is also off-limits to apps as a destination. They
  come from a watch (``pipeline.projects``); a Project's change queues its apps.
* SIGTERM ends the controller in bounded time in every state (see
  ``controller.shutdown``): no new work, passes in flight get
  ``shutdown_grace`` to store their step, the rest is cancelled. Failures
  that many apps share are logged once per backoff step (``controller.repeats``).
* With ``shards`` set, several replicas share the apps (``controller.shards``):
  a worker reconciles a key only while this replica holds its shard's Lease,
  skips it otherwise, and re-enqueues a shard's apps when it gains the shard.
* On start the controller publishes its version in the ConfigMap
  ``driftless-controller`` (read by ``driftless version``).
* An optional ``observer`` (``AppObserver``: the notification engine) sees
  each Application update with the one before it, and runs as a task; with
  ``shards`` only the updates of apps this replica owns (``_notify``).
* Apps are kept as the watch delivers them less ``metadata.managedFields``
  (``slim_app``): memory for many apps, nothing the controller reads.
* ``metrics`` (``controller.metrics``) and ``not_ready`` (why ``/readyz`` is
  503: None once the Applications are listed) feed ``controller.endpoints``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from driftless import __version__
from driftless.controller import membership, shutdown
from driftless.controller.metrics import ControllerMetrics
from driftless.controller.queue import WorkQueue
from driftless.controller.reconciler import Reconciler
from driftless.controller.repeats import Repeats
from driftless.controller.shard_metrics import ShardCollector
from driftless.controller.shards import ShardKeeper
from driftless.core.conditions import now_rfc3339
from driftless.core.errors import DriftlessError, TransientError
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import DEFAULT_PROJECT
from driftless.core.resources import (
    CONTROLLER_CONFIGMAP,
    CONTROLLER_VERSION_KEY,
    DEFAULT_APP_NAMESPACE,
    FIELD_MANAGER,
    tracking_of,
)
from driftless.core.wellknown import REFRESH_ANNOTATION
from driftless.kube.cache import WatchCache
from driftless.kube.client import KubeApiError, KubeClient, KubeExpiredError, UnknownKindError
from driftless.pipeline import requests
from driftless.pipeline.status import Outcome, jittered
from driftless.pipeline.status_budget import DEFAULT_BUDGET as DEFAULT_STATUS_BUDGET
from driftless.render import RenderTools
from driftless.render.isolation import isolated
from driftless.sources.git import GitCache

log = logging.getLogger(__name__)

Key = tuple[str, str]
JSON = dict[str, Any]

BACKOFF_BASE_SECONDS = 5.0
LIVE_CHANGE_DELAY_SECONDS = 0.2
RELIST_DELAY_SECONDS = 5.0
DEFAULT_RECONCILE_TIMEOUT = 300.0
# Writing the timeout condition gets its own small budget.
STATUS_WRITE_TIMEOUT = 30.0


@dataclass
class ControllerSettings:
    namespace: str | None = None  # None: every namespace
    # Measured (bench/scale_bench.py, cold 1,000 apps, 2 cores): 4 workers 18.5 s, 16 13.5 s,
    # 32 15.0 s, 64 14.0 s. A pass mostly waits (git, render, API server), so more workers
    # overlap the waits; past 16 the machine's CPU, not the workers, is the limit.
    workers: int = 16
    default_interval: float = 180.0
    apply_concurrency: int = 16
    # Bytes an app's status may take before its last operation's plain results are
    # left out (``pipeline.status_budget``).
    status_budget: int = DEFAULT_STATUS_BUDGET
    # The controller's own namespace (Projects, credentials); default: see ``home``.
    controller_namespace: str | None = None
    reconcile_timeout: float = DEFAULT_RECONCILE_TIMEOUT
    # A namespaced install (RBAC in one namespace only): watch objects there only.
    scope_namespace: str | None = None
    # On SIGTERM: how long passes in flight may take to end (and store their step).
    shutdown_grace: float = shutdown.DEFAULT_GRACE_SECONDS
    # Several replicas (``controller.shards``): 0 = this one reconciles every app, no Leases.
    shards: int = 0
    replica_id: str = ""  # default: membership.default_replica_id()

    @property
    def home(self) -> str:
        return self.controller_namespace or self.namespace or DEFAULT_APP_NAMESPACE


class AppObserver(Protocol):
    """Sees every Application the watch delivers (the notification engine).

    ``observe(None, obj)`` is the first sight of an app (the initial list is
    a baseline); both calls run on the watch's path, so they must only record
    and enqueue. ``run()`` is the observer's own task, cancelled at shutdown.
    """

    def observe(self, previous: JSON | None, current: JSON) -> None: ...

    def forget(self, obj: JSON) -> None: ...

    async def run(self) -> None: ...


class Controller:
    """Owns the watch, the queue and the workers for one cluster."""

    def __init__(
        self,
        client: KubeClient,
        git: GitCache,
        settings: ControllerSettings,
        *,
        tools: RenderTools | None = None,
        observer: AppObserver | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.observer = observer
        self.cache = WatchCache(client, namespace=settings.scope_namespace)
        self.cache.subscribe(self._on_live_change)
        self.reconciler = Reconciler(
            client,
            git,
            concurrency=settings.apply_concurrency,
            status_budget=settings.status_budget,
            cache=self.cache,
            # Never in this process: a hostile render must not crash or stall the controller.
            tools=isolated(tools or RenderTools()),
            on_live_change=self._on_live_change,
            home=settings.home,
        )
        self.queue: WorkQueue[Key] = WorkQueue()
        self.apps: dict[Key, JSON] = {}
        self._failures: dict[Key, int] = {}
        # (refresh annotation value, when the watch first showed it) per app: the refs
        # asked after that moment answer the refresh, so apps refreshed together share them.
        self._refresh_seen: dict[Key, tuple[str, float]] = {}
        self.reconciler.projects.subscribe(self._on_project_change)
        # Per-app series only where the app is owned: sums over replicas count each app once.
        self.metrics = ControllerMetrics(
            lambda: self.apps, self.queue, self.reconciler, shown=self.owned
        )
        # What /readyz says (controller.endpoints): None once the Applications are listed.
        self.not_ready: str | None = "Applications not listed yet"
        self.drain = shutdown.Drain()
        # Identical failures of many apps (API server gone) make one line per backoff step.
        self.repeats = Repeats(log)
        self._dropping: set[asyncio.Task[None]] = set()
        self.keeper = self._keeper()
        if self.keeper is not None:
            self.metrics.registry.register(ShardCollector(self.keeper))

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then end in bounded time (``controller.shutdown``)."""
        tasks = [asyncio.create_task(self._publish_version())]
        tasks += [asyncio.create_task(self._watch_apps())]
        tasks += [asyncio.create_task(self._worker()) for _ in range(self.settings.workers)]
        if self.observer is not None:
            tasks.append(asyncio.create_task(self.observer.run()))
        if self.keeper is not None:
            tasks.append(asyncio.create_task(self.keeper.run()))
        try:
            await stop.wait()
            if not await self.drain.wait_idle(self.settings.shutdown_grace):
                log.warning(
                    "shutdown: cancelling %d reconciles still running after %gs"
                    " (a sync resumes from the step its last status write stored)",
                    self.drain.in_flight,
                    self.settings.shutdown_grace,
                )
        finally:
            await shutdown.cancel_all(tasks)
            if self.keeper is not None:  # workers stopped: free the Leases for a successor
                leases = shutdown.LEASES_SECONDS
                await shutdown.bounded("releasing the Leases", self.keeper.close(), leases)
            await shutdown.bounded("closing the watches", self.cache.close())
            await shutdown.bounded("closing remote clusters", self.reconciler.close())

    async def _publish_version(self) -> None:
        """Tell `driftless version` (and admins) which controller runs; best effort."""
        namespace = self.settings.home
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONTROLLER_CONFIGMAP, "namespace": namespace},
            "data": {CONTROLLER_VERSION_KEY: __version__, "startedAt": now_rfc3339()},
        }
        try:
            await self.client.apply(body, field_manager=FIELD_MANAGER)
        except KubeApiError as exc:
            log.warning("cannot publish the controller version: %s", exc)

    def _on_live_change(self, event_type: str, obj: JSON) -> None:
        """A managed object changed in the cluster: re-check its app soon.

        The short delay coalesces bursts (a rollout updates status many times).
        """
        tracked = tracking_of(obj)
        if tracked is None:
            return
        if tracked.app_namespace is not None:  # O(1): a cold start sees one event per object
            key = (tracked.app_namespace, tracked.app_name)
            if key in self.apps:
                self.queue.add(key, LIVE_CHANGE_DELAY_SECONDS)
            return
        for key in self.apps:  # an old-format id names every app of that name
            if tracked.names(*key):  # a wake-up only: ownership is checked by the sync
                self.queue.add(key, LIVE_CHANGE_DELAY_SECONDS)

    def _on_project_change(self, event_type: str, obj: JSON) -> None:
        """A Project changed: its apps are planned again soon (not at their next resync)."""
        name = obj.get("metadata", {}).get("name")
        for key, app in self.apps.items():
            if ((app.get("spec") or {}).get("project") or DEFAULT_PROJECT) == name:
                self.queue.add(key, LIVE_CHANGE_DELAY_SECONDS)

    # -- informer -----------------------------------------------------

    async def _watch_apps(self) -> None:
        try:
            await self._list_and_watch()
        finally:  # stopped (shutdown) or crashed: /readyz must not say ready
            self.not_ready = "the watch of Applications is not running"

    async def _list_and_watch(self) -> None:
        while True:
            try:
                version = await self._relist()
                while True:
                    version = await self._watch_from(version)
            except UnknownKindError:
                self.not_ready = "the Application CRD is not installed"
                log.error("the Application CRD is not installed; run `driftless install`")
            except KubeExpiredError:
                pass  # 410: the watch's resource version expired; re-list
            except KubeApiError as exc:  # a 404 too: the Application CRD was deleted
                self.not_ready = "listing or watching Applications failed; retrying"
                log.warning("watching Applications failed: %s", exc)
            await asyncio.sleep(RELIST_DELAY_SECONDS)

    async def _relist(self) -> str:
        items, version = await self.client.list_with_version(
            API_VERSION, APPLICATION_KIND, self.settings.namespace
        )
        seen = set()
        for obj in items:
            key = _key(obj)
            seen.add(key)
            self._observe(obj)
        for key in set(self.apps) - seen:
            self._forget(key)
        self.not_ready = None
        return version

    async def _watch_from(self, version: str) -> str:
        async for event in self.client.watch(
            API_VERSION, APPLICATION_KIND, self.settings.namespace, resource_version=version
        ):
            version = event.obj.get("metadata", {}).get("resourceVersion", version)
            if event.type == "BOOKMARK":
                continue
            if event.type == "DELETED":
                self._forget(_key(event.obj))
            else:
                self._observe(event.obj)
        return version

    def _observe(self, obj: JSON) -> None:
        obj = slim_app(obj)
        key = _key(obj)
        self.reconciler.seen(obj)  # our own status write shown: its copy is not needed
        previous = self.apps.get(key)
        self.metrics.observed(previous, obj)
        self.apps[key] = obj
        self._note_refresh(key, obj)
        if self.observer is not None:
            self._notify(self.observer, key, previous, obj)
        if previous is None or _needs_reconcile(previous, obj) or self._moved(previous, obj):
            self.queue.add(key)

    def _notify(self, observer: AppObserver, key: Key, previous: JSON | None, obj: JSON) -> None:
        """Tell the observer (it records and enqueues only: never blocks).

        With sharding, only the replica owning the app tells, or users would get each
        message once per replica. The others make the observer forget the app (O(1)), so
        after a handover the new owner's observer starts afresh: its memory is a baseline
        of ``previous`` (the update before, which every replica's watch keeps), and only
        the transition ``previous -> obj`` may fire, never a burst. Each replica judges
        by its own view of the Leases when its watch delivers the update: the update at
        the moment of a handover may be told by both replicas or by neither.
        """
        if self.keeper is not None and not self._owns(key):
            observer.forget(obj)
            return
        observer.observe(previous, obj)

    def _moved(self, previous: JSON, current: JSON) -> bool:
        """A pin changed the app's shard: its new owner must see it (the old one skips it)."""
        if self.keeper is None:
            return False
        key = _key(current)
        old = previous.get("metadata", {}).get("labels")
        return self.keeper.shard_of(key, old) != self.keeper.shard_of(
            key, current.get("metadata", {}).get("labels")
        )

    def _note_refresh(self, key: Key, obj: JSON) -> None:
        """Remember when a refresh value was first seen (a value seen again keeps its time:
        an older time only makes ``forget_refs`` ask the repository more often, never less)."""
        value = (obj.get("metadata", {}).get("annotations") or {}).get(REFRESH_ANNOTATION)
        if value is None:
            self._refresh_seen.pop(key, None)
        elif (seen := self._refresh_seen.get(key)) is None or seen[0] != str(value):
            self._refresh_seen[key] = (str(value), time.monotonic())

    def _forget(self, key: Key) -> None:
        gone = self.apps.pop(key, None)
        self._refresh_seen.pop(key, None)
        if gone is not None and self.observer is not None:
            self.observer.forget(gone)
        self._failures.pop(key, None)
        self.queue.forget(key)
        self.metrics.forget(key)
        self.reconciler.fast.forget(key)  # a deleted app's last settled pass: never asked again

    # -- workers ------------------------------------------------------

    async def _worker(self) -> None:
        while not self.drain.stopping:
            key = await self.queue.get()
            if self.drain.stopping:
                self.queue.done(key)
                return
            try:
                with self.drain.busy():
                    await self._run_key(key)
            except Exception:  # a bug must not kill the worker for every other app
                log.exception("reconcile of %s/%s crashed", *key)
                self.queue.add(key, self._backoff(key))
            finally:
                self.queue.done(key)

    async def _run_key(self, key: Key) -> None:
        """Reconcile ``key``, unless another replica owns it (skipped, not requeued)."""
        if self.keeper is None:
            await self._process(key)
            return
        labels = self.apps.get(key, {}).get("metadata", {}).get("labels")
        await self.keeper.run_owned(key, labels, lambda: self._process(key))

    def _keeper(self) -> ShardKeeper | None:
        if not self.settings.shards:
            return None
        return ShardKeeper(
            self.client,
            self.settings.home,
            self.settings.replica_id or membership.default_replica_id(),
            self.settings.shards,
            on_gained=self._enqueue_shards,
            on_lost=self._drop_remote,
        )

    def _drop_remote(self) -> None:
        """Shards went away: remote clusters' watches live only where their apps are owned."""
        task = asyncio.create_task(self.reconciler.drop_remote_planners(self._owns))
        self._dropping.add(task)
        task.add_done_callback(self._dropping.discard)

    def owned(self, key: Key) -> bool:
        """This replica acts for the app: no sharding, or it holds the app's shard now."""
        return self.keeper is None or self._owns(key)

    def _owns(self, key: Key) -> bool:
        obj = self.apps.get(key)
        labels = (obj or {}).get("metadata", {}).get("labels")
        return obj is not None and self.keeper is not None and self.keeper.owns(key, labels)

    def _enqueue_shards(self, shards: set[int]) -> None:
        """Shards gained: their apps are ours to reconcile now."""
        if self.keeper is None:
            return
        for key, obj in self.apps.items():
            if self.keeper.shard_of(key, obj.get("metadata", {}).get("labels")) in shards:
                self.queue.add(key)

    async def _process(self, key: Key) -> None:
        raw = self.apps.get(key)
        if raw is None:
            return
        limit = self.settings.reconcile_timeout
        if raw.get("metadata", {}).get("deletionTimestamp"):
            try:
                async with asyncio.timeout(limit):
                    finalized = await self.reconciler.finalize(raw)
            except TimeoutError:
                log.warning("app %s/%s: deletion did not finish within %gs", *key, limit)
                finalized = False
            if not finalized:
                self.queue.add(key, self._backoff(key))
            return
        refresh = (raw.get("metadata", {}).get("annotations") or {}).get(REFRESH_ANNOTATION)
        if refresh is not None:
            # A push is never seen late: refs asked after the watch showed this refresh
            # were asked after the push it follows, so only older ones are dropped.
            seen = self._refresh_seen.get(key)
            since = seen[1] if seen is not None and seen[0] == str(refresh) else None
            self.reconciler.git.forget_refs(_repo_url(raw), since=since)
        started = time.monotonic()
        try:
            async with asyncio.timeout(limit):
                outcome = await self.reconciler.reconcile(
                    raw,
                    default_interval=self.settings.default_interval,
                    hard=requests.is_hard_refresh(refresh),
                )
        except TimeoutError:
            outcome = await self._timed_out(key, raw, limit)
        except DriftlessError as exc:
            # The reconciler reports every failure of a step on the app itself;
            # what gets here failed around the steps (a status or request
            # write), so it says only what is known.
            label = "app {}/{}".format(*key)
            self.repeats.log(logging.WARNING, key, label, f"reconcile did not finish: {exc}")
            outcome = _unfinished(exc)
        self.metrics.reconcile_duration.observe(time.monotonic() - started)
        if refresh is not None:
            await self.reconciler.clear_refresh(raw, str(refresh))
        self.queue.add(key, self._delay(key, outcome))

    async def _timed_out(self, key: Key, raw: JSON, limit: float) -> Outcome:
        """Cancelled at the deadline: say so on the app, then back off."""
        log.warning("app %s/%s: reconcile cancelled after %gs", *key, limit)
        try:
            async with asyncio.timeout(STATUS_WRITE_TIMEOUT):
                err = await self.reconciler.report_timeout(raw, limit)
        except (TimeoutError, DriftlessError) as exc:
            log.warning("app %s/%s: cannot write status: %s", *key, exc)
            return _unfinished(exc, "cannot write status")
        return Outcome(requeue_after=0.0, error=err)  # retriable: ``_delay`` backs off

    def _delay(self, key: Key, outcome: Outcome) -> float:
        if outcome.retriable:
            return self._backoff(key)
        self._failures.pop(key, None)
        return outcome.requeue_after

    def _backoff(self, key: Key) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return jittered(min(BACKOFF_BASE_SECONDS * 2**failures, self.settings.default_interval))


def _unfinished(exc: Exception, what: str = "reconcile did not finish") -> Outcome:
    """Retriable, so ``_delay`` backs off (and keeps counting the failures)."""
    return Outcome(requeue_after=0.0, error=TransientError(f"{what}: {exc}"))


def slim_app(obj: JSON) -> JSON:
    """``obj`` without ``metadata.managedFields``, which nothing in the controller reads. Pure.

    The watch's copy of every app is kept for the app's life; its managedFields
    (one entry per writer: the user's apply, the status writes, with the fields
    each owns) can be as large as the rest, so a thousand apps would hold
    megabytes of it. Writes never send this copy's metadata whole (patches only),
    so nothing is lost on the server.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    slim = {k: v for k, v in meta.items() if k != "managedFields"}
    return {**obj, "metadata": slim}


def _key(obj: JSON) -> Key:
    meta = obj.get("metadata", {})
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _needs_reconcile(previous: JSON, current: JSON) -> bool:
    """Spec changed, refresh asked, or deletion started; not our own status writes."""
    old_meta, new_meta = previous.get("metadata", {}), current.get("metadata", {})
    if old_meta.get("generation") != new_meta.get("generation"):
        return True
    if REFRESH_ANNOTATION in (new_meta.get("annotations") or {}):
        return True
    return bool(new_meta.get("deletionTimestamp")) and not old_meta.get("deletionTimestamp")


def _repo_url(raw: JSON) -> str:
    """``spec.source.repoURL``, or ``""`` when the object has none (malformed)."""
    spec = raw.get("spec")
    source = spec.get("source") if isinstance(spec, dict) else None
    url = source.get("repoURL") if isinstance(source, dict) else None
    return url if isinstance(url, str) else ""
