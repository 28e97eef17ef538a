"""``driftless login SERVER --sso`` as a user runs it, with a real browser and a real provider.

The CLI runs as a process (``--no-browser``: it prints the URL); Debian's
chromium, driven by Playwright, opens that URL, logs in as alice on the
provider's own page (``tests.fixtures.oidc_provider``) and lands on the
CLI's "you can close this tab" page. The CLI stores the session 0600 and
``driftless app list`` through the server then shows alice's team's app and
not the other team's (RBAC: the Projects' roles grant the provider's groups).
A provider's refusal (``error=access_denied``) and an answer with another
login's state end the CLI with a message and exit code 1, nothing stored.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.kube.client import KubeClient
from tests.fixtures.oidc_provider import OidcProvider, provider, sso_settings
from tests.integration.cli_driver import entry_point
from tests.integration.helpers import APPS_NAMESPACE, unique
from tests.integration.server_inprocess import serving
from tests.integration.test_server_rbac import _app, _project, _team_role
from tests.integration.ui_harness import chromium_executable

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
__all__ = ["provider"]  # the fixture, imported

SEEN = 30_000  # ms: generous, on 2 busy cores
DEADLINE = 60.0
_URL = re.compile(r"(http://127\.0\.0\.1:\d+/api/v1/auth/oidc/login\?\S+)")


def _env(config: Path) -> dict[str, str]:
    """The user's environment: their own config dir, no kubeconfig, server or token set."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBECONFIG", "DRIFTLESS_SERVER", "DRIFTLESS_AUTH_TOKEN")
    }
    return env | {"XDG_CONFIG_HOME": str(config), "HOME": str(config)}


class Login:
    """``driftless login URL --sso --no-browser`` running; ``url`` is what it told to open."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.said = ""

    @classmethod
    async def start(cls, server: str, config: Path) -> Login:
        proc = await asyncio.create_subprocess_exec(
            entry_point(),
            "login",
            server,
            "--sso",
            "--no-browser",
            "--timeout",
            "60",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_env(config),
        )
        return cls(proc)

    async def url(self) -> str:
        assert self.proc.stderr is not None
        while (match := _URL.search(self.said)) is None:
            line = await asyncio.wait_for(self.proc.stderr.readline(), DEADLINE)
            assert line, f"the CLI ended without a URL: {self.said!r}"
            self.said += line.decode()
        return match.group(1)

    async def result(self) -> tuple[int, str, str]:
        out, err = await asyncio.wait_for(self.proc.communicate(), DEADLINE)
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode(), self.said + err.decode()


async def _app_list(config: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        entry_point(),
        "app",
        "list",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(config),
    )
    out, err = await asyncio.wait_for(proc.communicate(), DEADLINE)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _until_listed(http: aiohttp.ClientSession, server: str, names: set[str]) -> None:
    """Wait until the server (as admin) lists ``names`` (apps, projects): alice's list is final."""
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while True:
        async with http.get(f"{server}/api/v1/applications?limit=1000") as resp:
            found = {item["name"] for item in (await resp.json())["items"]}
        async with http.get(f"{server}/api/v1/projects") as resp:
            found |= {item["metadata"]["name"] for item in (await resp.json())["items"]}
        if names <= found:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{names - found} never listed"
        await asyncio.sleep(0.2)


async def _refused(
    server: str, config: Path, answer: dict[str, str], message: str, knock: dict[str, str]
) -> None:
    """The CLI's callback gets ``knock`` (another state: 400, the login goes on), then
    ``answer`` with its state: exit 1, ``message``, no file."""
    login = await Login.start(server, config)
    url = await login.url()
    port = parse_qs(urlsplit(url).query)["cli_port"][0]
    state = parse_qs(urlsplit(url).query)["cli_state"][0]
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/callback", params=knock) as page,
    ):
        assert page.status == 400 and "Not this login" in await page.text()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/callback", params={"state": state} | answer) as page,
    ):
        assert "Login failed" in await page.text()
    code, out, err = await login.result()
    assert code == 1 and message in err, (code, out, err)
    assert not (config / "driftless" / "servers.json").exists()


async def test_sso_login_in_the_browser_then_app_list_shows_alice_s_apps(
    kube: KubeClient, provider: OidcProvider, tmp_path: Path
) -> None:
    team_a, team_b = unique("team-a"), unique("team-b")
    mine, theirs = unique("sso-a"), unique("sso-b")
    await kube.apply(
        _project(team_a, [{**_team_role(team_a), "groups": ["team-a"]}]), field_manager="test"
    )
    await kube.apply(
        _project(team_b, [{**_team_role(team_b), "groups": ["team-b"]}]), field_manager="test"
    )
    await kube.apply(_app(mine, team_a), field_manager="test")
    await kube.apply(_app(theirs, team_b), field_manager="test")
    config = tmp_path / "config"
    config.mkdir()
    try:
        async with (
            serving(kube, oidc=sso_settings(provider)) as served,
            await served.login() as admin,
            async_playwright() as playwright,
        ):
            server = served.url
            await _until_listed(admin, server, {mine, theirs, team_a, team_b})
            # Hostile answers first: each ends the CLI with a message, nothing stored.
            await _refused(
                server,
                config,
                {"error": "access_denied"},
                "identity provider denied the login",
                knock={"code": "x", "state": "y" * 43},
            )

            login = await Login.start(server, config)
            browser = await playwright.chromium.launch(
                executable_path=chromium_executable(), headless=True
            )
            try:
                page = await browser.new_page()
                await page.goto(await login.url())
                await expect(page).to_have_url(re.compile(re.escape(provider.issuer) + "login/"))
                await page.get_by_label("Username").fill("alice")
                await page.get_by_label("Password").fill(provider.passwords["alice"])
                await page.get_by_role("button", name="Login").click()
                await expect(page.get_by_text("you can close this tab")).to_be_visible(timeout=SEEN)
                assert urlsplit(page.url).path == "/callback"
                assert "driftless_session" not in {c["name"] for c in await page.context.cookies()}
            finally:
                await browser.close()
            code, out, err = await login.result()
            assert code == 0, (out, err)
            assert f"logged in to {server} as alice@example.test" in out

            stored = config / "driftless" / "servers.json"
            assert stat.S_IMODE(stored.stat().st_mode) == 0o600
            assert "oidc/login" not in stored.read_text()

            code, out, err = await _app_list(config)
            assert code == 0, err
            assert mine in out and theirs not in out, out
    finally:
        for name in (mine, theirs):
            await kube.delete(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
        for name in (team_a, team_b):
            await kube.delete(API_VERSION, PROJECT_KIND, name, APPS_NAMESPACE)
