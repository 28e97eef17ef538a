"""The callback route against a hostile provider made here: every bad ID token is 401.

A loopback stand-in answers discovery, its JWKS (a key made here) and the
token endpoint with whatever token the case crafts for the login's real
``nonce``; the server's routes run in uvicorn as ``driftless server`` serves
them. Only the good token logs in; each other is 401 with the fixed message,
and the log holds the reason, never the token.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from driftless.server import oidc
from driftless.server.app import create_app
from driftless.server.sessions import Sessions
from driftless.server.settings import OidcSettings, ServerSettings
from tests.fixtures.server_http import idle_state, running

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FORGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CLIENT = "driftless"


class HostileProvider:
    """Discovery, JWKS and a token endpoint that answers ``token(nonce)``."""

    def __init__(self) -> None:
        self.issuer = ""
        self.token: Callable[[str], str] = lambda nonce: ""
        self.nonce = ""

    async def discovery(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}auth",
                "token_endpoint": f"{self.issuer}token",
                "jwks_uri": f"{self.issuer}keys",
            }
        )

    async def keys(self, _: web.Request) -> web.Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
        return web.json_response({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]})

    async def token_endpoint(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert form["grant_type"] == "authorization_code" and form["code_verifier"]
        return web.json_response({"id_token": self.token(self.nonce), "token_type": "Bearer"})


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[HostileProvider]:
    fake = HostileProvider()
    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", fake.discovery)
    app.router.add_get("/keys", fake.keys)
    app.router.add_post("/token", fake.token_endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.issuer = f"http://127.0.0.1:{port}/"
    try:
        yield fake
    finally:
        await runner.cleanup()


def _claims(issuer: str, nonce: str) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": issuer, "aud": CLIENT, "sub": "alice", "iat": now, "exp": now + 300}
    return claims | {
        "nonce": nonce,
        "email": "alice@example.test",
        "email_verified": True,
        "groups": ["team-a"],
    }


def _signed(key: Any = KEY, alg: str = "RS256", **changes: Any) -> Callable[..., str]:
    def make(issuer: str, nonce: str) -> str:
        claims = _claims(issuer, nonce) | changes
        return jwt.encode(claims, key, alg, headers={"kid": "k1"})

    return make


def _unsigned(issuer: str, nonce: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return jwt.utils.base64url_encode(json.dumps(data).encode()).decode()

    return f"{part({'alg': 'none', 'kid': 'k1'})}.{part(_claims(issuer, nonce))}."


CASES: list[tuple[str, Callable[..., str], str]] = [
    ("forged", _signed(key=FORGER), "signature does not verify"),
    ("expired", _signed(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), "expired"),
    ("wrong audience", _signed(aud="another-client"), "audience"),
    ("wrong issuer", _signed(iss="https://evil.example.test/"), "another issuer"),
    ("wrong nonce", _signed(nonce="not-this-login"), "nonce"),
    ("alg none", _unsigned, "algorithm"),
    ("email not verified", _signed(email_verified=False), "email_verified"),
]


async def _callback(
    http: aiohttp.ClientSession, url: str, provider: HostileProvider, make: Callable[..., str]
) -> aiohttp.ClientResponse:
    async with http.get(f"{url}/api/v1/auth/oidc/login", allow_redirects=False) as resp:
        query = parse_qs(urlsplit(resp.headers["Location"]).query)
    provider.nonce = query["nonce"][0]
    provider.token = lambda nonce: make(provider.issuer, nonce)
    state = query["state"][0]
    callback = f"{url}/api/v1/auth/oidc/callback?code=c0de&state={state}"
    async with http.get(callback, allow_redirects=False) as resp:
        await resp.read()
        return resp


async def test_only_a_good_id_token_logs_in(
    provider: HostileProvider, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sso_config = OidcSettings(issuer=provider.issuer, client_id=CLIENT, client_secret_ref="s")
    settings = ServerSettings(static_dir=tmp_path, oidc=sso_config)
    state = idle_state(settings)
    state.auth.sessions = Sessions(3600)  # in memory: this test has no API server
    state.sso = oidc.SingleSignOn(sso_config, "secret", "http://127.0.0.1:1/cb")
    caplog.set_level(logging.INFO, logger="driftless.server.oidc")
    async with running(create_app(settings, state)) as url:
        for name, make, reason in CASES:
            caplog.clear()
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                resp = await _callback(http, url, provider, make)
                assert resp.status == 401, name
                async with http.get(f"{url}/api/v1/session") as who:
                    assert who.status == 401, name
            # The login's own lines (the audit trail has its own, tested in test_server_audit).
            messages = [r.getMessage() for r in caplog.records if r.name == oidc.__name__]
            assert len(messages) == 1 and reason in messages[0], (name, messages)
            assert "eyJ" not in caplog.text and "alice" not in caplog.text, name

        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            resp = await _callback(http, url, provider, _signed())
            assert (resp.status, resp.headers["Location"]) == (303, "/")
            async with http.get(f"{url}/api/v1/session") as who:
                body = await who.json()
            assert (body["user"], body["groups"], body["method"]) == (
                "alice@example.test",
                ["team-a"],
                "oidc",
            )
