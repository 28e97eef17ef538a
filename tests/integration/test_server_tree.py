"""An app's resource tree, live manifests and Events over HTTP, on the real cluster.

``driftless server`` runs in the test's event loop (login on) beside the real
controller; kwok runs the Pods. What a user sees:

* the tree of a synced app: its Deployment (managed, Synced, Healthy) owning
  a ReplicaSet owning two Pods, each with its health; the ConfigMap and
  Secret beside it;
* the live manifest of the Deployment and of one of its Pods, without
  managedFields; the Secret's value is in no answer (tree, manifest,
  events), only masked;
* an object outside the tree (the server's own initial-admin Secret, an
  unknown kind) is 404 naming it -- the API reads no arbitrary object;
* the Warning Event of a failed sync is in the app's events, newest first.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from driftless.controller.manager import Controller
from driftless.kube.client import KubeClient
from driftless.server.auth import INITIAL_SECRET
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    condition,
    create_app,
    deployment_manifest,
    ready,
    unique,
    wait_for,
)
from tests.integration.server_inprocess import serving

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
SECRET_VALUE = "tree-hunter2-value"
DEADLINE = 90.0

OTHERS = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: {SECRET_VALUE}
"""

BAD = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: bad
data:
  nested: {not: a string}
"""


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


def by_kind(body: JSON, kind: str) -> list[JSON]:
    return [n for n in body["nodes"] if n["kind"] == kind]


def pods_healthy(body: JSON) -> bool:
    pods = by_kind(body, "Pod")
    return len(pods) == 2 and all(p["health"]["status"] == "Healthy" for p in pods)


async def test_tree_of_a_deployment_down_to_pods_with_health_and_no_secret_value(
    kube: KubeClient, api: Api, make_git_repo: MakeGitRepo
) -> None:
    name = unique("tree")
    repo = make_git_repo({"app/deployment.yaml": deployment_manifest(), "app/others.yaml": OTHERS})
    await create_app(kube, application(name, repo.url, path="app"))
    await wait_for(kube, name, ready, timeout=DEADLINE)
    path = f"/api/v1/applications/{APPS_NAMESPACE}/{name}"

    tree = await api.until(f"{path}/tree", pods_healthy, "two healthy Pods in the tree")
    assert "partial" not in tree
    (deployment,) = by_kind(tree, "Deployment")
    assert deployment["managed"] is True and deployment["sync"] == "Synced"
    assert deployment["health"]["status"] == "Healthy"
    assert (deployment["group"], deployment["version"], deployment["namespace"]) == (
        "apps", "v1", name,
    )  # fmt: skip
    assert deployment["parents"] == [] and deployment["createdAt"]
    (replicaset,) = by_kind(tree, "ReplicaSet")
    assert replicaset["managed"] is False and replicaset["sync"] is None
    assert replicaset["parents"] == [deployment["uid"]]
    assert replicaset["health"]["status"] == "Healthy"
    assert all(p["parents"] == [replicaset["uid"]] for p in by_kind(tree, "Pod"))
    managed = {(n["kind"], n["name"]) for n in tree["nodes"] if n["managed"]}
    assert managed >= {("Deployment", "web"), ("ConfigMap", "settings"), ("Secret", "creds")}
    assert len({n["uid"] for n in tree["nodes"]}) == len(tree["nodes"])

    status, live = await api.get(
        f"{path}/resource", group="apps", version="v1", kind="Deployment",
        namespace=name, name="web",
    )  # fmt: skip
    assert status == 200, live
    assert live["live"]["metadata"]["uid"] == deployment["uid"]
    assert "managedFields" not in live["live"]["metadata"]
    assert live["live"]["spec"]["replicas"] == 2
    pod = by_kind(tree, "Pod")[0]
    status, live = await api.get(
        f"{path}/resource", version="v1", kind="Pod", namespace=name, name=pod["name"]
    )
    assert status == 200 and live["live"]["metadata"]["uid"] == pod["uid"], live

    status, secret = await api.get(
        f"{path}/resource", version="v1", kind="Secret", namespace=name, name="creds"
    )
    assert status == 200, secret
    assert set(secret["live"]["data"]) == {"password"}
    assert secret["live"]["data"]["password"].startswith("<")  # masked, as the CLI diff masks it

    status, events = await api.get(f"{path}/events")
    assert status == 200 and isinstance(events["items"], list)

    # Outside the tree: the server's own admin Secret, an unknown kind, an unknown app.
    status, body = await api.get(
        f"{path}/resource", version="v1", kind="Secret", namespace=APPS_NAMESPACE,
        name=INITIAL_SECRET,
    )  # fmt: skip
    assert status == 404, body
    assert body["error"]["code"] == "NotFound"
    assert (
        f"Secret {APPS_NAMESPACE}/{INITIAL_SECRET} is not in the tree" in body["error"]["message"]
    )
    status, body = await api.get(
        f"{path}/resource", group="evil.example", version="v1", kind="Thing",
        namespace=name, name="web",
    )  # fmt: skip
    assert status == 404 and "Thing" in body["error"]["message"], body
    status, body = await api.get(f"{path}/resource", kind="Secret")
    assert status == 422 and body["error"]["code"] == "Invalid", body
    status, body = await api.get(f"/api/v1/applications/{APPS_NAMESPACE}/no-such-app/tree")
    assert status == 404 and "no-such-app" in body["error"]["message"], body

    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    for text in api.texts:
        assert SECRET_VALUE not in text and encoded not in text


async def test_events_of_a_failed_sync_are_the_apps(
    kube: KubeClient, api: Api, make_git_repo: MakeGitRepo
) -> None:
    name = unique("tree-fail")
    repo = make_git_repo({"bad.yaml": BAD})
    await create_app(kube, application(name, repo.url))

    def failed(app: JSON) -> bool:
        found = condition(app, "Ready")
        return (
            found is not None
            and found["status"] == "False"
            and found.get("reason") not in (None, "", "Progressing")
        )

    app = await wait_for(kube, name, failed, timeout=DEADLINE, what="a failed sync")
    reason = condition(app, "Ready")["reason"]  # type: ignore[index]
    path = f"/api/v1/applications/{APPS_NAMESPACE}/{name}"

    def has_warning(body: JSON) -> bool:
        return any(e["type"] == "Warning" and e["reason"] == reason for e in body["items"])

    events = await api.until(f"{path}/events", has_warning, f"a Warning {reason} Event")
    warning = next(e for e in events["items"] if e["reason"] == reason)
    assert warning["object"] == {"kind": "Application", "namespace": APPS_NAMESPACE, "name": name}
    assert warning["message"] and warning["count"] >= 1
    assert warning["firstTimestamp"] and warning["lastTimestamp"]
    stamps = [e["lastTimestamp"] for e in events["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert all(e["object"]["name"] == name or e["object"]["namespace"] == name
               for e in events["items"])  # fmt: skip


async def test_an_app_of_another_cluster_has_a_partial_tree(
    kube: KubeClient, api: Api, make_git_repo: MakeGitRepo
) -> None:
    name = unique("tree-remote")
    repo = make_git_repo({"cm.yaml": OTHERS})
    app = application(name, repo.url, automated=False)
    app["spec"]["destination"] = {"name": "elsewhere", "namespace": name}
    await create_app(kube, app)
    path = f"/api/v1/applications/{APPS_NAMESPACE}/{name}"
    tree = await api.until(f"{path}/tree", lambda body: "partial" in body, "a partial tree")
    assert tree["nodes"] == []
    assert "destination cluster elsewhere is not registered" in tree["partial"]
    status, body = await api.get(
        f"{path}/resource", version="v1", kind="ConfigMap", namespace=name, name="settings"
    )
    assert status == 404, body
