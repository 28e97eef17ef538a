"""Create and edit applications over ``/api/v1``: the checks ``driftless app create|set`` makes.

A body is checked by ``pipeline.app_spec`` (the CLI's rules: names, the
model, one renderer, revision, path, repoURL) and by the Project the
controller will plan it under (``pipeline.projects.ClusterProjects`` +
``app_spec.project_problem``), before anything is written; then the write goes
to the Kubernetes API with the server's client.

=========================================================  =========================
route                                                      answer
=========================================================  =========================
``POST /applications[?dryRun=true]``                       201 (dry run: 200) the app
``PUT /applications/{ns}/{name}[?dryRun=true]``            200 the app (whole spec)
``PATCH /applications/{ns}/{name}[?dryRun=true]``          200 the app (merge patch)
=========================================================  =========================

* ``POST`` takes a manifest: ``metadata`` (``name``; ``namespace``, default
  the server's apps namespace or the controller's; ``labels``,
  ``annotations``) and ``spec`` as in YAML. 409 when the app exists.
* ``PUT`` takes ``{"metadata": {"resourceVersion", "generation"?}, "spec"}``
  and makes the spec that one; ``PATCH`` takes the same with ``spec`` an RFC
  7386 merge patch (``null`` removes a field) and ``resourceVersion``
  optional. Optimistic concurrency: the edit is written guarded by the
  resourceVersion given, so a change made meanwhile is 409, never lost. The
  controller's status writes change the resourceVersion too: a client that
  also sends the ``generation`` it read is not refused for those (a spec that
  has not changed since keeps its generation). A status write landing between
  the server's own read and write is not the client's conflict: the edit is
  read and made again (``EDIT_ATTEMPTS`` times at most).
* ``?dryRun=true`` checks everything, then asks the API server to validate
  the write as a server-side dry run; nothing is stored.

Refusals, in the one error shape: 422 ``Invalid`` naming the field as
``body.<field>: problem`` (an unknown field, a name that is not DNS-1123, a
``repoURL`` holding a password, ``file://`` or a path, ``ext::`` and other
schemes git must not get, an option-like revision, a namespace this server
does not manage or that does not exist, the Project's refusal with its own
message); 404 for an edit of an unknown app; 409 as above; 413 for a body
over the shield's cap; 503 when the Kubernetes API is down. A ``repoURL``
is never echoed with its userinfo.

Each write, accepted or refused, leaves its audit record (``server.audit``:
the log line ``{"audit": "write", "user", "method", "action" ("create",
"edit"; "-dry-run" appended for dry runs), "app", "result"}`` (+ ``"code"``
when refused) and an Event on the Application).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from driftless.core import names
from driftless.core.errors import DriftlessError
from driftless.core.models import API_VERSION, APPLICATION_KIND, ApplicationSpec
from driftless.core.project import DEFAULT_PROJECT, Project, ProjectViolationError
from driftless.core.redaction import redacted
from driftless.core.repourl import redact
from driftless.kube.client import KubeClient
from driftless.kube.errors import (
    KubeConflictError,
    KubeNotFoundError,
    KubeRefusedError,
    KubeUnavailableError,
)
from driftless.pipeline import app_spec
from driftless.pipeline.projects import ClusterProjects
from driftless.server import access
from driftless.server.audit import Audit
from driftless.server.auth import Principal
from driftless.server.errors import (
    ApiError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from driftless.server.params import Name, Namespace

__all__ = ["FIELD_MANAGER", "router"]


JSON = dict[str, Any]
T = TypeVar("T")
# Server-side apply's field manager of what the server creates (the CLI's is driftless-cli).
FIELD_MANAGER = "driftless-server"
EDIT_ATTEMPTS = 3  # reads and writes of one edit, when only our own read went stale

DryRun = Annotated[
    bool, Query(description="Check everything and validate on the API server; store nothing.")
]
_SPEC_DESCRIPTION = (
    "The Application's spec as in a manifest (project, source, destination, syncPolicy, ...)."
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewMetadata(_Body):
    name: str = Field(min_length=1, max_length=app_spec.NAME_MAX)
    namespace: str | None = Field(None, max_length=names.NAMESPACE_MAX)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class NewApplication(_Body):
    """An Application manifest (``apiVersion``/``kind`` may be left out)."""

    apiVersion: Literal["driftless.dev/v1alpha1"] = "driftless.dev/v1alpha1"  # noqa: N815
    kind: Literal["Application"] = "Application"
    metadata: NewMetadata
    spec: dict[str, Any] = Field(description=_SPEC_DESCRIPTION)


class EditMetadata(_Body):
    resourceVersion: str | None = Field(  # noqa: N815
        None, min_length=1, max_length=64, description="The resourceVersion the edit was made on."
    )
    generation: int | None = Field(
        None, ge=0, description="The generation read with it: status writes are no conflict."
    )


class EditApplication(_Body):
    metadata: EditMetadata
    spec: dict[str, Any] = Field(description=_SPEC_DESCRIPTION)


class ApplicationModel(BaseModel):
    """The Application as the API server holds it now (redacted)."""

    model_config = ConfigDict(extra="allow")


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    said = {
        401: "Not logged in.",
        403: "The Kubernetes API server refused the server's own credentials.",
        404: "No such application.",
        409: "The application exists (create), or changed since it was read (edit).",
        413: "The body is over the server's cap.",
        422: "A malformed body, or one the Project refuses; the message names the field.",
        503: "The Kubernetes API server is unavailable.",
    }
    return {code: {"description": said[code]} for code in (401, 403, *codes, 413, 422, 503)}


def router(
    client: KubeClient,
    current_user: Callable[..., str],
    *,
    home: str,
    apps_namespace: str | None,
    trail: Audit,
) -> APIRouter:
    """The create/edit routes. ``home``: the controller's namespace (Projects live there);
    ``apps_namespace``: the one namespace this server manages apps in (``None``: any);
    ``trail``: the audit trail."""
    routes = APIRouter(tags=["applications"])

    def acting(request: Request, _: str = Depends(current_user)) -> Principal:
        principal: Principal = request.state.principal
        return principal

    user_dep = Depends(acting)

    def _audit(
        who: Principal, action: str, namespace: str, name: str, result: str, code: str
    ) -> None:
        trail.write(who.subject, who.method, action, namespace, name, result, code, who.token)

    projects = ClusterProjects(client, home)

    async def write(
        user: Principal, action: str, namespace: str, name: str, call: Callable[[], Awaitable[T]]
    ) -> T:
        """Run one write; the audit line, and typed refusals turned into API errors."""
        try:
            result = await call()
        except ApiError as refused:
            _audit(user, action, namespace, name, "refused", str(refused.code))
            raise
        except KubeUnavailableError:  # answered 503 by ``errors``
            _audit(user, action, namespace, name, "failed", "")
            raise
        except (DriftlessError, KubeRefusedError) as exc:
            error = _api_error(exc, namespace, name)
            _audit(user, action, namespace, name, "refused", str(error.code))
            raise error from None
        except Exception:
            _audit(user, action, namespace, name, "failed", "")
            raise
        _audit(user, action, namespace, name, "accepted", "")
        return result

    def check_managed(namespace: str) -> None:
        if apps_namespace is not None and namespace != apps_namespace:
            raise app_spec.SpecError(
                "metadata.namespace",
                f"this server manages applications in namespace {apps_namespace} only",
            )

    async def check_project(namespace: str, spec: ApplicationSpec) -> None:
        try:
            project: Project = await projects.read(spec.project)
        except ProjectViolationError as exc:
            raise app_spec.SpecError("spec.project", exc.message) from None
        problem = app_spec.project_problem(namespace, spec, project, home)
        if problem is not None:
            raise problem

    @routes.post(
        "/applications",
        status_code=201,
        response_model=ApplicationModel,
        responses={200: {"description": "Dry run: what would be created."}, **_responses(409)},
    )
    async def create(
        request: Request,
        body: NewApplication,
        dryRun: DryRun = False,  # noqa: N803
        user: Principal = user_dep,
    ) -> Any:
        """Create an application (``driftless app create -f``): 409 if it exists."""
        namespace = body.metadata.namespace or apps_namespace or home
        name = body.metadata.name
        action = "create-dry-run" if dryRun else "create"
        rights = access.of(request)

        async def run() -> JSON:
            check_managed(namespace)
            doc = body.model_dump(exclude_none=True)
            obj = app_spec.application_from_document(doc, namespace, local_repos=False, strict=True)
            spec = ApplicationSpec.model_validate(obj["spec"])
            rights.require("create", spec.project, namespace, name)
            await check_project(namespace, spec)
            if await client.get(API_VERSION, APPLICATION_KIND, name, namespace) is not None:
                raise ConflictError(f"application {namespace}/{name} already exists")
            try:
                return await client.apply(
                    obj, field_manager=FIELD_MANAGER, force=False, dry_run=dryRun
                )
            except KubeConflictError:  # created by someone else since the read
                raise ConflictError(f"application {namespace}/{name} already exists") from None
            except KubeNotFoundError:
                raise app_spec.SpecError(
                    "metadata.namespace", f"namespace {namespace} does not exist"
                ) from None

        stored = await write(user, action, namespace, name, run)
        return JSONResponse(redacted(stored), status_code=200 if dryRun else 201)

    async def edit(
        rights: access.Access,
        user: Principal,
        namespace: str,
        name: str,
        body: EditApplication,
        dry_run: bool,
        new_spec: Callable[[JSON], Any],
    ) -> Any:
        action = "edit-dry-run" if dry_run else "edit"

        async def run() -> JSON:
            # A conflict between our own read and write (the controller wrote
            # status meanwhile) is not the user's: read again and redo the
            # edit, where ``_guard`` still refuses a spec changed since the
            # version the user gave.
            for _ in range(EDIT_ATTEMPTS - 1):
                with contextlib.suppress(_OwnRaceError):
                    return await attempt()
            return await attempt()

        async def attempt() -> JSON:
            current = await client.get(API_VERSION, APPLICATION_KIND, name, namespace)
            if current is None:
                raise NotFoundError(f"application {namespace}/{name} not found")
            guard = _guard(current, body.metadata, namespace, name)
            raw = new_spec(current)
            found = app_spec.unknown_field(raw)
            if found:
                raise app_spec.SpecError(found, "unknown field")
            kept = (current.get("spec") or {}).get("source", {}).get("repoURL")
            spec = app_spec.validated(app_spec.parse_spec(raw), local_repos=False, kept_repo=kept)
            # Where it is now (the cache may lag) and, when moved, where it goes.
            was = str((current.get("spec") or {}).get("project") or DEFAULT_PROJECT)
            for project in dict.fromkeys((was, spec.project)):
                rights.require("update", project, namespace, name)
            await check_project(namespace, spec)
            patch = app_spec.spec_patch(current, spec)
            if dry_run:
                return await client.apply(
                    _applied(namespace, name, guard, spec),
                    field_manager=FIELD_MANAGER,
                    force=True,
                    dry_run=True,
                )
            if not patch:
                return current
            patch["metadata"] = {"resourceVersion": guard}
            try:
                return await client.merge_patch(
                    API_VERSION, APPLICATION_KIND, name, patch, namespace=namespace
                )
            except KubeConflictError:
                raise _OwnRaceError(namespace, name) from None
            except KubeNotFoundError:
                raise NotFoundError(f"application {namespace}/{name} not found") from None

        stored = await write(user, action, namespace, name, run)
        return JSONResponse(redacted(stored), status_code=200)

    @routes.put(
        "/applications/{namespace}/{name}",
        response_model=ApplicationModel,
        responses=_responses(404, 409),
    )
    async def replace(
        request: Request,
        namespace: Namespace,
        name: Name,
        body: EditApplication,
        dryRun: DryRun = False,  # noqa: N803
        user: Principal = user_dep,
    ) -> Any:
        """Make the application's spec this one (``metadata.resourceVersion`` required)."""
        if body.metadata.resourceVersion is None:
            error = InvalidError("body.metadata.resourceVersion: Field required")
            _audit(user, "edit", namespace, name, "refused", str(error.code))
            raise error
        return await edit(
            access.of(request), user, namespace, name, body, dryRun, lambda _: body.spec
        )

    @routes.patch(
        "/applications/{namespace}/{name}",
        response_model=ApplicationModel,
        responses=_responses(404, 409),
    )
    async def patch(
        request: Request,
        namespace: Namespace,
        name: Name,
        body: EditApplication,
        dryRun: DryRun = False,  # noqa: N803
        user: Principal = user_dep,
    ) -> Any:
        """Change the fields of the spec a JSON merge patch names (``null`` removes one)."""
        return await edit(
            access.of(request),
            user,
            namespace,
            name,
            body,
            dryRun,
            lambda current: app_spec.merge_patch_apply(current.get("spec") or {}, body.spec),
        )

    return routes


def _guard(current: JSON, given: EditMetadata, namespace: str, name: str) -> str:
    """The resourceVersion to write with, or 409 when the app changed since it was read."""
    meta = current.get("metadata") or {}
    now = str(meta.get("resourceVersion", ""))
    if given.resourceVersion is None or given.resourceVersion == now:
        return now
    if given.generation is not None and given.generation == meta.get("generation"):
        return now  # only status (or metadata) changed since: the spec read is current
    raise _stale(namespace, name)


class _OwnRaceError(ConflictError):
    """The app changed between this edit's own read and write (409 if it keeps happening)."""

    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(_stale(namespace, name).message)


def _stale(namespace: str, name: str) -> ConflictError:
    return ConflictError(
        f"application {namespace}/{name} was changed since it was read; reload it and edit again"
    )


def _applied(namespace: str, name: str, resource_version: str, spec: ApplicationSpec) -> JSON:
    obj = app_spec.application_object(name, namespace, spec)
    obj["metadata"]["resourceVersion"] = resource_version
    return obj


def _api_error(exc: DriftlessError | KubeRefusedError, namespace: str, name: str) -> ApiError:
    """The API error a refused write is answered with (see the module docstring)."""
    if isinstance(exc, app_spec.SpecError):
        return InvalidError(f"body.{exc.message}" if exc.field else exc.message)
    if isinstance(exc, KubeConflictError):
        return _stale(namespace, name)
    if isinstance(exc, KubeNotFoundError):
        return NotFoundError(f"application {namespace}/{name} not found")
    if isinstance(exc, KubeRefusedError):
        said = redact(exc.message)
        return ForbiddenError(said) if exc.status == 403 else InvalidError(said)
    return InvalidError(redact(exc.message))
