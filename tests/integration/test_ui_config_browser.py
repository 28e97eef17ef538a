"""The Projects, Repositories and Clusters pages in a real browser: Debian's chromium,
driven by Playwright, against ``driftless server`` on the dev cluster.

A Project with two Applications, a repository credential (https, with a
password) and cluster Secrets (one with a bearer token and CA data, one
unusable whose broken config holds a token) are created as ``driftless
project``/``repo add``/``cluster add`` store them. The pages must show what a
user checks (allowed sources and destinations, apps counts, URL, type, state,
server, auth) with deep links, say readably what is missing or failing, and
never show a credential: neither on the page nor in any answer the browser
received. Screenshots of each page are kept in
``build/ui-screenshots/test_ui_config_browser/``.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Response,
    async_playwright,
    expect,
)
from playwright.async_api import Error as PlaywrightError

from driftless.core.models import API_VERSION
from driftless.core.project import PROJECT_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube import clusters
from driftless.kube.client import KubeClient
from driftless.sources import credentials as creds
from tests.integration.helpers import APPS_NAMESPACE, JSON, application, create_app, unique
from tests.integration.ui_harness import (
    ServerProcess,
    built_ui,
    chromium_executable,
    initial_admin_password,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SEEN = 30_000  # ms: generous, on 2 busy cores
PASSWORD = "pw-UiConfig-8Hq2Lz"
USERNAME = "ui-config-bot-5512"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.ui-config-token-Kd83"
CA_LINE = "MIIBszCCAVmgAwIBAgIUuiConfigAuthorityData31"
BAD_TOKEN = "hostile-ui-token-in-bad-json"
SECRETS = [PASSWORD, USERNAME, TOKEN, CA_LINE, BAD_TOKEN]


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True
        )
        yield launched
        await launched.close()


def _project(name: str, namespace: str) -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": name, "namespace": APPS_NAMESPACE},
        "spec": {
            "description": "The web team's services",
            "sourceRepos": [f"https://git.example.invalid/{name}/*"],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": namespace}],
            "namespaceResourceDenyList": [{"group": "", "kind": "ResourceQuota"}],
        },
    }


class _Watch:
    """What a page did: dialogs (an injected alert()), CSP violations, and every API body."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.bodies: list[str] = []

    async def page(self, browser: Browser, url: str, password: str) -> Page:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        login = await context.request.post(
            f"{url}/api/v1/session", data={"username": "admin", "password": password}
        )
        assert login.ok, await login.text()
        page = await context.new_page()

        async def dialog(d: Dialog) -> None:
            self.dialogs.append(d.message)
            await d.dismiss()

        def console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                self.dialogs.append(f"CSP: {message.text}")

        async def response(answer: Response) -> None:
            if "/api/" in answer.url:
                # A stream or an aborted request has no body to read.
                with contextlib.suppress(PlaywrightError):
                    self.bodies.append(await answer.text())

        page.on("dialog", dialog)
        page.on("console", console)
        page.on("response", response)
        return page


async def _shot(page: Page, shots: Path, name: str) -> None:
    await page.screenshot(path=shots / f"{name}.png", full_page=True)


async def test_projects_repositories_and_clusters_pages(
    devcluster: DevCluster,
    kube: KubeClient,
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
    screenshots: Path,
) -> None:
    built_ui()
    shots = screenshots
    suffix = unique("cfgui")
    project = f"web-{suffix}"
    await kube.apply(_project(project, f"{suffix}-*"), field_manager="test")
    token_cluster = clusters.ClusterConnection(
        name=f"edge-{suffix}",
        server=f"https://edge-{suffix}.example.invalid:6443",
        tls=clusters.TlsClientConfig(
            ca_data=f"-----BEGIN CERTIFICATE-----\n{CA_LINE}\n-----END CERTIFICATE-----\n".encode()
        ),
        bearer_token=TOKEN,
    )
    for i, destination in enumerate([{"namespace": f"{suffix}-a"}, {"name": token_cluster.name}]):
        app = application(f"{suffix}-{i}", f"https://git.example.invalid/{project}/svc.git")
        app["spec"]["project"] = project
        app["spec"]["destination"] = {**destination, "namespace": f"{suffix}-{i}"}
        await create_app(kube, app)
    https = creds.RepoCredential(
        name=f"repo-{suffix}",
        url=f"https://git.example.invalid/{project}",
        username=USERNAME,
        password=PASSWORD,
    )
    bad_cluster = f"broken-{suffix}"
    repo_secret = creds.repository_secret(https, APPS_NAMESPACE)
    cluster_secret = clusters.cluster_secret(token_cluster, APPS_NAMESPACE)
    await kube.create(repo_secret)
    await kube.create(cluster_secret)
    key, value = clusters.CLUSTER_SECRET_SELECTOR.split("=")
    await kube.create({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": bad_cluster, "namespace": APPS_NAMESPACE, "labels": {key: value}},
        "data": {
            "name": base64.b64encode(bad_cluster.encode()).decode(),
            "server": base64.b64encode(b"https://broken.example.invalid").decode(),
            "config": base64.b64encode(f'{{"bearerToken": "{BAD_TOKEN}"'.encode()).decode(),
        },
    })  # fmt: skip

    log = tmp_path_factory.mktemp("ui-config-server") / "server.log"
    server = await ServerProcess.start(devcluster.kubeconfig, APPS_NAMESPACE, log)
    watch = _Watch()
    try:
        password = await initial_admin_password(kube, APPS_NAMESPACE)
        page = await watch.page(browser, server.url, password)

        # Projects: what each allows and how many apps use it, from the main navigation.
        await page.goto(f"{server.url}/applications")
        nav = page.get_by_role("navigation", name="Main")
        await nav.get_by_role("link", name="Projects").click()
        await expect(page).to_have_url(f"{server.url}/projects", timeout=SEEN)
        await expect(nav.get_by_role("link", name="Projects")).to_have_attribute(
            "aria-current", "page"
        )
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=project))
        await expect(row).to_contain_text(f"https://git.example.invalid/{project}/*", timeout=SEEN)
        await expect(row).to_contain_text(f"https://kubernetes.default.svc → {suffix}-*")
        await expect(row).to_contain_text("The web team's services")
        await expect(row.get_by_role("link", name="2 applications")).to_be_visible(timeout=SEEN)
        await _shot(page, shots, "projects")

        await row.get_by_role("link", name=project).click()
        await expect(page).to_have_url(f"{server.url}/projects/{project}")
        card = page.get_by_role("region", name="Project")
        await expect(card).to_contain_text("ResourceQuota", timeout=SEEN)
        await expect(card).to_contain_text("the controller's namespace only")
        await _shot(page, shots, "project")
        await card.get_by_role("link", name="2 applications").click()
        await expect(page).to_have_url(re.compile(rf"/applications\?project={project}$"))
        await expect(page.get_by_text("2 applications match the filters")).to_be_visible(
            timeout=SEEN
        )

        # Repositories: URL without credentials, type, state; a deep link per credential.
        await page.goto(f"{server.url}/repositories")
        repo_row = page.get_by_role("row").filter(has_text=https.name)
        await expect(repo_row).to_contain_text("https", timeout=SEEN)
        await expect(repo_row).to_contain_text("Ok")
        await _shot(page, shots, "repositories")
        await repo_row.get_by_role("link", name=https.url).click()
        await expect(page).to_have_url(f"{server.url}/repositories/{https.name}")
        await expect(page.get_by_role("region", name="Repository")).to_contain_text(
            f"{APPS_NAMESPACE}/{https.name}", timeout=SEEN
        )

        # Clusters: the built-in one first, the registered one with its apps, the broken one
        # saying why -- and never its token.
        await page.goto(f"{server.url}/clusters")
        rows = page.get_by_role("row")
        await expect(rows.nth(1)).to_contain_text("in-cluster", timeout=SEEN)
        # This cluster also counts the apps that name no destination cluster (as the API does).
        local = await page.request.get(
            f"{server.url}/api/v1/applications?destination=in-cluster&limit=1"
        )
        local_apps = (await local.json())["total"]
        assert local_apps >= 1  # the first app of this test names none
        plural = "application" if local_apps == 1 else "applications"
        await expect(rows.nth(1)).to_contain_text(f"{local_apps} {plural}")
        edge = rows.filter(has=page.get_by_role("link", name=token_cluster.name))
        await expect(edge).to_contain_text(token_cluster.server, timeout=SEEN)
        await expect(edge).to_contain_text("token")
        await expect(edge).to_contain_text("1 application")
        broken = rows.filter(has=page.get_by_role("link", name=bad_cluster))
        await expect(broken).to_contain_text("Invalid: ", timeout=SEEN)
        await _shot(page, shots, "clusters")
        await page.goto(f"{server.url}/clusters/{token_cluster.name}")
        await expect(page.get_by_role("region", name="Cluster")).to_contain_text(
            "Applications deploying to it1 application", timeout=SEEN
        )
        await _shot(page, shots, "cluster")

        # A deep link to something that is not there says so; a hostile name stays text.
        hostile = "<img src=x onerror=alert(1)>"
        await page.goto(f"{server.url}/projects/{hostile}")
        await expect(page.get_by_role("alert")).to_contain_text(
            f"there is no project named {hostile}", timeout=SEEN
        )
        await _shot(page, shots, "project-not-found")

        # Every page visited above, once more: none shows a credential.
        for path in ["/projects", "/repositories", "/clusters", f"/clusters/{bad_cluster}"]:
            await page.goto(f"{server.url}{path}")
            await expect(page.get_by_role("heading", level=1)).to_be_visible(timeout=SEEN)
            await expect(page.get_by_text("Loading…")).to_have_count(0, timeout=SEEN)
            content = await page.content()
            for secret in SECRETS:
                assert secret not in content, f"{path} shows a credential"
        for body in watch.bodies:
            for secret in SECRETS:
                assert secret not in body, "an API answer carried a credential"

        # The server goes away: moving to another page says so, readably.
        await server.stop()
        await (
            page.get_by_role("navigation", name="Main")
            .get_by_role("link", name="Repositories")
            .click()
        )
        await expect(page.get_by_role("alert")).to_contain_text(
            "Cannot load repositories: Cannot reach the driftless server; is it running?",
            timeout=SEEN,
        )
        await _shot(page, shots, "server-gone")
        assert watch.dialogs == []
    finally:
        await server.stop()
        for secret in [repo_secret, cluster_secret]:
            await kube.delete("v1", "Secret", secret["metadata"]["name"], APPS_NAMESPACE)
        await kube.delete("v1", "Secret", bad_cluster, APPS_NAMESPACE)
        await kube.delete(API_VERSION, PROJECT_KIND, project, APPS_NAMESPACE)
