"""Reconcile one Application: git → render → compare → apply → health → status.

The shape is fixed (after flux's kustomize-controller): parse the object,
run a straight pipeline, and write the status once at the end. Every failure
is a typed ``DriftlessError``; ``pipeline.status`` turns its type into
conditions and a requeue delay, so no step decides retry policy itself.

Guarantees:
* Nothing is applied unless every step before ``apply`` succeeded for every
  object of the render (fetch, render, discovery, server-side dry-run).
* An unchanged app costs reads only: the status is written only when it
  changed, objects only when they differ from git.
* A resync of an app where nothing changed since its last settled full
  pass skips the plan altogether (``controller.fastpath``: the conditions,
  and the periodic full pass that stays the safety net).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from driftless import __version__
from driftless.controller import durable as durable_writes
from driftless.controller import fastpath
from driftless.controller.destinations import Destination, Destinations
from driftless.controller.events import (
    Ended,
    EventRecorder,
    Finished,
    PassOperation,
    pass_events,
)
from driftless.controller.repeats import Repeats
from driftless.core.errors import DriftlessError, StallingError, TransientError
from driftless.core.models import (
    API_VERSION,
    APPLICATION_KIND,
    Application,
    HistoryEntry,
    Operation,
    OperationPhase,
    OperationState,
)
from driftless.core.reasons import Reason
from driftless.core.repourl import redact
from driftless.core.resources import DEFAULT_APP_NAMESPACE, ResourceRef
from driftless.core.vocabulary import ResultCode
from driftless.core.wellknown import (
    RESOURCES_FINALIZER,
    TERMINATE_ANNOTATION,
)
from driftless.kube.cache import Subscriber, WatchCache
from driftless.kube.client import (
    KubeApiError,
    KubeClient,
    KubeConflictError,
    KubeInvalidError,
    KubeNotFoundError,
    KubeRefusedError,
    KubeTooLargeError,
)
from driftless.pipeline import policy as ops
from driftless.pipeline import requests
from driftless.pipeline import status as outcomes
from driftless.pipeline.decryption import Decrypting
from driftless.pipeline.drive import drive
from driftless.pipeline.inventory import StatusInventory
from driftless.pipeline.plan import Plan
from driftless.pipeline.planner import Planner
from driftless.pipeline.projects import ClusterProjects
from driftless.pipeline.renderers import GitRenderer, Renderer
from driftless.pipeline.status_budget import DEFAULT_BUDGET as DEFAULT_STATUS_BUDGET
from driftless.pipeline.status_budget import fit as fit_status
from driftless.pipeline.status_budget import size as fitted_size
from driftless.render import RenderTools, chart_deps
from driftless.sources.git import GitCache
from driftless.sync.prune import find_orphans
from driftless.sync.prune import prune as prune_objects
from driftless.sync.runner import SyncRunner, at_safe_point, end_early

log = logging.getLogger(__name__)


class Reconciler:
    """Runs the pipeline for one app at a time; safe to share between workers."""

    def __init__(
        self,
        client: KubeClient,
        git: GitCache,
        *,
        concurrency: int = 16,
        status_budget: int = DEFAULT_STATUS_BUDGET,
        cache: WatchCache | None = None,
        tools: RenderTools | None = None,
        on_live_change: Subscriber | None = None,
        home: str = DEFAULT_APP_NAMESPACE,
    ) -> None:
        self.client = client
        self.git = git
        self.tools = tools
        self.home = home
        # Projects from a watch of ``home``: no GET per plan (falls back to GETs if refused).
        self.projects = ClusterProjects(client, home, watched=True)
        self.planner = Planner(
            client, self._renderer(), self.projects, concurrency=concurrency, cache=cache,
            home=home,
        )  # fmt: skip
        self.destinations = Destinations(client)
        # One planner per (app namespace, server): cluster Secrets live in the
        # apps' namespaces, so two namespaces may register one server differently.
        self._remote_planners: dict[tuple[str, str], Planner] = {}
        # The remote planner each app last used (sharding drops the unowned ones).
        self._planner_of: dict[tuple[str, str], tuple[str, str]] = {}
        # Passes running on each remote planner now (by id), and the replaced
        # planners still in use: closed when their last pass ends.
        self._users: Counter[int] = Counter()
        self._retired: dict[int, Planner] = {}
        self._on_live_change = on_live_change
        self.concurrency = concurrency
        self.status_budget = status_budget
        self.events = EventRecorder(client)
        self._heals: dict[tuple[str, str], ops.HealRecord] = {}
        # Per app, (resourceVersion, status) of our last status write, until the
        # watch shows it (``_freshest``): not the whole object the write returned.
        self._written: dict[tuple[str, str], _Written] = {}
        # Many apps failing alike (git host down) log one line per backoff step.
        self.repeats = Repeats(log)
        # The last settled full pass of each app (``controller.fastpath``).
        self.fast = fastpath.Memory()

    async def reconcile(
        self, raw: dict[str, Any], *, default_interval: float, hard: bool = False
    ) -> outcomes.Outcome:
        """Reconcile one Application object; returns what to do next.

        ``hard`` (a hard refresh asked): the target is planned with the
        renderer's caches bypassed (the repository's refs read now, a new
        render), see ``pipeline.renderers``.
        """
        raw = self._freshest(raw)
        name = raw.get("metadata", {}).get("name", "?")
        try:
            app = Application.model_validate(raw)
        except PydanticValidationError as exc:
            err = StallingError(f"invalid spec: {outcomes.first_error(exc)}", reason=Reason.STALLED)
            await self._write_status(raw, outcomes.failed(raw, err))
            return outcomes.Outcome(requeue_after=default_interval, error=err)
        interval = outcomes.interval_of(app, default_interval)
        key = (app.namespace, app.name)
        try:
            run = await self._run(app, raw, fresh=hard)
        except DriftlessError as err:
            self.fast.forget(key)
            label = f"app {app.namespace}/{name}"
            self.repeats.log(logging.INFO, (app.namespace, name), label, _logged(err))
            await self._write_failure(raw, app, err)
            return outcomes.Outcome(requeue_after=interval, error=err)
        if run is None:  # the fast path: nothing changed since the last settled pass
            return outcomes.after_run(raw.get("status") or {}, interval, False, 0.0)
        paused = run.interrupted.message if run.interrupted is not None else None
        status = outcomes.succeeded(
            app, run.plan, operation=run.state, history=run.history, paused=paused
        )
        try:
            shown = await self._write_status(raw, status, run=run)
        except KubeTooLargeError as exc:
            too_large = _status_too_large(fit_status(status, self.status_budget), exc)
            self.fast.forget(key)
            label = f"app {app.namespace}/{name}"
            self.repeats.log(logging.WARNING, (app.namespace, name), label, too_large.message)
            await self._write_failure(raw, app, too_large)
            return outcomes.Outcome(requeue_after=interval, error=too_large)
        self._remember(app, run, shown)
        if ops.terminate_request(app) is not None:
            # Served by this pass, or stale (it names no running operation):
            # never left behind to stop a later operation.
            await self.clear_terminate(raw)
        requested = app.operation
        if requested is not None and (run.finished or ops.served(requested, run.state)):
            await self._clear_operation(raw, requested)
        if run.interrupted is not None:
            # The progress of the pass is stored; the rest waits for the API (backoff).
            log.info(
                "app %s/%s: sync paused: %s", app.namespace, name, redact(str(run.interrupted))
            )
            return outcomes.Outcome(requeue_after=interval, error=run.interrupted)
        return outcomes.after_run(status, interval, run.running, run.wait)

    async def _write_failure(
        self, raw: dict[str, Any], app: Application, err: DriftlessError
    ) -> None:
        """The status of a failed pass; a termination request is served all the same.

        A termination needs no plan: git or a render failing must not keep
        alive an operation a person asked to stop.
        """
        status = outcomes.failed(raw, err)
        terminated = _terminate_unplanned(app)
        if terminated is not None:
            state, history = terminated
            status["operationState"] = state.to_api()
            status["history"] = [h.to_api() for h in history]
            message = f"sync to {state.revision[:12]}: {state.message}"
            await self.events.record(raw, "Warning", Reason.SYNC_TERMINATED, message)
        await self._write_status(raw, status)
        if ops.terminate_request(app) is not None:
            await self.clear_terminate(raw)

    async def report_timeout(self, raw: dict[str, Any], seconds: float) -> DriftlessError:
        """Record on the app that its reconcile was cancelled after ``seconds``."""
        err = TransientError(
            f"reconcile did not finish within {seconds:g}s and was cancelled; "
            "retrying with backoff (a slow repository, render or hook?)",
            reason=Reason.RECONCILE_TIMED_OUT,
        )
        await self._write_status(raw, outcomes.failed(self._freshest(raw), err))
        return err

    async def close(self) -> None:
        """Stop the watches of remote clusters and close their clients."""
        for planner in [*self._remote_planners.values(), *self._retired.values()]:
            await planner.close()
        # The local planner's watches belong to the manager; its lookup proxy to it.
        await self.planner.lookups.close()
        self._remote_planners.clear()
        self._retired.clear()
        await self.destinations.close()
        await self.projects.close()

    def _renderer(self) -> Renderer:
        # Each planner has its own bounded render cache, dropped with the planner.
        # SOPS keys are read from the apps' cluster (``self.client``), never the destination.
        return Decrypting(GitRenderer(self.git, self.tools or RenderTools()), self.client)

    def remote_planners(self) -> dict[tuple[str, str], Planner]:
        """The planner of each remote cluster in use, by (app namespace, server URL) (a copy)."""
        return dict(self._remote_planners)

    async def planner_for(self, app: Application) -> Planner:
        """The planner of the app's destination cluster, not held (see ``using_planner``)."""
        async with self.using_planner(app) as planner:
            return planner

    @asynccontextmanager
    async def using_planner(self, app: Application) -> AsyncIterator[Planner]:
        """The planner of the app's destination cluster, held for the block.

        One planner per remote cluster and app namespace. When the cluster's
        Secret changed (rotated credentials), ``destinations`` hands out a new
        client and the planner is replaced; the old one's watches are stopped
        and its client closed once no pass holds it any more (a pass on a
        closed client would fail with "Session is closed").
        """
        destination = await self.destinations.resolve(app)
        if destination.local:
            yield self.planner
            return
        # No await between choosing the planner and counting this pass on it.
        planner, replaced = self._remote_planner(app.namespace, destination)
        self._planner_of[(app.namespace, app.name)] = (app.namespace, destination.server)
        self._users[id(planner)] += 1
        try:
            if replaced is not None:
                await self._retire(replaced)
            yield planner
        finally:
            self._users[id(planner)] -= 1
            if self._users[id(planner)] <= 0:
                del self._users[id(planner)]
                if self._retired.pop(id(planner), None) is not None:
                    await self._shut(planner)

    def _remote_planner(
        self, namespace: str, destination: Destination
    ) -> tuple[Planner, Planner | None]:
        """(the planner for this destination client, the planner it replaced or None)."""
        key = (namespace, destination.server)
        old = self._remote_planners.get(key)
        if old is not None and old.client is destination.client:
            return old, None
        cache = WatchCache(destination.client)
        if self._on_live_change is not None:
            cache.subscribe(self._on_live_change)
        planner = Planner(
            destination.client,
            self._renderer(),
            self.projects,
            concurrency=self.concurrency,
            cache=cache,
            server_url=destination.server,
            home=self.home,
        )
        self._remote_planners[key] = planner
        return planner, old

    async def drop_remote_planners(self, owned: Callable[[tuple[str, str]], bool]) -> None:
        """Stop the watches of the remote clusters no ``owned`` app deploys to.

        With several replicas (``controller.shards``) a remote cluster's watch
        cache lives only on the replicas owning apps there: called when shards
        move away.
        """
        drop = unused_remote(self._planner_of, set(self._remote_planners), owned)
        for app in [a for a in self._planner_of if not owned(a)]:
            del self._planner_of[app]
        for key in drop:
            await self._retire(self._remote_planners.pop(key))

    async def _retire(self, planner: Planner) -> None:
        """Shut a replaced planner now, or when the passes still using it end."""
        if self._users[id(planner)] > 0:
            self._retired[id(planner)] = planner
        else:
            await self._shut(planner)

    async def _shut(self, planner: Planner) -> None:
        await planner.close()
        await self.destinations.release(planner.client)

    async def _run(
        self, app: Application, raw: dict[str, Any], *, fresh: bool = False
    ) -> RunResult | None:
        """Plan, then start, advance or end a sync operation as policy and requests say.

        The status always compares with the current target revision, also while
        an operation of an older revision runs (see ``driftless.sync``).
        None: the fast path was taken (``controller.fastpath``), nothing to report.
        """
        async with self.using_planner(app) as planner:
            if await self._unchanged(planner, app, raw, fresh):
                return None
            before = await self._environment(planner, app)
            with chart_deps.noting_resolutions() as ranges:
                result = await self._run_on(planner, app, fresh)
            after = await self._environment(planner, app)
            if before is not None and before == after:
                result.snapshot = _snapshot_of(app, raw, result.plan, before, ranges.changes_at)
            return result

    # -- the fast path (controller.fastpath) ------------------------------

    async def _unchanged(
        self, planner: Planner, app: Application, raw: dict[str, Any], hard: bool
    ) -> bool:
        """Is this resync answered by the app's last settled full pass?"""
        key = (app.namespace, app.name)
        record = self.fast.get(key)
        if record is None:
            return False
        blocker = fastpath.app_blocker(app, raw, hard)
        if blocker is None:
            now = await self._snapshot_now(planner, app, raw, record.snapshot)
            decision = fastpath.decide(record, now, raw.get("status") or {}, time.monotonic())
        else:
            decision = fastpath.Decision(False, blocker)
        if not decision.fast:
            log.debug("app %s/%s: full reconcile: %s", app.namespace, app.name, decision.reason)
            return False
        self.fast.took(key)
        log.debug("app %s/%s: fast path, nothing changed", app.namespace, app.name)
        return True

    async def _snapshot_now(
        self, planner: Planner, app: Application, raw: dict[str, Any], old: fastpath.Snapshot
    ) -> fastpath.Snapshot | None:
        """The snapshot of the app now, over the objects ``old`` covers; None: unknown."""
        project_version = self.projects.version(app.spec.project)
        cache = planner.live.cache
        if project_version is None or cache is None:
            return None
        objects = []
        for object_key, _ in old.objects:
            api_version, kind, namespace, name = object_key
            if not cache.synced(api_version, kind):
                return None  # not watched (any more): only a full pass can tell
            live = cache.get(api_version, kind, namespace, name)
            objects.append((object_key, fastpath.live_version(live)))
        environment = await self._environment(planner, app)
        if environment is None:
            return None
        source = app.spec.source
        try:
            # As the render resolves it: the same ls-remote or revision cache.
            revision = await self.git.resolve(source.repo_url, source.target_revision)
        except DriftlessError:
            return None  # the full path reports it
        return fastpath.Snapshot(
            revision=revision,
            generation=app.generation,
            annotations=fastpath.annotations_of(raw),
            project_version=project_version,
            environment=environment,
            objects=tuple(objects),
        )

    async def _environment(self, planner: Planner, app: Application) -> tuple[object, ...] | None:
        """What else a plan depends on: Project, destination, Capabilities, health checks."""
        project_version = self.projects.version(app.spec.project)
        if project_version is None:
            return None
        try:
            target = await planner.kube_target()
            registry = await planner.health_checks.registry(app.namespace)
        except DriftlessError:
            return None
        settings = (__version__, self.home, self.concurrency)
        client = id(planner.client)  # a replaced destination client is a new planner
        custom = tuple(registry.custom_checks)
        return (project_version, settings, planner.server_url, client, target, custom)

    def _remember(self, app: Application, run: RunResult, shown: dict[str, Any] | None) -> None:
        """Keep this full pass for the fast path if it ended settled, else forget the app."""
        key = (app.namespace, app.name)
        automated = app.spec.sync_policy.automated is not None
        quiet = (
            run.started is None and run.ended is None and not run.advanced and not run.healed
            and run.interrupted is None and run.wait <= 0 and not run.running
        )  # fmt: skip
        if (
            run.snapshot is None
            or shown is None
            or not fastpath.settled(shown, automated=automated, quiet=quiet)
        ):
            self.fast.forget(key)
            return
        self.fast.remember(key, run.snapshot, shown, time.monotonic())

    async def _run_on(self, planner: Planner, app: Application, fresh: bool) -> RunResult:
        """``_run`` on the planner of the app's destination."""
        previous = app.status.operation_state
        running = previous if previous and previous.phase == OperationPhase.RUNNING else None
        requested = app.operation
        if running is None and requested is not None and not ops.served(requested, previous):
            running = ops.start(requested, revision=requested.sync.revision or "")
        plan, target = await self._plans(planner, app, running, fresh)
        result = RunResult(plan=target or plan, state=previous, history=app.status.history)
        if running is not None and running is previous:
            ended = self._end_early(app, running, target)
            if ended is not None:
                result.ended, result.state = ended, ended
                result.history = ops.add_history(app, ended)
                if ended.phase == OperationPhase.TERMINATED:
                    return result
                app = _with_state(app, ended, result.history)
                running, plan = None, target or plan
        if running is None:
            running = self._auto_sync(app, plan, result)
        if running is None:
            return result
        started = running is not previous
        if started:
            # Pin the commit the plan resolved (a branch or tag may move mid-sync).
            running.revision = plan.revision
        result.started = running if started else None
        # One runner per pass: it collects what this pass applied (workers run in parallel).
        runner = SyncRunner(
            planner.client,
            concurrency=self.concurrency,
            live=planner.live,
            assess=plan.registry.assess,
            health_timeout=app.spec.sync_policy.health_timeout_seconds(),
        )
        driven = await drive(planner, plan, runner, running, selection=_selection(running))
        result.state, result.interrupted = driven.state, driven.interrupted
        result.advanced = True
        if result.finished:
            result.history = ops.add_history(app, result.state)
            result.wait = ops.retry_wait(app.spec.sync_policy.retry, result.state)
        return result

    async def _plans(
        self, planner: Planner, app: Application, running: OperationState | None, fresh: bool
    ) -> tuple[Plan, Plan | None]:
        """(the plan the operation works on, the plan at the current target or None).

        ``fresh`` applies to the target's plan: an operation's pinned commit
        needs no new look at the repository. Without an operation there is one
        plan, at the target. With one, the
        target is planned too (when it differs) so the status tells the truth;
        a target that cannot be planned (a broken new commit) does not stop the
        running operation: it is logged and reported once the operation ends.
        """
        if running is None:
            return await planner.plan(app, fresh=fresh), None
        try:
            target: Plan | None = await planner.plan(app, fresh=fresh)
        except DriftlessError as err:
            log.info("app %s/%s: target not planned during a sync: %s", app.namespace,
                     app.name, redact(str(err)))  # fmt: skip
            target = None
        if target is not None and running.revision in ("", target.revision):
            return target, target
        return await planner.plan(app, revision=running.revision or None), target

    def _end_early(
        self, app: Application, running: OperationState, target: Plan | None
    ) -> OperationState | None:
        """Terminate or supersede ``running`` at this safe point, if asked / due."""
        if ops.should_terminate(app, running):
            return end_early(
                running,
                OperationPhase.TERMINATED,
                ops.TERMINATED_MESSAGE,
            )
        if target is None or not at_safe_point(running):
            return None
        if not ops.should_supersede(app, running, target.revision):
            return None
        return end_early(
            running,
            OperationPhase.SUPERSEDED,
            f"superseded by revision {target.revision[:12]} while waiting "
            f"({_where(running)}); what it applied stays",
        )

    def _auto_sync(self, app: Application, plan: Plan, result: RunResult) -> OperationState | None:
        automated = app.spec.sync_policy.automated
        prune_enabled = bool(automated and automated.prune)
        heal = self._heals.setdefault((app.namespace, app.name), ops.HealRecord())
        now = time.time()
        decision = ops.decide_auto_sync(
            app, plan.revision, plan.needs_sync(prune_enabled=prune_enabled), heal, now
        )
        result.wait = decision.wait
        if decision.operation is None:
            return None
        if decision.is_heal:
            heal.healed(now)
            result.healed = True
        return ops.start(decision.operation, plan.revision)

    async def clear_terminate(self, raw: dict[str, Any]) -> None:
        """Remove a served (or stale) termination request."""
        await self._clear_annotation(raw, TERMINATE_ANNOTATION)

    async def finalize(self, raw: dict[str, Any]) -> bool:
        """Handle a deleted app; True when done, False to retry later.

        With the resources finalizer, every object of the inventory that still
        carries this app's tracking id is deleted (Prune=false ones are kept),
        then the finalizer is removed. Without it, objects keep running.
        """
        meta = raw.get("metadata", {})
        finalizers = list(meta.get("finalizers") or [])
        if RESOURCES_FINALIZER not in finalizers:
            return True
        try:
            app = Application.model_validate(raw)
            async with self.using_planner(app) as planner:
                applied = await StatusInventory(app).read()
                orphans = await find_orphans(planner.client, app.namespace, app.name, applied)
                deleted = await prune_objects(planner.client, orphans)
            self.fast.forget((app.namespace, app.name))
        except (DriftlessError, PydanticValidationError) as exc:
            log.warning(
                "app %s/%s: cannot delete its resources: %s",
                meta.get("namespace"),
                meta.get("name"),
                exc,
            )
            return False
        for orphan in deleted:
            await self.events.record(raw, "Normal", Reason.PRUNED, f"deleted {orphan.ref}")
        finalizers.remove(RESOURCES_FINALIZER)
        patch = {
            "metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}
        }
        try:
            await self.client.merge_patch(
                API_VERSION, APPLICATION_KIND, meta["name"], patch, namespace=meta.get("namespace")
            )
        except KubeNotFoundError:
            return True
        except KubeApiError:
            return False  # a conflict is retried with the newer object
        return True

    async def _patch_status(
        self, meta: dict[str, Any], patch: list[dict[str, Any]], *, durable: bool
    ) -> dict[str, Any]:
        """Apply ``patch`` to the status; ``durable``: retried through an outage
        (``controller.durable``: the operation's record must not be lost)."""
        name, namespace = meta["name"], meta.get("namespace")

        async def write() -> dict[str, Any]:
            return await self.client.json_patch(
                API_VERSION, APPLICATION_KIND, name, patch, namespace=namespace,
                subresource="status",
            )  # fmt: skip

        if not durable:
            return await write()
        return await durable_writes.retried(write, f"status of app {namespace}/{name}")

    async def _write_status(
        self, raw: dict[str, Any], status: dict[str, Any], *, run: RunResult | None = None
    ) -> dict[str, Any] | None:
        """Patch the status subresource (skipped when nothing changed) and record events.

        Returns the status as the app shows it now (None: the app is gone).
        """
        meta = raw.get("metadata", {})
        status = fit_status(status, self.status_budget)
        await self._record_events(raw, status, run)
        if outcomes.same_status(raw.get("status") or {}, status):
            shown: dict[str, Any] = raw.get("status") or {}
            return shown
        # Replace the whole status: a merge patch would keep fields that are gone
        # from the new status (a finished operation's cursor, an old message).
        replace: list[dict[str, Any]] = [{"op": "add", "path": "/status", "value": status}]
        try:
            written = await self._patch_status(meta, replace, durable=_records_operation(run))
        except KubeNotFoundError:
            return None  # deleted while we worked: nothing to report on
        self._written[_app_key(written)] = _Written.of(written)
        written_status: dict[str, Any] = written.get("status") or {}
        return written_status

    def _freshest(self, raw: dict[str, Any]) -> dict[str, Any]:
        """``raw`` with the status of our last write when the watch has not shown it yet.

        The watch may deliver our own status write after the next reconcile
        has started; reconciling the older copy would forget a running sync
        and start it again (deleting its running hooks). Only the status is
        taken from the write: a spec changed meanwhile reaches us through the
        watch (a newer copy, its own pass); keeping the whole object the write
        returned cost ~18 KB per app until its next pass.
        """
        key = _app_key(raw)
        written = self._written.get(key)
        if written is not None and written.newer_than(raw):
            return {**raw, "status": written.status}
        self._written.pop(key, None)
        return raw

    def seen(self, raw: dict[str, Any]) -> None:
        """The watch delivered ``raw``: forget a status write it already shows."""
        key = _app_key(raw)
        written = self._written.get(key)
        if written is not None and not written.newer_than(raw):
            del self._written[key]

    async def _record_events(
        self, raw: dict[str, Any], status: dict[str, Any], run: RunResult | None
    ) -> None:
        """Record what this pass deserves (``events.pass_events``); best-effort."""
        op = _pass_operation(run) if run is not None else None
        for event in pass_events(raw.get("status") or {}, status, op):
            await self.events.record(raw, *event)

    async def _clear_operation(self, raw: dict[str, Any], ran: Operation) -> None:
        """Remove the request that just finished, unless someone replaced it meanwhile.

        The stored request carries API-server defaults, so it is compared
        through the model; the removal is guarded by the resourceVersion that
        comparison saw (a request written in between makes it fail, and the
        next reconcile runs that request).
        """
        meta = raw.get("metadata", {})
        name, namespace = meta["name"], meta.get("namespace")
        fresh = await self.client.get(API_VERSION, APPLICATION_KIND, name, namespace)
        if fresh is None or fresh.get("operation") is None:
            return
        try:
            stored = Operation.model_validate(fresh["operation"])
        except PydanticValidationError:
            return
        if stored.to_api() != ran.to_api():
            return
        version = fresh["metadata"]["resourceVersion"]
        patch: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": version},
            {"op": "remove", "path": "/operation"},
        ]
        try:
            await self.client.json_patch(
                API_VERSION, APPLICATION_KIND, name, patch, namespace=namespace
            )
        except (KubeNotFoundError, KubeConflictError, KubeInvalidError):
            # Gone, changed meanwhile, or the resourceVersion test failed (422):
            # the request stays, and ``policy.served`` keeps it from running twice.
            return
        except KubeRefusedError as exc:
            # Anything else refused (RBAC, an admission webhook): the request
            # stays (``policy.served`` keeps it from running twice), but say why.
            log.warning("app %s/%s: cannot clear the finished operation request: %s",
                        namespace, name, exc)  # fmt: skip

    async def clear_refresh(self, raw: dict[str, Any], served: str) -> None:
        """Remove the refresh annotation once the request it carries was served.

        Only while it still holds ``served``: a request written during the pass
        (another refresh, a hard one) stays and gets its own pass.
        """
        meta = raw.get("metadata", {})
        patch = requests.served_refresh_patch(served)
        try:
            await self.client.json_patch(
                API_VERSION, APPLICATION_KIND, meta["name"], patch, namespace=meta.get("namespace")
            )
        except (KubeNotFoundError, KubeInvalidError, KubeConflictError):
            # Gone, or a new value replaced it (the test fails: 422): nothing to clear.
            return

    async def _clear_annotation(self, raw: dict[str, Any], key: str) -> None:
        """Remove one request annotation of the app; an app already gone needs nothing."""
        meta = raw.get("metadata", {})
        patch = {"metadata": {"annotations": {key: None}}}
        try:
            await self.client.merge_patch(
                API_VERSION, APPLICATION_KIND, meta["name"], patch, namespace=meta.get("namespace")
            )
        except KubeNotFoundError:
            return


@dataclass(frozen=True)
class _Written:
    """What ``_freshest`` needs of a status write: its resourceVersion and status."""

    resource_version: str
    status: dict[str, Any]

    @classmethod
    def of(cls, written: dict[str, Any]) -> _Written:
        version = str((written.get("metadata") or {}).get("resourceVersion", ""))
        return cls(version, written.get("status") or {})

    def newer_than(self, raw: dict[str, Any]) -> bool:
        return _newer({"metadata": {"resourceVersion": self.resource_version}}, raw)


@dataclass
class RunResult:
    """What one reconcile pass found (the plan) and did (the operation)."""

    plan: Plan
    state: OperationState | None
    history: list[HistoryEntry]
    started: OperationState | None = None
    # An operation superseded or terminated in this pass (history has it).
    ended: OperationState | None = None
    healed: bool = False
    wait: float = 0.0
    # A transient API failure that ended this pass's sync step early.
    interrupted: DriftlessError | None = None
    # What the plan saw (``controller.fastpath``); None: something moved while it planned.
    snapshot: fastpath.Snapshot | None = None

    @property
    def running(self) -> bool:
        return self.state is not None and self.state.phase == OperationPhase.RUNNING

    advanced: bool = False  # an operation step ran in this pass

    @property
    def finished(self) -> bool:
        """An operation ended in this very pass."""
        return self.advanced and self.state is not None and not self.running


def unused_remote(
    planner_of: dict[tuple[str, str], tuple[str, str]],
    planners: set[tuple[str, str]],
    owned: Callable[[tuple[str, str]], bool],
) -> set[tuple[str, str]]:
    """The remote planners no owned app uses (an app's planner: ``planner_of``). Pure."""
    return planners - {planner for app, planner in planner_of.items() if owned(app)}


def _snapshot_of(
    app: Application,
    raw: dict[str, Any],
    plan: Plan,
    environment: tuple[object, ...],
    renders_until: float | None = None,
) -> fastpath.Snapshot:
    """The snapshot of a full pass: the live objects as its plan compared them."""
    entries = [
        ((s.desired.api_version, s.desired.ref.kind, s.desired.ref.namespace, s.desired.ref.name),
         fastpath.live_version(s.live))
        for s in plan.states
    ]  # fmt: skip
    entries += [
        ((o.api_version, o.ref.kind, o.ref.namespace, o.ref.name), fastpath.live_version(o.live))
        for o in plan.orphans
    ]
    return fastpath.Snapshot(
        revision=plan.revision,
        generation=app.generation,
        annotations=fastpath.annotations_of(raw),
        project_version=str(environment[0]),
        environment=environment,
        objects=fastpath.objects_of(entries),
        renders_until=renders_until,
    )


# How ``kube.client`` words a request that got no answer at all (refused, reset, timed out).
_UNREACHABLE = "cannot reach the API server"


def _pass_operation(run: RunResult) -> PassOperation:
    """What ``run`` did to its operation, as ``events.pass_events`` reads it."""
    started_by: str | None = None
    if run.started is not None:
        by = run.started.operation.initiated_by
        who = "self-heal" if run.healed else ("auto-sync" if by.automated else by.username)
        started_by = who or "a user"
    ended = None
    if run.ended is not None:
        superseded = run.ended.phase == OperationPhase.SUPERSEDED
        ended = Ended(superseded, run.ended.revision, run.ended.message)
    finished = None
    if run.finished and run.state is not None:
        codes = Counter(r.status for r in run.state.resources)
        finished = Finished(
            succeeded=run.state.phase == OperationPhase.SUCCEEDED,
            revision=run.state.revision,
            message=run.state.message,
            synced=codes[ResultCode.SYNCED],
            pruned=codes[ResultCode.PRUNED],
        )
    revision = run.started.revision if run.started is not None else ""
    return PassOperation(started_by, revision, ended, finished)


def _status_too_large(status: dict[str, Any], exc: KubeTooLargeError) -> StallingError:
    """The failure of a pass whose status the API server would not store.

    The objects were applied; the status it reports stays the previous one,
    so nothing of the inventory is lost (objects applied since are only left
    unpruned) and the pass runs again at the app's interval, for a smaller app.
    """
    objects = len(status.get("resources") or [])
    return StallingError(
        f"the status of this app ({fitted_size(status)} bytes for {objects} objects) is more"
        f" than the API server stores: {exc.message}; split the app into smaller ones (or"
        " raise etcd's --max-request-bytes)",
        reason=Reason.STATUS_TOO_LARGE,
    )


def _records_operation(run: RunResult | None) -> bool:
    """Does this pass's status write hold an operation's progress or end (and history)?"""
    return run is not None and (run.advanced or run.ended is not None)


def _logged(err: DriftlessError) -> str:
    """A failed pass as the log says it (``controller.repeats`` collapses equal texts).

    An API server that does not answer fails every app alike, whatever request
    each one was making (its Project once, now often a read naming the app's own
    namespace): that context is left out of the line, so one line stands for
    every app. The app's condition keeps the whole message.
    """
    text = redact(str(err))
    if isinstance(err, KubeApiError) and err.status == 0:
        at = text.find(_UNREACHABLE)
        text = text[at:] if at > 0 else text
    return f"{err.reason}: {text}"


def _app_key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _newer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Is ``a`` a later version of the object than ``b``?

    resourceVersions are opaque by contract, but every API server backed by
    etcd hands out increasing integers; when they are not integers, trust ``b``.
    """
    try:
        return int(a["metadata"]["resourceVersion"]) > int(b["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return False


def _terminate_unplanned(
    app: Application,
) -> tuple[OperationState, list[HistoryEntry]] | None:
    """End the running operation a termination request names, without a plan."""
    state = app.status.operation_state
    if state is None or state.phase != OperationPhase.RUNNING:
        return None
    if not ops.should_terminate(app, state):
        return None
    ended = end_early(
        state.model_copy(deep=True),
        OperationPhase.TERMINATED,
        ops.TERMINATED_MESSAGE,
    )
    return ended, ops.add_history(app, ended)


def _where(state: OperationState) -> str:
    step = state.step
    return f"{step.phase}, wave {step.wave}" if step is not None else "between steps"


def _with_state(
    app: Application, state: OperationState, history: list[HistoryEntry]
) -> Application:
    """``app`` as it will look once ``state`` and ``history`` are written."""
    status = app.status.model_copy(update={"operation_state": state, "history": history})
    return app.model_copy(update={"status": status})


def _selection(state: OperationState) -> set[ResourceRef] | None:
    chosen = state.operation.sync.resources
    if not chosen:
        return None
    return {ResourceRef(r.group, r.kind, r.namespace, r.name) for r in chosen}
