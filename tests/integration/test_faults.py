"""Faults against the embedded control plane, with the controller as a separate process.

Each test breaks one real part in the middle of the work and then checks what
a user would: every app ends Synced and Healthy with the live objects equal
to git, no hook ran twice (the hook Job keeps its uid and made one Pod), and
nothing git still has was pruned or rewritten (same uids, same data).

* the kube-apiserver SIGKILLed while a sync waits on its PreSync hook, then
  restarted on the same port and certificates (``DevCluster.stop_apiserver``
  / ``start_apiserver``): the controller process survives, re-establishes its
  watches (a later drift is healed, with a one-hour interval) and resumes the
  operation where it was;
* the smart-HTTP git server down: the app reports ``SourceUnavailable``,
  nothing is pruned or changed, and a commit made meanwhile is applied once
  the server is back on the same URL;
* the controller SIGKILLed while it prunes (at the first orphan deletion
  seen through a watch): the next controller finishes the prune and leaves
  what git still has alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from driftless.core.models import API_VERSION
from driftless.core.project import default_project
from driftless.core.wellknown import SYNC_WAVE_ANNOTATION
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeApiError, KubeClient
from tests.fixtures.devcluster import Kubectl
from tests.fixtures.git import GitRepo, MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import (
    application,
    condition,
    configmap_manifest,
    deployment_manifest,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

JSON = dict[str, Any]
T = TypeVar("T")
NS = "driftless-faults"
CONVERGE_SECONDS = 180


# -- fixtures ------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def apps_namespace(kube: KubeClient) -> AsyncIterator[str]:
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, field_manager="t"
    )
    await kube.apply(default_project(NS), field_manager="t")
    yield NS


class Controllers:
    """``driftless controller`` processes of one test, killed at its end."""

    def __init__(self, cluster: DevCluster, logs: Path) -> None:
        self.cluster = cluster
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"controller-{len(self.started)}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "driftless.cli.main",
                f"--kubeconfig={self.cluster.kubeconfig}",
                "controller", "--namespace", NS, "--interval", "1h",
                "--cache-dir", str(self.logs / "repos"), "--log-level", "debug",
                "--allow-local-repositories",  # the repositories of these tests are file://
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self.started.append(proc)
        return proc

    def log_tail(self, lines: int = 40) -> str:
        if not self.started:
            return ""
        path = self.logs / f"controller-{len(self.started) - 1}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def controllers(devcluster: DevCluster, tmp_path: Path) -> Iterator[Controllers]:
    started = Controllers(devcluster, tmp_path)
    yield started
    started.stop_all()


# -- polling -------------------------------------------------------------------------


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, last: str = ""
) -> T:
    """Await ``probe`` until it returns a value; API errors count as "not yet".

    The test's own client sees the same outages as the controller, so a
    refused connection while the API server restarts is retried, not fatal.
    """
    deadline = time.monotonic() + timeout
    error = ""
    while time.monotonic() < deadline:
        try:
            found = await probe()
        except KubeApiError as exc:
            error = str(exc)
        else:
            if found is not None:
                return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} ({error}); {last}")


async def get_app(kube: KubeClient, name: str) -> JSON:
    app = await kube.get(API_VERSION, "Application", name, NS)
    assert app is not None, f"application {name} disappeared"
    return app


async def converged(kube: KubeClient, name: str, revision: str, controllers: Controllers) -> JSON:
    """The app once Ready, Synced at ``revision``, Healthy, its operation Succeeded."""

    async def probe() -> JSON | None:
        app = await get_app(kube, name)
        status = app.get("status") or {}
        ready = condition(app, "Ready")
        op = status.get("operationState") or {}
        if (
            ready is not None
            and ready["status"] == "True"
            and status.get("sync") == {"status": "Synced", "revision": revision}
            and (status.get("health") or {}).get("status") == "Healthy"
            and op.get("phase") in (None, "Succeeded")
        ):
            return app
        return None

    return await explained(
        eventually(probe, timeout=CONVERGE_SECONDS, what=f"{name} to converge"),
        kube,
        name,
        controllers,
    )


async def explained(
    waiting: Awaitable[T], kube: KubeClient, name: str, controllers: Controllers
) -> T:
    """``waiting``'s result; on a timeout, the app's status and the controller log join it."""
    try:
        return await waiting
    except AssertionError as exc:
        app = await get_app(kube, name)
        raise AssertionError(
            f"{exc}\nstatus: {app.get('status')}\ncontroller log:\n{controllers.log_tail()}"
        ) from None


def app_spec(name: str, url: str, *, interval: str | None = None, self_heal: bool = True) -> JSON:
    app = application(name, url, interval=interval)
    app["metadata"]["namespace"] = NS
    app["spec"]["syncPolicy"]["automated"] = {"prune": True, "selfHeal": self_heal}
    return app


async def configmaps(kube: KubeClient, namespace: str) -> dict[str, JSON]:
    return {cm["metadata"]["name"]: cm for cm in await kube.list("v1", "ConfigMap", namespace)}


# -- the API server killed mid-sync ------------------------------------------------------


def wave(number: int) -> dict[str, str]:
    return {SYNC_WAVE_ANNOTATION: str(number)}


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


@contextlib.asynccontextmanager
async def apiserver_outage(
    devcluster: DevCluster, controller: subprocess.Popen[bytes], controllers: Controllers
) -> AsyncIterator[None]:
    """The kube-apiserver SIGKILLed for a few seconds, then started again (same port, certs)."""
    devcluster.stop_apiserver(kill=True)
    try:
        # Through the outage the controller must keep running: no exit, no crash.
        outage_end = time.monotonic() + 5
        while time.monotonic() < outage_end:
            assert controller.poll() is None, controllers.log_tail()
            await asyncio.sleep(0.2)
        yield
    finally:
        devcluster.start_apiserver()
    assert controller.poll() is None, controllers.log_tail()


async def operation_at(kube: KubeClient, name: str, phase: str, wave: int) -> JSON | None:
    """The app's running operation once its cursor is at (``phase``, ``wave``)."""
    op = ((await get_app(kube, name)).get("status") or {}).get("operationState") or {}
    step = op.get("step") or {}
    if op.get("phase") == "Running" and step.get("phase") == phase and step.get("wave") == wave:
        return dict(op)
    return None


async def test_apiserver_killed_mid_sync_controller_recovers(
    kube: KubeClient,
    devcluster: DevCluster,
    apps_namespace: str,
    make_git_repo: MakeGitRepo,
    kubectl: Kubectl,
    controllers: Controllers,
) -> None:
    name, bystander = "fault-apiserver", "fault-bystander"
    hook_label = f"driftless-fault-hook-{int(time.time())}"
    late_label = f"driftless-fault-late-{int(time.time())}"
    repo = make_git_repo(
        {
            "hook.yaml": HOOK.format(label=hook_label),
            "w0.yaml": configmap_manifest("w0", {"color": "blue"})
            + "---\n"
            + deployment_manifest(image="example.com/web:1"),
            "w1.yaml": configmap_manifest("w1", {"size": "1"}, annotations=wave(1))
            + "---\n"
            + deployment_manifest(
                "late",
                replicas=1,
                image="example.com/late:1",
                annotations=wave(1),
                node_selector={late_label: "go"},
            ),
            "w2.yaml": configmap_manifest("w2", {"shape": "round"}, annotations=wave(2)),
        }
    )
    other = make_git_repo({"cm.yaml": configmap_manifest("plain", {"k": "v"})})
    controller = controllers.start()
    await kube.apply(app_spec(name, repo.url, self_heal=False), field_manager="test")
    await kube.apply(app_spec(bystander, other.url, self_heal=False), field_manager="test")
    node = (await kube.list("v1", "Node"))[0]["metadata"]["name"]

    async def hook_running() -> str | None:
        job = await kube.get("batch/v1", "Job", "prep", name)
        if await operation_at(kube, name, "PreSync", 0) and job is not None:
            return str(job["metadata"]["uid"])
        return None

    try:
        # Outage 1: the sync waits on its PreSync hook, whose Pod cannot be scheduled yet.
        job_uid = await explained(
            eventually(hook_running, timeout=CONVERGE_SECONDS, what="the PreSync hook"),
            kube,
            name,
            controllers,
        )
        async with apiserver_outage(devcluster, controller, controllers):
            pass
        await asyncio.to_thread(kubectl, "label", "node", node, f"{hook_label}=go", "--overwrite")

        # Outage 2: the hook is done and wave 1 waits on a Deployment that cannot roll out yet.
        await explained(
            eventually(
                lambda: operation_at(kube, name, "Sync", 1), timeout=CONVERGE_SECONDS, what="wave 1"
            ),
            kube,
            name,
            controllers,
        )
        async with apiserver_outage(devcluster, controller, controllers):
            pass
        assert await eventually(
            lambda: kube.list("v1", "ConfigMap", name),
            timeout=CONVERGE_SECONDS,
            what="the API back",
        )
        assert await kube.get("v1", "ConfigMap", "w2", name) is None  # wave 2 not reached yet
        await asyncio.to_thread(kubectl, "label", "node", node, f"{late_label}=go", "--overwrite")
        try:
            app = await converged(kube, name, repo.head(), controllers)
        except AssertionError as exc:
            listing = await asyncio.to_thread(
                kubectl, "get", "deploy,rs,pods,nodes", "-A", "-o", "wide", check=False
            )
            raise AssertionError(f"{exc}\ncluster:\n{listing.stdout}") from None
        await converged(kube, bystander, other.head(), controllers)
    finally:
        for label in (hook_label, late_label):
            await asyncio.to_thread(kubectl, "label", "node", node, f"{label}-", check=False)

    # The hook ran once: the same Job, one Pod; one sync in the history.
    job = await kube.get("batch/v1", "Job", "prep", name)
    assert job is not None and job["metadata"]["uid"] == job_uid
    pods = [p for p in await kube.list("v1", "Pod", name) if p["metadata"]["labels"].get("hook")]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    assert len(app["status"]["history"]) == 1
    live = await configmaps(kube, name)
    assert live["w0"]["data"] == {"color": "blue"}
    assert live["w1"]["data"] == {"size": "1"}
    assert live["w2"]["data"] == {"shape": "round"}
    for deployment, replicas in (("web", 2), ("late", 1)):
        found = await kube.get("apps/v1", "Deployment", deployment, name)
        assert found is not None and found["status"].get("availableReplicas") == replicas
    assert (await configmaps(kube, bystander))["plain"]["data"] == {"k": "v"}

    # Watches are back: a change made in the cluster now is reported within
    # seconds, with no re-check interval (it is one hour), only by the watch
    # event. (Not healed: selfHeal would start a new sync, hooks included.)
    await kube.merge_patch("v1", "ConfigMap", "w1", {"data": {"size": "99"}}, namespace=name)

    async def drift_seen() -> JSON | None:
        status = (await get_app(kube, name)).get("status") or {}
        rows = [r for r in status.get("resources", []) if r["name"] == "w1"]
        return status if rows and rows[0]["status"] == "OutOfSync" else None

    status = await explained(
        # A deadline, not a speed test: without the watch it would take the 1 h interval.
        eventually(drift_seen, timeout=CONVERGE_SECONDS, what="drift seen after the restarts"),
        kube,
        name,
        controllers,
    )
    assert status["sync"]["status"] == "OutOfSync"
    assert controller.poll() is None


# -- the git server down and back ------------------------------------------------------------


async def test_git_server_down_then_back(
    kube: KubeClient,
    apps_namespace: str,
    make_git_repo: MakeGitRepo,
    tmp_path: Path,
    controllers: Controllers,
) -> None:
    name = "fault-git"
    repo = make_git_repo(
        {
            "a.yaml": configmap_manifest("a", {"color": "blue"}),
            "b.yaml": configmap_manifest("b", {"keep": "until-deleted-in-git"}),
            "c.yaml": configmap_manifest("c", {"stable": "yes"}),
        }
    )
    root = tmp_path / "git-root"
    server = GitHttpServer(root).start()
    try:
        url = server.publish(repo.path, "faults")
        port = int(url.split(":")[2].split("/")[0])
        controllers.start()
        await kube.apply(app_spec(name, url, interval="2s"), field_manager="test")
        first = repo.head()
        await converged(kube, name, first, controllers)
        before = await configmaps(kube, name)
    finally:
        server.stop()

    # Down: a commit that changes one object and deletes another is made meanwhile.
    second = repo.commit({"a.yaml": configmap_manifest("a", {"color": "green"})}, delete=["b.yaml"])

    async def unavailable() -> JSON | None:
        app = await get_app(kube, name)
        ready = condition(app, "Ready")
        if ready and ready["status"] == "False" and ready["reason"] == "SourceUnavailable":
            return app
        return None

    app = await explained(
        eventually(unavailable, timeout=60, what="SourceUnavailable"), kube, name, controllers
    )
    message = str((condition(app, "Ready") or {}).get("message", ""))
    assert message and "Traceback" not in message, message
    assert app["status"]["sync"]["revision"] == first
    during = await configmaps(kube, name)
    for cm in ("a", "b", "c"):  # nothing pruned, nothing changed
        assert during[cm]["metadata"]["uid"] == before[cm]["metadata"]["uid"]
        assert during[cm]["data"] == before[cm]["data"]

    # Back on the same URL: the commit made during the outage is applied.
    with GitHttpServer(root, port=port) as again:
        assert again.publish(repo.path, "faults") == url
        await converged(kube, name, second, controllers)
    after = await configmaps(kube, name)
    assert after["a"]["data"] == {"color": "green"}
    assert "b" not in after  # deleted in git, pruned once git said so
    assert after["c"]["metadata"]["uid"] == before["c"]["metadata"]["uid"]
    assert after["c"]["data"] == {"stable": "yes"}


# -- the controller killed during a prune -----------------------------------------------------

KEEP = 20
DROP = 250


def _objects(keep: int, drop: int) -> str:
    docs = [configmap_manifest(f"keep-{i}", {"i": str(i)}) for i in range(keep)]
    docs += [configmap_manifest(f"drop-{i}", {"i": str(i)}) for i in range(drop)]
    return "---\n".join(docs)


async def _kill_on_first_delete(
    kube: KubeClient, namespace: str, resource_version: str, victim: subprocess.Popen[bytes]
) -> str:
    """Watch ConfigMaps; SIGKILL ``victim`` at the first deletion of a drop-* object."""
    async for event in kube.watch(
        "v1", "ConfigMap", namespace, resource_version=resource_version, timeout_seconds=240
    ):
        if event.type == "DELETED" and event.obj["metadata"]["name"].startswith("drop-"):
            os.kill(victim.pid, signal.SIGKILL)
            return str(event.obj["metadata"]["name"])
    raise AssertionError("the watch ended before any prune")


async def test_controller_killed_during_prune(
    kube: KubeClient,
    apps_namespace: str,
    make_git_repo: MakeGitRepo,
    controllers: Controllers,
) -> None:
    name = "fault-prune"
    repo: GitRepo = make_git_repo({"objects.yaml": _objects(KEEP, DROP)})
    first = controllers.start()
    await kube.apply(app_spec(name, repo.url, interval="2s"), field_manager="test")
    await converged(kube, name, repo.head(), controllers)
    before, version = await kube.list_with_version("v1", "ConfigMap", name)
    kept = {
        cm["metadata"]["name"]: cm for cm in before if cm["metadata"]["name"].startswith("keep")
    }
    assert len(kept) == KEEP

    killer = asyncio.create_task(_kill_on_first_delete(kube, name, version, first))
    second_sha = repo.commit({"objects.yaml": _objects(KEEP, 0)}, "drop most objects")
    try:
        await asyncio.wait_for(asyncio.shield(killer), timeout=CONVERGE_SECONDS)
    finally:
        killer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await killer
    first.wait()
    left = [n for n in await configmaps(kube, name) if n.startswith("drop-")]
    assert 0 < len(left) < DROP, f"the kill did not land mid-prune ({len(left)} left)"

    controllers.start()
    app = await converged(kube, name, second_sha, controllers)
    after = await configmaps(kube, name)
    assert not [n for n in after if n.startswith("drop-")]  # the prune was completed
    for cm, old in kept.items():  # what git still has was not touched
        assert after[cm]["metadata"]["uid"] == old["metadata"]["uid"]
        assert after[cm]["data"] == old["data"]
    listed = {r["name"] for r in app["status"]["resources"] if r["kind"] == "ConfigMap"}
    assert listed == set(kept)
