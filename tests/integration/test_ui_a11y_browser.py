"""Accessibility of the web UI in Debian's chromium: axe-core on every page, and the
main path done with the keyboard alone.

* ``test_every_page_passes_axe`` visits each page and state the UI has (login,
  the app list as a table and as tiles, an app's overview/tree, diff,
  manifests, list and events views, a node's panel with its tabs, the sync,
  rollback and delete dialogs, the new-app and edit forms, the projects,
  repositories and clusters pages) and runs axe-core there (the npm package
  pinned in ``web/package.json``, read from ``web/node_modules``, never
  downloaded): no violation of impact serious or critical is allowed.
* ``test_the_main_path_by_keyboard_alone`` logs in, filters the list, opens an
  app, opens the sync dialog (focus moves into it and stays there, Escape
  closes it and gives the focus back to its button), opens a tree node's panel
  and closes it, pressing only Tab, Shift+Tab, Enter, Space and Escape; every
  focused control shows a visible focus outline.

axe-core is injected through the DevTools protocol (``page.evaluate`` of its
source), which the page's Content-Security-Policy does not apply to; any CSP
violation the pages report still fails the test.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Locator, Page, async_playwright, expect

from driftless.controller.manager import Controller
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.git import GitRepo, MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import (
    APPS_NAMESPACE,
    JSON,
    application,
    configmap_manifest,
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
AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
#: The impacts that fail the audit (axe's scale: minor, moderate, serious, critical).
FAILING = ("serious", "critical")
#: Tab presses allowed to reach a control: more means it is out of reach in practice.
MAX_TABS = 60


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(
    devcluster: DevCluster,
    kube: KubeClient,
    controller: Controller,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServerProcess]:
    built_ui()
    log = tmp_path_factory.mktemp("ui-a11y-server") / "server.log"
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


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        raise AssertionError(f"axe-core is not installed ({AXE} missing): run npm ci in web/")
    return AXE.read_text()


async def _page(browser: Browser) -> tuple[Page, list[str]]:
    """A page in a fresh context; CSP violations land in the list returned."""
    violations: list[str] = []
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()

    def csp(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", csp)
    return page, violations


def _served_repo(make_git_repo: MakeGitRepo, git_http: GitHttpServer, name: str) -> MadeRepo:
    """A repository with one ConfigMap, served over HTTP: the server plans diffs from its
    own clones and never reads a local path."""
    repo = make_git_repo({"app/settings.yaml": configmap_manifest("settings", {"color": "blue"})})
    return MadeRepo(repo, git_http.publish(repo.path, f"{name}.git"))


async def _synced_app(
    kube: KubeClient, make_git_repo: MakeGitRepo, git_http: GitHttpServer, prefix: str
) -> tuple[str, str]:
    """An app synced twice (two history entries, so a rollback is offered); its name and
    its first revision."""
    name = unique(prefix)
    served = _served_repo(make_git_repo, git_http, name)
    repo = served.repo
    first = repo.head()
    await create_app(kube, application(name, served.url, path="app", interval="3s"))
    await wait_for(kube, name, lambda a: len(_history(a)) >= 1, what="synced once")
    repo.commit({"app/settings.yaml": configmap_manifest("settings", {"color": "green"})})
    await wait_for(kube, name, lambda a: len(_history(a)) >= 2, what="synced twice")
    return name, first


def _sync(app: JSON) -> str:
    return str(((app.get("status") or {}).get("sync") or {}).get("status") or "")


@dataclass(frozen=True)
class MadeRepo:
    repo: GitRepo
    url: str


def _history(app: JSON) -> list[JSON]:
    return list((app.get("status") or {}).get("history") or [])


async def _axe(page: Page, source: str, where: str, found: dict[str, set[str]]) -> list[str]:
    """Run axe-core on the page as it is; record every rule it reports under ``found``
    (rule id → where); the serious and critical violations, described."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(source)
    violations: list[JSON] = await page.evaluate(
        """async () => {
            const result = await window.axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
            }));
        }"""
    )
    for violation in violations:
        found.setdefault(str(violation["id"]), set()).add(where)
        rule, impact, targets = violation["id"], violation["impact"], violation["targets"]
        print(f"axe-core on {where}: {rule} ({impact}) at {targets}")
    return [
        f"{where}: {v['id']} ({v['impact']}): {v['help']} at {v['targets']}"
        for v in violations
        if v["impact"] in FAILING
    ]


async def _log_in(page: Page, server: ServerProcess, kube: KubeClient, then: str) -> None:
    await page.get_by_label("Password").fill(await initial_admin_password(kube, APPS_NAMESPACE))
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server.url}{then}", timeout=SEEN)


async def test_every_page_passes_axe(
    server: ServerProcess,
    browser: Browser,
    kube: KubeClient,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
    axe_source: str,
    screenshots: Path,
    record_property: pytest.RecordProperty,
) -> None:
    # An app never synced: its diff has differences and its tree a missing object.
    manual = unique("a11y-manual")
    manual_url = _served_repo(make_git_repo, git_http_server, manual).url
    await create_app(kube, application(manual, manual_url, path="app", automated=False))
    name, first = await _synced_app(kube, make_git_repo, git_http_server, "a11y")
    await wait_for(kube, manual, lambda a: _sync(a) == "OutOfSync", what="OutOfSync")
    page, csp = await _page(browser)
    found: dict[str, set[str]] = {}
    failing: list[str] = []
    app_url = f"/applications/{APPS_NAMESPACE}/{name}"

    async def audit(where: str, ready: Locator) -> None:
        try:
            await expect(ready).to_be_visible(timeout=SEEN)
        finally:
            await page.screenshot(path=screenshots / f"{where}.png")
        failing.extend(await _axe(page, axe_source, where, found))

    await page.goto(f"{server.url}/login")
    await audit("login", page.get_by_role("heading", name="Log in to driftless"))
    await page.get_by_label("Username").fill("admin")
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Log in").click()
    await audit("login-refused", page.get_by_role("alert"))
    await _log_in(page, server, kube, "/applications")

    table = page.get_by_role("table", name="Applications")
    await page.goto(f"{server.url}/applications?search={name}")
    await audit("list-table", table.get_by_role("link", name=name))
    await page.goto(f"{server.url}/applications?search={name}&view=tiles")
    await audit("list-tiles", page.get_by_role("listitem").get_by_role("link", name=name))

    await page.goto(f"{server.url}{app_url}")
    graph = page.get_by_role("group", name="Resource tree")
    await audit("app-overview-tree", graph.get_by_role("link").first)
    await page.get_by_role("tab", name="List").click()
    await audit("app-resources-list", page.get_by_role("cell", name="settings", exact=True))
    await page.get_by_role("tab", name="Events").click()
    await audit("app-events", page.get_by_role("tab", name="Events", selected=True))
    await page.get_by_role("tab", name="Tree").click()

    await graph.get_by_role("link").filter(has_text="settings").click()
    panel = page.get_by_role("region", name="ConfigMap")
    await audit("node-panel-live", page.get_by_label("Manifest of", exact=False))
    for tab in ("Diff", "Manifests"):
        await panel.get_by_role("tab", name=tab).click()
        await audit(f"node-panel-{tab.lower()}", panel.get_by_role("tab", name=tab, selected=True))

    await page.goto(f"{server.url}{app_url}?view=diff")
    await audit("app-diff", page.get_by_text("No differences"))
    await page.goto(f"{server.url}{app_url}?view=manifests")
    await audit("app-manifests", page.get_by_text("kind: ConfigMap").first)

    manual_page = f"/applications/{APPS_NAMESPACE}/{manual}"
    await page.goto(f"{server.url}{manual_page}")
    await audit(
        "app-out-of-sync-tree", graph.get_by_role("link", name="ConfigMap settings Missing")
    )
    await page.goto(f"{server.url}{manual_page}?view=diff")
    diff = page.get_by_role("region", name="Diff")
    await audit("app-out-of-sync-diff", diff.get_by_role("heading", level=3).first)

    await page.goto(f"{server.url}{app_url}")
    await page.get_by_role("button", name="Sync…").click()
    await audit("sync-dialog", page.get_by_role("dialog", name=f"Sync {name}"))
    await page.get_by_role("dialog").get_by_label("All resources").uncheck()
    await audit("sync-dialog-resources", page.get_by_role("group", name="Resources to sync"))
    await page.keyboard.press("Escape")
    history = page.get_by_role("region", name="History")
    await history.get_by_role("button", name=f"Roll back to {first[:8]}").click()
    await audit("rollback-dialog", page.get_by_role("dialog", name=f"Roll back {name}"))
    await page.keyboard.press("Escape")
    await page.get_by_role("button", name="Delete…").click()
    await audit("delete-dialog", page.get_by_role("dialog", name=f"Delete {name}"))
    await page.keyboard.press("Escape")

    await page.goto(f"{server.url}/applications/new")
    await audit("new-app-form", page.get_by_role("button", name="Create"))
    await page.get_by_role("button", name="Create").click()
    await audit("new-app-form-refused", page.get_by_role("alert").first)
    await page.goto(f"{server.url}{app_url}/edit")
    await audit("edit-form", page.get_by_role("button", name="Save"))

    for where, path, ready in (
        ("projects", "/projects", page.get_by_role("link", name="default")),
        ("project", "/projects/default", page.get_by_role("heading", name="default")),
        ("repositories", "/repositories", page.get_by_role("heading", name="Repositories")),
        ("clusters", "/clusters", page.get_by_role("heading", name="Clusters")),
        ("not-found", "/nowhere", page.get_by_role("heading", name="Page not found")),
        ("unknown-app", f"/applications/{APPS_NAMESPACE}/no-such-app", page.get_by_role("alert")),
    ):
        await page.goto(f"{server.url}{path}")
        await audit(where, ready.first)

    summary = ", ".join(f"{rule} ({len(pages)} pages)" for rule, pages in sorted(found.items()))
    record_property("axe_rules_found", summary or "none")
    print(f"axe-core rules reported: {summary or 'none'}")
    assert not failing, "serious or critical violations:\n" + "\n".join(failing)
    assert not csp, csp


async def _tab_to(page: Page, target: Locator, *, back: bool = False) -> None:
    """Press Tab (Shift+Tab with ``back``) until ``target`` has the focus; fail if it
    takes more than MAX_TABS presses or if a focused control shows no focus outline."""
    for _ in range(MAX_TABS):
        await page.keyboard.press("Shift+Tab" if back else "Tab")
        await _assert_focus_visible(page)
        if await target.evaluate("e => e === document.activeElement"):
            return
    raise AssertionError(f"{target} not reached in {MAX_TABS} presses of Tab")


async def _assert_focus_visible(page: Page) -> None:
    """The focused element (if any) draws an outline or a box-shadow: a sighted keyboard
    user sees where the focus is."""
    shown = await page.evaluate(
        """() => {
            const e = document.activeElement;
            if (e === null || e === document.body) return true;
            const style = getComputedStyle(e);
            const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
            return outline || style.boxShadow !== "none";
        }"""
    )
    described = await page.evaluate(
        "() => document.activeElement?.outerHTML.slice(0, 160) ?? 'nothing'"
    )
    assert shown, f"the focused element shows no focus outline: {described}"


async def _focused_inside(page: Page, container: Locator) -> bool:
    return bool(await container.evaluate("e => e.contains(document.activeElement)"))


async def test_the_main_path_by_keyboard_alone(
    server: ServerProcess,
    browser: Browser,
    kube: KubeClient,
    make_git_repo: MakeGitRepo,
    screenshots: Path,
) -> None:
    name = unique("a11y-keys")
    repo = make_git_repo({"app/settings.yaml": configmap_manifest("settings", {"color": "blue"})})
    await create_app(kube, application(name, repo.url, path="app"))
    await wait_for(kube, name, lambda a: len(_history(a)) >= 1, what="synced")
    page, csp = await _page(browser)
    password = await initial_admin_password(kube, APPS_NAMESPACE)

    # Log in: Tab to each field, type, Enter submits.
    await page.goto(f"{server.url}/login")
    await _tab_to(page, page.get_by_label("Username"))
    await page.keyboard.type("admin")
    await _tab_to(page, page.get_by_label("Password"))
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{server.url}/applications", timeout=SEEN)

    # Filter the list by name, then open the app from its link.
    await _tab_to(page, page.get_by_label("Search by name"))
    await page.keyboard.type(name)
    table = page.get_by_role("table", name="Applications")
    link = table.get_by_role("link", name=name)
    await expect(link).to_be_visible(timeout=SEEN)
    await _tab_to(page, link)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{server.url}/applications/{APPS_NAMESPACE}/{name}")

    # The sync dialog: Enter opens it with the focus inside; Tab and Shift+Tab go round
    # inside it; Escape closes it and the focus is back on its button.
    sync = page.get_by_role("button", name="Sync…")
    await expect(sync).to_be_visible(timeout=SEEN)
    await _tab_to(page, sync)
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=f"Sync {name}")
    await expect(dialog).to_be_visible()
    assert await dialog.get_attribute("aria-modal") == "true"
    assert await _focused_inside(page, dialog), "opening the dialog left the focus outside it"
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 12:
        await page.keyboard.press(key)
        await _assert_focus_visible(page)
        assert await _focused_inside(page, dialog), f"{key} took the focus out of the dialog"
    await dialog.get_by_label("Prune").focus()
    await page.keyboard.press("Space")
    await expect(dialog.get_by_label("Prune")).to_be_checked()
    await page.screenshot(path=screenshots / "keys-01-sync-dialog.png")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(sync).to_be_focused()

    # A tree node: Tab reaches it, Enter opens its panel (focus on its title), Escape
    # closes the panel and gives the focus back to the node.
    node = (
        page.get_by_role("group", name="Resource tree")
        .get_by_role("link")
        .filter(has_text="settings")
    )
    await expect(node).to_be_visible(timeout=SEEN)
    # Its status colour is also said in words, in the name a screen reader reads out.
    await expect(node).to_have_accessible_name(re.compile(r"ConfigMap settings.*Synced"))
    await _tab_to(page, node)
    await page.keyboard.press("Enter")
    panel = page.get_by_role("region", name="ConfigMap")
    await expect(panel).to_be_visible(timeout=SEEN)
    await expect(panel.get_by_role("heading", level=3)).to_be_focused()
    await page.screenshot(path=screenshots / "keys-02-node-panel.png")
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden(timeout=SEEN)
    await expect(node).to_be_focused()
    assert not csp, csp
