"""The read API over real HTTP, on the dev cluster with the real controller.

Apps are created as Application objects (as `kubectl apply` would); the
controller reconciles them; the server's watch caches must show each change
without any list request of ours reaching the API server -- proved with the
API server's own count of the LIST requests it served
(``apiserver_request_total`` in its ``/metrics``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest

from driftless.controller.manager import Controller
from driftless.kube.client import KubeClient
from tests.fixtures.devcluster import Kubectl
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    MIN_WAIT,
    application,
    create_app,
    unique,
)
from tests.integration.server_inprocess import serving

pytestmark = pytest.mark.integration

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: front
spec:
  ports:
    - port: 80
"""
SECRET_URL = "https://deploy:s3cr3t-t0ken@git.example.invalid/team/private.git"


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as resp:
        return resp.status, await resp.json()


async def _until(http: aiohttp.ClientSession, url: str, check: Any, what: str) -> Any:
    """Poll a GET until ``check(body)`` holds (the controller works at its own pace)."""
    deadline = time.monotonic() + MIN_WAIT
    while True:
        status, body = await _get(http, url)
        if status == 200 and check(body):
            return body
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {status} {body}"
        await asyncio.sleep(0.3)


async def test_list_filter_sort_paginate_detail(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": CONFIGMAP})
    run = unique("srv")
    apps = {
        f"{run}-a": {"automated": True, "labels": {"tier": "front"}},
        f"{run}-b": {"automated": True, "labels": {"tier": "back"}},
        f"{run}-c": {"automated": False, "labels": {"tier": "back"}},
    }
    for name, how in apps.items():
        body = application(name, repo.url, automated=how["automated"])
        body["metadata"]["labels"] = {"run": run, **how["labels"]}
        await create_app(kube, body)

    async with serving(kube) as served:
        http = await served.login()
        async with http:
            base = f"{served.url}/api/v1/applications?selector=run%3D{run}"
            # Automated apps become Synced, the manual one stays OutOfSync: seen through the
            # server's watch, with no request of ours to the API server.
            body = await _until(
                http,
                base,
                lambda b: [r["sync"] for r in b["items"]] == ["Synced", "Synced", "OutOfSync"],
                "two Synced apps and one OutOfSync",
            )
            assert body["total"] == 3
            assert body["counts"]["sync"] == {"Synced": 2, "OutOfSync": 1, "Unknown": 0}
            first = body["items"][0]
            assert first["name"] == f"{run}-a"
            assert first["namespace"] == APPS_NAMESPACE
            assert first["repoURL"] == repo.url
            assert first["destination"]["namespace"] == f"{run}-a"
            assert first["labels"] == {"run": run, "tier": "front"}
            assert len(first["revision"]) == 40
            assert first["reconciledAt"].endswith("Z")

            def names(b: dict[str, Any]) -> list[str]:
                return [r["name"].removeprefix(f"{run}-") for r in b["items"]]

            for query, expected in [
                ("&sync=OutOfSync", ["c"]),
                ("&sync=Synced&selector=tier%3Dback", ["b"]),
                ("&sort=-name", ["c", "b", "a"]),
                ("&sort=sync", ["c", "a", "b"]),
                ("&limit=2", ["a", "b"]),
                ("&limit=2&offset=2", ["c"]),
                (f"&search={run}-B", ["b"]),
                ("&project=default&project=other", ["a", "b", "c"]),
                (f"&repo={repo.url}", ["a", "b", "c"]),
                ("&repo=https://elsewhere.example/x.git", []),
                ("&namespace=nowhere", []),
            ]:
                status, page = await _get(http, base + query)
                assert (status, names(page)) == (200, expected), query

            status, page = await _get(http, base + "&limit=2&offset=2")
            assert (page["total"], page["offset"], page["limit"]) == (3, 2, 2)

            status, detail = await _get(http, f"{served.url}/api/v1/applications/"
                                        f"{APPS_NAMESPACE}/{run}-a")  # fmt: skip
            assert status == 200
            assert detail["spec"]["source"]["repoURL"] == repo.url
            assert detail["status"]["sync"]["status"] == "Synced"
            assert "managedFields" not in detail["metadata"]

            history = await _until(
                http,
                f"{served.url}/api/v1/applications/{APPS_NAMESPACE}/{run}-a/history",
                lambda b: len(b["items"]) >= 1,
                "a history entry",
            )
            assert history["items"][0]["revision"] == repo.head()

            status, projects = await _get(http, f"{served.url}/api/v1/projects")
            assert status == 200
            assert "default" in [p["metadata"]["name"] for p in projects["items"]]


# apiserver_request_total{code="200",...,resource="applications",...,verb="LIST",...} 7
_REQUESTS = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<count>\S+)$", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')
#: What the reads below need: the apps, the tree's kinds (a ConfigMap, a Service and the
#: EndpointSlices it owns) and Events.
LISTED = ("applications", "configmaps", "services", "endpointslices", "events")


def _lists(kubectl: Kubectl) -> Counter[str]:
    """The LIST requests the API server has served, per resource of ``LISTED``."""
    metrics = kubectl("get", "--raw", "/metrics").stdout
    served: Counter[str] = Counter()
    for match in _REQUESTS.finditer(metrics):
        labels = dict(_LABEL.findall(match["labels"]))
        if labels.get("verb") == "LIST" and labels.get("resource") in LISTED:
            served[labels["resource"]] += int(float(match["count"]))
    return served


async def test_reads_never_list_against_the_api_server(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo, kubectl: Kubectl
) -> None:
    repo = make_git_repo({"cm.yaml": CONFIGMAP, "svc.yaml": SERVICE})
    run = unique("srv-nolist")
    body = application(run, repo.url, automated=True)
    body["metadata"]["labels"] = {"run": run}
    await create_app(kube, body)
    async with serving(kube) as served, await served.login() as http:
        base = f"{served.url}/api/v1"
        app_path = f"{base}/applications/{APPS_NAMESPACE}/{run}"
        reads = [
            f"{base}/applications",
            f"{base}/applications?selector=run%3D{run}",
            app_path,
            f"{app_path}/history",
            f"{app_path}/tree",
            f"{app_path}/events",
        ]
        # Synced (the controller is done with it) and its whole tree followed: from here
        # on every answer is from memory.
        await _until(http, app_path + "/history", lambda b: len(b["items"]) >= 1, "a sync")
        await _until(
            http,
            app_path + "/tree",
            lambda b: (
                "partial" not in b and {n["kind"] for n in b["nodes"]} >= {"ConfigMap", "Service"}
            ),
            "the whole tree",
        )
        await _until(http, app_path + "/events", lambda b: "partial" not in b, "the Events")
        before = await asyncio.to_thread(_lists, kubectl)
        assert before["applications"] > 0, before  # the caches' first list, counted
        answers = [await _get(http, url) for _ in range(9) for url in reads]
        after = await asyncio.to_thread(_lists, kubectl)
    assert {status for status, _ in answers} == {200}
    assert len(answers) == 54
    assert after == before


async def test_deleted_apps_leave_the_list(kube: KubeClient) -> None:
    run = unique("srv-del")
    body = application(run, "https://git.example.invalid/x.git", automated=False)
    body["metadata"]["labels"] = {"run": run}
    await create_app(kube, body)
    async with serving(kube) as served, await served.login() as http:
        url = f"{served.url}/api/v1/applications?selector=run%3D{run}"
        await _until(http, url, lambda b: b["total"] == 1, "the app listed")
        await kube.delete("driftless.dev/v1alpha1", "Application", run, APPS_NAMESPACE)
        await _until(http, url, lambda b: b["total"] == 0, "the app gone from the list")
        status, error = await _get(http, f"{served.url}/api/v1/applications/{APPS_NAMESPACE}/{run}")
    assert status == 404
    assert error["error"] == {
        "code": "NotFound",
        "message": f"application {APPS_NAMESPACE}/{run} not found",
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=100000", "query.limit"),
        ("limit=-1", "query.limit"),
        ("offset=-5", "query.offset"),
        ("limit=many", "query.limit"),
        ("sort=password", "query.sort"),
        ("sync=Fine", "query.sync"),
        ("selector=env%20in%20(a,b)", "query.selector"),
        ("selector=%3D%3D%3D", "query.selector"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    kube: KubeClient, query: str, field: str
) -> None:
    async with serving(kube) as served, await served.login() as http:
        status, body = await _get(http, f"{served.url}/api/v1/applications?{query}")
    assert status == 422
    assert body["error"]["code"] == "Invalid"
    assert body["error"]["message"].startswith(field)


async def test_no_response_contains_a_repository_credential(kube: KubeClient) -> None:
    run = unique("srv-cred")
    body = application(run, SECRET_URL, automated=False)
    body["metadata"]["labels"] = {"run": run}
    body["metadata"]["annotations"] = {"note": f"mirrors {SECRET_URL}"}
    await create_app(kube, body)
    async with serving(kube) as served, await served.login() as http:
        base = f"{served.url}/api/v1"
        app_path = f"{base}/applications/{APPS_NAMESPACE}/{run}"
        # The controller refuses the URL (a password in a spec): wait for that status.
        await _until(
            http, app_path, lambda b: bool(b.get("status", {}).get("conditions")), "a status"
        )
        answers = []
        for url in [
            f"{base}/applications?selector=run%3D{run}",
            f"{base}/applications?repo={SECRET_URL}",
            f"{base}/applications",
            app_path,
            f"{app_path}/history",
            f"{base}/projects",
        ]:
            async with http.get(url) as resp:
                answers.append((url, resp.status, await resp.text()))
    for url, status, text in answers:
        assert status == 200, (url, text)
        assert "s3cr3t" not in text, url
        assert "deploy:" not in text, url
    listed = answers[0][2]
    assert "https://git.example.invalid/team/private.git" in listed
