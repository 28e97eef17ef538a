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

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from driftless.controller import outcome as outcomes
from driftless.controller.events import EventRecorder, events_for
from driftless.core import reasons
from driftless.core.errors import DriftlessError, StallingError, ValidationError
from driftless.core.models import API_VERSION, APPLICATION_KIND, Application
from driftless.core.resources import Manifest, ResourceRef
from driftless.health import HealthResult, assess
from driftless.kube.client import KubeApiError, KubeClient, UnknownKindError
from driftless.render.directory import render_directory
from driftless.sources.artifact import resolve_app_path
from driftless.sources.git import GitCache
from driftless.sync import execute
from driftless.sync.prepare import DesiredObject, prepare

log = logging.getLogger(__name__)

REFRESH_ANNOTATION = "driftless.dev/refresh"
LOCAL_SERVERS = {"", "https://kubernetes.default.svc", "in-cluster"}


@dataclass
class PipelineResult:
    """What one successful pipeline run found and did."""

    revision: str
    states: list[execute.ObjectState]
    health: dict[ResourceRef, HealthResult] = field(default_factory=dict)
    applied: int = 0


class Reconciler:
    """Runs the pipeline for one app at a time; safe to share between workers."""

    def __init__(self, client: KubeClient, git: GitCache, *, concurrency: int = 16) -> None:
        self.client = client
        self.git = git
        self.concurrency = concurrency
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
            result = await self._pipeline(app)
        except DriftlessError as err:
            log.info("app %s/%s: %s: %s", app.namespace, name, err.reason, err)
            await self._write_status(raw, outcomes.failed(raw, err))
            return outcomes.Outcome(requeue_after=interval, error=err)
        status = outcomes.succeeded(app, result.revision, result.states, result.health)
        await self._write_status(raw, status, applied=result.applied)
        return outcomes.after_success(status, interval, applied=result.applied)

    async def _pipeline(self, app: Application) -> PipelineResult:
        self._check_destination(app)
        artifact = await self.git.checkout(
            app.spec.source.repo_url, app.spec.source.target_revision
        )
        app_dir = resolve_app_path(artifact, app.spec.source.path)
        directory = app.spec.source.directory
        # Reading and parsing files is blocking work: keep it off the event loop.
        manifests = await asyncio.to_thread(
            render_directory,
            artifact.path,
            app_dir,
            recurse=bool(directory and directory.recurse),
            include=directory.include if directory else None,
            exclude=directory.exclude if directory else None,
        )
        desired = await self._prepare(app, manifests)
        states = await execute.compare(self.client, desired, concurrency=self.concurrency)
        applied = 0
        if app.spec.sync_policy.automated is not None:
            applied = sum(1 for s in states if not s.in_sync)
            await execute.apply(self.client, states, concurrency=self.concurrency)
        health = {s.desired.ref: assess(s.live) for s in states if s.live is not None}
        return PipelineResult(artifact.revision, states, health, applied)

    async def _prepare(self, app: Application, manifests: list[Manifest]) -> list[DesiredObject]:
        namespaced = await self._scope_map(manifests)
        desired = prepare(
            manifests,
            app_name=app.name,
            default_namespace=app.spec.destination.namespace or "",
            is_namespaced=lambda api_version, kind: namespaced[(api_version, kind)],
        )
        namespace = app.spec.destination.namespace
        create_ns = app.spec.sync_policy.option_enabled("CreateNamespace")
        already = any(d.ref.kind == "Namespace" and d.ref.name == namespace for d in desired)
        if create_ns and namespace and not already:
            # Created for the app but not tracked by it: pruning never deletes it.
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            ref = ResourceRef("", "Namespace", "", namespace)
            desired.insert(0, DesiredObject(ref=ref, body=body, manifest=Manifest(body)))
        return desired

    async def _scope_map(self, manifests: list[Manifest]) -> dict[tuple[str, str], bool]:
        """Whether each (apiVersion, kind) is namespaced: from discovery or a CRD in the render."""
        from_crds = {
            key: scope == "Namespaced" for key, scope in _scopes_defined_in(manifests).items()
        }
        result: dict[tuple[str, str], bool] = {}
        for manifest in manifests:
            key = (manifest.api_version, manifest.kind)
            if key in result:
                continue
            if key in from_crds:
                result[key] = from_crds[key]
                continue
            try:
                result[key] = (await self.client.resource_type(*key)).namespaced
            except UnknownKindError as exc:
                where = f"{manifest.origin()}: " if manifest.origin() else ""
                raise ValidationError(
                    f"{where}{exc}; is the CRD that defines it installed?",
                    reason=reasons.VALIDATION_FAILED,
                ) from None
            except KubeApiError as exc:
                raise outcomes.api_failure(exc, "discovery failed") from None
        return result

    def _check_destination(self, app: Application) -> None:
        server = (app.spec.destination.server or "").rstrip("/")
        if server in LOCAL_SERVERS or server == self.client.server.rstrip("/"):
            return
        raise StallingError(
            f"destination server {server} is not a registered cluster; only the local "
            "cluster is supported by this controller version",
            reason=reasons.VALIDATION_FAILED,
        )

    async def _write_status(
        self, raw: dict[str, Any], status: dict[str, Any], *, applied: int = 0
    ) -> None:
        """Patch the status subresource (skipped when nothing changed) and record events."""
        meta = raw.get("metadata", {})
        for event in events_for(raw.get("status") or {}, status, applied):
            await self.events.record(raw, *event)
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


def _scopes_defined_in(manifests: list[Manifest]) -> dict[tuple[str, str], str]:
    scopes: dict[tuple[str, str], str] = {}
    for manifest in manifests:
        if manifest.kind != "CustomResourceDefinition":
            continue
        spec = manifest.obj.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind", "")
        for version in spec.get("versions") or []:
            scopes[(f"{spec.get('group')}/{version.get('name')}", kind)] = spec.get("scope", "")
    return scopes


def _first_error(exc: PydanticValidationError) -> str:
    first = exc.errors()[0]
    location = ".".join(str(p) for p in first["loc"])
    return f"{location}: {first['msg']}" if location else str(first["msg"])
