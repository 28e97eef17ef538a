"""The planner: one read-only pass over an app, shared by every front end.

``Planner.plan`` resolves the app's Project (through its ``ProjectSource``),
checks the destination and source against it, renders the revision (through
its ``Renderer``), dry-runs every object that exists live and every new
one that a hook runs before or beside (any other new object is validated by
the apply that creates it, see ``sync.execute``), checks that no live
object belongs to another app (``sync.ownership``) and finds orphans. It
writes nothing.

Trust: on the local cluster the controller's namespace (``home``) is a
protected destination (see ``core.project``). Whether a kind is namespaced —
which decides the Project rule that applies — comes from discovery, never
from the render (``sync.scope``).
Helm lookup: an app whose chart may ``lookup`` live objects
(``spec.source.helm.lookup``) needs a Project with ``allowHelmLookup``;
its renders then read through this planner's ``LookupProxy`` (on its
destination client, started on first use, stopped by ``close``), limited to
what that Project may see there (``render.lookup_proxy``).
Writes happen only in ``sync.runner``, driven by ``pipeline.drive`` with the
tasks of a plan that succeeded as a whole — so a failed fetch, render or
policy check changes nothing. ``driftless app diff`` runs ``plan`` alone;
``refresh`` folds a runner's writes back into the plan.

``plan(dry_run=False)`` is the read-only planning mode of readers that may
not write (the API server's least-privilege ServiceAccount: Kubernetes
authorizes a dry run like the write itself). It sends no dry run at all:
each object's live state is read and the apply predicted client-side
(``diff.predict``) into a ``pipeline.diffs.PredictedState``; an object whose
read is refused (403) is marked unreadable instead of failing the plan, and
hooks are not validated. The controller never uses it: only a dry run
proves an apply would be accepted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from driftless.core import argocd
from driftless.core.errors import ValidationError
from driftless.core.models import Application
from driftless.core.project import (
    LOCAL_SERVER,
    Project,
    check_destination,
    check_helm_lookup,
    check_resource,
    check_source,
)
from driftless.core.resources import DEFAULT_APP_NAMESPACE, Manifest, ResourceRef
from driftless.core.vocabulary import AppSyncOption
from driftless.diff import predict
from driftless.diff.ignore import rules_for, strip_ignored
from driftless.diff.normalize import equivalent
from driftless.kube.cache import WatchCache
from driftless.kube.client import KubeApiError, KubeClient, UnknownKindError
from driftless.kube.errors import KubeForbiddenError
from driftless.pipeline.diffs import PredictedState
from driftless.pipeline.health_config import HealthConfig
from driftless.pipeline.plan import Plan
from driftless.pipeline.projects import ProjectSource
from driftless.pipeline.renderers import Renderer
from driftless.render import KubeTarget, chart_deps, lookup_server
from driftless.render.lookup_proxy import LookupScope
from driftless.render.pipeline import looks_up
from driftless.sync import execute, ownership, prune, scope
from driftless.sync import plan as sync_plan
from driftless.sync.live import LiveReader, Verdict, VerdictCache, body_hash, live_fingerprint
from driftless.sync.prepare import DesiredObject, prepare
from driftless.sync.states import ObjectState

JSON = dict[str, Any]
KUBE_TARGET_TTL = 300.0
# Field manager of the bare Namespace CreateNamespace applies (see DesiredObject).
CREATE_NAMESPACE_MANAGER = "driftless-create-namespace"


class Planner:
    """Plans apps against one destination cluster (read-only; see the module docstring)."""

    def __init__(
        self,
        client: KubeClient,
        renderer: Renderer,
        projects: ProjectSource,
        *,
        concurrency: int = 16,
        cache: WatchCache | None = None,
        server_url: str = LOCAL_SERVER,
        home: str = DEFAULT_APP_NAMESPACE,
    ) -> None:
        # ``client`` reaches the destination cluster; ``projects`` reads the
        # cluster that holds Projects (the same one unless deploying remotely).
        self.client = client
        self.renderer = renderer
        self.projects = projects
        self.server_url = server_url
        # The controller's namespace: on the local cluster it (with the
        # credentials it holds) is no place for apps.
        self.home = home
        self.protected = frozenset({home}) if server_url == LOCAL_SERVER else frozenset()
        self.concurrency = concurrency
        self.live = LiveReader(client, cache)
        self.verdicts = VerdictCache()
        self.health_checks = HealthConfig(client)
        self._target: tuple[float, KubeTarget] | None = None
        self.lookups = lookup_server.LookupProxy(client)

    async def close(self) -> None:
        """Stop this planner's watches and lookup proxy (the client belongs to the caller)."""
        await self.lookups.close()
        if self.live.cache is not None:
            await self.live.cache.close()

    async def plan(
        self,
        app: Application,
        *,
        revision: str | None = None,
        fresh: bool = False,
        dry_run: bool = True,
    ) -> Plan:
        """Read-only pass at ``revision`` (default: the app's targetRevision); ``fresh``:
        the renderer's caches are bypassed (a hard refresh); ``dry_run=False``: no dry
        run, applies predicted client-side (see the module docstring)."""
        project = await self.projects.project_for(app)
        self.check_app(app, project)
        # A cluster failure is not a render failure: the target is read first.
        target = await self.kube_target()
        with self.render_scope(app, project):
            revision_used, manifests = await self.renderer.render(
                app, revision, target, fresh=fresh
            )
        desired = await self._prepare(app, project, manifests)
        resources, hooks = sync_plan.split_hooks(desired)
        await self.live.watch({(d.api_version, d.ref.kind) for d in resources})
        states: list[ObjectState]
        if dry_run:
            states = await execute.compare(
                self.client,
                resources,
                concurrency=self.concurrency,
                live=self.live,
                verdicts=self.verdicts,
                hooks=hooks,
            )
        else:
            states = await self._all_predicted(resources)
        await self._check_ownership(app, states, _unique_hook_objects(hooks))
        if dry_run:
            # Hooks are validated too (so a broken hook fails the plan), but never compared.
            await execute.validate_new(
                self.client,
                _unique_hook_objects(hooks),
                context=resources,
                concurrency=self.concurrency,
            )
        for state in states:
            sync_plan.wave_of(state.desired)  # a bad wave annotation fails the plan, not the sync
        registry = await self.health_checks.registry(app.namespace)
        plan = Plan(
            app, revision_used, states, hooks=hooks, rendered=len(manifests), registry=registry
        )
        await self._find_orphans(plan)
        return plan

    def check_app(self, app: Application, project: Project) -> None:
        """The Project's rules an app passes before anything of it is rendered: its
        destination (this planner's cluster, the app's namespace) and its repository
        (``ProjectViolationError`` otherwise). Every view that renders goes through it."""
        self._check_destination(app, project)
        check_source(project, app.spec.source.repo_url)

    @contextmanager
    def render_scope(self, app: Application, project: Project) -> Iterator[None]:
        """What renders of ``app`` in this block may reach: chart dependencies from
        repositories its Project allows (``sourceRepos``, like the app's own source)
        and, when the app opted in and the Project allows it, Helm lookups of this
        planner's cluster within the Project (``ProjectViolationError`` otherwise).
        The app must pass ``check_app`` first: a render for a destination its
        Project does not allow would read (lookup) a cluster it has no right to."""
        self.check_app(app, project)
        if looks_up(app.spec.source):
            check_helm_lookup(project)
        scope = LookupScope(project, self.server_url, self.protected)
        with (
            chart_deps.checking_repositories(lambda url: check_source(project, url)),
            lookup_server.granting(self.lookups, scope),
        ):
            yield

    async def _all_predicted(self, resources: list[DesiredObject]) -> list[ObjectState]:
        slots = asyncio.Semaphore(self.concurrency)

        async def one(obj: DesiredObject) -> ObjectState:
            async with slots:
                return await self._predicted(obj)

        return list(await asyncio.gather(*(one(obj) for obj in resources)))

    async def _predicted(self, obj: DesiredObject) -> PredictedState:
        """One object's state without a dry run: its live state (if readable) and the
        apply predicted client-side (``diff.predict``)."""
        ref = obj.ref
        try:
            live = await self.live.get(obj.api_version, ref.kind, ref.name, ref.namespace)
        except UnknownKindError:
            # Not served yet: its CRD comes with this render (a dry run could not run either).
            return PredictedState(obj, None, False, "CRD not yet applied", obj.body)
        except KubeForbiddenError:
            where = f"{ref.namespace}/" if ref.namespace else ""
            why = f"this server may not read {ref.kind} {where}{ref.name}"
            return PredictedState(obj, None, False, why, None, unreadable=why)
        except KubeApiError as exc:
            raise exc.in_context(f"cannot read {obj.describe()}") from None
        # Ignored fields are left out of what is applied, so their owner keeps them.
        obj.body = strip_ignored(obj.body, obj.ignore, live)
        predicted = predict.applied(live, obj.body, obj.field_manager)
        if live is None:
            return PredictedState(obj, None, False, "missing from the cluster", predicted)
        in_sync = equivalent(
            strip_ignored(predicted, obj.ignore, live), strip_ignored(live, obj.ignore, live)
        )
        message = "" if in_sync else "differs from git"
        return PredictedState(obj, live, in_sync, message, predicted)

    async def kube_target(self) -> KubeTarget:
        """The destination's version and API versions (Helm's .Capabilities), cached 5 min."""
        now = time.monotonic()
        if self._target is not None and now - self._target[0] < KUBE_TARGET_TTL:
            return self._target[1]
        try:
            version = str((await self.client.version()).get("gitVersion", ""))
            await self.client.discovery.refresh(force=False)
        except KubeApiError as exc:
            raise exc.in_context("cannot read the cluster version") from None
        served = [(rt.api_version, rt.kind) for rt in self.client.discovery.served()]
        target = KubeTarget.build(version, served)
        self._target = (now, target)
        return target

    async def refresh(self, plan: Plan, applied: dict[ResourceRef, JSON]) -> None:
        """Update a plan after a sync step wrote ``applied`` (the server's responses).

        An object just applied from its desired body is in sync by definition,
        and its response is its live state: no request is needed, and the
        verdict is remembered so the next reconcile needs no dry-run either.
        """
        for state in plan.states:
            live = applied.get(state.desired.ref)
            if live is None:
                continue
            state.live, state.in_sync, state.predicted, state.message = live, True, live, ""
            version = live_fingerprint(live)
            verdict = Verdict(body_hash(state.desired.body), version, True, live)
            self.verdicts.store(state.desired.ref, verdict)
        await self._find_orphans(plan)

    async def _find_orphans(self, plan: Plan) -> None:
        app = plan.app
        rendered = {s.desired.ref for s in plan.states}
        leftovers = prune.candidates(app.status.resources, rendered)
        plan.orphans = await prune.find_orphans(self.client, app.namespace, app.name, leftovers)
        automated = app.spec.sync_policy.automated
        allow_empty = bool(automated and automated.allow_empty)
        plan.prune_blocked = prune.empty_render_guard(
            plan.rendered, len(app.status.resources), allow_empty
        )

    # -- steps ----------------------------------------------------------

    def _check_destination(self, app: Application, project: Project) -> None:
        namespace = app.spec.destination.namespace or ""
        check_destination(project, self.server_url, namespace, protected=self.protected)

    async def _prepare(
        self, app: Application, project: Project, manifests: list[Manifest]
    ) -> list[DesiredObject]:
        namespaced = await self._scope_map(manifests, project)
        desired = prepare(
            manifests,
            app_namespace=app.namespace,
            app_name=app.name,
            default_namespace=app.spec.destination.namespace or "",
            is_namespaced=lambda api_version, kind: namespaced[(api_version, kind)],
        )
        for obj in desired:
            self._check_object(app, project, obj)
            obj.ignore = rules_for(app.spec.ignore_differences, obj.ref)
        return self._with_created_namespace(app, desired)

    def _check_object(self, app: Application, project: Project, obj: DesiredObject) -> None:
        """The project's rules for one rendered object (hooks included)."""
        ref = obj.ref
        is_namespaced = bool(ref.namespace)
        check_resource(project, ref.group, ref.kind, is_namespaced, obj.describe())
        if is_namespaced and ref.namespace != app.spec.destination.namespace:
            check_destination(project, self.server_url, ref.namespace, protected=self.protected)
        if ref.kind == "Namespace" and not ref.group and ref.name in self.protected:
            # Labelling, owning or pruning the controller's namespace is writing into it.
            check_destination(project, self.server_url, ref.name, protected=self.protected)
        ownership.check_render(obj.body, ref, obj.describe(), app_namespace=app.namespace)

    async def _check_ownership(
        self, app: Application, states: list[ObjectState], hooks: list[DesiredObject]
    ) -> None:
        """Refuse the plan if any live object it would write belongs to another app."""
        allow = app.spec.sync_policy.option_enabled(AppSyncOption.ALLOW_TAKEOVER)
        inventory = {
            ResourceRef(r.group, r.kind, r.namespace, r.name) for r in app.status.resources
        }

        def check(live: dict[str, Any] | None, obj: DesiredObject) -> None:
            ownership.check_take(
                live, obj.describe(), app_namespace=app.namespace, app_name=app.name,
                allow_takeover=allow, home=self.home, inventory=inventory,
            )  # fmt: skip

        for state in states:
            if state.desired.first:
                continue  # CreateNamespace's bare Namespace: untracked, takes no field from anyone
            check(state.live, state.desired)
        for hook in hooks:
            # An existing hook object is deleted and recreated: the same rule applies.
            ref = hook.ref
            try:
                live = await self.live.get(hook.api_version, ref.kind, ref.name, ref.namespace)
            except (KubeApiError, UnknownKindError):
                continue  # validated (or refused) by the dry-run of hooks
            check(live, hook)

    def _with_created_namespace(
        self, app: Application, desired: list[DesiredObject]
    ) -> list[DesiredObject]:
        namespace = app.spec.destination.namespace
        create = app.spec.sync_policy.option_enabled(AppSyncOption.CREATE_NAMESPACE)
        already = any(d.ref.kind == "Namespace" and d.ref.name == namespace for d in desired)
        if create and namespace and not already:
            # Created for the app but not tracked by it: pruning never deletes it.
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            ref = ResourceRef("", "Namespace", "", namespace)
            created = DesiredObject(
                ref=ref, body=body, manifest=Manifest(body), first=True,
                field_manager=CREATE_NAMESPACE_MANAGER,
            )  # fmt: skip
            desired.insert(0, created)
        return desired

    async def _scope_map(
        self, manifests: list[Manifest], project: Project
    ) -> dict[tuple[str, str], bool]:
        """Whether each (apiVersion, kind) is namespaced (see ``sync.scope``)."""
        claims = scope.crd_claims(manifests, project)
        result: dict[tuple[str, str], bool] = {}
        for manifest in manifests:
            key = (manifest.api_version, manifest.kind)
            if key in result:
                continue
            served: bool | None = None
            try:
                served = (await self.client.resource_type(*key)).namespaced
            except UnknownKindError:
                served = None
            except KubeApiError as exc:
                raise exc.in_context("discovery failed") from None
            decided = scope.decide(key, served, claims)
            if decided is None and _all_skip_dry_run(manifests, key):
                decided = True  # unknown kinds are namespaced until the cluster says (Argo CD)
            if decided is None:
                refused = scope.distrust(manifests, project, key)
                if refused is not None:
                    raise refused
                where = f"{manifest.origin()}: " if manifest.origin() else ""
                raise ValidationError(
                    f"{where}the cluster does not serve kind {key[1]!r} in apiVersion "
                    f"{key[0]!r}; is the CRD that defines it installed?"
                )
            result[key] = decided
        return result


def _all_skip_dry_run(manifests: list[Manifest], key: tuple[str, str]) -> bool:
    """Do all objects of a kind nobody defines ask ``SkipDryRunOnMissingResource=true``?"""
    chosen = [m for m in manifests if (m.api_version, m.kind) == key]
    return bool(chosen) and all(argocd.skips_dry_run(m.obj) for m in chosen)


def _unique_hook_objects(hooks: list[sync_plan.Task]) -> list[DesiredObject]:
    """Each hook object once, even when it runs in several phases."""
    seen: dict[ResourceRef, DesiredObject] = {}
    for task in hooks:
        seen.setdefault(task.obj.ref, task.obj)
    return list(seen.values())
