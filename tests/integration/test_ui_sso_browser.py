"""Single sign-on in a real browser: Debian's chromium, driven by Playwright.

The login page offers "Log in with SSO"; the browser goes to the real
provider's own login page (``tests.fixtures.oidc_provider``), a wrong password
is refused there, alice's password brings her back to driftless's app list,
signed in as herself with her group. RBAC as she sees it: two Projects whose
roles (``spec.roles``) grant groups ``team-a`` and ``team-b`` their own apps,
ConfigMap ``driftless-rbac`` with no default role: the list shows only team-a's
apps (total, status counts, project choices too); a deep link to team-b's app reads like
a missing app's (not found). With ``role:readonly`` as the default she sees
team-b's app, but its Sync dialog shows the server's refusal (403, naming the
action) and no operation is written on the Application. Logging out ends the
session and goes to the provider's logout page; the app list then asks for a
login again. With the local account turned off and the provider gone, the
login page offers only SSO and says the provider does not answer. Screenshots
in ``build/ui-screenshots/test_ui_sso_browser/``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.kube.client import KubeClient
from driftless.server.rbac_source import CONFIGMAP
from tests.fixtures.oidc_provider import OidcProvider, provider, sso_settings
from tests.integration.helpers import APPS_NAMESPACE, unique
from tests.integration.server_inprocess import serving
from tests.integration.ui_harness import built_ui, chromium_executable

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
__all__ = ["provider"]  # the fixture, imported

SEEN = 30_000  # ms: generous, on 2 busy cores
NS = APPS_NAMESPACE


def _project(name: str, group: str) -> dict[str, Any]:
    """A Project whose role ``dev`` lets SSO group ``group`` get and sync its apps."""
    subject = f"proj:{name}:dev"
    return {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "roles": [
                {
                    "name": "dev",
                    "policies": [
                        f"p, {subject}, applications, get, {name}/*, allow",
                        f"p, {subject}, applications, sync, {name}/*, allow",
                        f"p, {subject}, projects, get, {name}, allow",
                    ],
                    "groups": [group],
                }
            ],
        },
    }


def _app(name: str, project: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "project": project,
            "source": {"repoURL": "https://git.example.test/apps.git", "path": "."},
            "destination": {"namespace": name},
        },
    }


def _policy(default: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP, "namespace": NS},
        "data": {"policy.default": default, "policy.csv": ""},
    }


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True
        )
        yield launched
        await launched.close()


async def test_log_in_through_the_provider_s_page_and_see_only_permitted_apps(
    kube: KubeClient, provider: OidcProvider, browser: Browser, screenshots: Path
) -> None:
    built_ui()
    shots = screenshots
    team_a, team_b = unique("team-a"), unique("team-b")
    mine, also_mine, theirs = unique("sso-a"), unique("sso-a"), unique("sso-b")
    await kube.apply(_policy(""), field_manager="test")
    for obj in (
        _project(team_a, "team-a"),
        _project(team_b, "team-b"),
        _app(mine, team_a),
        _app(also_mine, team_a),
        _app(theirs, team_b),
    ):
        await kube.apply(obj, field_manager="test")
    try:
        await _as_alice(kube, provider, browser, shots, (team_a, team_b), (mine, also_mine, theirs))
    finally:
        await kube.delete("v1", "ConfigMap", CONFIGMAP, NS)
        for name in (mine, also_mine, theirs):
            await kube.delete(API_VERSION, APPLICATION_KIND, name, NS)
        for project in (team_a, team_b):
            await kube.delete(API_VERSION, PROJECT_KIND, project, NS)

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
            await page.screenshot(path=shots / "06-provider-down.png", full_page=True)
        finally:
            provider.start()
            await context.close()


async def _until(check: Any, what: str) -> None:
    """Poll ``check()`` (async, truthy when done) for up to SEEN ms."""
    deadline = time.monotonic() + SEEN / 1000
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def _as_alice(
    kube: KubeClient,
    provider: OidcProvider,
    browser: Browser,
    shots: Path,
    teams: tuple[str, str],
    apps: tuple[str, str, str],
) -> None:
    """Alice logs in through the provider's page, meets the policy, and logs out."""
    team_a, team_b = teams
    mine, also_mine, theirs = apps
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
        cookies = {c["name"]: c for c in await context.cookies(served.url)}
        session = cookies["driftless_session"]
        assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
        async with aiohttp.ClientSession(cookies={"driftless_session": session["value"]}) as http:
            async with http.get(f"{served.url}/api/v1/session") as resp:
                assert (await resp.json())["groups"] == ["team-a"]

            async def listed() -> set[str]:
                async with http.get(f"{served.url}/api/v1/applications?limit=1000") as resp:
                    assert resp.status == 200, await resp.text()
                    return {item["name"] for item in (await resp.json())["items"]}

            async def team_a_granted() -> bool:
                return {mine, also_mine} <= await listed()

            # The Projects' roles reach the server's policy moments after it starts.
            await _until(team_a_granted, "alice never saw team-a's apps")

            # Only team-a's apps: the rows, the total and the status counts.
            await page.goto(f"{served.url}/applications")
            table = page.get_by_role("table", name="Applications")
            await expect(table.get_by_role("link", name=mine)).to_be_visible(timeout=SEEN)
            await expect(table.get_by_role("link", name=also_mine)).to_be_visible()
            await expect(table.get_by_role("link", name=theirs)).to_have_count(0)
            await expect(page.get_by_text("2 applications", exact=True)).to_be_visible()
            sync = page.get_by_role("group", name="Sync status")
            for status, count in (("Synced", 0), ("OutOfSync", 0), ("Unknown", 2)):
                label = sync.locator(f"label[for=filter-sync-{status}]")
                await expect(label).to_have_text(f"{status} {count}")
            projects = page.get_by_label("Project").locator("option")
            await expect(projects.filter(has_text=team_a)).to_have_count(1)
            await expect(projects.filter(has_text=team_b)).to_have_count(0)
            await page.screenshot(path=shots / "03-app-list.png", full_page=True)

            # A deep link to team-b's app reads exactly like one to a missing app.
            for name in (theirs, unique("sso-missing")):
                await page.goto(f"{served.url}/applications/{NS}/{name}")
                await expect(page.get_by_role("alert")).to_have_text(
                    f"Cannot show {NS}/{name}: application {NS}/{name} not found", timeout=SEEN
                )
                await expect(page.get_by_role("button", name="Sync…")).to_have_count(0)
            await page.goto(f"{served.url}/applications/{NS}/{theirs}")
            await expect(page.get_by_role("alert")).to_contain_text("not found", timeout=SEEN)
            await page.screenshot(path=shots / "04-hidden-app.png", full_page=True)

            # Everyone may read (role:readonly by default): team-b's app shows, its sync is
            # refused with the server's reason, and nothing is written.
            await kube.apply(_policy("role:readonly"), field_manager="test")

            async def readable() -> bool:
                return theirs in await listed()

            await _until(readable, "the readonly default never applied")
            await page.goto(f"{served.url}/applications/{NS}/{theirs}")
            await expect(page.get_by_role("heading", name=theirs, level=1)).to_be_visible(
                timeout=SEEN
            )
            await page.get_by_role("button", name="Sync…").click()
            dialog = page.get_by_role("dialog", name=f"Sync {theirs}")
            await dialog.get_by_role("button", name="Start sync").click()
            refusal = dialog.get_by_role("alert")
            await expect(refusal).to_have_text(
                f"Cannot sync: not permitted: sync application {NS}/{theirs} in project {team_b}",
                timeout=SEEN,
            )
            await expect(refusal).to_be_visible()
            await expect(dialog).to_be_visible()  # kept open, with the reason
            await page.screenshot(path=shots / "05-sync-refused.png", full_page=True)
            app = await kube.get(API_VERSION, APPLICATION_KIND, theirs, NS)
            assert app is not None and "operation" not in app, app
            await dialog.get_by_role("button", name="Cancel").click()

        await page.get_by_role("button", name="Log out").click()
        await expect(page).to_have_url(re.compile(re.escape(provider.issuer)), timeout=SEEN)
        await page.goto(f"{served.url}/applications")
        await expect(page.get_by_role("heading", name="Log in to driftless")).to_be_visible(
            timeout=SEEN
        )
        await context.close()
