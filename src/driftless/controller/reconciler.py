"""Reconcile one Application: git → render → compare → apply → health → status.

The shape is fixed (after flux's kustomize-controller): parse the object,
run a straight pipeline, and write the status once at the end. Every failure
is a typed ``DriftlessError``; ``controller.outcome`` turns its type into
conditions and a requeue delay, so no step decides retry policy itself.

Guarantees:
* Nothing is applied unless every step before ``apply`` succeeded for every
  object of the render (fetch, render, discovery, server-side dry-run).
* An unchanged app costs reads only: the status is written only when it
  changed, objects only when they differ from git.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from driftless.controller import outcome as outcomes
from driftless.controller.engine import Engine, Plan
from driftless.controller.events import EventRecorder, events_for
from driftless.core import reasons
from driftless.core.errors import DriftlessError, StallingError
from driftless.core.models import API_VERSION, APPLICATION_KIND, Application
from driftless.kube.client import KubeApiError, KubeClient
from driftless.sources.git import GitCache
from driftless.sync.prune import Orphan, find_orphans
from driftless.sync.prune import prune as prune_objects

log = logging.getLogger(__name__)

REFRESH_ANNOTATION = "driftless.dev/refresh"
# With this finalizer, deleting the Application deletes what it manages first.
RESOURCES_FINALIZER = "resources-finalizer.driftless.dev"


class Reconciler:
    """Runs the pipeline for one app at a time; safe to share between workers."""

    def __init__(self, client: KubeClient, git: GitCache, *, concurrency: int = 16) -> None:
        self.client = client
        self.engine = Engine(client, git, concurrency=concurrency)
        self.events = EventRecorder(client)

    async def reconcile(self, raw: dict[str, Any], *, default_interval: float) -> outcomes.Outcome:
        """Reconcile one Application object; returns what to do next."""
        name = raw.get("metadata", {}).get("name", "?")
        try:
            app = Application.model_validate(raw)
        except PydanticValidationError as exc:
            err = StallingError(f"invalid spec: {_first_error(exc)}", reason=reasons.STALLED)
            await self._write_status(raw, outcomes.failed(raw, err))
            return outcomes.Outcome(requeue_after=default_interval, error=err)
        interval = outcomes.interval_of(app, default_interval)
        try:
            plan = await self.engine.plan(app)
            applied, pruned = await self._act(app, plan)
        except DriftlessError as err:
            log.info("app %s/%s: %s: %s", app.namespace, name, err.reason, err)
            await self._write_status(raw, outcomes.failed(raw, err))
            return outcomes.Outcome(requeue_after=interval, error=err)
        status = outcomes.succeeded(app, plan, pruned=len(pruned))
        await self._write_status(raw, status, applied=applied, pruned=pruned)
        return outcomes.after_success(status, interval, applied=applied + len(pruned))

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
            orphans = await find_orphans(self.client, app.name, app.status.resources)
            deleted = await prune_objects(self.client, orphans)
        except (DriftlessError, PydanticValidationError) as exc:
            log.warning(
                "app %s/%s: cannot delete its resources: %s",
                meta.get("namespace"),
                meta.get("name"),
                exc,
            )
            return False
        for orphan in deleted:
            await self.events.record(raw, "Normal", "Pruned", f"deleted {orphan.ref}")
        finalizers.remove(RESOURCES_FINALIZER)
        patch = {
            "metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}
        }
        try:
            await self.client.merge_patch(
                API_VERSION, APPLICATION_KIND, meta["name"], patch, namespace=meta.get("namespace")
            )
        except KubeApiError as exc:
            return exc.not_found  # a conflict is retried with the newer object
        return True

    async def _act(self, app: Application, plan: Plan) -> tuple[int, list[Orphan]]:
        """Apply and prune as the sync policy allows; (objects applied, objects pruned)."""
        automated = app.spec.sync_policy.automated
        if automated is None:
            return 0, []
        applied = await self.engine.apply(plan)
        pruned = await self.engine.prune(plan) if automated.prune else []
        return applied, pruned

    async def _write_status(
        self,
        raw: dict[str, Any],
        status: dict[str, Any],
        *,
        applied: int = 0,
        pruned: list[Orphan] | None = None,
    ) -> None:
        """Patch the status subresource (skipped when nothing changed) and record events."""
        meta = raw.get("metadata", {})
        for event in events_for(raw.get("status") or {}, status, applied):
            await self.events.record(raw, *event)
        for orphan in pruned or []:
            await self.events.record(raw, "Normal", "Pruned", f"deleted {orphan.ref}")
        if outcomes.same_status(raw.get("status") or {}, status):
            return
        try:
            await self.client.merge_patch(
                API_VERSION,
                APPLICATION_KIND,
                meta["name"],
                {"status": status},
                namespace=meta.get("namespace"),
                subresource="status",
            )
        except KubeApiError as exc:
            if not exc.not_found:  # deleted while we worked: nothing to report on
                raise

    async def clear_refresh(self, raw: dict[str, Any]) -> None:
        """Remove the refresh annotation once the request it carries was served."""
        meta = raw.get("metadata", {})
        patch = {"metadata": {"annotations": {REFRESH_ANNOTATION: None}}}
        try:
            await self.client.merge_patch(
                API_VERSION, APPLICATION_KIND, meta["name"], patch, namespace=meta.get("namespace")
            )
        except KubeApiError as exc:
            if not exc.not_found:
                raise


def _first_error(exc: PydanticValidationError) -> str:
    first = exc.errors()[0]
    location = ".".join(str(p) for p in first["loc"])
    return f"{location}: {first['msg']}" if location else str(first["msg"])
