"""The API's one error shape, and the handlers that make every failure use it.

Every error response, whatever raised it, is::

    {"error": {"code": "<ErrorCode>", "message": "<readable>"}}

with the status of its code (``NotFound`` 404, ``Invalid`` 422, ``Conflict``
409, ``Unauthorized`` 401, ``Forbidden`` 403, ``Unavailable`` 503,
``Internal`` 500; three statuses borrow a code: 413 ``Invalid`` for a body over
the cap, 429 ``Unavailable`` with ``Retry-After`` for a throttled login, 502
``Unavailable`` when what a diff needs did not answer: a repository, a render).
Route code raises ``ApiError`` (or a subclass named after its code);
``install(app)`` also maps FastAPI's own failures: a request that does not
validate becomes 422 naming each bad field (``query.limit: ...``),
a body that does not parse 422, an unknown route 404, a wrong method 405
(code ``Invalid``), an API server outage 503. Anything else is a 500 whose
message says only that the server failed: the exception is logged
(redacted), never sent -- no traceback, no object dump, no credential ever
reaches a client.

``install(app)`` also completes the OpenAPI document (``document_refusals``,
pure): every operation that needs a session (its ``security`` names the
session cookie) lists 401, and every write under ``/api/`` (POST, PUT,
PATCH, DELETE) lists 403, the cross-site refusal ``shield`` makes before any
route runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from driftless.core.repourl import redact
from driftless.kube.errors import KubeUnavailableError

__all__ = [
    "ApiError",
    "CatchAll",
    "ConflictError",
    "ErrorCode",
    "ForbiddenError",
    "InvalidError",
    "NotFoundError",
    "UnauthorizedError",
    "UnavailableError",
    "document_refusals",
    "error_body",
    "install",
    "validation_message",
]

log = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    NOT_FOUND = "NotFound"
    INVALID = "Invalid"
    CONFLICT = "Conflict"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    UNAVAILABLE = "Unavailable"
    INTERNAL = "Internal"


STATUS_OF = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID: 422,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}
INTERNAL_MESSAGE = "internal server error (see the server's log)"
_CODE_OF_STATUS = {status: code for code, status in STATUS_OF.items()}


class ApiError(Exception):
    """A failure a client is told about: ``code`` picks the status, ``message`` is shown."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status if status is not None else STATUS_OF[self.code]
        self.retry_after = retry_after


class NotFoundError(ApiError):
    code = ErrorCode.NOT_FOUND


class InvalidError(ApiError):
    code = ErrorCode.INVALID


class ConflictError(ApiError):
    code = ErrorCode.CONFLICT


class UnauthorizedError(ApiError):
    code = ErrorCode.UNAUTHORIZED


class ForbiddenError(ApiError):
    code = ErrorCode.FORBIDDEN


class UnavailableError(ApiError):
    code = ErrorCode.UNAVAILABLE


def error_body(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"error": {"code": str(code), "message": message}}


def _response(
    code: ErrorCode, message: str, status: int, retry_after: int | None = None
) -> JSONResponse:
    headers = {"WWW-Authenticate": "Cookie"} if status == 401 else {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(error_body(code, message), status_code=status, headers=headers or None)


def validation_message(errors: Sequence[Any]) -> str:
    """``query.limit: Input should be ...; body.revision: ...`` from FastAPI's errors. Pure.

    Names the field and says what is wrong; never echoes the input itself
    (it may be long, binary or a credential).
    """
    parts: list[str] = []
    for err in errors[:10]:
        if not isinstance(err, dict):
            continue
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        msg = str(err.get("msg", "invalid"))
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _response(exc.code, exc.message, exc.status, exc.retry_after)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _response(ErrorCode.INVALID, validation_message(exc.errors()), 422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _response(ErrorCode.NOT_FOUND, f"no such API path: {request.url.path}", 404)
    if exc.status_code == 405:
        return _response(
            ErrorCode.INVALID, f"method {request.method} not allowed on {request.url.path}", 405
        )
    if exc.status_code == 400:  # FastAPI: a body that does not parse (not JSON)
        detail = exc.detail if isinstance(exc.detail, str) else "malformed request"
        return _response(ErrorCode.INVALID, f"body: {detail}", 422)
    code = _CODE_OF_STATUS.get(exc.status_code, ErrorCode.INVALID)
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return _response(code, detail, exc.status_code)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("Kubernetes API unavailable: %s", redact(str(exc)))
    return _response(ErrorCode.UNAVAILABLE, "the Kubernetes API server is unavailable", 503)


class CatchAll:
    """ASGI middleware: an unexpected exception becomes a 500 in the one shape.

    Starlette's own last-resort handler re-raises after answering, so the
    server's log would get a full traceback (with locals' reprs in some
    setups); this logs one redacted line instead and swallows the exception.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error(
                "%s %s failed: %s: %s",
                scope.get("method", ""),
                scope.get("path", ""),
                type(exc).__name__,
                redact(str(exc)),
            )
            if not started:  # else the client sees a cut response; nothing else to do
                response = _response(ErrorCode.INTERNAL, INTERNAL_MESSAGE, 500)
                await response(scope, receive, send)


UNAUTHORIZED_DOC: Final = "Not logged in (no session cookie, or its session ended)."
CROSS_SITE_DOC: Final = "A cross-site request (Origin or Sec-Fetch-Site), refused before any route."
_WRITES: Final = frozenset({"post", "put", "patch", "delete"})


def document_refusals(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the 401 and 403 answers to an OpenAPI ``schema`` (in place; returned). Pure.

    A status an operation documents already keeps its own description.
    """
    for path, operations in (schema.get("paths") or {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if operation.get("security"):
                responses.setdefault("401", {"description": UNAUTHORIZED_DOC})
            if method in _WRITES and str(path).startswith("/api/"):
                responses.setdefault("403", {"description": CROSS_SITE_DOC})
    return schema


def _document(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:  # built once, at the first request for it
            app.openapi_schema = document_refusals(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Make every failure of ``app`` answer with the one error shape, and document 401/403."""
    _document(app)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(KubeUnavailableError, _unavailable)
    app.add_middleware(CatchAll)
