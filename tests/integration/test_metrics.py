"""Prometheus metrics and probes, scraped over HTTP after real syncs (issue 13).

The session's controller gets its endpoints (what ``--metrics-address``
starts); a second, fresh controller shows ``/readyz`` going from 503 to 200
once it listed the Applications; ``driftless controller`` refuses a port in
use in one line; the server serves ``/metrics`` on its own listener only.
Every scrape is parsed with Prometheus's own text parser, and values are
compared before and after (other tests share the process's counters).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from driftless.controller.endpoints import serve_endpoints
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import LOCAL_SERVER
from driftless.core.wellknown import REFRESH_ANNOTATION
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    configmap_manifest,
    create_app,
    ready,
    unique,
    wait_for,
)
from tests.integration.server_inprocess import serving

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

JSON = dict[str, Any]
# (sample name, labels) -> value
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SECRET = "ghp_metricsSECRET0123456789"


async def scrape(url: str) -> tuple[str, Samples]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def total(samples: Samples, metric: str, /, **labels: str) -> float:
    """The sum of ``metric``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == metric and wanted <= have)


def series(samples: Samples, metric: str, /, **labels: str) -> list[dict[str, str]]:
    wanted = set(labels.items())
    return [dict(have) for (n, have) in samples if n == metric and wanted <= have]


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.text()


async def until(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.3)


@pytest_asyncio.fixture(loop_scope="session")
async def endpoints(controller: Controller) -> AsyncIterator[str]:
    """The session controller's endpoints, as ``--metrics-address 127.0.0.1:0`` serves them."""
    listener = await serve_endpoints(
        "127.0.0.1", 0, controller.metrics.registry, lambda: controller.not_ready
    )
    try:
        yield f"http://127.0.0.1:{listener.port}"
    finally:
        await listener.stop()


def refresh_served(app: JSON) -> bool:
    return REFRESH_ANNOTATION not in (app["metadata"].get("annotations") or {})


def succeeded(app: JSON) -> bool:
    state = (app.get("status") or {}).get("operationState") or {}
    return ready(app) and state.get("phase") == "Succeeded"


async def test_a_sync_moves_the_metrics(
    kube: KubeClient, controller: Controller, endpoints: str, make_git_repo: MakeGitRepo
) -> None:
    name = unique("metrics")
    _, before = await scrape(endpoints)
    repo = make_git_repo({"app/cm.yaml": configmap_manifest("settings", {"color": "blue"})})
    await create_app(kube, application(name, repo.url, path="app"))
    await wait_for(kube, name, succeeded, what="a successful sync")

    async def info_synced() -> Samples | None:
        _, now = await scrape(endpoints)
        found = series(now, "driftless_app_info", name=name, sync_status="Synced")
        return now if found and found[0]["health_status"] == "Healthy" else None

    after: Samples = await until(info_synced, "app_info Synced and Healthy")
    (info,) = series(after, "driftless_app_info", name=name)
    assert info == {
        "namespace": APPS_NAMESPACE,
        "name": name,
        "project": "default",
        "repo": repo.url,
        "dest_server": LOCAL_SERVER,
        "dest_namespace": name,
        "sync_status": "Synced",
        "health_status": "Healthy",
    }
    assert total(after, "driftless_app_info", name=name) == 1
    assert total(after, "driftless_app_sync_total", name=name, phase="Succeeded") == 1
    assert total(after, "driftless_app_sync_total", name=name) == 1

    def grew(metric: str, **labels: str) -> float:
        return total(after, metric, **labels) - total(before, metric, **labels)

    # The namespace and the ConfigMap: server-side apply (201 when it creates); Events: POST.
    assert grew("driftless_kube_requests_total", verb="apply") >= 2
    assert grew("driftless_kube_requests_total", verb="create", code="201") >= 1
    assert grew("driftless_kube_requests_total", verb="get", code="200") >= 1
    assert grew("driftless_kube_requests_total", verb="patch", code="200") >= 1  # the status
    assert total(after, "driftless_kube_requests_total", verb="list", code="200") >= 1
    assert total(after, "driftless_kube_requests_total", verb="watch", code="200") >= 1
    assert grew("driftless_kube_request_duration_seconds_count", verb="apply") >= 2
    for request_type in ("ls-remote", "fetch", "checkout"):
        labels = {"request_type": request_type, "outcome": "success"}
        assert grew("driftless_git_request_total", **labels) >= 1, request_type
    assert grew("driftless_git_request_duration_seconds_count", request_type="fetch") >= 1
    assert grew("driftless_render_duration_seconds_count", renderer="directory") >= 1
    assert grew("driftless_app_reconcile_duration_seconds_count") >= 1
    assert grew("driftless_workqueue_adds_total") >= 1
    assert grew("driftless_workqueue_wait_seconds_count") >= 1
    assert ("driftless_workqueue_depth", frozenset()) in after
    assert total(after, "driftless_watch_cache_objects", cluster=LOCAL_SERVER) >= 1

    # A refresh reconciles again, and finds nothing to sync: still one operation.
    reconciles = total(after, "driftless_app_reconcile_duration_seconds_count")
    patch = {"metadata": {"annotations": {REFRESH_ANNOTATION: "now"}}}
    await kube.merge_patch(API_VERSION, APPLICATION_KIND, name, patch, namespace=APPS_NAMESPACE)
    await wait_for(kube, name, refresh_served, what="the refresh served")
    _, later = await scrape(endpoints)
    assert total(later, "driftless_app_reconcile_duration_seconds_count") > reconciles
    assert total(later, "driftless_app_sync_total", name=name) == 1

    # Deleted: its series go (bounded cardinality).
    await kube.delete(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)

    async def gone() -> bool:
        _, now = await scrape(endpoints)
        return not series(now, "driftless_app_info", name=name) and not series(
            now, "driftless_app_sync_total", name=name
        )

    await until(gone, "the deleted app's series to go")


async def test_a_repository_url_with_a_token_never_reaches_a_label(
    kube: KubeClient, controller: Controller, endpoints: str
) -> None:
    name = unique("metrics-token")
    url = f"https://user:{SECRET}@127.0.0.1:9/org/repo.git?private_token={SECRET}"
    await create_app(kube, application(name, url))

    async def listed() -> str | None:
        text, now = await scrape(endpoints)
        return text if series(now, "driftless_app_info", name=name) else None

    text = await until(listed, "the app in app_info")
    assert SECRET not in text
    assert "127.0.0.1:9/org/repo.git" in text
    await kube.delete(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)


async def test_probes_health_at_once_ready_once_listed_not_ready_once_stopped(
    kube: KubeClient, tmp_path_factory: pytest.TempPathFactory
) -> None:
    namespace = unique("metrics-ready")
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        field_manager="test",
    )
    git = GitCache(tmp_path_factory.mktemp("metrics-git"))
    settings = ControllerSettings(namespace=namespace, workers=1, default_interval=3600)
    fresh = Controller(kube, git, settings)
    listener = await serve_endpoints(
        "127.0.0.1", 0, fresh.metrics.registry, lambda: fresh.not_ready
    )
    url = f"http://127.0.0.1:{listener.port}"
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        assert await get(f"{url}/healthz") == (200, "ok")
        status, body = await get(f"{url}/readyz")
        assert (status, body) == (503, "not ready: Applications not listed yet")
        _, samples = await scrape(url)
        assert not series(samples, "driftless_app_info")  # its own registry: no other apps
        task = asyncio.create_task(fresh.run(stop))

        async def is_ready() -> bool:
            return (await get(f"{url}/readyz")) == (200, "ready")

        await until(is_ready, "/readyz 200")
        assert await get(f"{url}/healthz") == (200, "ok")
        stop.set()
        await task
        task = None
        stopped = "not ready: the watch of Applications is not running"
        assert await get(f"{url}/readyz") == (503, stopped)
    finally:
        stop.set()
        if task is not None:
            await task
        await listener.stop()


async def test_a_metrics_port_in_use_stops_the_controller_in_one_line(
    devcluster: DevCluster, tmp_path: Path
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        argv = [sys.executable, "-m", "driftless.cli.main", f"--kubeconfig={devcluster.kubeconfig}",
                "controller", "--namespace", unique("nowhere"), "--cache-dir", str(tmp_path),
                "--metrics-address", f"127.0.0.1:{port}"]  # fmt: skip
        done = await asyncio.to_thread(
            subprocess.run, argv, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "cannot listen" in line]
    assert len(lines) == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port} for metrics" in lines[0]
    assert "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


async def test_the_server_serves_metrics_on_its_own_listener_only(kube: KubeClient) -> None:
    port = _free_port()
    async with serving(kube, metrics_address=("127.0.0.1", port)) as served:
        http = await served.login()
        async with http:
            async with http.get(f"{served.url}/api/v1/applications") as resp:
                assert resp.status == 200
            async with http.get(f"{served.url}/metrics") as resp:
                public = await resp.text()
        assert "driftless_server_requests_total" not in public
        _, samples = await scrape(f"http://127.0.0.1:{port}")
    route = "/api/v1/applications"
    counted = series(samples, "driftless_server_requests_total")
    assert total(samples, "driftless_server_requests_total", route=route, code="200") >= 1, counted
    assert total(samples, "driftless_server_requests_total", route="/readyz", code="200") >= 1
    assert ("driftless_server_sse_streams", frozenset()) in samples
    assert total(samples, "driftless_kube_requests_total", verb="list", code="200") >= 1
