"""``kube.errors.unreachable``: which failed requests got no answer at all.

The sync runner waits for the API server on these (the operation stays
Running) instead of failing the operation; an answered error, 5xx included,
still fails it. Each case is produced by the real client against a loopback
socket that behaves as a dead, dying or silent API server would.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable

import pytest
from kubernetes_asyncio import client as k8s_client

from driftless.kube.client import KubeApiError, KubeClient
from driftless.kube.errors import api_error, unavailable, unreachable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _client(host: str) -> KubeClient:
    configuration = k8s_client.Configuration()
    configuration.host = host
    return KubeClient(k8s_client.ApiClient(configuration))


async def _failure(handler: Handler | None) -> KubeApiError:
    """The error of ``GET /version`` against a server running ``handler`` (None: no server)."""
    server: asyncio.Server | None = None
    if handler is None:
        with socket.socket() as sock:  # a port nothing listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    else:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    client = _client(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(KubeApiError) as raised:
            await client._json("GET", "/version", timeout=0.5)
        return raised.value
    finally:
        await client.close()
        if server is not None:
            server.close()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()  # RST: the API server killed mid-request


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await asyncio.sleep(5)  # never answers; the client's timeout ends the wait first
    writer.close()


def _answer(code: int, body: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 {code} X\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        writer.write(body)
        await writer.drain()
        writer.close()

    return handle


def _status(code: int, message: str, reason: str) -> bytes:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "message": message, "reason": reason}  # fmt: skip
    return json.dumps(body).encode()


NO_ANSWER = [
    pytest.param(None, id="connection refused"),
    pytest.param(_reset, id="connection reset"),
    pytest.param(_silent, id="timeout before any response"),
]
ANSWERED = [
    pytest.param(_answer(503, _status(503, "unavailable", "ServiceUnavailable")), id="503"),
    pytest.param(_answer(500, _status(500, 'failed calling webhook "x"', "InternalError")),
                 id="500 webhook"),
    pytest.param(_answer(502, b"<html>bad gateway</html>"), id="502 from a proxy"),
    pytest.param(_answer(422, _status(422, "spec.x: Invalid value", "Invalid")), id="422"),
    pytest.param(_answer(403, _status(403, "forbidden", "Forbidden")), id="403"),
    pytest.param(_answer(409, _status(409, "conflict", "Conflict")), id="409"),
]  # fmt: skip


@pytest.mark.parametrize("handler", NO_ANSWER)
async def test_no_answer_is_unreachable(handler: Handler | None) -> None:
    error = await _failure(handler)
    assert unreachable(error), (type(error), error.status, error.message)
    assert error.message.startswith("cannot reach the API server at http://127.0.0.1:")


@pytest.mark.parametrize("handler", ANSWERED)
async def test_an_answer_is_never_unreachable(handler: Handler) -> None:
    error = await _failure(handler)
    assert error.status >= 400
    assert not unreachable(error)


def test_only_kube_errors_without_status_are_unreachable() -> None:
    assert unreachable(unavailable("cannot reach the API server at https://x: refused"))
    assert unreachable(unavailable("watch of Pod interrupted: reset").in_context("syncing"))
    assert not unreachable(api_error(503, b""))
    assert not unreachable(api_error(429, b""))
    assert not unreachable(ConnectionRefusedError())  # not classified by the client: not ours
    assert not unreachable(TimeoutError())
