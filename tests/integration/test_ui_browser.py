"""The web UI in a real browser: Debian's chromium, driven by Playwright, against
``driftless server`` on the dev cluster with the real controller.

Each page visited is kept as a screenshot in
``build/ui-screenshots/test_ui_browser/``, and the time from navigation to the app list being
interactive (the UI's ``driftless:list-interactive`` performance mark) is
recorded as the test's ``list_interactive_ms`` property.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    Route,
    async_playwright,
    expect,
)

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import (
    APPS_NAMESPACE,
    JSON,
    application,
    create_app,
    get_app,
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

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(
    devcluster: DevCluster,
    kube: KubeClient,
    controller: Controller,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServerProcess]:
    """``driftless server`` on a free loopback port, for this module's tests."""
    built_ui()
    log = tmp_path_factory.mktemp("ui-server") / "server.log"
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


async def _new_page(browser: Browser, dialogs: list[str]) -> Page:
    """A page in a fresh context; any dialog it opens (an injected alert()) lands in ``dialogs``,
    and so does any Content-Security-Policy violation the browser reports."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()

    async def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    def csp_violation(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            dialogs.append(f"CSP: {message.text}")

    page.on("dialog", record)
    page.on("console", csp_violation)
    return page


def _synced(app: JSON) -> str:
    return str(((app.get("status") or {}).get("sync") or {}).get("status") or "")


async def test_log_in_list_filter_and_open_an_app(
    server: ServerProcess,
    browser: Browser,
    kube: KubeClient,
    make_git_repo: MakeGitRepo,
    screenshots: Path,
    record_property: pytest.RecordProperty,
) -> None:
    prefix = unique("ui")
    repo = make_git_repo({"app/settings.yaml": CONFIGMAP})
    synced, manual = f"{prefix}-auto", f"{prefix}-manual"
    await create_app(kube, application(synced, repo.url, path="app"))
    await create_app(kube, application(manual, repo.url, path="app", automated=False))
    await wait_for(kube, synced, lambda a: _synced(a) == "Synced", what="Synced")
    await wait_for(kube, manual, lambda a: _synced(a) == "OutOfSync", what="OutOfSync")

    dialogs: list[str] = []
    page = await _new_page(browser, dialogs)
    # A login link whose `next` points elsewhere must land on this server's list.
    await page.goto(f"{server.url}/login?next=https://evil.invalid/")
    await expect(page.get_by_role("heading", name="Log in to driftless")).to_be_visible(
        timeout=SEEN
    )
    await page.get_by_label("Username").fill("admin")
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Cannot log in", timeout=SEEN)
    await page.screenshot(path=screenshots / "01-login-refused.png", full_page=True)

    await page.get_by_label("Password").fill(await initial_admin_password(kube, APPS_NAMESPACE))
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server.url}/applications", timeout=SEEN)
    await expect(page.get_by_text("Signed in as")).to_contain_text("admin")

    # The list, narrowed to this test's apps by a deep link.
    await page.goto(f"{server.url}/applications?search={prefix}")
    table = page.get_by_role("table", name="Applications")
    await expect(table.get_by_role("link", name=synced)).to_be_visible(timeout=SEEN)
    await expect(table.get_by_role("link", name=manual)).to_be_visible()
    await expect(page.get_by_text("2 applications match the filters")).to_be_visible()
    interactive = await page.evaluate(
        "() => performance.getEntriesByName('driftless:list-interactive')[0]?.startTime ?? null"
    )
    assert interactive is not None, "the list never set its interactive mark"
    record_property("list_interactive_ms", round(interactive))
    print(f"list interactive {interactive:.0f} ms after navigation")
    await page.screenshot(path=screenshots / "02-list.png")

    # Filter by sync status, with the keyboard: the URL keeps the filter, only the
    # OutOfSync app is left.
    await page.get_by_label(re.compile(r"^OutOfSync")).focus()
    await page.keyboard.press("Space")
    await expect(page).to_have_url(re.compile(r"sync=OutOfSync"), timeout=SEEN)
    await expect(table.get_by_role("link", name=synced)).to_have_count(0, timeout=SEEN)
    await expect(table.get_by_role("link", name=manual)).to_be_visible()
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=manual))
    await expect(row).to_contain_text("OutOfSync")
    await page.screenshot(path=screenshots / "03-list-out-of-sync.png")

    await page.get_by_role("button", name="Tiles").click()
    await expect(page).to_have_url(re.compile(r"view=tiles"))
    tile = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=manual))
    await expect(tile).to_contain_text("OutOfSync", timeout=SEEN)
    await page.screenshot(path=screenshots / "04-tiles.png")

    # The app page, from the list (keyboard again).
    await tile.get_by_role("link", name=manual).focus()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{server.url}/applications/{APPS_NAMESPACE}/{manual}")
    await expect(page.get_by_role("heading", name=manual, exact=True)).to_be_visible()
    summary = page.get_by_role("region", name="Summary")
    await expect(summary).to_contain_text("OutOfSync", timeout=SEEN)
    await expect(summary).to_contain_text(repo.url)
    await expect(page.get_by_role("region", name="History")).to_contain_text("Never synced")
    await page.screenshot(path=screenshots / "05-app-out-of-sync.png", full_page=True)

    # Back keeps the filtered list; a deep link opens the synced app with its history.
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"sync=OutOfSync.*view=tiles"))
    revision = _revision(await get_app(kube, synced))
    await page.goto(f"{server.url}/applications/{APPS_NAMESPACE}/{synced}")
    conditions = page.get_by_role("region", name="Conditions")
    await expect(conditions.get_by_role("row").filter(has_text="Ready")).to_contain_text(
        "True", timeout=SEEN
    )
    history = page.get_by_role("region", name="History")
    await expect(history).to_contain_text(revision[:8])
    await expect(page.get_by_role("region", name="Resources")).to_contain_text("settings")
    await page.screenshot(path=screenshots / "06-app-synced.png", full_page=True)

    # Live, with no reload: a sync asked for elsewhere shows on the open app page...
    await page.goto(f"{server.url}/applications/{APPS_NAMESPACE}/{manual}")
    summary = page.get_by_role("region", name="Summary")
    await expect(summary).to_contain_text("OutOfSync", timeout=SEEN)
    await page.evaluate("() => { window.stillTheSamePage = true }")
    sync = f"{server.url}/api/v1/applications/{APPS_NAMESPACE}/{manual}/sync"
    answer = await page.request.post(sync, data={})
    assert answer.status == 202, await answer.text()
    await expect(summary).to_contain_text("Synced", timeout=SEEN)  # was OutOfSync
    await expect(history).to_contain_text(revision[:8], timeout=SEEN)
    assert await page.evaluate("() => window.stillTheSamePage === true"), "the page reloaded"
    await page.screenshot(path=screenshots / "08-app-live.png", full_page=True)

    # ... and an app deleted elsewhere leaves the open list.
    await page.goto(f"{server.url}/applications?search={prefix}")
    await expect(table.get_by_role("link", name=synced)).to_be_visible(timeout=SEEN)
    await expect(page.get_by_role("status").filter(has_text="Live")).to_have_text(
        "Live", timeout=SEEN
    )
    await page.evaluate("() => { window.stillTheSamePage = true }")
    await kube.delete(API_VERSION, APPLICATION_KIND, synced, APPS_NAMESPACE)
    await expect(table.get_by_role("link", name=synced)).to_have_count(0, timeout=SEEN)
    await expect(page.get_by_text("1 application matches the filters")).to_be_visible()
    assert await page.evaluate("() => window.stillTheSamePage === true"), "the page reloaded"
    await page.screenshot(path=screenshots / "09-list-live.png")
    assert dialogs == [], f"the page opened dialogs: {dialogs}"
    await page.context.close()


async def test_sync_and_roll_back_from_the_app_page(
    server: ServerProcess,
    browser: Browser,
    kube: KubeClient,
    make_git_repo: MakeGitRepo,
    screenshots: Path,
) -> None:
    name = unique("ui-ops")
    repo = make_git_repo({"app/settings.yaml": CONFIGMAP})
    first = repo.head()
    await create_app(kube, application(name, repo.url, path="app", automated=False))
    await wait_for(kube, name, lambda a: _synced(a) == "OutOfSync", what="OutOfSync")

    dialogs: list[str] = []
    page = await _new_page(browser, dialogs)
    streams: list[str] = []  # the app page's Server-Sent Event streams
    page.on("request", lambda r: streams.append(r.url) if r.url.endswith("/stream") else None)
    await _log_in(page, server, kube, f"/applications/{APPS_NAMESPACE}/{name}")
    summary = page.get_by_role("region", name="Summary")
    history = page.get_by_role("region", name="History")
    await expect(summary).to_contain_text("OutOfSync", timeout=SEEN)

    # Its stream refused (a restarting server, too many streams): the page says so, keeps
    # what it loaded, and is live again by itself once the stream is back.
    app_stream = f"**/api/v1/applications/{APPS_NAMESPACE}/{name}/stream"

    async def refuse(route: Route) -> None:
        await route.fulfill(status=503, content_type="application/json", body="{}")

    await page.route(app_stream, refuse)
    await page.reload()
    paused = page.get_by_text("Live updates paused, retrying")
    await expect(paused).to_be_visible(timeout=SEEN)
    await expect(summary).to_contain_text("OutOfSync")
    await page.unroute(app_stream, refuse)
    await expect(paused).to_be_hidden(timeout=SEEN)

    # A refused request keeps the dialog open with the server's reason, and changes nothing.
    await page.get_by_role("button", name="Sync…").click()
    dialog = page.get_by_role("dialog", name=f"Sync {name}")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Revision").fill("--upload-pack=touch /tmp/owned")
    await dialog.get_by_role("button", name="Start sync").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("Cannot sync", timeout=SEEN)
    await expect(dialog.get_by_role("alert")).to_contain_text("revision")
    await page.screenshot(path=screenshots / "10-sync-refused.png")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    assert ((await get_app(kube, name)).get("operation")) is None

    # Sync: the page follows the operation to Synced, with its history entry.
    await page.get_by_role("button", name="Sync…").click()
    await dialog.get_by_label("Revision").fill("")
    await dialog.get_by_role("button", name="Start sync").click()
    await expect(dialog).to_be_hidden(timeout=SEEN)
    await expect(page.get_by_role("status")).to_contain_text("requested")
    await expect(summary).to_contain_text("Synced", timeout=SEEN)  # was OutOfSync
    await expect(history).to_contain_text(first[:8], timeout=SEEN)
    # What the sync did, object by object, stays shown after it ended.
    done = page.get_by_role("table", name="Operation resources")
    settings = re.compile(rf"ConfigMap\s+{name}\/settings\s+Synced")  # / escaped: a selector
    await expect(done.get_by_role("row", name=settings)).to_be_visible()
    # One stream per app page: the app's own (its summary, operation, tree, Events).
    assert streams and {u.split("/api/v1/", 1)[1] for u in streams} == {
        f"applications/{APPS_NAMESPACE}/{name}/stream"
    }, streams

    # A second revision, synced by its commit id; then roll back to the first.
    second = repo.commit({"app/settings.yaml": CONFIGMAP.replace("blue", "green")})
    await page.get_by_role("button", name="Sync…").click()
    await dialog.get_by_label("Revision").fill(second)
    await dialog.get_by_role("button", name="Start sync").click()
    await expect(dialog).to_be_hidden(timeout=SEEN)
    rows = history.get_by_role("row")
    await expect(rows).to_have_count(3, timeout=SEEN)  # the header and two entries
    await expect(rows.nth(1)).to_contain_text(second[:8])
    await page.screenshot(path=screenshots / "11-synced-twice.png", full_page=True)

    await history.get_by_role("button", name=f"Roll back to {first[:8]}").click()
    confirm = page.get_by_role("dialog", name=f"Roll back {name}")
    await confirm.get_by_role("button", name="Roll back").click()
    await expect(confirm).to_be_hidden(timeout=SEEN)
    await expect(rows).to_have_count(4, timeout=SEEN)
    await expect(rows.nth(1)).to_contain_text(first[:8])
    # The operation synced the first revision; main has moved on, so the app is OutOfSync.
    await expect(summary).to_contain_text(f"Succeeded ({first[:8]})", timeout=SEEN)
    await expect(summary).to_contain_text("OutOfSync")
    await page.screenshot(path=screenshots / "12-rolled-back.png", full_page=True)

    # Refresh; then delete the app but keep its objects: the list no longer has it.
    await page.get_by_role("button", name="Refresh").click()
    await expect(page.get_by_role("status")).to_contain_text("Refresh requested", timeout=SEEN)
    await page.get_by_role("button", name="Delete…").click()
    confirm = page.get_by_role("dialog", name=f"Delete {name}")
    await confirm.get_by_label(re.compile(r"\(cascade\)")).uncheck()
    await confirm.get_by_role("button", name="Delete", exact=True).click()
    await expect(page).to_have_url(f"{server.url}/applications", timeout=SEEN)
    await page.goto(f"{server.url}/applications?search={name}")
    await expect(page.get_by_text("No application matches these filters.")).to_be_visible(
        timeout=SEEN
    )
    assert await kube.get("v1", "ConfigMap", "settings", name) is not None, "cascade ran"
    assert dialogs == [], f"the page opened dialogs: {dialogs}"
    await page.context.close()


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: example.com/web:1.0
"""


async def test_resource_tree_node_manifest_events_and_deep_links(
    server: ServerProcess,
    browser: Browser,
    kube: KubeClient,
    make_git_repo: MakeGitRepo,
    screenshots: Path,
) -> None:
    name = unique("ui-tree")
    repo = make_git_repo({"app/web.yaml": DEPLOYMENT, "app/settings.yaml": CONFIGMAP})
    await create_app(kube, application(name, repo.url, path="app", automated=False))
    await wait_for(kube, name, lambda a: _synced(a) == "OutOfSync", what="OutOfSync")

    dialogs: list[str] = []
    page = await _new_page(browser, dialogs)
    page_url = f"/applications/{APPS_NAMESPACE}/{name}"
    await _log_in(page, server, kube, page_url)

    # Not synced yet: the managed objects are nodes, Missing and OutOfSync.
    graph = page.get_by_role("group", name="Resource tree")
    deployment = graph.get_by_role("link", name=re.compile(r"^Deployment web\b"))
    await expect(deployment).to_contain_text("Missing", timeout=SEEN)
    await expect(deployment).to_contain_text("OutOfSync")
    await page.screenshot(path=screenshots / "13-tree-missing.png", full_page=True)

    # Synced elsewhere, the open page follows (no reload): Deployment -> ReplicaSet -> two
    # Pods, each with its health as text.
    await page.evaluate("() => { window.stillTheSamePage = true }")
    sync = f"{server.url}/api/v1/applications/{APPS_NAMESPACE}/{name}/sync"
    answer = await page.request.post(sync, data={})
    assert answer.status == 202, await answer.text()
    replicaset = graph.get_by_role("link", name=re.compile(r"^ReplicaSet web-"))
    pods = graph.get_by_role("link", name=re.compile(r"^Pod web-"))
    await expect(deployment).to_contain_text("Healthy", timeout=SEEN)
    await expect(deployment).to_contain_text("Synced")
    await expect(replicaset).to_contain_text("Healthy", timeout=SEEN)
    await expect(pods).to_have_count(2, timeout=SEEN)
    for at in range(2):
        await expect(pods.nth(at)).to_contain_text("Healthy", timeout=SEEN)
    configmap = graph.get_by_role("link", name=re.compile(r"^ConfigMap settings\b"))
    await expect(configmap).to_be_visible()
    # Left to right: the Deployment, then its ReplicaSet, then the Pods.
    columns = [await _left(node) for node in (deployment, replicaset, pods.first)]
    assert columns == sorted(set(columns)), f"not laid out left to right: {columns}"
    assert await page.evaluate("() => window.stillTheSamePage === true"), "the page reloaded"
    await page.screenshot(path=screenshots / "14-tree.png", full_page=True)

    # A node, with the keyboard: its URL, its live manifest and its events.
    await deployment.focus()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(
        f"{server.url}{page_url}?resource=apps/Deployment/{name}/web", timeout=SEEN
    )
    panel = page.get_by_role("region", name=f"Deployment {name}/web")
    manifest = panel.get_by_label(f"Manifest of Deployment {name}/web")
    await expect(manifest).to_contain_text(
        re.compile(r"^\s*apiVersion: apps/v1\s+kind: Deployment\s+metadata:"), timeout=SEEN
    )
    await expect(manifest).to_contain_text("replicas: 2")
    await expect(manifest).not_to_contain_text("managedFields")
    await expect(panel).to_contain_text("ScalingReplicaSet", timeout=SEEN)
    await page.screenshot(path=screenshots / "15-tree-deployment.png", full_page=True)
    await page.keyboard.press("Escape")
    await expect(page).to_have_url(f"{server.url}{page_url}", timeout=SEEN)
    await expect(panel).to_be_hidden()
    await expect(deployment).to_be_focused()  # back where the keyboard user was

    # The app's Events tab.
    await page.get_by_role("tab", name="Events").click()
    await expect(page).to_have_url(f"{server.url}{page_url}?tab=events")
    events = page.get_by_role("table", name=f"Events of {name}")
    await expect(events).to_contain_text("ScalingReplicaSet", timeout=SEEN)
    await page.screenshot(path=screenshots / "16-events.png", full_page=True)

    # Deep links: straight to a node; to an object outside the tree; a hostile one.
    await page.goto(f"{server.url}{page_url}?resource=/ConfigMap/{name}/settings")
    panel = page.get_by_role("region", name=f"ConfigMap {name}/settings")
    await expect(panel.get_by_label(re.compile("^Manifest of"))).to_contain_text(
        "color: blue", timeout=SEEN
    )
    await expect(panel.get_by_role("heading", name=f"ConfigMap {name}/settings")).to_be_focused()
    await page.screenshot(path=screenshots / "17-tree-deep-link.png", full_page=True)
    await page.goto(f"{server.url}{page_url}?resource=/Secret/kube-system/not-in-the-app")
    await expect(page.get_by_role("alert")).to_contain_text(
        "Secret kube-system/not-in-the-app is not part of this application's tree", timeout=SEEN
    )
    await page.goto(f"{server.url}{page_url}?resource=/Pod/{name}/<img src=x onerror=alert(1)>")
    await expect(deployment).to_be_visible(timeout=SEEN)
    assert await page.get_by_role("region", name=re.compile(r"^Pod ")).count() == 0
    assert await page.locator("img[src=x]").count() == 0
    assert dialogs == [], f"the page opened dialogs: {dialogs}"
    await page.context.close()


async def test_an_out_of_band_change_shows_in_the_diff_then_sync_and_roll_back(
    server: ServerProcess,
    browser: Browser,
    kube: KubeClient,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
    screenshots: Path,
) -> None:
    """The issue's scenario: drift -> OutOfSync -> the Diff view -> Sync -> Synced -> roll back."""
    name = unique("ui-diff")
    repo = make_git_repo({"app/settings.yaml": CONFIGMAP})
    first = repo.head()
    # Over HTTP: the server plans diffs from its own clones and never reads a local path.
    url = git_http_server.publish(repo.path, f"{name}.git")
    await create_app(kube, application(name, url, path="app", automated=False))
    dialogs: list[str] = []
    page = await _new_page(browser, dialogs)
    await _log_in(page, server, kube, f"/applications?search={name}")

    # Two synced revisions (the first, then a second), so there is one to roll back to.
    # Each by its commit id: the Sync from the dialog below (no revision) is another request.
    sync = f"{server.url}/api/v1/applications/{APPS_NAMESPACE}/{name}/sync"

    async def sync_to(wanted: str) -> None:
        await wait_for(kube, name, lambda a: not a.get("operation"), what="no operation")
        answer = await page.request.post(sync, data={"revision": wanted})
        assert answer.status == 202, await answer.text()
        await wait_for(
            kube, name, lambda a: _synced(a) == "Synced" and _revision(a) == wanted,
            what=f"Synced at {wanted[:8]}",
        )  # fmt: skip

    await sync_to(first)
    second = repo.commit({"app/settings.yaml": CONFIGMAP.replace("blue", "green")})
    await sync_to(second)

    # Out of band: someone edits the ConfigMap; the list and the page say OutOfSync.
    await kube.merge_patch(
        "v1", "ConfigMap", "settings", {"data": {"color": "red"}}, namespace=name
    )
    table = page.get_by_role("table", name="Applications")
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=name))
    await expect(row).to_contain_text("OutOfSync", timeout=SEEN)
    await page.screenshot(path=screenshots / "diff-01-list-out-of-sync.png")
    await row.get_by_role("link", name=name).click()
    summary = page.get_by_role("region", name="Summary")
    await expect(summary).to_contain_text("OutOfSync", timeout=SEEN)
    await page.screenshot(path=screenshots / "diff-02-app-out-of-sync.png", full_page=True)

    # The Diff view: exactly the changed field, coloured; unchanged resources on request.
    views = page.get_by_role("tablist", name="Application views")
    await views.get_by_role("tab", name="Diff").click()
    await expect(page).to_have_url(re.compile(r"view=diff"))
    label = f"ConfigMap {name}/settings"
    diff = page.get_by_label(f"Diff of {label}")
    await expect(diff).to_be_visible(timeout=SEEN)
    await expect(diff.locator(".diff-remove")).to_have_text(["-  color: red"])
    await expect(diff.locator(".diff-add")).to_have_text(["+  color: green"])
    await expect(page.get_by_role("article", name=f"{label}: changed")).to_be_visible()
    namespace = page.get_by_role("article", name=f"Namespace {name}: unchanged")
    await expect(namespace).to_have_count(0)
    await page.get_by_label("Show unchanged").check()
    await expect(page).to_have_url(re.compile(r"unchanged=1"))
    await expect(namespace).to_be_visible()
    await page.screenshot(path=screenshots / "diff-03-diff.png", full_page=True)

    # Sync from the dialog: the diff empties, the app is Synced and Healthy.
    await page.get_by_role("button", name="Sync…").click()
    dialog = page.get_by_role("dialog", name=f"Sync {name}")
    await dialog.get_by_role("button", name="Start sync").click()
    await expect(dialog).to_be_hidden(timeout=SEEN)
    await expect(page.get_by_text("No differences: the cluster matches git.")).to_be_visible(
        timeout=SEEN
    )
    await page.screenshot(path=screenshots / "diff-04-diff-after-sync.png", full_page=True)
    await views.get_by_role("tab", name="Overview").click()
    await expect(summary).to_contain_text("Synced", timeout=SEEN)
    await expect(summary).to_contain_text("Healthy", timeout=SEEN)
    await page.screenshot(path=screenshots / "diff-05-synced-healthy.png", full_page=True)

    # Roll back to the first revision from the history: it lands in the cluster and the diff.
    history = page.get_by_role("region", name="History")
    await history.get_by_role("button", name=f"Roll back to {first[:8]}").click()
    confirm = page.get_by_role("dialog", name=f"Roll back {name}")
    await confirm.get_by_role("button", name="Roll back").click()
    await expect(confirm).to_be_hidden(timeout=SEEN)
    await expect(summary).to_contain_text(f"Succeeded ({first[:8]})", timeout=SEEN)
    await expect(history.get_by_role("row").nth(1)).to_contain_text(first[:8])
    live = await kube.get("v1", "ConfigMap", "settings", name)
    assert live is not None and live["data"] == {"color": "blue"}, live
    await page.screenshot(path=screenshots / "diff-06-rolled-back.png", full_page=True)
    await views.get_by_role("tab", name="Diff").click()
    await expect(diff.locator(".diff-remove")).to_have_text(["-  color: blue"], timeout=SEEN)
    await expect(diff.locator(".diff-add")).to_have_text(["+  color: green"])
    await page.screenshot(path=screenshots / "diff-07-diff-after-rollback.png", full_page=True)

    # The node panel's Diff and its manifest at the second revision, by deep link.
    node = f"?resource=/ConfigMap/{name}/settings"
    await page.goto(f"{server.url}/applications/{APPS_NAMESPACE}/{name}{node}&panel=diff")
    panel = page.get_by_role("region", name=label)
    await expect(panel.get_by_label(f"Diff of {label}").locator(".diff-add")).to_have_text(
        ["+  color: green"], timeout=SEEN
    )
    await panel.get_by_role("tab", name="Manifests").click()
    await panel.get_by_label("Revision").fill(first)
    await panel.get_by_role("button", name="Show manifests").click()
    await expect(page).to_have_url(re.compile(rf"panel=manifests.*revision={first}"))
    rendered = panel.get_by_label(f"Rendered manifest of {label}")
    await expect(rendered).to_contain_text("color: blue", timeout=SEEN)
    await panel.get_by_label("Revision").fill(second)
    await panel.get_by_role("button", name="Show manifests").click()
    await expect(rendered).to_contain_text("color: green", timeout=SEEN)
    await page.screenshot(path=screenshots / "diff-08-panel-manifest.png", full_page=True)
    assert dialogs == [], f"the page opened dialogs: {dialogs}"
    await page.context.close()


async def _left(node: Locator) -> float:
    box = await node.bounding_box()
    assert box is not None, "the node is not shown"
    return box["x"]


async def _log_in(page: Page, server: ServerProcess, kube: KubeClient, then: str) -> None:
    """Open ``then`` and log in on the login page it sends to; wait until it is back there."""
    await page.goto(f"{server.url}{then}")
    await page.get_by_label("Password").fill(await initial_admin_password(kube, APPS_NAMESPACE))
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server.url}{then}", timeout=SEEN)


async def test_bad_links_show_a_message(
    server: ServerProcess, browser: Browser, kube: KubeClient, screenshots: Path
) -> None:
    dialogs: list[str] = []
    page = await _new_page(browser, dialogs)
    await _log_in(page, server, kube, "/applications")

    # Markup in a deep link's filters is text, never markup or script.
    hostile = "<img src=x onerror=alert(1)>"
    await page.goto(
        f"{server.url}/applications?search={hostile}&sync=<script>alert(2)</script>&sort=evil"
    )
    await expect(page.get_by_label("Search by name")).to_have_value(hostile, timeout=SEEN)
    await expect(page.get_by_text("No application matches these filters.")).to_be_visible(
        timeout=SEEN
    )
    assert await page.locator("img[src=x]").count() == 0
    assert dialogs == [], f"markup from the URL ran: {dialogs}"

    # An app that does not exist: the server's reason, not a blank page.
    missing = unique("no-such-app")
    await page.goto(f"{server.url}/applications/{APPS_NAMESPACE}/{missing}")
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text(f"Cannot show {APPS_NAMESPACE}/{missing}", timeout=SEEN)
    await expect(alert).to_contain_text("not found")
    await page.screenshot(path=screenshots / "07-app-not-found.png")

    await page.goto(f"{server.url}/no/such/page")
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible(timeout=SEEN)

    # Logging out ends the session: a deep link asks to log in again, and comes back after.
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="Log in to driftless")).to_be_visible(
        timeout=SEEN
    )
    await page.goto(f"{server.url}/applications?sync=Synced")
    await expect(page).to_have_url(re.compile(r"/login\?next="), timeout=SEEN)
    await page.get_by_label("Password").fill(await initial_admin_password(kube, APPS_NAMESPACE))
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server.url}/applications?sync=Synced", timeout=SEEN)
    assert dialogs == [], f"the page opened dialogs: {dialogs}"
    await page.context.close()


def _revision(app: JSON) -> str:
    revision = str(((app.get("status") or {}).get("sync") or {}).get("revision") or "")
    assert len(revision) == 40, f"no synced revision: {app.get('status')}"
    return revision


async def test_a_large_app_s_operation_counts_what_it_does_not_list(
    server: ServerProcess,
    browser: Browser,
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    screenshots: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A 4 KiB status budget makes these 30 ConfigMaps a "large" app (pipeline.status_budget).
    monkeypatch.setattr(controller.reconciler, "status_budget", 4 * 1024)
    name = unique("ui-large")
    names = [f"cm-{i:02d}" for i in range(30)]
    repo = make_git_repo(
        {f"app/{n}.yaml": CONFIGMAP.replace("name: settings", f"name: {n}") for n in names}
    )
    await create_app(kube, application(name, repo.url, path="app"))
    app = await wait_for(
        kube,
        name,
        lambda a: ((a.get("status") or {}).get("operationState") or {}).get("resourcesOmitted"),
        what="an operation that counts its plain results",
    )
    omitted = app["status"]["operationState"]["resourcesOmitted"]
    assert omitted >= len(names)

    dialogs: list[str] = []
    page = await _new_page(browser, dialogs)
    await _log_in(page, server, kube, f"/applications/{APPS_NAMESPACE}/{name}")
    operation = page.get_by_role("region", name="Operation")
    await expect(operation).to_contain_text(
        f"{omitted} objects synced without note are not listed", timeout=SEEN
    )
    # None is listed (each was a plain apply), and nothing claims that none was applied.
    await expect(operation.get_by_role("table", name="Operation resources")).to_have_count(0)
    await expect(operation).not_to_contain_text("No object applied yet")
    # Every object is still under Resources.
    resources = page.get_by_role("region", name="Resources")
    for listed in (names[0], names[-1]):
        await expect(resources).to_contain_text(listed, timeout=SEEN)
    await page.screenshot(path=screenshots / "40-large-app-operation.png", full_page=True)
    assert dialogs == [], f"the page opened dialogs: {dialogs}"
    await page.context.close()
