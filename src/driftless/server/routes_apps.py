"""Read routes of ``/api/v1``: the application list, one application, its history, projects.

Every answer comes from ``Caches`` (memory); none makes an API call. Until
the caches are listed, each answers 503 ``Unavailable`` (``/readyz`` says
why). Objects are as the caches keep them, redacted (``core.redaction``): no
URL userinfo or query token, no managedFields.

* ``GET /applications``: the list (query and body: ``apps_query``); a bad
  parameter is 422 ``Invalid`` naming it (``query.sort: ...``).
* ``GET /applications/{namespace}/{name}``: the Application, or 404 naming it.
* ``GET /applications/{namespace}/{name}/history``: ``{"items": [...]}``,
  the entries of ``status.history`` as stored (oldest first).
* ``GET /projects``: ``{"apiVersion": "v1", "kind": "List", "items": [...]}``,
  the Projects of the controller's namespace, by name.

Lists hold only what the request's identity may ``get`` (``server.access``):
hidden apps are not in ``items``, ``total`` or ``counts``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from driftless.server import access, apps_query
from driftless.server.apps_query import AppQuery
from driftless.server.caches import Caches
from driftless.server.errors import InvalidError, NotFoundError, UnavailableError

__all__ = ["list_query", "router"]

JSON = dict[str, Any]
Name = Annotated[str, Path(min_length=1, max_length=253)]


class DestinationModel(BaseModel):
    server: str
    name: str
    namespace: str


class AppRowModel(BaseModel):
    """One application as the list shows it (repoURL without credentials)."""

    namespace: str
    name: str
    project: str
    repoURL: str  # noqa: N815 (the API's spelling)
    path: str
    chart: str
    targetRevision: str  # noqa: N815
    destination: DestinationModel
    sync: str
    health: str
    revision: str
    operationPhase: str  # noqa: N815
    labels: dict[str, str]
    reconciledAt: str  # noqa: N815


class CountsModel(BaseModel):
    sync: dict[str, int] = Field(description="Rows matching every filter but sync, by sync.")
    health: dict[str, int] = Field(description="Rows matching every filter but health, by health.")


class AppListModel(BaseModel):
    items: list[AppRowModel]
    total: int = Field(description="Rows matching every filter.")
    counts: CountsModel
    offset: int
    limit: int


class ObjectModel(BaseModel):
    """A Kubernetes object as the API server holds it (redacted)."""

    model_config = ConfigDict(extra="allow")


class ItemsModel(BaseModel):
    items: list[dict[str, Any]]


class ObjectListModel(BaseModel):
    apiVersion: str = "v1"  # noqa: N815
    kind: str = "List"
    items: list[dict[str, Any]]


_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"description": "The caches are not listed yet."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    404: {"description": "No such application."},
}


def _many(description: str) -> Any:
    return Query(description=f"{description} Repeat or comma-separate for several.")


def list_query(
    project: Annotated[list[str] | None, _many("Project names (any of).")] = None,
    sync: Annotated[list[str] | None, _many("Synced, OutOfSync, Unknown (any of).")] = None,
    health: Annotated[list[str] | None, _many("Health statuses (any of).")] = None,
    namespace: Annotated[list[str] | None, _many("Application namespaces (any of).")] = None,
    repo: Annotated[list[str] | None, _many("Repository URLs, normalized (any of).")] = None,
    destination: Annotated[list[str] | None, _many("Server URLs or cluster names.")] = None,
    selector: Annotated[list[str] | None, Query(description="Labels: k=v,k!=v,k,!k (all).")] = None,
    search: Annotated[str | None, Query(description="Substring of namespace/name.")] = None,
    sort: Annotated[str, Query(description="name|namespace|project|sync|health|reconciledAt;"
                               " - in front for descending.")] = "name",
    limit: Annotated[int, Query(ge=1, le=apps_query.MAX_LIMIT)] = apps_query.DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AppQuery:  # fmt: skip
    """FastAPI dependency: the list's query parameters as an ``AppQuery`` (422 naming a bad one).

    The stream of changes filters with the same dependency.
    """
    try:
        return apps_query.parse(
            project=project,
            namespace=namespace,
            sync=sync,
            health=health,
            repo=repo,
            destination=destination,
            selector=selector,
            search=search,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    except apps_query.QueryError as exc:
        raise InvalidError(f"query.{exc.field}: {exc.message}") from None


def router(caches: Caches) -> APIRouter:
    routes = APIRouter(tags=["applications"])

    def ready() -> None:
        if not caches.ready:
            raise UnavailableError(f"the server is starting: {caches.problem}")

    def app_or_404(namespace: str, name: str) -> bytes:
        ready()
        raw = caches.app_json(namespace, name)
        if raw is None:
            raise NotFoundError(f"application {namespace}/{name} not found")
        return raw

    @routes.get("/applications", response_model=AppListModel, responses=_ERRORS)
    async def list_applications(
        request: Request, query: Annotated[AppQuery, Depends(list_query)]
    ) -> Any:
        """A filtered, sorted page of the applications one may see, with the total and counts."""
        ready()
        sees = access.of(request).sees_row
        return JSONResponse(apps_query.run(filter(sees, caches.rows()), query))

    @routes.get(
        "/applications/{namespace}/{name}", response_model=ObjectModel, responses=_NOT_FOUND
    )
    async def get_application(namespace: Name, name: Name) -> Any:
        """The Application: metadata, spec and status."""
        return Response(app_or_404(namespace, name), media_type="application/json")

    @routes.get(
        "/applications/{namespace}/{name}/history",
        response_model=ItemsModel,
        responses=_NOT_FOUND,
    )
    async def get_history(namespace: Name, name: Name) -> Any:
        """The application's finished syncs, oldest first (``status.history``)."""
        status = json.loads(app_or_404(namespace, name)).get("status")
        history = status.get("history") if isinstance(status, dict) else None
        items = [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []
        return JSONResponse({"items": items})

    @routes.get("/projects", response_model=ObjectListModel, tags=["projects"], responses=_ERRORS)
    async def list_projects(request: Request) -> Any:
        """The Projects of the controller's namespace one may see."""
        ready()
        sees = access.of(request).sees
        items = [p for p in caches.projects() if sees("projects", p["metadata"]["name"])]
        return JSONResponse({"apiVersion": "v1", "kind": "List", "items": items})

    return routes
