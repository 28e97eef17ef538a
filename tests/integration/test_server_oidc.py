"""Single sign-on against a real OpenID Connect provider, over HTTP on loopback.

The provider (``tests.fixtures.oidc_provider``) shows its own login page and
checks real passwords; these tests post its form as a browser would, and
follow the authorization code flow with PKCE into a driftless session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
import pytest

from driftless.kube.client import KubeClient
from driftless.server import oidc
from tests.fixtures.oidc_provider import (
    CLIENT_ID,
    OidcProvider,
    login_form,
    provider,
    sso_settings,
)
from tests.integration.server_inprocess import serving

pytestmark = pytest.mark.integration
__all__ = ["provider"]  # the fixture, imported


def _http() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _to_provider_login(http: aiohttp.ClientSession, server: str) -> tuple[str, str]:
    """Start a login at the server; follow to the provider's login page: (page URL, request id)."""
    async with http.get(f"{server}/api/v1/auth/oidc/login", allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        authorize = resp.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    async with http.get(authorize) as resp:  # the provider redirects to its login page
        assert resp.status == 200
        return str(resp.url), login_form(await resp.text())


async def _post_form(
    http: aiohttp.ClientSession, server: str, username: str, password: str
) -> tuple[str, str]:
    """Post the provider's form: (the server callback URL it sends to, or "" and the page)."""
    page, request_id = await _to_provider_login(http, server)
    form = {"id": request_id, "username": username, "password": password}
    location = urljoin(page, "/login/username")
    async with http.post(location, data=form, allow_redirects=False) as resp:
        if resp.status != 302:
            return "", await resp.text()
        location = urljoin(location, resp.headers["Location"])
    while not location.startswith(server):
        async with http.get(location, allow_redirects=False) as resp:
            assert resp.status in (302, 303), await resp.text()
            location = urljoin(location, resp.headers["Location"])
    return location, ""


async def _log_in(
    http: aiohttp.ClientSession, server: str, provider: OidcProvider, username: str
) -> int:
    callback, page = await _post_form(http, server, username, provider.passwords[username])
    assert callback, page
    async with http.get(callback, allow_redirects=False) as resp:
        assert resp.headers.get("Location") in ("/", None)
        return resp.status


async def test_code_flow_sessions_groups_logout_and_hostile_answers(
    kube: KubeClient, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(kube, oidc=sso_settings(provider)) as served:
        url = served.url
        async with _http() as http:
            async with http.get(f"{url}/api/v1/auth/methods") as resp:
                assert await resp.json() == {"methods": ["local", "oidc"]}

            # A wrong password: the provider's own page says so; nobody is logged in.
            callback, page = await _post_form(http, url, "alice", "not-her-password")
            assert callback == "" and "username or password wrong" in page

            assert await _log_in(http, url, provider, "alice") == 303
            async with http.get(f"{url}/api/v1/session") as who:
                assert await who.json() == {
                    "user": "alice@example.test",
                    "groups": ["team-a"],
                    "method": "oidc",
                    "methods": ["local", "oidc"],
                }
            async with http.get(f"{url}/api/v1/applications?limit=1") as apps:
                assert apps.status == 200

            # Logout ends the session and names the provider's end_session page.
            async with http.delete(f"{url}/api/v1/session") as out:
                assert out.status == 200
                ended = (await out.json())["endSessionUrl"]
                assert ended == f"{provider.issuer}end_session?client_id={CLIENT_ID}"
            async with http.get(f"{url}/api/v1/session") as who:
                assert who.status == 401

        async with _http() as http:
            assert await _log_in(http, url, provider, "carol") == 303
            async with http.get(f"{url}/api/v1/session") as who:
                body = await who.json()
                assert (body["user"], body["groups"]) == ("carol@example.test", [])

        # The same answer twice (replayed state and code), an answer without state, one
        # arriving in another browser (no flow cookie): 401, and only the reason logged.
        async with _http() as http:
            callback, _ = await _post_form(http, url, "bob", provider.passwords["bob"])
            flow = next(c.value for c in http.cookie_jar if c.key == oidc.FLOW_COOKIE)
            async with http.get(callback, allow_redirects=False) as resp:
                assert resp.status == 303
            # The success cleared the flow cookie; a replay brings it back.
            replay = {"Cookie": f"{oidc.FLOW_COOKIE}={flow}"}
            async with (
                _http() as again,
                again.get(callback, headers=replay, allow_redirects=False) as resp,
            ):
                assert resp.status == 401
                assert (await resp.json())["error"]["message"] == oidc.REFUSED
            code = parse_qs(urlsplit(callback).query)["code"][0]
            missing = f"{url}/api/v1/auth/oidc/callback?code={code}"
            async with http.get(missing, allow_redirects=False) as resp:
                assert resp.status == 401
            callback, _ = await _post_form(http, url, "bob", provider.passwords["bob"])
        async with _http() as stranger, stranger.get(callback, allow_redirects=False) as resp:
            assert resp.status == 401
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert refusals == [
            "single sign-on refused: unknown, replayed or expired login state",
            "single sign-on refused: the login's state or its cookie is missing",
            "single sign-on refused: the login's state or its cookie is missing",
        ]
        assert code not in caplog.text and provider.client_secret not in caplog.text


async def test_unreachable_provider_and_no_local_admin(
    kube: KubeClient, provider: OidcProvider
) -> None:
    async with serving(kube, oidc=sso_settings(provider), local_admin=False) as served:
        url = served.url
        async with _http() as http:
            async with http.get(f"{url}/api/v1/auth/methods") as resp:
                assert await resp.json() == {"methods": ["oidc"]}
            body = {"username": "admin", "password": "whatever"}
            async with http.post(f"{url}/api/v1/session", json=body) as resp:
                assert resp.status == 404
            assert await _log_in(http, url, provider, "bob") == 303

            provider.stop()
            try:
                # A new login is sent to the login page, which says why, once the last
                # discovery read is START_DISCOVERY_SECONDS old; sessions go on.
                deadline = time.monotonic() + oidc.START_DISCOVERY_SECONDS + 20
                while True:
                    start = f"{url}/api/v1/auth/oidc/login"
                    async with http.get(start, allow_redirects=False) as resp:
                        answer = (resp.status, resp.headers["Location"])
                    if answer == (303, oidc.UNAVAILABLE_PAGE) or time.monotonic() > deadline:
                        break
                    assert resp.status == 302  # to the provider: its discovery read is recent
                    await asyncio.sleep(0.5)
                assert answer == (303, oidc.UNAVAILABLE_PAGE)
                async with http.get(f"{url}/api/v1/session") as who:
                    assert who.status == 200
                    assert (await who.json())["groups"] == ["team-b"]
            finally:
                provider.start()
            # The restarted provider signs with a new key (a rotation): the server reads
            # its JWKS again for the unknown key id, and the next login goes through.
        async with _http() as http:
            assert await _log_in(http, url, provider, "alice") == 303
            async with http.get(f"{url}/api/v1/session") as who:
                assert (await who.json())["user"] == "alice@example.test"
