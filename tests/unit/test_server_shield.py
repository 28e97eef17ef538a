"""What every request passes (``server.shield``): forged Host, cross-site writes, big bodies,
and the security headers, over real HTTP on loopback (no cluster: routes never get that far)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from driftless.server import shield
from driftless.server.app import create_app, serve
from driftless.server.settings import ServerSettings, SettingsError
from tests.fixtures.server_http import idle_planning, idle_state, running, unreachable_client

LOGIN = "/api/v1/session"
CREDENTIALS = {"username": "admin", "password": "x"}


@pytest.mark.parametrize(
    ("host", "parsed"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("LOCALHOST", ("localhost", 80)),
        ("[::1]:9", ("[::1]", 9)),
        ("[::1]", ("[::1]", 80)),
        ("evil.example:8080", ("evil.example", 8080)),
        ("", None),
        ("[::1", None),
        ("::1", None),
        ("[::1]x", None),
        ("127.0.0.1:99999", None),
        ("127.0.0.1:-1", None),
        ("127.0.0.1:\uff18\uff10", None),  # fullwidth digits
        ("user@127.0.0.1", None),
        ("127.0.0.1/x", None),
    ],
)
def test_host_of(host: str, parsed: tuple[str, int] | None) -> None:
    assert shield.host_of(host) == parsed


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1:8080", True),
        ("localhost", True),
        ("[::1]:8080", True),
        ("evil.example:8080", False),
        ("127.0.0.1.evil.example", False),
        ("localhost.evil.example:8080", False),
        ("127.0.0.2", False),
        (None, False),
    ],
)
def test_is_local_host(host: str | None, local: bool) -> None:
    assert shield.is_local_host(host) is local


HOST = {"host": "127.0.0.1:8080"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "refused"),
    [
        ("POST", "/api/v1/session", {**HOST, "sec-fetch-site": "cross-site"}, True),
        ("POST", "/api/v1/session", {**HOST, "sec-fetch-site": "same-site"}, True),
        ("DELETE", "/api/v1/x", {**HOST, "origin": "http://evil.example"}, True),
        ("POST", "/api/v1/x", {**HOST, "origin": "http://127.0.0.1:9999"}, True),
        ("POST", "/api/v1/x", {**HOST, "origin": "null"}, True),
        ("POST", "/api/v1/x", {**HOST, "origin": "http://127.0.0.1:8080@evil"}, True),
        ("POST", "/api/v1/x", {"origin": "http://127.0.0.1:8080"}, True),  # no Host
        ("POST", "/api/v1/x", {**HOST, "origin": "http://127.0.0.1:8080"}, False),
        ("POST", "/api/v1/x", {**HOST, "sec-fetch-site": "same-origin"}, False),
        ("POST", "/api/v1/x", {**HOST, "sec-fetch-site": "none"}, False),
        ("POST", "/api/v1/x", HOST, False),  # a CLI: neither header
        ("GET", "/api/v1/x", {**HOST, "sec-fetch-site": "cross-site"}, False),
        ("POST", "/elsewhere", {**HOST, "sec-fetch-site": "cross-site"}, False),
    ],
)
def test_csrf_refusal(method: str, path: str, headers: dict[str, str], refused: bool) -> None:
    assert (shield.csrf_refusal(method, path, headers, "http") is not None) is refused


def test_an_origin_on_the_default_port_matches_a_host_without_one() -> None:
    headers = {"host": "driftless.example", "origin": "https://driftless.example:443"}
    assert shield.csrf_refusal("POST", "/api/v1/x", headers, "https") is None


def _app(tmp_path: Path, **settings: object) -> object:
    config = ServerSettings(static_dir=tmp_path, **settings)  # type: ignore[arg-type]
    return create_app(config, idle_state(config))


@pytest_asyncio.fixture
async def no_auth(tmp_path: Path) -> AsyncIterator[str]:
    (tmp_path / "index.html").write_text("<!doctype html><title>driftless</title>")
    async with running(_app(tmp_path, auth=False)) as url:  # type: ignore[arg-type]
        yield url


@pytest_asyncio.fixture
async def with_auth(tmp_path: Path) -> AsyncIterator[str]:
    (tmp_path / "index.html").write_text("<!doctype html><title>driftless</title>")
    async with running(_app(tmp_path)) as url:  # type: ignore[arg-type]
        yield url


async def _error(resp: aiohttp.ClientResponse) -> tuple[int, str]:
    body = await resp.json()
    return resp.status, body["error"]["code"]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.nip.io", ""])
async def test_without_auth_a_foreign_host_is_refused(no_auth: str, host: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{no_auth}/api/v1/applications", headers={"Host": host}) as resp,
    ):
        assert await _error(resp) == (403, "Forbidden")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{no_auth}/", headers={"Host": host}) as r,
    ):
        assert r.status == 403


@pytest.mark.parametrize("host", ["localhost:1234", "[::1]:8080", "127.0.0.1"])
async def test_without_auth_a_loopback_host_is_served(no_auth: str, host: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{no_auth}/healthz", headers={"Host": host}) as r,
    ):
        assert r.status == 200


async def test_with_auth_any_host_reaches_the_login(with_auth: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{with_auth}/healthz", headers={"Host": "driftless.example"}) as resp,
    ):
        assert resp.status == 200


async def test_serve_refuses_no_auth_off_loopback() -> None:
    settings = ServerSettings(address="0.0.0.0", port=0, auth=False)
    with pytest.raises(SettingsError, match="insecure-no-auth"):
        client = unreachable_client()
        await serve(settings, client, asyncio.Event(), idle_planning(client))


async def test_a_cross_site_login_is_refused(with_auth: str) -> None:
    async with aiohttp.ClientSession() as http:
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}):
            async with http.post(f"{with_auth}{LOGIN}", json=CREDENTIALS, headers=headers) as r:
                assert await _error(r) == (403, "Forbidden")


async def test_a_big_body_is_refused_by_length_and_by_counting(with_auth: str) -> None:
    big = b"x" * (shield.MAX_BODY + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(0, len(big), 4096):
            yield big[:4096]
        yield b"x"

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{with_auth}{LOGIN}", data=big) as resp:
            assert await _error(resp) == (413, "Invalid")
        async with http.post(f"{with_auth}{LOGIN}", data=chunks()) as resp:
            assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
            assert await _error(resp) == (413, "Invalid")
        # under the cap, the body reaches the route (which validates it)
        async with http.post(f"{with_auth}{LOGIN}", data=b"x" * 1000) as resp:
            assert await _error(resp) == (422, "Invalid")


async def test_every_response_has_the_security_headers(with_auth: str) -> None:
    async with aiohttp.ClientSession() as http:
        for path, api in (("/", False), ("/api/v1/applications", True), ("/api/nope", True)):
            async with http.get(f"{with_auth}{path}") as resp:
                for name, value in shield.SECURITY_HEADERS.items():
                    assert resp.headers.get(name) == value, (path, name)
                assert (resp.headers.get("Cache-Control") == "no-store") is api, path
                assert "Strict-Transport-Security" not in resp.headers


async def test_hsts_only_over_tls(tmp_path: Path) -> None:
    sent: list[dict[str, str]] = []

    async def app(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            sent.append({k.decode(): v.decode() for k, v in message["headers"]})  # type: ignore[attr-defined]

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"host", b"x")]}
    await shield.Shield(app, local_only=False, tls=True)(scope, receive, send)  # type: ignore[arg-type]
    await shield.Shield(app, local_only=False, tls=False)(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["strict-transport-security"] == shield.HSTS
    assert "strict-transport-security" not in sent[1]
