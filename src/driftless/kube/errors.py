"""Kubernetes API errors, classified once, where the answer arrives.

The kube client is the only code that looks at HTTP status codes and at
connection failures; it turns every failed request into exactly one of the
four classes below, and callers catch the class they mean
(``except KubeConflictError``) instead of testing numbers::

    DriftlessError (core.errors)
    └── KubeApiError                 base: .status, .message, .api_reason
        ├── KubeUnavailableError     + TransientError   no answer, timeout, 5xx, 429, 408, 401
        ├── KubeRefusedError         + ValidationError  any other 4xx (400, 405, 413, ...),
        │   │                                           and the 500 of an apply whose body
        │   │                                           does not fit the kind's schema
        │   ├── KubeForbiddenError                      403: RBAC says no to this identity
        │   └── KubeInvalidError                        422: the request body is invalid
        │                                               (also a failed JSON-patch "test")
        ├── KubeNotFoundError        + NotFoundError    404, 410
        │   └── KubeExpiredError                        410: a watch's resource version
        │                                               is too old (re-list and watch again)
        └── KubeConflictError        + ConflictError    409

Because each class also derives from the project's own error type, the
condition reason and the retry policy follow from the class alone: an outage
is retried with backoff, a refusal is the user's to fix (Stalled), a conflict
is retried at once with the newer object.

Why these rules: a 401 means credentials expired or rotate (an exec plugin, a
projected token), which fixes itself; a 5xx is the server's own failure —
except the schema mismatch, which the API server reports as 500 although the
manifest is at fault; every other 4xx says the request itself is wrong and
sending it again cannot help. A status outside 4xx/5xx from a server is not
Kubernetes speaking (a proxy, a redirect), so it counts as unavailable.

``unreachable(err)`` is the one test for "no answer at all" (connection
refused or reset, timed out before any response, status 0). The request
most likely never reached the server; at worst its answer was lost, so a
caller sends it again only where a repeat is harmless (a server-side apply,
a hook found again by its name). An answered 5xx is not unreachable: the
server spoke (a webhook that failed, an internal error) and stays a failure.

``UnknownKindError`` (discovery) is not a ``KubeApiError``: a kind the cluster
does not serve is answered by discovery, not by a failed request.

Messages are the API server's ``Status.message`` (bounded in length); they may
echo request content, so callers writing about Secrets redact them
(``sync.redact``) before they reach a condition.
"""

from __future__ import annotations

import json
from typing import Self

from driftless.core.errors import (
    ConflictError,
    DriftlessError,
    NotFoundError,
    TransientError,
    ValidationError,
)

__all__ = [
    "KubeApiError",
    "KubeConflictError",
    "KubeExpiredError",
    "KubeForbiddenError",
    "KubeInvalidError",
    "KubeNotFoundError",
    "KubeRefusedError",
    "KubeUnavailableError",
    "api_error",
    "error_class",
    "unavailable",
    "unreachable",
]

# Long enough for a dry-run listing several field errors, short enough that a
# hostile or broken server cannot fill a condition (or a log line) with megabytes.
MAX_MESSAGE = 4000
MAX_API_REASON = 100

# The API server answers 500 when an applied body does not fit the kind's
# schema; that is the manifest's fault, not an outage.
SCHEMA_MISMATCH = "failed to create typed patch object"
# Answers to an object too large to store, whatever the server's limits are set to:
# etcd's own (--max-request-bytes, 1.5 MiB by default) and the API server's client of
# etcd (its gRPC message cap) answer 500 with these words; the API server's body
# limit (3 MiB) answers 413. Sending the same object again cannot help.
TOO_LARGE_MESSAGES = ("etcdserver: request is too large", "trying to send message larger than max")


class KubeApiError(DriftlessError):
    """The API server refused a request or could not be reached.

    ``status`` is the HTTP status (0 when no response arrived); ``message``
    the server's ``Status.message`` (or what went wrong on the way);
    ``api_reason`` the server's ``Status.reason`` (``NotFound``,
    ``AlreadyExists``, ...), "" when it sent none. ``reason`` is, as for every
    ``DriftlessError``, the condition reason.
    """

    def __init__(self, status: int, message: str, api_reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.api_reason = api_reason

    def with_message(self, message: str) -> Self:
        """The same error (same class, status and reasons) saying ``message``."""
        copy = type(self)(self.status, message, self.api_reason)
        copy.reason = self.reason
        return copy

    def in_context(self, context: str) -> Self:
        """The same error whose message is ``"<context>: <message>"``."""
        return self.with_message(f"{context}: {self.message}")


class KubeUnavailableError(KubeApiError, TransientError):
    """No usable answer: connection failure, timeout, 5xx, throttled, credentials expired."""


class KubeRefusedError(KubeApiError, ValidationError):
    """The server understood the request and refuses it; sending it again cannot help."""


class KubeForbiddenError(KubeRefusedError):
    """403: this identity may not do that (RBAC); a caller may fall back to less."""


class KubeInvalidError(KubeRefusedError):
    """422: the request is invalid, or a JSON-patch ``test`` operation failed."""


class KubeTooLargeError(KubeRefusedError):
    """The object (or the request) is larger than the API server or etcd stores."""


class KubeNotFoundError(KubeApiError, NotFoundError):
    """The object (or, for 410, the watched resource version) is gone."""


class KubeExpiredError(KubeNotFoundError):
    """410 Gone: the resource version a watch started from is too old.

    A watch loop re-lists on this one; any other ``KubeNotFoundError`` of a
    list or watch (404: the kind itself is gone, e.g. its CRD was deleted) is
    worth a warning.
    """


class KubeConflictError(KubeApiError, ConflictError):
    """The object changed since it was read, or already exists."""


def error_class(status: int, message: str = "") -> type[KubeApiError]:
    """The class of a failed request with this HTTP status (0: no response). Pure."""
    if status == 410:
        return KubeExpiredError
    if status == 404:
        return KubeNotFoundError
    if status == 409:
        return KubeConflictError
    if status in (401, 408, 429):
        return KubeUnavailableError
    if status == 403:
        return KubeForbiddenError
    if status == 422:
        return KubeInvalidError
    if status == 413 or (status == 500 and any(m in message for m in TOO_LARGE_MESSAGES)):
        return KubeTooLargeError
    if 400 <= status < 500:
        return KubeRefusedError
    if status == 500 and SCHEMA_MISMATCH in message:
        return KubeRefusedError
    return KubeUnavailableError


def api_error(status: int, payload: bytes | str | None, fallback: str = "") -> KubeApiError:
    """The error for an answer with ``status`` and body ``payload``. Pure.

    ``payload`` should be a Kubernetes ``Status``; anything else (HTML from a
    proxy, truncated JSON, a JSON value that is not an object, fields of the
    wrong type) still gives a bounded message: the body's text, else
    ``fallback`` (the HTTP reason phrase), else ``HTTP <status>``.
    """
    message = fallback or f"HTTP {status}"
    api_reason = ""
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload or ""
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        message = text.strip() or message
    else:
        if isinstance(body, dict):
            message = _text(body.get("message")) or message
            api_reason = _text(body.get("reason"))[:MAX_API_REASON]
        elif body is not None:
            message = text.strip()
    message = _bounded(message)
    return error_class(status, message)(status, message, api_reason)


def unavailable(message: str) -> KubeUnavailableError:
    """No answer at all (connection refused, reset, timed out)."""
    return KubeUnavailableError(0, _bounded(message))


def unreachable(error: BaseException) -> bool:
    """Did the request get no answer at all (refused, reset, timed out)? Pure.

    Only ``unavailable`` makes such errors (status 0); any HTTP answer, a 5xx
    included, is the API server speaking.
    """
    return isinstance(error, KubeUnavailableError) and error.status == 0


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return message[:MAX_MESSAGE] + "… (truncated)"
