"""Routes of what git would change: an app's diff and its rendered manifests at a revision.

Both plan on demand through ``server.planning`` (the controller's planner and
render server; bounded, coalesced, briefly cached), from the Application as
the API server has it (the caches keep a redacted copy, not fit to fetch with).

* ``GET .../{namespace}/{name}/diff?revision=`` -> ``{"revision", "resources":
  [{"group", "kind", "namespace", "name", "status", "diff", "predicted"}]}``: every
  resource of the app (``status`` as ``pipeline.diffs`` says: ``changed``,
  ``added``, ``removed``, ``unchanged``; ``diff`` a unified diff of live vs
  desired, Secret values masked as ``driftless app diff`` masks them;
  ``predicted``: ``dry-run``, or ``client-side`` where the server may not
  dry-run (``server.planning``); ``unreadable`` with a ``message`` for an
  object the server may not read).
  ``&group=&kind=&namespace=&name=`` keeps one resource (404 naming it when
  the app has no such resource).
* ``GET .../{namespace}/{name}/manifests?revision=`` -> ``{"revision",
  "manifests": [object]}``: the app's source rendered at ``revision`` (default:
  its target), each Secret masked.

Failures, in the one error shape: 404 for an unknown app or resource; 422
naming ``revision`` for one git could not take (an option, ``..``, a NUL, too
long), or ``Invalid`` with the message the controller would put in its
condition when the source or Project makes the plan impossible (bad revision,
render error, refused source); 502 ``Unavailable`` when what the plan needs
did not answer (repository unreachable, render time limit); 503 when the
Kubernetes API is down, or too many plans run or wait (``planning.Results``:
in all, or of the caller's identity).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from driftless.core import names
from driftless.core.errors import DriftlessError, StallingError
from driftless.core.models import API_VERSION, APPLICATION_KIND, Application
from driftless.core.repourl import redact
from driftless.kube.client import KubeClient
from driftless.kube.errors import KubeUnavailableError
from driftless.pipeline.requests import InvalidRequestError
from driftless.pipeline.status import first_error
from driftless.server.caches import Caches
from driftless.server.errors import (
    ApiError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)
from driftless.server.planning import Planning

__all__ = ["refusal", "router"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
BAD_GATEWAY = 502
Namespace = Annotated[
    str,
    Path(min_length=1, max_length=names.NAMESPACE_MAX, description="The Application's namespace."),
]
Name = Annotated[str, Path(min_length=1, max_length=253, description="The Application's name.")]
# Checked by ``pipeline.requests.checked_revision`` (422 naming ``revision``); the
# bound here only keeps a 100 KB query out of it.
Revision = Annotated[
    str | None,
    Query(max_length=10_000, description="A branch, tag or commit (default: the app's target)."),
]
_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such application, or no such resource in it."},
    422: {"description": "A malformed revision, or the source cannot be planned (why)."},
    502: {"description": "The repository or the render did not answer in time."},
    503: {
        "description": "The Kubernetes API server or the server's caches are not ready, "
        "or too many plans are running or waiting."
    },
}


class ResourceDiffModel(BaseModel):
    group: str
    kind: str
    namespace: str
    name: str
    status: str
    diff: str
    predicted: str
    message: str | None = None


class DiffModel(BaseModel):
    revision: str
    resources: list[ResourceDiffModel]


class ManifestsModel(BaseModel):
    revision: str
    manifests: list[dict[str, Any]]


def router(caches: Caches, client: KubeClient, planning: Planning) -> APIRouter:
    routes = APIRouter(tags=["applications"])

    async def application(namespace: str, name: str) -> Application:
        """The app as the API server has it (the caches say whether it is one we serve)."""
        if not caches.ready:
            raise UnavailableError(f"the server is starting: {caches.problem}")
        missing = NotFoundError(f"application {namespace}/{name} not found")
        if caches.app(namespace, name) is None:
            raise missing
        raw = await client.get(API_VERSION, APPLICATION_KIND, name, namespace)
        if raw is None:
            raise missing
        try:
            return Application.model_validate(raw)
        except PydanticValidationError as exc:
            raise InvalidError(
                f"application {namespace}/{name} cannot be read: {first_error(exc)}"
            ) from None

    @routes.get(
        "/applications/{namespace}/{name}/diff", response_model=DiffModel, responses=_ANSWERS
    )
    async def get_diff(
        request: Request,
        namespace: Namespace,
        name: Name,
        revision: Revision = None,
        group: Annotated[str, Query(max_length=253)] = "",
        kind: Annotated[str, Query(max_length=63)] = "",
        object_namespace: Annotated[str, Query(alias="namespace", max_length=63)] = "",
        object_name: Annotated[str, Query(alias="name", max_length=253)] = "",
    ) -> Any:
        """Every resource's live vs desired diff (Secret values masked), or the one asked for."""
        app = await application(namespace, name)
        try:
            planned = await planning.diffs(app, revision, request.state.user)
        except DriftlessError as exc:
            raise refusal(exc, f"{namespace}/{name}") from None
        resources = planned.resources
        if group or kind or object_namespace or object_name:
            wanted = (group, kind, object_namespace, object_name)
            resources = [r for r in resources if _identity(r) == wanted]
            if not resources:
                where = f"{object_namespace}/" if object_namespace else ""
                shown = f"{kind or '(no kind)'} {where}{object_name or '(no name)'}"
                raise NotFoundError(f"{shown} is not a resource of application {namespace}/{name}")
        return JSONResponse({"revision": planned.revision, "resources": resources})

    @routes.get(
        "/applications/{namespace}/{name}/manifests",
        response_model=ManifestsModel,
        responses=_ANSWERS,
    )
    async def get_manifests(
        request: Request, namespace: Namespace, name: Name, revision: Revision = None
    ) -> Any:
        """The app's source rendered at a revision (default: its target), Secrets masked."""
        app = await application(namespace, name)
        try:
            rendered = await planning.manifests(app, revision, request.state.user)
        except DriftlessError as exc:
            raise refusal(exc, f"{namespace}/{name}") from None
        return JSONResponse({"revision": rendered.revision, "manifests": rendered.manifests})

    return routes


def _identity(resource: JSON) -> tuple[str, str, str, str]:
    return resource["group"], resource["kind"], resource["namespace"], resource["name"]


def refusal(exc: DriftlessError, app: str) -> Exception:
    """The answer to a plan that failed: the message the controller would show, redacted."""
    message = redact(exc.message)
    if isinstance(exc, KubeUnavailableError):
        return exc  # the one 503 of every route (errors.install)
    if isinstance(exc, InvalidRequestError):
        return InvalidError(message)
    log.info("application %s not planned: %s", app, message)
    failure: ApiError
    if isinstance(exc, StallingError):
        failure = InvalidError(f"application {app} cannot be planned: {message}")
    else:
        failure = UnavailableError(
            f"application {app} cannot be planned now: {message}", status=BAD_GATEWAY
        )
    return failure
