"""Write routes of ``/api/v1``: operate an application as the CLI does.

Every route writes through ``pipeline.requests``, the request builders and
guarded writes the CLI uses (one engine: a sync from the browser and one from
``driftless app sync`` are the same bytes on the Application). The
controller serves them; these routes only ask, so every success is
``202 Accepted`` with what was requested.

======================================================  ==========================
route                                                   answer
======================================================  ==========================
``POST /applications/{ns}/{name}/sync``                 202 ``{"operation"}``
``POST /applications/{ns}/{name}/refresh?hard=``        202 ``{"refresh"}``
``POST /applications/{ns}/{name}/terminate``            202 ``{"terminate"}``
``POST /applications/{ns}/{name}/rollback``             202 ``{"operation", ...}``
``DELETE /applications/{ns}/{name}?cascade=``           202 ``{"cascade"}``
======================================================  ==========================

A refresh with ``?hard=true`` is a hard refresh (``driftless app refresh
--hard``): the controller reads the repository's refs now and renders again,
bypassing its caches.

Failures, in the one error shape (``server.errors``): 404 ``NotFound`` for an
unknown app or history id; 409 ``Conflict`` while an operation runs (sync,
rollback), when none runs (terminate), or when the app kept changing; 422
``Invalid`` naming the field for a malformed body or name (bodies are pydantic
models that forbid unknown fields; ``pipeline.requests`` checks revisions and
resource names once more); 503 when the Kubernetes API is down.

Each write, accepted or refused, leaves its audit record (``server.audit``:
a JSON log line ``{"audit": "write", "user", "method", "action", "app":
"ns/name", "result"}`` plus ``"code"`` when refused, and an Event on the
Application). It names no repository and holds no credential.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from driftless.core.repourl import redact
from driftless.kube.client import KubeClient
from driftless.kube.errors import KubeRefusedError
from driftless.pipeline import requests
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

__all__ = ["router"]

JSON = dict[str, Any]
T = TypeVar("T")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResourceSelector(_Body):
    """One object of a selective sync (empty group: the core group)."""

    group: str = Field("", max_length=253)
    kind: str = Field(min_length=1, max_length=253)
    namespace: str = Field("", max_length=253)
    name: str = Field(min_length=1, max_length=253)


class SyncRequest(_Body):
    """What ``driftless app sync`` takes as flags."""

    revision: str | None = Field(
        None,
        max_length=requests.MAX_REVISION,
        description="Commit, branch or tag; default: target.",
    )
    prune: bool = Field(False, description="Delete objects that git no longer has.")
    dryRun: bool = Field(False, description="Report what would be applied, change nothing.")  # noqa: N815
    resources: list[ResourceSelector] = Field(
        default_factory=list,
        max_length=requests.MAX_RESOURCES,
        description="Sync only these objects (no hooks run).",
    )


class RollbackRequest(_Body):
    id: int = Field(ge=0, le=2**31 - 1, description="A history id (GET .../history).")


class OperationAccepted(BaseModel):
    operation: dict[str, Any]


class RollbackAccepted(BaseModel):
    operation: dict[str, Any]
    revision: str
    automationDisabled: bool  # noqa: N815


class RefreshAccepted(BaseModel):
    refresh: str = Field(description="The value written to the refresh annotation.")


class TerminateAccepted(BaseModel):
    terminate: str = Field(description="The startedAt of the operation asked to stop.")


class DeleteAccepted(BaseModel):
    cascade: bool


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    said = {
        401: "Not logged in.",
        403: "The Kubernetes API server refused the server's own credentials.",
        404: "No such application (or history entry).",
        409: "The application's state refuses the request now.",
        422: "A malformed name or body; the message names the field.",
        503: "The Kubernetes API server is unavailable.",
    }
    return {code: {"description": said[code]} for code in (401, 403, *codes, 422, 503)}


def router(client: KubeClient, current_user: Callable[..., str], trail: Audit) -> APIRouter:
    """The write routes; ``current_user`` is the auth dependency (it leaves the principal);
    ``trail`` records each write."""
    routes = APIRouter(tags=["operations"])

    def acting(request: Request, _: str = Depends(current_user)) -> Principal:
        principal: Principal = request.state.principal
        return principal

    # A default, not ``Annotated``: a local alias is not seen by FastAPI's string annotations.
    user_dep = Depends(acting)

    def _audit(
        who: Principal, action: str, namespace: str, name: str, result: str, code: str
    ) -> None:
        trail.write(who.subject, who.method, action, namespace, name, result, code, who.token)

    async def write(
        user: Principal, action: str, namespace: str, name: str, call: Callable[[], Awaitable[T]]
    ) -> T:
        """Run one write; the audit line, and typed refusals turned into API errors."""
        try:
            result = await call()
        except requests.RequestError as exc:
            error = _api_error(exc)
            _audit(user, action, namespace, name, "refused", error.code)
            raise error from None
        except KubeRefusedError as exc:
            said = redact(exc.message)
            error = ForbiddenError(said) if exc.status == 403 else InvalidError(said)
            _audit(user, action, namespace, name, "refused", error.code)
            raise error from None
        except Exception:
            _audit(user, action, namespace, name, "failed", "")
            raise
        _audit(user, action, namespace, name, "accepted", "")
        return result

    @routes.post(
        "/applications/{namespace}/{name}/sync",
        status_code=202,
        response_model=OperationAccepted,
        responses=_responses(404, 409),
    )
    async def sync(
        namespace: Namespace,
        name: Name,
        body: SyncRequest | None = None,
        user: Principal = user_dep,
    ) -> Any:
        """Sync the application now (phases, waves and hooks as in automated syncs)."""
        wanted = body or SyncRequest()
        try:
            operation = requests.sync_operation(
                user.subject,
                datetime.now(UTC),
                revision=wanted.revision,
                prune=wanted.prune,
                dry_run=wanted.dryRun,
                resources=[r.model_dump() for r in wanted.resources],
            )
        except requests.InvalidRequestError as exc:
            _audit(user, "sync", namespace, name, "refused", "Invalid")
            raise InvalidError(f"body.{exc.message}") from None
        await write(
            user,
            "sync",
            namespace,
            name,
            lambda: requests.request_sync(client, namespace, name, operation),
        )
        return JSONResponse({"operation": operation}, status_code=202)

    @routes.post(
        "/applications/{namespace}/{name}/refresh",
        status_code=202,
        response_model=RefreshAccepted,
        responses=_responses(404),
    )
    async def refresh(
        namespace: Namespace,
        name: Name,
        hard: Annotated[
            bool,
            Query(
                description="Bypass the controller's caches: read the repository now, render"
                " again (a hard refresh)."
            ),
        ] = False,
        user: Principal = user_dep,
    ) -> Any:
        """Ask the controller to re-check git and the cluster now."""
        stamp = await write(
            user,
            "hard-refresh" if hard else "refresh",
            namespace,
            name,
            lambda: requests.request_refresh(client, namespace, name, datetime.now(UTC), hard=hard),
        )
        return JSONResponse({"refresh": stamp}, status_code=202)

    @routes.post(
        "/applications/{namespace}/{name}/terminate",
        status_code=202,
        response_model=TerminateAccepted,
        responses=_responses(404, 409),
    )
    async def terminate(namespace: Namespace, name: Name, user: Principal = user_dep) -> Any:
        """Stop the running operation at its next safe point (409 when none runs)."""
        started_at = await write(
            user,
            "terminate",
            namespace,
            name,
            lambda: requests.request_terminate(client, namespace, name, datetime.now(UTC)),
        )
        return JSONResponse({"terminate": started_at}, status_code=202)

    @routes.post(
        "/applications/{namespace}/{name}/rollback",
        status_code=202,
        response_model=RollbackAccepted,
        responses=_responses(404, 409),
    )
    async def rollback(
        namespace: Namespace, name: Name, body: RollbackRequest, user: Principal = user_dep
    ) -> Any:
        """Sync back to a history entry's revision; automated sync is turned off first."""
        done = await write(
            user,
            "rollback",
            namespace,
            name,
            lambda: requests.request_rollback(
                client, namespace, name, body.id, user.subject, datetime.now(UTC)
            ),
        )
        answer = {
            "operation": done.operation,
            "revision": done.revision,
            "automationDisabled": done.automation_disabled,
        }
        return JSONResponse(answer, status_code=202)

    @routes.delete(
        "/applications/{namespace}/{name}",
        status_code=202,
        response_model=DeleteAccepted,
        responses=_responses(404, 409),
    )
    async def delete(
        namespace: Namespace,
        name: Name,
        cascade: Annotated[
            bool, Query(description="Also delete the objects the app manages (the default).")
        ] = True,
        user: Principal = user_dep,
    ) -> Any:
        """Delete the application; with cascade the controller deletes its objects first."""
        await write(
            user,
            "delete" if cascade else "delete-no-cascade",
            namespace,
            name,
            lambda: requests.delete_app(client, namespace, name, cascade=cascade),
        )
        return JSONResponse({"cascade": cascade}, status_code=202)

    return routes


def _api_error(exc: requests.RequestError) -> ApiError:
    """The API error a refused request is answered with (see the module table)."""
    if isinstance(exc, requests.InvalidRequestError):
        return InvalidError(
            f"path.{exc.message}" if exc.field in ("name", "namespace") else exc.message
        )
    if isinstance(exc, (requests.AppNotFoundError, requests.HistoryEntryNotFoundError)):
        return NotFoundError(exc.message)
    if isinstance(exc, requests.RequestConflictError):
        return ConflictError(exc.message)
    return InvalidError(exc.message)
