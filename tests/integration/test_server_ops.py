"""The write API and the live stream on the real cluster, with the real controller.

``driftless server`` runs in the test's event loop (``server.app.serve`` on a
free loopback port, login on); the tests speak HTTP to it over loopback as a
browser would (session cookie from ``POST /api/v1/session`` with the initial
admin password read from its Secret). What a user sees:

* an OutOfSync app synced over HTTP turns Synced (202 with the operation);
  a refresh makes the controller see a new commit (``?hard=true`` is served
  too); a rollback to history
  entry 0 brings the old content back; a delete with cascade removes the app
  and its objects;
* a second sync while an operation runs is 409 (and ``driftless app sync``
  is refused alike: one engine); terminate stops it (202), and a terminate
  with nothing running is 409;
* bad input: 422 naming the field (unknown body field, option-like revision,
  a resource name with ``/``, a negative history id), 404 naming the unknown
  app or history id, 401 without a session -- always the one error shape;
* an app's own stream pushes its tree and Events: a deleted Pod's
  replacement arrives within seconds, with its Events;
* the SSE stream delivers an app's change after an out-of-band edit (a label
  written with the Kubernetes API), filtered by the list's parameters, and a
  ``deleted`` event when it goes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.server.auth import INITIAL_SECRET
from tests.fixtures.git import MakeGitRepo
from tests.integration.cli_driver import invoke
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
API = "/api/v1/applications"


def configmap(name: str, value: str = "1", wave: int = 0) -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  annotations:
    driftless.dev/sync-wave: "{wave}"
data:
  value: "{value}"
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


@dataclass
class Api:
    """An HTTP client logged in to the server."""

    base: str
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, JSON]:
        async with self.http.request(method, self.base + path, json=body) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else {}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(kube: KubeClient, controller: Controller) -> AsyncIterator[str]:
    """``driftless server`` on a free loopback port; yields its base URL once ready."""
    async with serving(kube) as served:
        yield served.url


@pytest_asyncio.fixture(loop_scope="session")
async def api(server: str, kube: KubeClient) -> AsyncIterator[Api]:
    secret = await kube.get("v1", "Secret", INITIAL_SECRET, APPS_NAMESPACE)
    assert secret is not None
    password = base64.b64decode(secret["data"]["password"]).decode()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        client = Api(server, http)
        status, body = await client.call(
            "POST", "/api/v1/session", {"username": "admin", "password": password}
        )
        assert status == 200, body
        yield client


def op_state(app: JSON) -> JSON:
    return dict((app.get("status") or {}).get("operationState") or {})


def sync_status(app: JSON) -> str:
    return str(((app.get("status") or {}).get("sync") or {}).get("status", ""))


def error(body: JSON, code: str, *says: str) -> None:
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    for fragment in says:
        assert fragment in body["error"]["message"], body


async def manual_app(kube: KubeClient, name: str, url: str) -> None:
    await create_app(kube, application(name, url, automated=False))
    await wait_for(kube, name, lambda a: sync_status(a) == "OutOfSync", what="OutOfSync")


async def test_sync_refresh_rollback_and_cascading_delete_over_http(
    api: Api, kube: KubeClient, make_git_repo: MakeGitRepo, caplog: pytest.LogCaptureFixture
) -> None:
    name = unique("http-ops")
    repo = make_git_repo({"cm.yaml": configmap("conf", "v1")})
    first = repo.head()
    await manual_app(kube, name, repo.url)
    path = f"{API}/{APPS_NAMESPACE}/{name}"

    with caplog.at_level(logging.INFO, logger="driftless.server.audit"):
        status, body = await api.call("POST", f"{path}/sync", {"prune": True})
    assert status == 202, body
    assert body["operation"]["sync"]["prune"] is True
    assert body["operation"]["initiatedBy"] == {"username": "admin", "automated": False}
    mine = [r for r in caplog.records if r.name == "driftless.server.audit"]
    audit = [json.loads(r.getMessage()) for r in mine]
    assert {"user": "admin", "action": "sync", "app": f"{APPS_NAMESPACE}/{name}"}.items() <= (
        audit[-1].items()
    ) and audit[-1]["result"] == "accepted"
    app = await wait_for(kube, name, lambda a: sync_status(a) == "Synced", what="Synced")
    assert op_state(app)["operation"]["initiatedBy"]["username"] == "admin"
    live = await kube.get("v1", "ConfigMap", "conf", name)
    assert live is not None and live["data"]["value"] == "v1"

    # A new commit: the controller sees it at once after a refresh (its poll is an hour).
    second = repo.commit({"cm.yaml": configmap("conf", "v2")})
    status, body = await api.call("POST", f"{path}/refresh")
    assert status == 202 and body["refresh"], body
    await wait_for(
        kube,
        name,
        lambda a: (a["status"].get("sync") or {}) == {"status": "OutOfSync", "revision": second},
        what="the new commit seen",
    )
    status, body = await api.call("POST", f"{path}/sync", {})
    assert status == 202, body
    app = await wait_for(
        kube,
        name,
        lambda a: sync_status(a) == "Synced" and op_state(a).get("revision") == second,
        what="the second commit synced",
    )
    status, body = await api.call("GET", f"{path}/history")
    assert [h["revision"] for h in body["items"]] == [first, second]

    # A hard refresh is the same request saying so (test_hard_refresh.py shows what it
    # bypasses); the controller serves it and removes it.
    status, body = await api.call("POST", f"{path}/refresh?hard=true")
    assert status == 202 and body["refresh"].startswith("hard:"), body
    await wait_for(
        kube,
        name,
        lambda a: "driftless.dev/refresh" not in (a["metadata"].get("annotations") or {}),
        what="the hard refresh served",
    )

    for bad, code, says in (
        ({"id": -1}, 422, "body.id"),
        ({"id": "zero"}, 422, "body.id"),
        ({}, 422, "body.id"),
        ({"id": 99}, 404, "no history entry 99 (known: 0, 1)"),
    ):
        status, body = await api.call("POST", f"{path}/rollback", bad)
        assert status == code, body
        error(body, "Invalid" if code == 422 else "NotFound", says)
    status, body = await api.call("POST", f"{path}/rollback", {"id": 0})
    assert status == 202, body
    assert body["revision"] == first and body["automationDisabled"] is False
    await wait_for(
        kube,
        name,
        lambda a: op_state(a).get("revision") == first and op_state(a).get("phase") == "Succeeded",
        what="rolled back",
    )
    live = await kube.get("v1", "ConfigMap", "conf", name)
    assert live is not None and live["data"]["value"] == "v1"

    status, body = await api.call("DELETE", f"{path}?cascade=true")
    assert status == 202 and body == {"cascade": True}, body
    for _ in range(600):
        if await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE) is None:
            break
        await asyncio.sleep(0.2)
    assert await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE) is None
    assert await kube.get("v1", "ConfigMap", "conf", name) is None
    status, body = await api.call("POST", f"{path}/sync")
    assert status == 404, body
    error(body, "NotFound", f'application "{name}" not found')


async def test_second_sync_while_one_runs_is_409_and_terminate_stops_it(
    api: Api,
    kube: KubeClient,
    make_git_repo: MakeGitRepo,
    devcluster: DevCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = unique("http-busy")
    repo = make_git_repo(
        {"deploy.yaml": unschedulable("web"), "cm.yaml": configmap("after", wave=1)}
    )
    await manual_app(kube, name, repo.url)
    path = f"{API}/{APPS_NAMESPACE}/{name}"

    status, body = await api.call("POST", f"{path}/terminate")
    assert status == 409, body
    error(body, "Conflict", f"application {name} has no running operation")

    status, body = await api.call("POST", f"{path}/sync")
    assert status == 202, body
    # A second request before the controller picked the first up, then while it runs.
    status, body = await api.call("POST", f"{path}/sync", {"dryRun": True})
    assert status == 409, body
    app = await wait_for(
        kube, name, lambda a: op_state(a).get("phase") == "Running", what="the sync running"
    )
    started = op_state(app)["startedAt"]
    with caplog.at_level(logging.INFO, logger="driftless.server.audit"):
        status, body = await api.call("POST", f"{path}/sync", {"prune": True})
    assert status == 409, body
    error(body, "Conflict", "an operation is already running", started)
    mine = [r for r in caplog.records if r.name == "driftless.server.audit"]
    audit = json.loads(mine[-1].getMessage())
    assert audit == {
        "audit": "write",
        "user": "admin",
        "method": "local",
        "action": "sync",
        "app": f"{APPS_NAMESPACE}/{name}",
        "result": "refused",
        "code": "Conflict",
    }
    # The CLI writes through the same requests: refused alike, nothing written.
    refused = await invoke(devcluster.kubeconfig, "app", "sync", name, "--no-wait")
    assert refused.exit_code == 1, refused.output
    assert "an operation is already running" in refused.output

    status, body = await api.call("POST", f"{path}/terminate")
    assert status == 202 and body == {"terminate": started}, body
    app = await wait_for(
        kube, name, lambda a: op_state(a).get("phase") == "Terminated", what="terminated"
    )
    assert await kube.get("v1", "ConfigMap", "after", name) is None  # wave 1 never ran
    status, body = await api.call("POST", f"{path}/terminate")
    assert status == 409, body


async def test_bad_requests_are_refused_in_the_error_shape(
    api: Api, server: str, kube: KubeClient, make_git_repo: MakeGitRepo
) -> None:
    name = unique("http-bad")
    repo = make_git_repo({"cm.yaml": configmap("c")})
    await create_app(kube, application(name, repo.url, automated=False))
    path = f"{API}/{APPS_NAMESPACE}/{name}"
    cases: list[tuple[str, str, Any, int, str, str]] = [
        ("POST", f"{path}/sync", {"revison": "main"}, 422, "Invalid", "body.revison"),
        ("POST", f"{path}/sync", {"revision": "--upload-pack=x"}, 422, "Invalid", "body.revision"),
        ("POST", f"{path}/sync", {"revision": "v" * 5000}, 422, "Invalid", "body.revision"),
        (
            "POST",
            f"{path}/sync",
            {"resources": [{"kind": "ConfigMap", "name": "a/b"}]},
            422,
            "Invalid",
            "body.resources[0].name",
        ),
        ("POST", f"{path}/sync", {"resources": [{"name": "c"}]}, 422, "Invalid", "kind"),
        ("POST", f"{path}/sync", [1, 2], 422, "Invalid", "body"),
        ("POST", f"{API}/{APPS_NAMESPACE}/no-such-app/sync", {}, 404, "NotFound", "no-such-app"),
        ("POST", f"{API}/{APPS_NAMESPACE}/no-such-app/refresh", None, 404, "NotFound", "no-such"),
        ("POST", f"{API}/{APPS_NAMESPACE}/Bad_Name/sync", {}, 422, "Invalid", "path.name"),
        ("POST", f"{API}/Kube.System/{name}/refresh", None, 422, "Invalid", "path.namespace"),
        ("DELETE", f"{path}?cascade=maybe", None, 422, "Invalid", "query.cascade"),
        ("POST", f"{path}/refresh?hard=maybe", None, 422, "Invalid", "query.hard"),
    ]
    for method, url, body, code, kind, says in cases:
        status, answer = await api.call(method, url, body)
        assert status == code, (url, body, answer)
        error(answer, kind, says)
        assert "Traceback" not in json.dumps(answer)
    # An encoded path that climbs out of the app's: no route takes it (404 or 405).
    status, answer = await api.call("POST", f"{API}/{APPS_NAMESPACE}/..%2F..%2Fx/sync", {})
    assert status in (404, 405) and set(answer) == {"error"}, answer
    # Nothing was written by any of them.
    app = await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
    assert app is not None and "operation" not in app
    # Without a session: 401, nothing written.
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.post(f"{server}{path}/sync", json={}) as response,
    ):
        assert response.status == 401
        error(await response.json(), "Unauthorized")
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{server}/api/v1/stream") as response,
    ):
        assert response.status == 401


async def read_events(
    response: aiohttp.ClientResponse, until: Callable[[str, JSON], bool]
) -> list[tuple[str, JSON]]:
    """SSE events of ``response`` until ``until(event, data)`` holds."""
    seen: list[tuple[str, JSON]] = []
    event = ""
    async with asyncio.timeout(120):
        while True:
            line = (await response.content.readline()).decode()
            assert line, f"the stream ended; events so far: {seen}"
            line = line.rstrip("\n")
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                seen.append((event, data))
                if until(event, data):
                    return seen


async def test_stream_delivers_an_out_of_band_change_and_the_deletion(
    api: Api, kube: KubeClient, make_git_repo: MakeGitRepo
) -> None:
    name = unique("http-stream")
    other = unique("http-other")
    repo = make_git_repo({"cm.yaml": configmap("c")})
    await create_app(kube, application(name, repo.url, automated=False))
    await create_app(kube, application(other, repo.url, automated=False))
    await wait_for(kube, name, lambda a: sync_status(a) == "OutOfSync", what="OutOfSync")
    query = f"?namespace={APPS_NAMESPACE}&search={name}&sync=OutOfSync"
    async with api.http.get(f"{api.base}/api/v1/stream{query}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        # Out-of-band edits, with the Kubernetes API: a label on each app.
        for each in (other, name):
            patch = {"metadata": {"labels": {"team": "blue"}}}
            await kube.merge_patch(
                API_VERSION, APPLICATION_KIND, each, patch, namespace=APPS_NAMESPACE
            )
        seen = await read_events(
            response, lambda e, d: e == "app" and d.get("labels", {}).get("team") == "blue"
        )
        _, row = seen[-1]
        assert row["name"] == name and row["namespace"] == APPS_NAMESPACE
        assert row["sync"] == "OutOfSync" and "repoURL" in row
        assert all(d.get("name") != other for _, d in seen)  # filtered out
        await kube.delete(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
        seen = await read_events(response, lambda e, d: e == "deleted")
        assert seen[-1] == ("deleted", {"namespace": APPS_NAMESPACE, "name": name})


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
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


def pods(tree: JSON) -> set[str]:
    return {n["name"] for n in tree["nodes"] if n["kind"] == "Pod"}


async def test_an_app_stream_pushes_a_recreated_pod_and_its_events(
    api: Api, kube: KubeClient, make_git_repo: MakeGitRepo
) -> None:
    name = unique("app-stream")
    repo = make_git_repo({"app/deployment.yaml": DEPLOYMENT})
    await create_app(kube, application(name, repo.url, path="app"))
    await wait_for(kube, name, ready, timeout=90, what="Ready")
    url = f"{api.base}{API}/{APPS_NAMESPACE}/{name}/stream"
    async with api.http.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        # The snapshot: the tree down to the Deployment's one Pod, then the Events.
        seen = await read_events(response, lambda e, data: e == "tree" and len(pods(data)) == 1)
        (old,) = pods(seen[-1][1])
        await read_events(response, lambda e, data: e == "events")

        # The Pod is deleted; the ReplicaSet's controller makes another: pushed, no polling.
        await kube.delete("v1", "Pod", old, name)
        started = time.monotonic()
        seen = await read_events(
            response, lambda e, data: e == "tree" and bool(pods(data)) and old not in pods(data)
        )
        assert time.monotonic() - started < 30, "the new Pod took too long to reach the stream"
        (new,) = pods(seen[-1][1])
        assert new != old
        # The controller-manager's Events about it reach the Events of the same stream.
        await read_events(
            response,
            lambda e, data: (
                e == "events" and any(item["object"]["name"] == new for item in data["items"])
            ),
        )

    # Hostile or unknown names: the error shape, nothing streamed.
    status, body = await api.call("GET", f"{API}/{APPS_NAMESPACE}/no-such-app/stream")
    assert status == 404, body
    error(body, "NotFound", "no-such-app")
    status, body = await api.call("GET", f"{API}/{APPS_NAMESPACE}/Bad_Name/stream")
    assert status == 422, body
    error(body, "Invalid", "name")
