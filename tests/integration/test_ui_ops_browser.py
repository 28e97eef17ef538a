"""Terminate, selected-resource sync and the live tree, in Debian's chromium.

``driftless server`` runs as a real process (``ui_harness``) against the dev
cluster with the real controller; Playwright drives the system browser. What
a user sees:

* a sync whose wave waits for a Deployment no node takes stays Running; the
  app page offers Terminate while it runs, asks to confirm, and the operation
  ends Terminated (and the button goes away);
* the sync dialog lists the app's managed resources (from the tree API) when
  "All resources" is unchecked; syncing one of them creates only that one;
* the resource tree follows the app's own stream: an object the sync creates
  appears in the graph without a reload.

Screenshots are kept in ``build/ui-screenshots/test_ui_ops_browser/``. Any
Content-Security-Policy violation fails the test.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from driftless.controller.manager import Controller
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    JSON,
    application,
    create_app,
    unique,
    wait_for,
)
from tests.integration.ui_harness import (
    ServerProcess,
    built_ui,
    chromium_executable,
    initial_admin_password,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

#: How long a page may take to show what the test expects (ms): generous, on 2 busy cores.
SEEN = 30_000


def configmap(name: str, wave: int = 0) -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  annotations:
    driftless.dev/sync-wave: "{wave}"
data:
  value: "1"
"""


def unschedulable(name: str) -> str:
    """A Deployment whose Pod no node takes: its wave waits for health (the op stays Running)."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      nodeSelector: {{driftless-test/no-such-node: "yes"}}
      containers: [{{name: main, image: example.invalid/none:1}}]
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(
    devcluster: DevCluster,
    kube: KubeClient,
    controller: Controller,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServerProcess]:
    built_ui()
    log = tmp_path_factory.mktemp("ui-ops-server") / "server.log"
    process = await ServerProcess.start(devcluster.kubeconfig, APPS_NAMESPACE, log)
    yield process
    await process.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True
        )
        yield launched
        await launched.close()


async def _page(browser: Browser, server: ServerProcess, kube: KubeClient, then: str) -> tuple[
    Page, list[str]
]:  # fmt: skip
    """A logged-in page at ``then``; CSP violations land in the list returned."""
    violations: list[str] = []
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()

    def csp(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", csp)
    await page.goto(f"{server.url}{then}")
    await page.get_by_label("Password").fill(await initial_admin_password(kube, APPS_NAMESPACE))
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server.url}{then}", timeout=SEEN)
    return page, violations


def _phase(app: JSON) -> str:
    return str(((app.get("status") or {}).get("operationState") or {}).get("phase") or "")


def _sync(app: JSON) -> str:
    return str(((app.get("status") or {}).get("sync") or {}).get("status") or "")


async def test_terminate_a_running_sync_from_the_app_page(
    server: ServerProcess,
    browser: Browser,
    kube: KubeClient,
    make_git_repo: MakeGitRepo,
    screenshots: Path,
) -> None:
    name = unique("ui-term")
    repo = make_git_repo(
        {"app/deploy.yaml": unschedulable("stuck"), "app/later.yaml": configmap("later", wave=5)}
    )
    await create_app(kube, application(name, repo.url, path="app", automated=False))
    await wait_for(kube, name, lambda a: _sync(a) == "OutOfSync", what="OutOfSync")
    page, violations = await _page(browser, server, kube, f"/applications/{APPS_NAMESPACE}/{name}")
    summary = page.get_by_role("region", name="Summary")
    terminate = page.get_by_role("button", name="Terminate…")
    await expect(terminate).to_have_count(0)  # nothing runs: nothing to terminate

    await page.get_by_role("button", name="Sync…").click()
    dialog = page.get_by_role("dialog", name=f"Sync {name}")
    await dialog.get_by_role("button", name="Start sync").click()
    await expect(dialog).to_be_hidden(timeout=SEEN)
    await expect(terminate).to_be_visible(timeout=SEEN)  # Running: the wave waits for health
    await page.screenshot(path=screenshots / "20-running.png", full_page=True)

    # Cancel changes nothing; confirming stops it.
    await terminate.click()
    confirm = page.get_by_role("dialog", name=f"Terminate the operation of {name}")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_be_hidden()
    assert _phase(await wait_for(kube, name, lambda a: True)) == "Running"
    await terminate.click()
    await confirm.get_by_role("button", name="Terminate").click()
    await expect(confirm).to_be_hidden(timeout=SEEN)
    await expect(page.get_by_role("status")).to_contain_text("Termination requested")
    await expect(summary).to_contain_text("Terminated", timeout=SEEN)
    await expect(terminate).to_have_count(0, timeout=SEEN)
    await page.screenshot(path=screenshots / "21-terminated.png", full_page=True)
    app = await wait_for(kube, name, lambda a: _phase(a) == "Terminated", what="Terminated")
    assert _phase(app) == "Terminated"
    # The wave after the one it waited in never ran.
    assert await kube.get("v1", "ConfigMap", "later", name) is None
    assert violations == []


async def test_sync_one_selected_resource_from_the_dialog(
    server: ServerProcess,
    browser: Browser,
    kube: KubeClient,
    make_git_repo: MakeGitRepo,
    screenshots: Path,
) -> None:
    name = unique("ui-pick")
    repo = make_git_repo({"app/a.yaml": configmap("alpha"), "app/b.yaml": configmap("beta")})
    # A namespace that exists: with CreateNamespace the Namespace would be one more resource.
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    await kube.apply(namespace, field_manager="driftless-tests")
    app = application(name, repo.url, path="app", automated=False, create_namespace=False)
    await create_app(kube, app)
    await wait_for(kube, name, lambda a: _sync(a) == "OutOfSync", what="OutOfSync")
    page, violations = await _page(browser, server, kube, f"/applications/{APPS_NAMESPACE}/{name}")
    graph = page.get_by_role("region", name="Resources")

    await page.get_by_role("button", name="Sync…").click()
    dialog = page.get_by_role("dialog", name=f"Sync {name}")
    everything = dialog.get_by_label("All resources (hooks run)")
    await expect(everything).to_be_checked()
    await everything.uncheck()
    picks = dialog.get_by_role("group", name="Resources to sync")
    alpha = picks.get_by_label(f"ConfigMap {name}/alpha")
    await expect(alpha).to_be_visible(timeout=SEEN)
    await expect(picks.get_by_label(f"ConfigMap {name}/beta")).to_be_visible()
    # Nothing picked: nothing can be started.
    await expect(dialog.get_by_role("button", name="Start sync")).to_be_disabled()
    await alpha.check()
    await page.screenshot(path=screenshots / "30-picked.png", full_page=True)
    await dialog.get_by_role("button", name="Start sync").click()
    await expect(dialog).to_be_hidden(timeout=SEEN)
    await expect(page.get_by_role("status")).to_contain_text("Sync of 1 resource(s)")

    app = await wait_for(kube, name, lambda a: _phase(a) == "Succeeded", what="the sync done")
    synced = app["status"]["operationState"]["operation"]["sync"]["resources"]
    assert synced == [{"group": "", "kind": "ConfigMap", "namespace": name, "name": "alpha"}]
    assert await kube.get("v1", "ConfigMap", "alpha", name) is not None
    assert await kube.get("v1", "ConfigMap", "beta", name) is None
    # The graph follows the app's stream (no reload): alpha Synced, beta still OutOfSync.
    synced_node = graph.get_by_role("link", name=re.compile(r"^ConfigMap alpha\b.*\bSynced"))
    await expect(synced_node).to_be_visible(timeout=SEEN)
    waiting = graph.get_by_role("link", name=re.compile(r"^ConfigMap beta\b.*\bOutOfSync"))
    await expect(waiting).to_be_visible()
    await page.screenshot(path=screenshots / "31-one-synced.png", full_page=True)
    assert violations == []
