"""The server's wiring over real HTTP on loopback: probes, the error shape, the UI files,
the OpenAPI document, and the settings the command refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from click.testing import CliRunner
from fastapi import FastAPI

from driftless.cli.main import cli
from driftless.server import settings as server_settings
from driftless.server.app import create_app
from driftless.server.settings import ServerSettings, SettingsError, check, is_loopback
from driftless.server.static import NOT_BUILT
from tests.fixtures.server_http import idle_state, running

INDEX = "<!doctype html><title>driftless</title>"


def _app(static_dir: Path) -> FastAPI:
    settings = ServerSettings(static_dir=static_dir)
    return create_app(settings, idle_state(settings))


@pytest.fixture
def ui_build(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app-1234.js").write_text("console.log('ui')")
    (tmp_path.parent / "secret.txt").write_text("outside the build")
    return tmp_path


@pytest_asyncio.fixture
async def base(ui_build: Path) -> AsyncIterator[str]:
    async with running(_app(ui_build)) as url:
        yield url


async def _get(url: str, method: str = "GET") -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.request(method, url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def test_healthz_answers_while_the_caches_are_not_ready(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert (resp.status, await resp.json()) == (200, {"status": "ok"})
        async with http.get(f"{base}/readyz") as resp:
            assert resp.status == 503
            body = await resp.json()
    assert body["error"]["code"] == "Unavailable"
    assert "not listed yet" in body["error"]["message"]


async def test_openapi_document_is_published(base: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/api/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    assert "/healthz" in doc["paths"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", INDEX),
        ("/applications/team-a/web", INDEX),  # SPA deep link
        ("/assets/app-1234.js", "console.log('ui')"),
        ("/%2e%2e/secret.txt", INDEX),  # never outside the build
        ("/x/..%2f..%2fsecret.txt", INDEX),
        ("/a%5c..%5csecret.txt", INDEX),
        ("/a%00b", INDEX),
    ],
)
async def test_ui_files_and_spa_fallback(base: str, path: str, expected: str) -> None:
    status, _, text = await _get(f"{base}{path}")
    assert (status, text) == (200, expected)


@pytest.mark.parametrize("path", ["/assets/missing.js", "/assets/..%2f..%2fsecret.txt"])
async def test_a_missing_asset_is_404_not_the_index(base: str, path: str) -> None:
    status, _, text = await _get(f"{base}{path}")
    assert (status, text) == (404, "not found\n")


async def test_hashed_assets_are_cached_and_index_revalidated(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/assets/app-1234.js") as resp:
            assert "immutable" in resp.headers["Cache-Control"]
        async with http.get(f"{base}/apps") as resp:
            assert resp.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/api", "/api/v1/nothing-here", "/api/v2/applications"])
async def test_unknown_api_paths_are_json_404s_not_the_ui(base: str, path: str) -> None:
    status, content_type, text = await _get(f"{base}{path}")
    assert status == 404
    assert content_type == "application/json"
    assert '"code":"NotFound"' in text
    assert "<title>" not in text


async def test_wrong_method_is_the_error_shape(base: str) -> None:
    status, content_type, text = await _get(f"{base}/healthz", method="DELETE")
    assert (status, content_type) == (405, "application/json")
    assert '"code":"Invalid"' in text


async def test_missing_ui_build_is_a_plain_page(tmp_path: Path) -> None:
    async with running(_app(tmp_path / "no-build")) as url:
        status, content_type, text = await _get(f"{url}/applications")
    assert (status, text) == (503, NOT_BUILT)
    assert content_type.startswith("text/plain")


async def test_a_crash_is_a_500_without_traceback_or_credential(tmp_path: Path) -> None:
    app = _app(tmp_path)

    @app.get("/api/v1/crash")
    async def crash() -> None:
        raise RuntimeError("cannot fetch https://user:hunter2@git.example.com/repo.git")

    app.router.routes.insert(0, app.router.routes.pop())  # before the UI's catch-all
    async with running(app) as url:
        status, content_type, text = await _get(f"{url}/api/v1/crash")
    assert (status, content_type) == (500, "application/json")
    assert '"code":"Internal"' in text
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (ServerSettings(address="0.0.0.0", auth=False), "--insecure-no-auth is refused"),
        (ServerSettings(address="192.168.1.4", auth=False), "--insecure-no-auth is refused"),
        (ServerSettings(tls_cert=Path("c.pem")), "--tls-cert and --tls-key go together"),
        (ServerSettings(tls_key=Path("k.pem")), "--tls-cert and --tls-key go together"),
        (ServerSettings(address="127.0.0.1", auth=False), None),
        (ServerSettings(address="0.0.0.0"), None),
    ],
)
def test_settings_check(settings: ServerSettings, problem: str | None) -> None:
    if problem is None:
        check(settings)
        return
    with pytest.raises(SettingsError, match=problem):
        check(settings)


def test_the_command_refuses_anonymous_access_off_loopback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--kubeconfig", str(tmp_path / "none"), "server", "--insecure-no-auth",
         "--address", "0.0.0.0"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--insecure-no-auth is refused on 0.0.0.0" in result.output
    assert "Traceback" not in result.output


def test_default_address_is_loopback() -> None:
    assert server_settings.DEFAULT_ADDRESS == "127.0.0.1"
    assert ServerSettings().url() == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/applications", "/api/v1/applications/apps/web", "/api/v1/projects",
     "/api/v1/session"],
)  # fmt: skip
async def test_api_without_a_session_is_401(base: str, path: str) -> None:
    status, content_type, text = await _get(f"{base}{path}")
    assert (status, content_type) == (401, "application/json")
    assert '"code":"Unauthorized"' in text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "admin"}, "body.password"),
        ({"username": "admin", "password": "x" * 5000}, "body.password"),
        ({"username": "", "password": "x"}, "body.username"),
        ([1, 2], "body"),
    ],
)
async def test_a_malformed_login_is_422_naming_the_field(
    base: str, body: object, field: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/v1/session", json=body) as resp,
    ):
        assert resp.status == 422
        error = (await resp.json())["error"]
    assert error["code"] == "Invalid"
    assert error["message"].startswith(field)
    assert "xxxx" not in error["message"]


async def test_insecure_no_auth_serves_without_a_session(tmp_path: Path) -> None:
    settings = ServerSettings(static_dir=tmp_path, auth=False)
    app = create_app(settings, idle_state(settings))
    async with running(app) as url, aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/v1/session") as resp:
            assert (resp.status, await resp.json()) == (
                200,
                {"user": "admin", "groups": [], "method": "none", "methods": ["local"]},
            )
        async with http.get(f"{url}/api/v1/applications") as resp:
            assert resp.status == 503  # past the guard; the caches are not listed


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/applications?sort=bogus", "query.sort"),
        ("/api/v1/applications?limit=1001", "query.limit"),
        ("/api/v1/applications?offset=-1", "query.offset"),
        ("/api/v1/applications?selector=a%20notin%20(b)", "query.selector"),
        (f"/api/v1/applications/apps/{'x' * 300}", "path.name"),
        (f"/api/v1/applications/{'n' * 300}/web/history", "path.namespace"),
    ],
)
async def test_bad_parameters_are_422_before_anything_else(
    tmp_path: Path, path: str, field: str
) -> None:
    settings = ServerSettings(static_dir=tmp_path, auth=False)
    app = create_app(settings, idle_state(settings))
    async with running(app) as url:
        status, _, text = await _get(f"{url}{path}")
    assert status == 422
    assert f'"message":"{field}' in text
    assert "xxxxxxxx" not in text and "nnnnnnnn" not in text


@pytest.mark.parametrize(
    "cookie",
    ["driftless_session=guess", "driftless_session=", "driftless_session=" + "a" * 4000,
     'driftless_session="a;b"; other=1', "driftless_session=%00%ff", "other=1"],
)  # fmt: skip
async def test_a_forged_cookie_is_401(base: str, cookie: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/api/v1/session", headers={"Cookie": cookie}) as resp,
    ):
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "Unauthorized"


async def test_a_login_that_is_not_json_is_422(base: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/v1/session", data=b"\xff\xfe{", headers={
            "Content-Type": "application/json"}) as resp,
    ):  # fmt: skip
        assert resp.status == 422
        assert (await resp.json())["error"]["code"] == "Invalid"
