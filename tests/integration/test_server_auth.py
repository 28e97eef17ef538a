"""Local login on the dev cluster: the admin account's Secrets, sessions, logout, cookie flags."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import time
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest

from driftless.core.deployment import SESSIONS_SECRET, server_secrets
from driftless.kube.client import KubeClient
from driftless.server import auth, sessions, settings, tls
from tests.integration.helpers import APPS_NAMESPACE, unique
from tests.integration.server_inprocess import serving

pytestmark = pytest.mark.integration


async def test_login_session_logout(kube: KubeClient) -> None:
    async with serving(kube) as served:
        admin = await kube.get("v1", "Secret", auth.ADMIN_SECRET, APPS_NAMESPACE)
        assert admin is not None
        hashed = base64.b64decode(admin["data"][auth.HASH_KEY]).decode()
        assert hashed.startswith("$scrypt$ln=14,r=8,p=1$")
        password = await served.initial_password()
        assert auth.verify_password(password, hashed)
        assert password not in hashed
        session_url = f"{served.url}/api/v1/session"
        bodies: list[str] = []

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            # No cookie: 401 everywhere but the login itself.
            for url in [session_url, f"{served.url}/api/v1/applications"]:
                async with http.get(url) as resp:
                    assert resp.status == 401
                    assert (await resp.json())["error"]["code"] == "Unauthorized"

            for username, wrong in [("admin", password + "x"), ("root", password), ("admin", "")]:
                body = {"username": username, "password": wrong}
                async with http.post(session_url, json=body) as resp:
                    bodies.append(await resp.text())
                    assert resp.status == (422 if not wrong else 401)
                    assert "Set-Cookie" not in resp.headers

            async with http.post(
                session_url, json={"username": "admin", "password": password}
            ) as resp:
                assert resp.status == 200
                assert await resp.json() == {"user": "admin"}
                bodies.append(await resp.text())
                header = resp.headers["Set-Cookie"]
            cookie = SimpleCookie(header)[auth.COOKIE]
            assert cookie["httponly"] is True
            assert cookie["samesite"] == "strict"
            assert not cookie["secure"]  # plain HTTP here; Secure over TLS
            assert cookie["path"] == "/"
            old_cookie = cookie.value

            async with http.get(session_url) as resp:
                assert (resp.status, await resp.json()) == (
                    200,
                    {"user": "admin", "groups": [], "method": "local", "methods": ["local"]},
                )
            async with http.get(f"{served.url}/api/v1/applications?limit=1") as resp:
                assert resp.status == 200
                bodies.append(await resp.text())

            async with http.delete(session_url) as resp:
                assert resp.status == 204

        # Logout ended the session on the server: the old cookie is refused.
        async with aiohttp.ClientSession() as http:
            for url in [session_url, f"{served.url}/api/v1/projects"]:
                async with http.get(url, headers={"Cookie": f"{auth.COOKIE}={old_cookie}"}) as resp:
                    assert resp.status == 401
            async with http.get(f"{served.url}/api/openapi.json") as resp:
                bodies.append(await resp.text())

    for body in bodies:
        assert hashed not in body
        assert password not in body
        assert hashed.split("$")[-1] not in body


async def test_a_second_start_keeps_the_account(kube: KubeClient) -> None:
    async with serving(kube):
        first = await kube.get("v1", "Secret", auth.ADMIN_SECRET, APPS_NAMESPACE)
    async with serving(kube) as served, await served.login() as http:
        second = await kube.get("v1", "Secret", auth.ADMIN_SECRET, APPS_NAMESPACE)
        async with http.get(f"{served.url}/api/v1/session") as resp:
            assert resp.status == 200
    assert first is not None and second is not None
    assert first["data"] == second["data"]


async def test_the_empty_secrets_of_an_install_get_the_account_and_a_set_hash_is_kept(
    kube: KubeClient,
) -> None:
    """``install --with-server`` makes the Secrets empty (the server may not create Secrets):
    the server patches the account into them, with the initial password over a stale one."""
    namespace = unique("empty-admin")
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        field_manager="test",
    )
    try:
        for secret in server_secrets(namespace):
            await kube.apply(secret, field_manager="test")
        stale = {"data": {auth.INITIAL_KEY: base64.b64encode(b"stale").decode()}}
        await kube.merge_patch("v1", "Secret", auth.INITIAL_SECRET, stale, namespace=namespace)
        async with serving(kube, controller_namespace=namespace) as served:
            assert await served.initial_password() != "stale"
            async with await served.login() as http, http.get(f"{served.url}/api/v1/session") as r:
                assert r.status == 200
            admin = await kube.get("v1", "Secret", auth.ADMIN_SECRET, namespace)
            assert admin is not None
            assert admin["metadata"]["labels"] == {"app.kubernetes.io/part-of": "driftless"}
        # A second start (or a second replica) keeps the hash: it is an account now.
        async with serving(kube, controller_namespace=namespace):
            again = await kube.get("v1", "Secret", auth.ADMIN_SECRET, namespace)
            assert again is not None and again["data"] == admin["data"]
    finally:
        await kube.delete("v1", "Namespace", namespace)


async def test_a_password_set_in_the_secret_replaces_the_initial_one(kube: KubeClient) -> None:
    async with serving(kube) as served:
        original = await kube.get("v1", "Secret", auth.ADMIN_SECRET, APPS_NAMESPACE)
        assert original is not None
        new_hash = auth.hash_password("a new passphrase")
        await kube.merge_patch(
            "v1", "Secret", auth.ADMIN_SECRET,
            {"data": {auth.HASH_KEY: base64.b64encode(new_hash.encode()).decode()}},
            namespace=APPS_NAMESPACE,
        )  # fmt: skip
        try:
            url = f"{served.url}/api/v1/session"
            async with aiohttp.ClientSession() as http:
                initial = {"username": "admin", "password": await served.initial_password()}
                async with http.post(url, json=initial) as resp:
                    assert resp.status == 401
                fresh = {"username": "admin", "password": "a new passphrase"}
                async with http.post(url, json=fresh) as resp:
                    assert resp.status == 200
        finally:
            await kube.merge_patch(
                "v1", "Secret", auth.ADMIN_SECRET, {"data": original["data"]},
                namespace=APPS_NAMESPACE,
            )  # fmt: skip


async def test_over_tls_the_cookie_is_secure(kube: KubeClient, tmp_path: Path) -> None:
    cert, key = tls.self_signed(tmp_path, "127.0.0.1")
    trust = ssl.create_default_context(cafile=str(cert))  # the certificate names 127.0.0.1
    async with serving(kube, tls_cert=cert, tls_key=key) as served:
        assert served.url.startswith("https://127.0.0.1:")
        body = {"username": "admin", "password": await served.initial_password()}
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as http,
            http.post(f"{served.url}/api/v1/session", json=body) as resp,
        ):
            assert resp.status == 200
            cookie = SimpleCookie(resp.headers["Set-Cookie"])[settings.SECURE_COOKIE]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "strict"
    assert cookie["path"] == "/" and not cookie["domain"]  # what __Host- requires


async def test_behind_a_tls_ingress_the_cookie_is_secure_and_host_prefixed(
    kube: KubeClient,
) -> None:
    # --secure-cookies: this process serves plain HTTP, the browser's URL is https://.
    async with serving(kube, https_proxy=True) as served:
        assert served.url.startswith("http://")
        body = {"username": "admin", "password": await served.initial_password()}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{served.url}/api/v1/session", json=body) as resp:
                assert resp.status == 200
                jar = SimpleCookie(resp.headers["Set-Cookie"])
                assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
            assert auth.COOKIE not in jar
            cookie = jar[settings.SECURE_COOKIE]
            assert cookie["secure"] is True and cookie["httponly"] is True
            assert cookie["path"] == "/" and not cookie["domain"]
            url = f"{served.url}/api/v1/session"
            # The session is read from the __Host- cookie only.
            for name, status in [(settings.SECURE_COOKIE, 200), (auth.COOKIE, 401)]:
                headers = {"Cookie": f"{name}={cookie.value}"}
                async with http.get(url, headers=headers) as resp:
                    assert resp.status == status, name
            headers = {"Cookie": f"{settings.SECURE_COOKIE}={cookie.value}"}
            async with http.delete(url, headers=headers) as resp:
                assert resp.status == 204
                cleared = SimpleCookie(resp.headers["Set-Cookie"])[settings.SECURE_COOKIE]
                assert cleared["secure"] is True
            async with http.get(url, headers=headers) as resp:
                assert resp.status == 401


async def test_sessions_survive_a_restart_and_are_shared_by_two_replicas(
    kube: KubeClient,
) -> None:
    async with serving(kube) as first:
        http = await first.login()
        async with http:
            (cookie,) = [c for c in http.cookie_jar if c.key == auth.COOKIE]
        session_id = cookie.value
    stored = await kube.get("v1", "Secret", SESSIONS_SECRET, APPS_NAMESPACE)
    assert stored is not None
    assert hashlib.sha256(session_id.encode()).hexdigest() in stored["data"]
    assert session_id not in str(stored)  # only its digest is at rest
    headers = {"Cookie": f"{auth.COOKIE}={session_id}"}

    # A new process (as after a restart or a rolling update) and a second replica beside it.
    async with serving(kube) as a, serving(kube) as b, aiohttp.ClientSession() as http:
        for served in (a, b):
            async with http.get(f"{served.url}/api/v1/session", headers=headers) as resp:
                assert resp.status == 200, await resp.text()
        # A login on one replica is known to the other at once.
        body = {"username": "admin", "password": await a.initial_password()}
        async with http.post(f"{a.url}/api/v1/session", json=body) as resp:
            assert resp.status == 200
            fresh = SimpleCookie(resp.headers["Set-Cookie"])[auth.COOKIE].value
        fresh_headers = {"Cookie": f"{auth.COOKIE}={fresh}"}
        async with http.get(f"{b.url}/api/v1/applications?limit=1", headers=fresh_headers) as r:
            assert r.status == 200, await r.text()
        # Logging out on one replica ends the session on the other too.
        async with http.delete(f"{b.url}/api/v1/session", headers=headers) as resp:
            assert resp.status == 204
        await _until_status(http, f"{a.url}/api/v1/session", headers, 401)
        async with http.get(f"{a.url}/api/v1/session", headers=fresh_headers) as resp:
            assert resp.status == 200  # another session is untouched

        # A new password ends every session on both replicas.
        original = await kube.get("v1", "Secret", auth.ADMIN_SECRET, APPS_NAMESPACE)
        assert original is not None
        new_hash = auth.hash_password("another passphrase")
        await kube.merge_patch(
            "v1", "Secret", auth.ADMIN_SECRET,
            {"data": {auth.HASH_KEY: base64.b64encode(new_hash.encode()).decode()}},
            namespace=APPS_NAMESPACE,
        )  # fmt: skip
        try:
            for served in (a, b):
                await _until_status(http, f"{served.url}/api/v1/session", fresh_headers, 401)
        finally:
            await kube.merge_patch(
                "v1", "Secret", auth.ADMIN_SECRET, {"data": original["data"]},
                namespace=APPS_NAMESPACE,
            )  # fmt: skip


async def _until_status(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], status: int
) -> None:
    deadline = time.monotonic() + 10 * sessions.REFRESH_SECONDS
    while True:
        async with http.get(url, headers=headers) as resp:
            if resp.status == status:
                return
            assert time.monotonic() < deadline, f"{url} stayed {resp.status}, not {status}"
        await asyncio.sleep(0.1)
