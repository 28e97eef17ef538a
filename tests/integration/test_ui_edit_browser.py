"""Creating and editing an application from the web UI, in a real browser.

Debian's chromium, driven by Playwright, against ``driftless server`` (the
installed command) on the dev cluster, with the real controller and a
repository served over smart HTTP. From the list's "New app": a repoURL git
must not get is refused by the server and the message is shown next to the
Repository URL field (marked invalid), nothing created; fixed, "Check" says
the server accepts it (still nothing created); "Create" opens the new app's
page, and the controller syncs it (its ConfigMap appears, the page says
Synced). "Edit" on its page changes the path; the controller follows. No
Content-Security-Policy violation on the way. Screenshots are kept under
``build/ui-screenshots/test_ui_edit_browser/``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import APPS_NAMESPACE, unique
from tests.integration.ui_harness import (
    ServerProcess,
    built_ui,
    chromium_executable,
    initial_admin_password,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SEEN = 30_000  # ms: generous, on 2 busy cores
SYNCED = 120.0  # s


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True
        )
        yield launched
        await launched.close()


def configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{value: '1'}}\n"


async def configmap_appears(kube: KubeClient, name: str, namespace: str) -> None:
    deadline = time.monotonic() + SYNCED
    while await kube.get("v1", "ConfigMap", name, namespace) is None:
        assert time.monotonic() < deadline, f"ConfigMap {namespace}/{name} never appeared"
        await asyncio.sleep(0.3)


async def _shot(page: Page, shots: Path, name: str) -> None:
    await page.screenshot(path=shots / f"{name}.png", full_page=True)


async def test_create_an_app_from_the_form_and_edit_it(
    devcluster: DevCluster,
    kube: KubeClient,
    controller: Controller,
    browser: Browser,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
    tmp_path_factory: pytest.TempPathFactory,
    screenshots: Path,
) -> None:
    built_ui()
    shots = screenshots
    repo = make_git_repo({"one/cm.yaml": configmap("one"), "two/cm.yaml": configmap("two")})
    url = git_http_server.publish(repo.path, unique("ui-edit-repo"))
    name = unique("formed")

    log = tmp_path_factory.mktemp("ui-edit-server") / "server.log"
    server = await ServerProcess.start(devcluster.kubeconfig, APPS_NAMESPACE, log)
    problems: list[str] = []
    try:
        password = await initial_admin_password(kube, APPS_NAMESPACE)
        context = await browser.new_context(viewport={"width": 1280, "height": 1000})
        login = await context.request.post(
            f"{server.url}/api/v1/session", data={"username": "admin", "password": password}
        )
        assert login.ok, await login.text()
        page = await context.new_page()

        def console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                problems.append(message.text)

        page.on("console", console)

        await page.goto(f"{server.url}/applications")
        await page.get_by_role("link", name="New app").click()
        await expect(page).to_have_url(f"{server.url}/applications/new")
        await expect(page.get_by_role("heading", name="New application")).to_be_visible()

        await page.get_by_label("Name", exact=True).fill(name)
        repo_field = page.get_by_label("Repository URL")
        await repo_field.fill("ext::sh -c touch% /tmp/pwned")
        await page.get_by_label("Path").fill("one")
        await page.get_by_label("Destination namespace", exact=True).fill(name)
        await page.get_by_label("Sync automatically").check()
        await page.get_by_label("Create the destination namespace").check()
        await page.get_by_role("button", name="Create").click()

        # The server's refusal, next to the field it names; nothing was created.
        await expect(repo_field).to_have_attribute("aria-invalid", "true", timeout=SEEN)
        described = await repo_field.get_attribute("aria-describedby") or ""
        error_id = next(i for i in described.split() if i.endswith("-error"))
        error = page.locator(f"[id='{error_id}']")
        await expect(error).to_contain_text("repository URL")
        await expect(page.get_by_role("alert")).to_contain_text("Cannot create the application")
        await _shot(page, shots, "new-app-refused")
        assert await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE) is None

        # Fixed: the field's error goes; Check asks for a dry run and stores nothing.
        await repo_field.fill(url)
        await expect(repo_field).to_have_attribute("aria-invalid", "false")
        await page.get_by_role("button", name="Check").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "The server accepts this application", timeout=SEEN
        )
        assert await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE) is None
        await _shot(page, shots, "new-app-checked")

        await page.get_by_role("button", name="Create").click()
        await expect(page).to_have_url(
            f"{server.url}/applications/{APPS_NAMESPACE}/{name}", timeout=SEEN
        )
        await configmap_appears(kube, "one", name)
        await expect(page.get_by_text("Synced").first).to_be_visible(timeout=SEEN)
        await _shot(page, shots, "created-app")

        # Edit: the form shows the app; another path is followed by the controller.
        await page.get_by_role("link", name="Edit").click()
        await expect(page).to_have_url(
            f"{server.url}/applications/{APPS_NAMESPACE}/{name}/edit", timeout=SEEN
        )
        path_field = page.get_by_label("Path")
        await expect(path_field).to_have_value("one", timeout=SEEN)
        await expect(page.get_by_label("Name", exact=True)).to_have_attribute("readonly", "")
        await path_field.fill("two")
        await _shot(page, shots, "edit-app")
        await page.get_by_role("button", name="Save").click()
        await expect(page).to_have_url(
            f"{server.url}/applications/{APPS_NAMESPACE}/{name}", timeout=SEEN
        )
        await configmap_appears(kube, "two", name)
        stored = await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
        assert stored is not None
        assert stored["spec"]["source"] == {"repoURL": url, "targetRevision": "HEAD", "path": "two"}
        assert stored["spec"]["syncPolicy"]["syncOptions"] == ["CreateNamespace=true"]

        # Cancel leaves the app as it is.
        await page.goto(f"{server.url}/applications/{APPS_NAMESPACE}/{name}/edit")
        await page.get_by_label("Path").fill("three")
        await page.get_by_role("button", name="Cancel").click()
        await expect(page).to_have_url(f"{server.url}/applications/{APPS_NAMESPACE}/{name}")
        after = await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
        assert after is not None and after["spec"]["source"]["path"] == "two"
        assert problems == [], problems
        await context.close()
    finally:
        await server.stop()
