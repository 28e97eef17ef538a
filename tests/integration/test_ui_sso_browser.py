"""Single sign-on in a real browser: Debian's chromium, driven by Playwright.

The login page offers "Log in with SSO"; the browser goes to the real
provider's own login page (``tests.fixtures.oidc_provider``), a wrong password
is refused there, alice's password brings her back to driftless's app list,
signed in as herself with her group. Logging out ends the session and goes to
the provider's logout page; the app list then asks for a login again. With the
local account turned off and the provider gone, the login page offers only SSO
and says the provider does not answer. Screenshots under pytest's temp dir.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from driftless.kube.client import KubeClient
from tests.fixtures.oidc_provider import OidcProvider, provider, sso_settings
from tests.integration.server_inprocess import serving
from tests.integration.ui_harness import built_ui, chromium_executable

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
__all__ = ["provider"]  # the fixture, imported

SEEN = 30_000  # ms: generous, on 2 busy cores


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True
        )
        yield launched
        await launched.close()


async def test_log_in_through_the_provider_s_page_and_land_on_the_app_list(
    kube: KubeClient, provider: OidcProvider, browser: Browser, tmp_path: Path
) -> None:
    built_ui()
    shots = tmp_path / "ui-sso-screenshots"
    shots.mkdir()
    async with serving(kube, oidc=sso_settings(provider)) as served:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await page.goto(f"{served.url}/applications")
        await expect(page.get_by_role("heading", name="Log in to driftless")).to_be_visible(
            timeout=SEEN
        )
        await page.screenshot(path=shots / "01-login.png", full_page=True)
        await page.get_by_role("link", name="Log in with SSO").click()

        # The provider's own page: its form, its check of the password.
        await expect(page).to_have_url(re.compile(re.escape(provider.issuer) + "login/"))
        await page.get_by_label("Username").fill("alice")
        await page.get_by_label("Password").fill("wrong-password")
        await page.get_by_role("button", name="Login").click()
        await expect(page.get_by_text("username or password wrong")).to_be_visible(timeout=SEEN)
        await page.get_by_label("Username").fill("alice")
        await page.get_by_label("Password").fill(provider.passwords["alice"])
        await page.screenshot(path=shots / "02-provider.png", full_page=True)
        await page.get_by_role("button", name="Login").click()

        await expect(page).to_have_url(f"{served.url}/applications", timeout=SEEN)
        await expect(page.get_by_role("heading", name="Applications")).to_be_visible(timeout=SEEN)
        await expect(page.get_by_text("Signed in as alice@example.test")).to_be_visible()
        await page.screenshot(path=shots / "03-app-list.png", full_page=True)
        cookies = {c["name"]: c for c in await context.cookies(served.url)}
        session = cookies["driftless_session"]
        assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
        async with (
            aiohttp.ClientSession(cookies={"driftless_session": session["value"]}) as http,
            http.get(f"{served.url}/api/v1/session") as resp,
        ):
            assert (await resp.json())["groups"] == ["team-a"]

        await page.get_by_role("button", name="Log out").click()
        await expect(page).to_have_url(re.compile(re.escape(provider.issuer)), timeout=SEEN)
        await page.goto(f"{served.url}/applications")
        await expect(page.get_by_role("heading", name="Log in to driftless")).to_be_visible(
            timeout=SEEN
        )
        await context.close()

    async with serving(kube, oidc=sso_settings(provider), local_admin=False) as served:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        provider.stop()
        try:
            await page.goto(f"{served.url}/login")
            await page.get_by_role("link", name="Log in with SSO").click()
            await expect(page.get_by_role("alert")).to_contain_text(
                "The single sign-on provider does not answer", timeout=SEEN
            )
            await expect(page.get_by_label("Password")).to_have_count(0)
            await page.screenshot(path=shots / "04-provider-down.png", full_page=True)
        finally:
            provider.start()
            await context.close()
