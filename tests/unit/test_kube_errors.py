"""Kubernetes API errors are classified once, by the kube client (``driftless.kube.errors``).

Tables from what the API server answers — an HTTP status and a ``Status``
body, or no answer at all — to the class callers catch and the condition
reason an app then shows. Hostile or broken answers (HTML from a proxy, a
body that is not a ``Status``, a megabyte of message) still give a bounded,
readable message. The last table sends the same answers through a real
``KubeClient`` to a loopback HTTP server, so the client is shown to be the
one place that classifies.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from kubernetes_asyncio import client as k8s_client

from driftless.core.errors import (
    ConflictError,
    DriftlessError,
    NotFoundError,
    StallingError,
    TransientError,
    ValidationError,
)
from driftless.kube.client import (
    KubeApiError,
    KubeClient,
    KubeConflictError,
    KubeExpiredError,
    KubeForbiddenError,
    KubeInvalidError,
    KubeNotFoundError,
    KubeRefusedError,
    KubeTooLargeError,
    KubeUnavailableError,
    UnknownKindError,
)
from driftless.kube.errors import MAX_MESSAGE, api_error, unavailable

JSON = dict[str, Any]

UNAVAILABLE = (KubeUnavailableError, "ReconciliationFailed")
REFUSED = (KubeRefusedError, "ValidationFailed")
FORBIDDEN = (KubeForbiddenError, "ValidationFailed")
INVALID = (KubeInvalidError, "ValidationFailed")
NOT_FOUND = (KubeNotFoundError, "ReconciliationFailed")
EXPIRED = (KubeExpiredError, "ReconciliationFailed")
CONFLICT = (KubeConflictError, "ReconciliationFailed")
TOO_LARGE = (KubeTooLargeError, "ValidationFailed")
SCHEMA = ".spec.replicas: expected numeric, got string; failed to create typed patch object"


def status(code: int, message: str, reason: str = "") -> str:
    body: JSON = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
    body.update(message=message, reason=reason)
    return json.dumps(body)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        pytest.param(400, "bad request", REFUSED, id="400"),
        pytest.param(401, "Unauthorized", UNAVAILABLE, id="401 credentials expire or rotate"),
        pytest.param(403, "forbidden", FORBIDDEN, id="403 RBAC"),
        pytest.param(404, "not found", NOT_FOUND, id="404"),
        pytest.param(405, "method not allowed", REFUSED, id="405"),
        pytest.param(406, "not acceptable", REFUSED, id="406"),
        pytest.param(408, "request timeout", UNAVAILABLE, id="408"),
        pytest.param(409, "already exists", CONFLICT, id="409"),
        pytest.param(410, "too old resource version", EXPIRED, id="410 watch expired"),
        pytest.param(413, "Request entity too large: limit is 3145728", TOO_LARGE, id="413"),
        pytest.param(415, "unsupported media type", REFUSED, id="415"),
        pytest.param(422, "spec.x: Invalid value", INVALID, id="422 invalid"),
        pytest.param(429, "too many requests", UNAVAILABLE, id="429 throttled"),
        pytest.param(500, "etcdserver: request timed out", UNAVAILABLE, id="500"),
        pytest.param(500, SCHEMA, REFUSED, id="500 apply schema mismatch"),
        # Sending an object too large to store again cannot help, whatever the limits.
        pytest.param(500, "etcdserver: request is too large", TOO_LARGE, id="500 etcd limit"),
        pytest.param(
            500,
            "rpc error: code = ResourceExhausted desc = trying to send message larger than max"
            " (2142873 vs. 2097152)",
            TOO_LARGE,
            id="500 the API server's etcd client limit",
        ),
        pytest.param(500, "request is too", UNAVAILABLE, id="500 a part of the words"),
        pytest.param(502, "bad gateway", UNAVAILABLE, id="502"),
        pytest.param(503, "unavailable", UNAVAILABLE, id="503"),
        pytest.param(504, "gateway timeout", UNAVAILABLE, id="504"),
        pytest.param(302, "Found", UNAVAILABLE, id="302 not Kubernetes speaking"),
        pytest.param(0, "", UNAVAILABLE, id="0 no answer"),
    ],
)
def test_status_decides_the_class_and_condition_reason(
    code: int, message: str, expected: tuple[type[KubeApiError], str]
) -> None:
    error = api_error(code, status(code, message, "SomeReason"))
    cls, reason = expected
    assert type(error) is cls
    assert (error.status, error.message, error.api_reason, error.reason) == (
        code, message or "HTTP 0", "SomeReason", reason,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "fallback", "message", "api_reason"),
    [
        pytest.param(None, "Service Unavailable", "Service Unavailable", "", id="no body"),
        pytest.param(b"", "", "HTTP 503", "", id="empty body, no reason phrase"),
        pytest.param(b"<html><h1>502 Bad Gateway</h1></html>\n", "Bad Gateway",
                     "<html><h1>502 Bad Gateway</h1></html>", "", id="HTML from a proxy"),
        pytest.param(b'{"kind": "Status", "mess', "", '{"kind": "Status", "mess', "",
                     id="truncated JSON"),
        pytest.param(b"{}", "Service Unavailable", "Service Unavailable", "",
                     id="Status without fields"),
        pytest.param(b'["a", "b"]', "", '["a", "b"]', "", id="JSON that is not an object"),
        pytest.param(b'"just a string"', "", '"just a string"', "", id="JSON string"),
        pytest.param(b'{"message": {"nested": 1}, "reason": 7}', "", '{"nested": 1}', "7",
                     id="fields of the wrong type"),
        pytest.param(b'{"message": null, "reason": null}', "x", "x", "", id="null fields"),
        pytest.param(b"\xff\xfe not utf-8", "", "\ufffd\ufffd not utf-8", "",
                     id="bytes that are not UTF-8"),
        pytest.param(json.dumps({"message": "m", "reason": "R" * 1000}), "", "m", "R" * 100,
                     id="huge reason"),
    ],
)  # fmt: skip
def test_hostile_bodies_give_a_readable_bounded_message(
    payload: bytes | str | None, fallback: str, message: str, api_reason: str
) -> None:
    error = api_error(503, payload, fallback)
    assert type(error) is KubeUnavailableError
    assert (error.message, error.api_reason) == (message, api_reason)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(status(422, "x" * 5_000_000), id="huge Status message"),
        pytest.param(b"y" * 5_000_000, id="huge non-JSON body"),
    ],
)
def test_huge_messages_are_cut(payload: bytes | str) -> None:
    error = api_error(422, payload)
    assert type(error) is KubeInvalidError
    assert len(error.message) <= MAX_MESSAGE + len("… (truncated)")
    assert error.message.endswith("… (truncated)")


@pytest.mark.parametrize(
    ("error", "caught_by", "not_caught_by"),
    [
        pytest.param(KubeUnavailableError(503, "m"), (TransientError, DriftlessError),
                     (StallingError, ConflictError, NotFoundError), id="unavailable"),
        pytest.param(KubeRefusedError(400, "m"), (ValidationError, StallingError),
                     (TransientError, NotFoundError, KubeForbiddenError), id="refused"),
        pytest.param(KubeForbiddenError(403, "m"), (KubeRefusedError, ValidationError),
                     (TransientError, KubeInvalidError), id="forbidden"),
        pytest.param(KubeInvalidError(422, "m"), (KubeRefusedError, ValidationError),
                     (TransientError, KubeForbiddenError), id="invalid"),
        pytest.param(KubeExpiredError(410, "m"), (KubeNotFoundError, NotFoundError),
                     (TransientError, StallingError), id="expired"),
        pytest.param(KubeNotFoundError(404, "m"), (NotFoundError, DriftlessError),
                     (TransientError, StallingError), id="not found"),
        pytest.param(KubeConflictError(409, "m"), (ConflictError, TransientError),
                     (StallingError, NotFoundError), id="conflict"),
    ],
)  # fmt: skip
def test_each_class_is_caught_as_the_projects_own_error(
    error: KubeApiError,
    caught_by: tuple[type[Exception], ...],
    not_caught_by: tuple[type[Exception], ...],
) -> None:
    assert isinstance(error, KubeApiError)
    assert all(isinstance(error, cls) for cls in caught_by)
    assert not any(isinstance(error, cls) for cls in not_caught_by)


def test_unknown_kind_is_not_an_api_error() -> None:
    assert not isinstance(UnknownKindError("example.com/v1", "Widget"), KubeApiError)


def test_in_context_keeps_the_class_and_prefixes_the_message() -> None:
    error = api_error(403, status(403, "forbidden", "Forbidden"))
    framed = error.in_context("cannot read project x")
    assert type(framed) is KubeForbiddenError
    assert (framed.status, framed.api_reason, framed.reason) == (403, "Forbidden", error.reason)
    assert str(framed) == framed.message == "cannot read project x: forbidden"
    assert error.message == "forbidden"  # the original is left alone


def test_no_answer_is_unavailable() -> None:
    error = unavailable("cannot reach the API server at https://127.0.0.1:1: refused")
    assert (type(error), error.status, error.reason) == (
        KubeUnavailableError, 0, "ReconciliationFailed",
    )  # fmt: skip


# -- the same answers through the client ----------------------------------------------


DISCOVERY: dict[str, JSON] = {
    "/api": {"kind": "APIVersions", "versions": ["v1"]},
    "/apis": {"kind": "APIGroupList", "groups": []},
    "/api/v1": {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [{"name": "namespaces", "kind": "Namespace", "namespaced": False}],
    },
}


@pytest_asyncio.fixture
async def answer() -> AsyncIterator[tuple[KubeClient, dict[str, Any]]]:
    """A loopback HTTP server answering every request with ``reply`` (status, body),
    except discovery, which serves Namespaces (so object requests can be built)."""
    reply: dict[str, Any] = {}

    async def handle(request: web.Request) -> web.Response:
        found = DISCOVERY.get(request.path)
        if found is not None:
            return web.json_response(found)
        return web.Response(
            status=reply["status"], body=reply["body"], content_type="application/json"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = _client(f"http://127.0.0.1:{port}")
    try:
        yield client, reply
    finally:
        await client.close()
        await runner.cleanup()


def _client(host: str) -> KubeClient:
    configuration = k8s_client.Configuration()
    configuration.host = host
    return KubeClient(k8s_client.ApiClient(configuration))


@pytest.mark.parametrize(
    ("code", "body", "cls", "message"),
    [
        pytest.param(403, status(403, "forbidden", "Forbidden"), KubeForbiddenError, "forbidden",
                     id="403"),
        pytest.param(409, status(409, "exists", "AlreadyExists"), KubeConflictError, "exists",
                     id="409"),
        pytest.param(410, status(410, "gone", "Expired"), KubeExpiredError, "gone", id="410"),
        pytest.param(429, status(429, "slow down"), KubeUnavailableError, "slow down", id="429"),
        pytest.param(500, status(500, SCHEMA), KubeRefusedError, SCHEMA, id="500 schema"),
        pytest.param(503, b"<html>down</html>", KubeUnavailableError, "<html>down</html>",
                     id="503 HTML"),
    ],
)  # fmt: skip
async def test_the_client_raises_the_class(
    answer: tuple[KubeClient, dict[str, Any]],
    code: int,
    body: str | bytes,
    cls: type[KubeApiError],
    message: str,
) -> None:
    client, reply = answer
    reply.update(status=code, body=body)
    with pytest.raises(KubeApiError) as raised:
        await client.version()
    assert (type(raised.value), raised.value.status, raised.value.message) == (cls, code, message)


async def test_the_client_reads_a_missing_object_as_none(
    answer: tuple[KubeClient, dict[str, Any]],
) -> None:
    client, reply = answer
    reply.update(status=404, body=status(404, 'namespaces "x" not found', "NotFound"))
    assert await client.get("v1", "Namespace", "x") is None
    assert await client.delete("v1", "Namespace", "x") is False


async def test_the_client_says_when_nothing_answers() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = _client(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(KubeUnavailableError) as raised:
            await client.version()
    finally:
        await client.close()
    assert raised.value.status == 0
    assert raised.value.message.startswith(
        f"cannot reach the API server at http://127.0.0.1:{port}:"
    )
