"""A controller killed mid-sync: the next one resumes from status.operationState,
without re-running finished hooks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from driftless.core.models import API_VERSION
from driftless.core.project import default_project
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.devcluster import Kubectl
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import application, condition

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NS = "driftless-resume"
FILES = {
    "hook.yaml": """\
apiVersion: batch/v1
kind: Job
metadata:
  name: prep
  annotations:
    driftless.dev/hook: PreSync
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: prep, image: example.com/prep:1}]
""",
    "dep.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: blocked
spec:
  replicas: 1
  selector:
    matchLabels: {app: blocked}
  template:
    metadata:
      labels: {app: blocked}
    spec:
      nodeSelector: {resume-test: "yes"}
      containers: [{name: app, image: example.com/app:1}]
""",
    "cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: after
  annotations:
    driftless.dev/sync-wave: "1"
data: {a: "1"}
""",
}


@pytest.fixture
def start_controller(devcluster: DevCluster) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _controller(cluster: DevCluster) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "driftless.cli.main", f"--kubeconfig={cluster.kubeconfig}",
            "controller", "--namespace", NS, "--interval", "1h", "--allow-local-repositories",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def _app(kube: KubeClient, name: str) -> dict[str, object]:
    found = await kube.get(API_VERSION, "Application", name, NS)
    assert found is not None
    return found


async def test_controller_killed_mid_sync_resumes(
    kube: KubeClient,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    kubectl: Kubectl,
    start_controller: list[subprocess.Popen[bytes]],
) -> None:
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, field_manager="t"
    )
    await kube.apply(default_project(NS), field_manager="t")
    repo = make_git_repo(FILES)
    name = "resume"
    app = application(name, repo.url)
    app["metadata"]["namespace"] = NS
    first = _controller(devcluster)
    start_controller.append(first)
    await kube.apply(app, field_manager="test")

    # Wait until the PreSync hook finished and wave 0 is waiting for its Deployment.
    job_uid = ""
    for _ in range(1500):  # 300 s: a deadline, not a speed test
        found = await _app(kube, name)
        op = (found.get("status") or {}).get("operationState") or {}  # type: ignore[attr-defined]
        hooks = [r for r in op.get("resources", []) if r.get("hookType") == "PreSync"]
        step = op.get("step") or {}
        if hooks and hooks[0].get("hookPhase") == "Succeeded" and step.get("phase") == "Sync":
            job = await kube.get("batch/v1", "Job", "prep", name)
            assert job is not None
            job_uid = job["metadata"]["uid"]
            break
        await asyncio.sleep(0.2)
    assert job_uid, "the sync never reached the Sync phase"
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert await kube.get("v1", "ConfigMap", "after", name) is None  # wave 1 not reached

    # Make wave 0 healthy while no controller runs, then start a new one.
    nodes = await kube.list("v1", "Node")
    node = nodes[0]["metadata"]["name"]
    await asyncio.to_thread(kubectl, "label", "node", node, "resume-test=yes", "--overwrite")
    try:
        start_controller.append(_controller(devcluster))
        done: dict[str, object] = {}
        for _ in range(1500):  # 300 s: a deadline, not a speed test
            done = await _app(kube, name)
            ready = condition(done, "Ready")  # type: ignore[arg-type]
            if ready is not None and ready["status"] == "True":
                break
            await asyncio.sleep(0.2)
        status = done["status"]
        assert status["operationState"]["phase"] == "Succeeded", status  # type: ignore[index]
        job = await kube.get("batch/v1", "Job", "prep", name)
        assert job is not None and job["metadata"]["uid"] == job_uid  # the hook did not re-run
        assert await kube.get("v1", "ConfigMap", "after", name) is not None
        assert len(status["history"]) == 1  # type: ignore[index]
    finally:
        await asyncio.to_thread(kubectl, "label", "node", node, "resume-test-", check=False)
