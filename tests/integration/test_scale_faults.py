"""Faults while many apps sync (issue 14), with the controller as a separate process.

What a user would check after each fault: every app Ready again without
anyone touching it, no PreSync hook run twice, nothing the apps deployed
pruned or rewritten while their source was away.

* The kube-apiserver SIGKILLed while ``SCALE_APPS`` one-ConfigMap apps of one
  monorepo sync and ``HOOK_APPS`` syncs wait on their PreSync hook Job, then
  started again (``DevCluster.stop_apiserver`` / ``start_apiserver``): every
  app ends Ready with exactly one sync in its history, Succeeded (none
  SyncFailed: an apply the outage refused waits for the API server, see
  ``sync.runner``), each hook Job keeps its uid and made one Pod (a hook
  run again would be a new Job: its default delete policy,
  ``BeforeHookCreation``, deletes the old one first).
* The smart-HTTP git server of ``GIT_APPS`` apps down for a while: every app
  says ``Ready=False`` with reason ``SourceUnavailable`` and a message naming
  the repository and what git said; their ConfigMaps keep their uids and
  data; once the server is back on the same URL, a commit made during the
  outage is applied to every app without any refresh, within the retry
  backoff the README documents (5 s doubling, capped at ``--interval``).

How many apps: ``SCALE_APPS = 300`` keeps the first test at 30-45 s on this
2-core machine shared with other tests (measured: 41 s at a load average of
10; 500 apps took 60 s): the cold sync of 300 apps, the outage 5 s, the
control plane's restart ~8 s, the hooks. The 1,000-app run of the same
scenario is ``python bench/scale_bench.py --faults 1000`` (part (e)).

A sync that ends within one pass is recorded (operation, history) by that
pass's one status write; the controller retries that write through the
outage (``controller.durable``), so no app is left Synced with no history
entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from driftless.core.models import API_VERSION
from driftless.core.project import default_project
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeApiError, KubeClient
from tests.fixtures.git import GitRepo, MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import application, condition, configmap_manifest
from tests.integration.test_faults import Controllers, apiserver_outage, eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

JSON = dict[str, Any]
NS = "driftless-scale-faults"
CMS_NS = "scale-faults-cms"  # where the one-ConfigMap apps deploy (one ConfigMap each)
SCALE_APPS = 300
HOOK_APPS = 3
GIT_APPS = 40
# Deadlines, not speed tests: the control plane shares 2 cores with other tests.
CONVERGE_SECONDS = 240
# The controller's --interval in the git test: the cap of the retry backoff.
GIT_INTERVAL_SECONDS = 10
# How long the git server stays down once every app said so: uncapped, the
# backoff (5, 10, 20, 40 s) would then wait ~40 s more; capped, 10 s.
GIT_DOWN_SECONDS = 25
# One reconcile per app once the source is back (4 workers, a loaded machine).
RECOVERY_SLACK_SECONDS = 20
JITTER = 1.1  # requeues are jittered by +-10 %


# -- fixtures ------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def apps_namespace(kube: KubeClient) -> AsyncIterator[str]:
    for name in (NS, CMS_NS):
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await kube.apply(namespace, field_manager="t")
    await kube.apply(default_project(NS), field_manager="t")
    yield NS


class ScaleControllers(Controllers):
    """``Controllers`` of test_faults watching this module's namespace."""

    def start(self, interval: str = "1h") -> subprocess.Popen[bytes]:
        log = (self.logs / f"controller-{len(self.started)}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "driftless.cli.main",
                f"--kubeconfig={self.cluster.kubeconfig}",
                "controller", "--namespace", NS, "--interval", interval,
                "--cache-dir", str(self.logs / "repos"),
                "--allow-local-repositories",  # the repositories of these tests are file://
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self.started.append(proc)
        return proc


@pytest.fixture
def controllers(devcluster: DevCluster, tmp_path: Path) -> Iterator[ScaleControllers]:
    started = ScaleControllers(devcluster, tmp_path)
    yield started
    started.stop_all()


@contextlib.asynccontextmanager
async def apps_deleted(kube: KubeClient, names: list[str]) -> AsyncIterator[None]:
    """Delete the test's apps at its end (no finalizer: their objects stay)."""
    try:
        yield
    finally:
        for name in names:
            with contextlib.suppress(KubeApiError):
                await kube.delete(API_VERSION, "Application", name, NS)


# -- building blocks -----------------------------------------------------------------


def app_spec(name: str, url: str, path: str, namespace: str, interval: str | None = None) -> JSON:
    app = application(name, url, path=path, namespace=namespace, interval=interval)
    app["metadata"]["namespace"] = NS
    return app


async def create_apps(kube: KubeClient, apps: list[JSON]) -> None:
    """Apply ``apps`` 16 at a time, as a script creating many apps would."""
    gate = asyncio.Semaphore(16)

    async def one(app: JSON) -> None:
        async with gate:
            await kube.apply(app, field_manager="test")

    await asyncio.gather(*(one(app) for app in apps))


async def applications(kube: KubeClient, names: list[str]) -> dict[str, JSON]:
    wanted = set(names)
    found = await kube.list(API_VERSION, "Application", NS)
    return {a["metadata"]["name"]: a for a in found if a["metadata"]["name"] in wanted}


def is_ready_at(app: JSON, revision: str) -> bool:
    ready = condition(app, "Ready")
    sync = (app.get("status") or {}).get("sync") or {}
    return (
        ready is not None
        and ready["status"] == "True"
        and sync == {"status": "Synced", "revision": revision}
    )


async def all_ready_at(kube: KubeClient, names: list[str], revision: str) -> dict[str, JSON] | None:
    apps = await applications(kube, names)
    if len(apps) == len(names) and all(is_ready_at(a, revision) for a in apps.values()):
        return apps
    return None


def not_ready(apps: dict[str, JSON], names: list[str], revision: str) -> str:
    """A few apps that are not Ready yet, with their Ready condition: for failures."""
    late = [n for n in names if n not in apps or not is_ready_at(apps[n], revision)]
    shown = [f"{n}: {condition(apps.get(n, {}), 'Ready')}" for n in late[:5]]
    return f"{len(late)} of {len(names)} not Ready at {revision[:12]}; " + "; ".join(shown)


async def converge(
    kube: KubeClient, names: list[str], revision: str, controllers: Controllers, what: str
) -> dict[str, JSON]:
    try:
        return await eventually(
            lambda: all_ready_at(kube, names, revision), timeout=CONVERGE_SECONDS, what=what
        )
    except AssertionError as exc:
        late = not_ready(await applications(kube, names), names, revision)
        raise AssertionError(f"{exc}\n{late}\n{controllers.log_tail()}") from None


# -- the API server restarted while many apps sync -----------------------------------

HOOK = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: prep
  annotations:
    driftless.dev/hook: PreSync
spec:
  backoffLimit: 0
  template:
    metadata:
      labels: {{hook: prep}}
    spec:
      restartPolicy: Never
      nodeSelector: {{{label}: "go"}}
      containers: [{{name: prep, image: example.com/prep:1}}]
"""


def monorepo(count: int, hook_label: str) -> dict[str, str]:
    """``apps/a-<i>/cm.yaml`` (ConfigMap ``cm-<i>``) per app, and ``hook/``."""
    files = {
        f"apps/a-{i:04d}/cm.yaml": configmap_manifest(f"cm-{i:04d}", {"i": str(i)})
        for i in range(count)
    }
    files["hook/hook.yaml"] = HOOK.format(label=hook_label)
    files["hook/cm.yaml"] = configmap_manifest("after-hook", {"done": "yes"})
    return files


async def hook_jobs(kube: KubeClient, names: list[str]) -> dict[str, str] | None:
    """App -> its PreSync Job's uid, once every app's sync waits on it."""
    uids: dict[str, str] = {}
    for name in names:
        app = await kube.get(API_VERSION, "Application", name, NS)
        op = ((app or {}).get("status") or {}).get("operationState") or {}
        step = op.get("step") or {}
        job = await kube.get("batch/v1", "Job", "prep", name)
        if op.get("phase") != "Running" or step.get("phase") != "PreSync" or job is None:
            return None
        uids[name] = str(job["metadata"]["uid"])
    return uids


async def label_node(kube: KubeClient, node: str, label: str, value: str | None) -> None:
    patch = {"metadata": {"labels": {label: value}}}
    await kube.merge_patch("v1", "Node", node, patch)


@contextlib.contextmanager
def paused(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """The controller stopped (SIGSTOP) meanwhile: the apps created then wait for it."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)


async def test_apiserver_restarted_while_hundreds_of_apps_sync(
    kube: KubeClient,
    devcluster: DevCluster,
    apps_namespace: str,
    make_git_repo: MakeGitRepo,
    controllers: ScaleControllers,
) -> None:
    hook_label = f"driftless-scale-hook-{int(time.time())}"
    repo: GitRepo = make_git_repo(monorepo(SCALE_APPS, hook_label))
    revision = repo.head()
    hooks = [f"scale-hook-{i}" for i in range(HOOK_APPS)]
    cms = [f"scale-cm-{i:04d}" for i in range(SCALE_APPS)]
    node = (await kube.list("v1", "Node"))[0]["metadata"]["name"]
    controller = controllers.start()
    async with apps_deleted(kube, [*hooks, *cms]):
        try:
            uids = await _restart_mid_sync(
                kube, devcluster, controllers, controller, repo, hooks, cms
            )
            # The hooks may finish now; every app converges without any help.
            await label_node(kube, node, hook_label, "go")
            apps = await converge(kube, [*hooks, *cms], revision, controllers, "every app Ready")
        finally:
            await label_node(kube, node, hook_label, None)
        assert controller.poll() is None, controllers.log_tail()
        await _each_hook_ran_once(kube, uids, apps)
        for name in cms:  # one sync each, none failed, though many were cut by the outage
            status = apps[name]["status"]
            history = status.get("history") or []
            assert len(history) == 1, (name, history, status.get("operationState"))
            assert history[0]["result"] == "Succeeded", (name, history)
            assert status["operationState"]["phase"] == "Succeeded", (name, status)
        live = {cm["metadata"]["name"]: cm for cm in await kube.list("v1", "ConfigMap", CMS_NS)}
        for i in range(SCALE_APPS):
            assert live[f"cm-{i:04d}"]["data"] == {"i": str(i)}


async def _restart_mid_sync(
    kube: KubeClient,
    devcluster: DevCluster,
    controllers: ScaleControllers,
    controller: subprocess.Popen[bytes],
    repo: GitRepo,
    hooks: list[str],
    cms: list[str],
) -> dict[str, str]:
    """Hook apps waiting on their hooks, the one-ConfigMap apps syncing: the outage.

    Returns each hook app's Job uid.
    """
    await create_apps(kube, [app_spec(n, repo.url, "hook", n) for n in hooks])
    uids = await eventually(
        lambda: hook_jobs(kube, hooks), timeout=CONVERGE_SECONDS, what="the PreSync hooks"
    )
    # Created while the controller is paused, so the outage lands in their cold sync.
    with paused(controller):
        await create_apps(
            kube, [app_spec(n, repo.url, f"apps/a-{i:04d}", CMS_NS) for i, n in enumerate(cms)]
        )
    ready = await eventually(  # a quarter done: the rest is mid-sync or queued
        lambda: _ready_past(kube, cms, repo.head(), len(cms) // 4),
        timeout=CONVERGE_SECONDS,
        what="a quarter of the apps Ready",
    )
    async with apiserver_outage(devcluster, controller, controllers):
        pass
    assert ready < len(cms), f"all {ready} apps were Ready before the outage"
    print(f"{ready} of {len(cms)} apps Ready when the API server was killed")
    assert await hook_jobs(kube, hooks) == uids  # still waiting, on the same Jobs
    return uids


async def _ready_past(
    kube: KubeClient, names: list[str], revision: str, threshold: int
) -> int | None:
    apps = await applications(kube, names)
    count = sum(1 for a in apps.values() if is_ready_at(a, revision))
    return count if count >= threshold else None


async def _each_hook_ran_once(
    kube: KubeClient, uids: dict[str, str], apps: dict[str, JSON]
) -> None:
    """The Job of before the outage, one Pod, one sync, Succeeded."""
    for name, uid in uids.items():
        job = await kube.get("batch/v1", "Job", "prep", name)
        assert job is not None and job["metadata"]["uid"] == uid, name
        status = apps[name]["status"]
        assert status["operationState"]["phase"] == "Succeeded", status["operationState"]
        assert len(status["history"]) == 1, status["history"]
        pods = [
            p for p in await kube.list("v1", "Pod", name) if p["metadata"]["labels"].get("hook")
        ]
        assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
        assert (await kube.get("v1", "ConfigMap", "after-hook", name)) is not None


# -- the git server down for a while, then back ----------------------------------------


def git_files(count: int, value: str) -> dict[str, str]:
    return {
        f"apps/a-{i:04d}/cm.yaml": configmap_manifest(f"git-{i:04d}", {"v": value})
        for i in range(count)
    }


async def all_unavailable(kube: KubeClient, names: list[str]) -> dict[str, JSON] | None:
    apps = await applications(kube, names)
    for app in apps.values():
        ready = condition(app, "Ready")
        if ready is None or ready["status"] != "False" or ready["reason"] != "SourceUnavailable":
            return None
    return apps if len(apps) == len(names) else None


async def test_git_server_down_apps_say_so_keep_running_and_recover_alone(
    kube: KubeClient,
    apps_namespace: str,
    make_git_repo: MakeGitRepo,
    tmp_path: Path,
    controllers: ScaleControllers,
) -> None:
    repo = make_git_repo(git_files(GIT_APPS, "1"))
    names = [f"scale-git-{i:04d}" for i in range(GIT_APPS)]
    root = tmp_path / "git-root"
    server = GitHttpServer(root).start()
    url = server.publish(repo.path, "scale-git")
    port = int(url.split(":")[2].split("/")[0])
    # No interval on the apps: the controller's --interval is their re-check
    # period and the cap of their retry backoff.
    controller = controllers.start(interval=f"{GIT_INTERVAL_SECONDS}s")
    async with apps_deleted(kube, names):
        try:
            apps = [app_spec(n, url, f"apps/a-{i:04d}", CMS_NS) for i, n in enumerate(names)]
            await create_apps(kube, apps)
            first = repo.head()
            await converge(kube, names, first, controllers, "every app Ready")
            before = await _git_configmaps(kube)
        finally:
            server.stop()
        # Meanwhile a commit changes every app's ConfigMap.
        second = repo.commit(git_files(GIT_APPS, "2"), "v2")
        down = await eventually(
            lambda: all_unavailable(kube, names),
            # each app finds out at its next poll, one interval at most
            timeout=GIT_INTERVAL_SECONDS * JITTER + 60,
            what="SourceUnavailable on every app",
        )
        for app in down.values():
            _says_what_failed(app, url, first)
        print("Ready:", condition(next(iter(down.values())), "Ready"))
        # Down for a while: a few retries fail, nothing deployed is touched.
        await asyncio.sleep(GIT_DOWN_SECONDS)
        assert await _git_configmaps(kube) == before
        assert controller.poll() is None, controllers.log_tail()

        with GitHttpServer(root, port=port) as again:
            assert again.publish(repo.path, "scale-git") == url
            back = time.monotonic()
            await converge(kube, names, second, controllers, "every app recovered")
            took = time.monotonic() - back
    # The next retry comes at most one capped backoff step after the server is
    # back, then one reconcile per app.
    print(f"{GIT_APPS} apps recovered {took:.1f}s after the git server was back")
    assert took <= GIT_INTERVAL_SECONDS * JITTER + RECOVERY_SLACK_SECONDS, f"{took:.0f}s"
    after = await _git_configmaps(kube)
    assert {n: data for n, (_, data) in after.items()} == {
        n: {"v": "2"} for n in before
    }  # the commit of the outage is applied ...
    assert {n: uid for n, (uid, _) in after.items()} == {n: uid for n, (uid, _) in before.items()}


def _says_what_failed(app: JSON, url: str, revision: str) -> None:
    """Ready=False SourceUnavailable naming the repository and git's reason; Reconciling."""
    ready = condition(app, "Ready") or {}
    message = str(ready.get("message", ""))
    assert message.startswith(f"cannot reach repository {url}: "), message
    assert "Traceback" not in message and len(message) < 1000, message
    assert "127.0.0.1" in message.removeprefix(f"cannot reach repository {url}: "), message
    reconciling = condition(app, "Reconciling") or {}
    assert reconciling.get("status") == "True", app["status"]["conditions"]
    assert app["status"]["sync"]["revision"] == revision  # what is deployed, not guessed


async def _git_configmaps(kube: KubeClient) -> dict[str, tuple[str, JSON]]:
    """ConfigMap name -> (uid, data) of the git test's apps."""
    return {
        cm["metadata"]["name"]: (cm["metadata"]["uid"], cm.get("data") or {})
        for cm in await kube.list("v1", "ConfigMap", CMS_NS)
        if cm["metadata"]["name"].startswith("git-")
    }
