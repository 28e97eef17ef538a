"""The no-op resync fast path on the real control plane (``controller.fastpath``).

A resync of a converged app where nothing changed writes nothing (counted on
the API server: the objects' resourceVersion and managedFields, the app's
resourceVersion and its Events stay as they were) and plans nothing (no
dry-run: the planner's verdict cache is not even consulted). What must still
be seen is: an out-of-band edit of a live object (drift), a Project change,
a new commit, whatever annotations a tenant writes on the app, a new upstream
release matching the range of a chart dependency (no lock) once the range's
resolution expires.

A resync is what the interval timer does: the app's key is queued again.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from driftless.controller.fastpath import Record
from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION
from driftless.core.project import PROJECT_KIND
from driftless.core.reasons import Reason
from driftless.devcluster import binaries
from driftless.kube.client import KubeClient
from driftless.render import chart_deps
from tests.fixtures.chart_servers import HelmRepository, package, run
from tests.fixtures.git import GitRepo, MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    configmap_manifest,
    create_app,
    get_app,
    ready,
    ready_false_with,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

JSON = dict[str, Any]
CONFIGMAPS = ("alpha", "beta", "gamma")


def project(name: str, destinations: list[JSON]) -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": name, "namespace": APPS_NAMESPACE},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": destinations,
            "clusterResourceAllowList": [{"group": "*", "kind": "*"}],
        },
    }


async def converged_app(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    prefix: str,
    files: dict[str, str] | None = None,
) -> tuple[str, GitRepo]:
    """A Synced/Healthy app (``files``, default three ConfigMaps, in app/) under its own
    Project, settled for the fast path."""
    name = unique(prefix)
    repo = make_git_repo(
        files or {f"app/{cm}.yaml": configmap_manifest(cm, {"value": cm}) for cm in CONFIGMAPS}
    )
    await kube.apply(project(name, [{"server": "*", "namespace": name}]), field_manager="test")
    app = application(name, repo.url, path="app")
    app["spec"]["project"] = name
    await create_app(kube, app)
    await wait_for(kube, name, _synced_and_ready, what="Synced and Ready")
    key = (APPS_NAMESPACE, name)
    deadline = time.monotonic() + 60
    while controller.reconciler.fast.get(key) is None:
        # The pass that ran the sync is not remembered; the next quiet one is.
        assert time.monotonic() < deadline, "no settled full pass remembered"
        controller.queue.add(key)
        await asyncio.sleep(0.3)
    return name, repo


def _synced_and_ready(app: JSON) -> bool:
    sync = ((app.get("status") or {}).get("sync") or {}).get("status")
    return sync == "Synced" and ready(app)


async def resync(controller: Controller, name: str) -> Record:
    """Queue the app as its interval would, and wait until that pass took the fast path."""
    key = (APPS_NAMESPACE, name)
    before = controller.reconciler.fast.get(key)
    assert before is not None
    controller.queue.add(key)
    deadline = time.monotonic() + 60
    while True:
        now = controller.reconciler.fast.get(key)
        if now is not None and now.fast_passes > before.fast_passes:
            return now
        assert now is not None and now.at == before.at, "a full pass ran instead"
        assert time.monotonic() < deadline, "the resync never ran"
        await asyncio.sleep(0.05)


async def server_side_state(kube: KubeClient, name: str) -> JSON:
    """What the API server holds that any write would change."""
    app = await get_app(kube, name)
    objects = {}
    for cm in CONFIGMAPS:
        live = await kube.get("v1", "ConfigMap", cm, name)
        assert live is not None
        meta = live["metadata"]
        objects[cm] = (meta["resourceVersion"], meta.get("managedFields"))
    events = await kube.list("v1", "Event", APPS_NAMESPACE)
    mine = [e["metadata"]["uid"] for e in events if e["involvedObject"].get("name") == name]
    return {"app": app["metadata"]["resourceVersion"], "objects": objects, "events": sorted(mine)}


def fast_paths(controller: Controller) -> float:
    """``driftless_reconcile_fast_path_total`` as the controller's /metrics says."""
    text = generate_latest(controller.metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return families["driftless_reconcile_fast_path"].samples[0].value


def consulted(controller: Controller) -> int:
    """How often the local planner looked up a dry-run verdict (one per object per plan)."""
    verdicts = controller.reconciler.planner.verdicts
    return verdicts.hits + verdicts.misses


async def test_an_unchanged_app_resyncs_without_a_write_and_drift_is_still_reported(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name, _ = await converged_app(kube, controller, make_git_repo, "noop")
    before = await server_side_state(kube, name)
    planned, counted = consulted(controller), fast_paths(controller)
    for _ in range(3):
        await resync(controller, name)
    assert await server_side_state(kube, name) == before
    assert consulted(controller) == planned, "a resync planned the app"
    assert fast_paths(controller) >= counted + 3

    drift = {"data": {"value": "edited by hand"}}
    await kube.merge_patch("v1", "ConfigMap", "beta", drift, namespace=name)
    app = await wait_for(kube, name, lambda a: a["status"]["sync"]["status"] == "OutOfSync")
    differing = [r["name"] for r in app["status"]["resources"] if r["status"] == "OutOfSync"]
    assert differing == ["beta"]


async def test_a_project_change_is_seen_at_once(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name, _ = await converged_app(kube, controller, make_git_repo, "noop-proj")
    await resync(controller, name)
    # The admin narrows the Project: the app's namespace is no longer a destination.
    narrowed = project(name, [{"server": "*", "namespace": "elsewhere"}])
    await kube.apply(narrowed, field_manager="test", force=True)
    # No resync asked: the Projects watch queues the apps of the Project that changed.
    app = await wait_for(kube, name, ready_false_with(Reason.PROJECT_VIOLATION))
    ready_condition = next(c for c in app["status"]["conditions"] if c["type"] == "Ready")
    assert name in ready_condition["message"]


async def test_a_tenant_s_annotations_never_hide_a_new_commit_or_drift(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name, repo = await converged_app(kube, controller, make_git_repo, "noop-hostile")
    await resync(controller, name)
    # A new commit, pushed with no webhook, and a tenant writing annotations that
    # look like a verdict of the controller: the resync must plan and apply it.
    head = repo.commit({"app/delta.yaml": configmap_manifest("delta", {"value": "delta"})})
    hostile = {
        "driftless.dev/fast-path": "true",
        "driftless.dev/fingerprint": "0" * 64,
        "driftless.dev/unchanged": "yes",
    }
    patch = {"metadata": {"annotations": hostile}}
    await kube.merge_patch(API_VERSION, "Application", name, patch, namespace=APPS_NAMESPACE)
    controller.queue.add((APPS_NAMESPACE, name))
    await wait_for(
        kube,
        name,
        lambda a: _synced_and_ready(a) and a["status"]["sync"]["revision"] == head,
        what="the new commit applied",
    )
    assert await kube.get("v1", "ConfigMap", "delta", name) is not None

    # Settled again with the hostile annotations in place: an edit is still drift.
    deadline = time.monotonic() + 60
    key = (APPS_NAMESPACE, name)
    while (record := controller.reconciler.fast.get(key)) is None or (
        record.snapshot.revision != head
    ):
        assert time.monotonic() < deadline, "no settled full pass of the new commit"
        controller.queue.add(key)
        await asyncio.sleep(0.3)
    await resync(controller, name)
    await kube.merge_patch("v1", "ConfigMap", "delta", {"data": {"value": "x"}}, namespace=name)
    await wait_for(kube, name, lambda a: a["status"]["sync"]["status"] == "OutOfSync")


DB_TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\n"
    "data:\n  version: {{ .Chart.Version | quote }}\n"
)


async def test_a_new_release_matching_a_chart_dependency_s_range_is_seen_within_the_range_ttl(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A chart in git depending on a repository chart by range, with no lock: the
    # commit stays the same when upstream publishes 1.1.0, only the range moves.
    monkeypatch.setattr(chart_deps, "RANGE_TTL", 3.0)  # 300 s in production
    helm = str(binaries.tool("helm"))
    packages = tmp_path / "packages"
    package(helm, tmp_path, packages, "db", "1.0.0", {"cm.yaml": DB_TEMPLATE})
    upstream = HelmRepository(helm, tmp_path, packages)
    try:
        dependency = {"name": "db", "version": "^1.0.0", "repository": upstream.url}
        chart = {
            "apiVersion": "v2",
            "name": "shop",
            "version": "0.1.0",
            "dependencies": [dependency],
        }
        files = {"app/Chart.yaml": yaml.safe_dump(chart), "app/values.yaml": "{}\n"}
        name, _ = await converged_app(kube, controller, make_git_repo, "noop-range", files)
        live = await kube.get("v1", "ConfigMap", f"{name}-db", name)
        assert live is not None and live["data"]["version"] == "1.0.0"

        package(helm, tmp_path, packages, "db", "1.1.0", {"cm.yaml": DB_TEMPLATE})
        run([helm, "repo", "index", str(packages)], tmp_path)
        record = controller.reconciler.fast.get((APPS_NAMESPACE, name))
        assert record is not None and record.snapshot.renders_until is not None
        # One resync once the resolution expired: nothing else changed, yet it must
        # render (not the fast path) and report the release the range now picks. (An
        # automated sync does not sync the same commit twice: OutOfSync is the news.)
        await asyncio.sleep(max(0.0, record.snapshot.renders_until - time.monotonic()) + 0.1)
        controller.queue.add((APPS_NAMESPACE, name))
        app = await wait_for(
            kube,
            name,
            lambda a: a["status"]["sync"]["status"] == "OutOfSync",
            what="the new release of the dependency seen",
        )
        differing = [r["name"] for r in app["status"]["resources"] if r["status"] == "OutOfSync"]
        assert differing == [f"{name}-db"]
    finally:
        upstream.stop()
