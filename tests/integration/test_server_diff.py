"""An app's diff and rendered manifests over HTTP, on the real cluster with the real controller.

``driftless server`` runs in the test's event loop (login on), planning with
its own git cache and a render server child; the repositories are real git
served over smart HTTP (the server refuses local ones). What a user sees:

* a synced app's resources are all ``unchanged``; an out-of-band change of
  one ConfigMap field makes the diff show exactly that field (live vs git),
  alone or filtered to that resource; a filter naming something the app does
  not have is 404 naming it;
* the Secret's value is in no answer (diff, manifests), only masked;
* the manifests at an older commit differ from the target's;
* hostile revisions (an option, ``..``, 10 KB, a NUL) are 422 naming
  ``revision``; a revision the repository lacks, a local repository are 422
  saying why; an unreachable repository and a render past its time limit
  are a 502 saying so.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from driftless.cli.tools import local_tools
from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.kube.client import KubeClient
from driftless.render.isolation import isolated
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    create_app,
    ready,
    unique,
    wait_for,
)
from tests.integration.server_inprocess import serving

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
SECRET_VALUE = "diff-hunter2-value"
DEADLINE = 90.0
TIME_LIMIT = 3.0

SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: {SECRET_VALUE}
"""


def config_map(color: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {color}\n"
    )


class Api:
    def __init__(self, base: str, http: aiohttp.ClientSession) -> None:
        self.base = base
        self.http = http
        self.texts: list[str] = []  # every answer, to look for the Secret's value

    async def get(self, path: str, **params: str) -> tuple[int, JSON]:
        async with self.http.get(self.base + path, params=params) as response:
            text = await response.text()
            self.texts.append(text)
            return response.status, json.loads(text)

    async def until(self, path: str, check: Callable[[JSON], bool], what: str) -> JSON:
        deadline = time.monotonic() + DEADLINE
        while True:
            status, body = await self.get(path)
            if status == 200 and check(body):
                return body
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {status} {body}"
            await asyncio.sleep(0.5)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(kube: KubeClient, controller: Controller) -> AsyncIterator[Api]:
    async with serving(kube) as served:
        http = await served.login()
        try:
            yield Api(served.url.rstrip("/"), http)
        finally:
            await http.close()


def changed_lines(diff: str) -> list[str]:
    """The - and + lines of a unified diff, without its two headers."""
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def one(body: JSON, kind: str) -> JSON:
    found: list[JSON] = [r for r in body["resources"] if r["kind"] == kind]
    assert len(found) == 1, found
    return found[0]


async def test_an_out_of_band_change_is_exactly_that_field_in_the_diff_and_no_secret_shows(
    kube: KubeClient, api: Api, make_git_repo: MakeGitRepo, git_http_server: GitHttpServer
) -> None:
    name = unique("diff")
    repo = make_git_repo({"app/cm.yaml": config_map("blue"), "app/secret.yaml": SECRET})
    older = repo.head()
    target = repo.commit({"app/cm.yaml": config_map("green")}, "green")
    url = git_http_server.publish(repo.path, f"{name}.git")
    await create_app(kube, application(name, url, path="app"))
    await wait_for(kube, name, ready, timeout=DEADLINE, what="the app to be synced")
    path = f"/api/v1/applications/{APPS_NAMESPACE}/{name}"

    synced = await api.until(
        f"{path}/diff",
        lambda b: {r["status"] for r in b["resources"]} == {"unchanged"},
        "every resource unchanged",
    )
    assert synced["revision"] == target
    assert {(r["kind"], r["namespace"], r["name"]) for r in synced["resources"]} == {
        ("Namespace", "", name),  # CreateNamespace=true
        ("ConfigMap", name, "settings"),
        ("Secret", name, "creds"),
    }

    await kube.merge_patch(
        "v1", "ConfigMap", "settings", {"data": {"color": "red"}}, namespace=name
    )
    drifted = await api.until(
        f"{path}/diff",
        lambda b: one(b, "ConfigMap")["status"] == "changed",
        "the out-of-band change in the diff",
    )
    settings = one(drifted, "ConfigMap")
    assert changed_lines(settings["diff"]) == ["-  color: red", "+  color: green"]
    # An admin's kubeconfig may dry-run: no diff is predicted client-side.
    assert {r["predicted"] for r in drifted["resources"]} == {"dry-run"}
    assert one(drifted, "Secret")["status"] == "unchanged"

    status, alone = await api.get(f"{path}/diff", kind="ConfigMap", namespace=name, name="settings")
    assert status == 200, alone
    assert alone["resources"] == [settings] and alone["revision"] == target
    status, body = await api.get(f"{path}/diff", kind="ConfigMap", namespace=name, name="nope")
    assert status == 404, body
    assert body["error"]["message"] == (
        f"ConfigMap {name}/nope is not a resource of application {APPS_NAMESPACE}/{name}"
    )

    status, now = await api.get(f"{path}/manifests")
    assert status == 200, now
    status, before = await api.get(f"{path}/manifests", revision=older)
    assert status == 200, before
    assert (now["revision"], before["revision"]) == (target, older)
    colors = {
        m["data"]["color"] for body in (now, before) for m in body["manifests"]
        if m["kind"] == "ConfigMap"
    }  # fmt: skip
    assert colors == {"green", "blue"}
    (secret,) = [m for m in now["manifests"] if m["kind"] == "Secret"]
    assert set(secret["stringData"]) == {"password"}
    assert secret["stringData"]["password"].startswith("<")  # masked

    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    for text in api.texts:
        assert SECRET_VALUE not in text and encoded not in text


HOSTILE_REVISIONS = ["--upload-pack=touch /tmp/pwned", "../../etc", "x" * 10240, "main\x00evil"]


async def test_a_hostile_revision_is_422_naming_revision(
    kube: KubeClient, api: Api, git_http_server: GitHttpServer
) -> None:
    name = unique("hostile-rev")
    # Never fetched: each revision is refused before anything is read.
    await create_app(kube, application(name, f"{git_http_server.base_url}/none.git"))
    for route in ("diff", "manifests"):
        path = f"/api/v1/applications/{APPS_NAMESPACE}/{name}/{route}"
        for revision in HOSTILE_REVISIONS:
            status, body = await _eventually_known(api, path, revision=revision)
            assert status == 422, (revision[:40], body)
            assert body["error"]["code"] == "Invalid"
            message = body["error"]["message"]
            assert message.startswith(("revision: ", "query.revision: ")), body
            assert "\x00" not in message and len(message) < 300


async def test_a_missing_revision_a_local_or_unreachable_repository_an_unknown_app_say_why(
    kube: KubeClient, api: Api, make_git_repo: MakeGitRepo, git_http_server: GitHttpServer
) -> None:
    name = unique("why")
    repo = make_git_repo({"app/cm.yaml": config_map("blue")})
    url = git_http_server.publish(repo.path, f"{name}.git")
    await create_app(kube, application(name, url, path="app"))
    path = f"/api/v1/applications/{APPS_NAMESPACE}/{name}"
    status, body = await _eventually_known(api, f"{path}/manifests", revision="no-such-branch")
    assert status == 422, body
    message = body["error"]["message"]
    assert message.startswith(f"application {APPS_NAMESPACE}/{name} cannot be planned: ")
    assert "no-such-branch" in message

    local = unique("local")
    await create_app(kube, application(local, repo.url, path="app"))
    local_path = f"/api/v1/applications/{APPS_NAMESPACE}/{local}/diff"
    status, body = await _eventually_known(api, local_path)
    assert status == 422, body
    assert "local repository" in body["error"]["message"]

    # Nothing listens on port 1: the repository does not answer.
    unreachable = unique("unreachable")
    await create_app(kube, application(unreachable, "http://127.0.0.1:1/gone.git", path="app"))
    gone_path = f"/api/v1/applications/{APPS_NAMESPACE}/{unreachable}/diff"
    status, body = await _eventually_known(api, gone_path)
    assert status == 502, body
    assert body["error"]["code"] == "Unavailable"
    assert body["error"]["message"].startswith(
        f"application {APPS_NAMESPACE}/{unreachable} cannot be planned now: "
    )
    assert "127.0.0.1:1" in body["error"]["message"]

    status, body = await api.get(f"/api/v1/applications/{APPS_NAMESPACE}/no-such-app/diff")
    assert status == 404, body
    assert body["error"]["message"] == f"application {APPS_NAMESPACE}/no-such-app not found"


async def test_a_render_past_its_time_limit_is_a_502_saying_so(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
) -> None:  # fmt: skip
    # The app lives where the controller does not look (it would spin the render
    # for its own, longer limit): a namespace a Project of the controller's allows.
    namespace = unique("diff-elsewhere")
    project = unique("diff-elsewhere")
    await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                     field_manager="test")  # fmt: skip
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": PROJECT_KIND,
            "metadata": {"name": project, "namespace": APPS_NAMESPACE},
            "spec": {
                "sourceRepos": ["*"],
                "sourceNamespaces": [namespace],
                "destinations": [{"server": "*", "namespace": "*"}],
            },
        },
        field_manager="test",
    )
    endless = "local loop(n) = if n < 0 then 0 else loop(n + 1) tailstrict;\n{a: loop(0)}\n"
    repo = make_git_repo({"app/loop.jsonnet": endless})
    url = git_http_server.publish(repo.path, f"{namespace}.git")
    app = application("spin", url, path="app")
    app["metadata"]["namespace"] = namespace
    app["spec"]["project"] = project
    await create_app(kube, app)
    tools = isolated(dataclasses.replace(local_tools(), time_limit=TIME_LIMIT))
    try:
        async with serving(kube, tools=tools) as served:
            http = await served.login()
            try:
                short = Api(served.url.rstrip("/"), http)
                path = f"/api/v1/applications/{namespace}/spin/manifests"
                started = time.monotonic()
                status, body = await _eventually_known(short, path)
                assert status == 502, body
                assert body["error"]["code"] == "Unavailable"
                assert body["error"]["message"] == (
                    f"application {namespace}/spin cannot be planned now:"
                    f" render exceeded the {TIME_LIMIT:g} s time limit"
                )
                assert time.monotonic() - started < TIME_LIMIT + 30
            finally:
                await http.close()
    finally:
        await kube.delete(API_VERSION, APPLICATION_KIND, "spin", namespace)
        await kube.delete("v1", "Namespace", namespace, None)


async def _eventually_known(api: Api, path: str, **params: str) -> tuple[int, JSON]:
    """The answer once the server's caches know the app just created (not 404 any more)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        status, body = await api.get(path, **params)
        if status != 404 or time.monotonic() > deadline:
            return status, body
        await asyncio.sleep(0.2)
