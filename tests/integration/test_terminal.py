"""The live progress view of `driftless app sync`, in a real terminal (tmux)."""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
import sys
import time

import pytest

from driftless.controller.manager import Controller
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.devcluster import Kubectl
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import application, create_app, unique, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

FILES = {
    "dep.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      nodeSelector: {tty-test: "yes"}
      containers: [{name: web, image: example.com/web:1}]
""",
    "cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: after
  annotations: {driftless.dev/sync-wave: "1"}
data: {a: "1"}
""",
}


def tmux(*args: str) -> str:
    result = subprocess.run(["tmux", *args], capture_output=True, text=True, check=True)
    return result.stdout


async def test_sync_shows_live_progress_in_a_terminal(
    kube: KubeClient,
    controller: Controller,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    kubectl: Kubectl,
) -> None:
    name = unique("tty")
    repo = make_git_repo(FILES)
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, field_manager="t"
    )
    await create_app(kube, application(name, repo.url, automated=False))
    await wait_for(kube, name, lambda a: "status" in a)
    session = f"driftless-{name}"
    command = shlex.join(
        [
            sys.executable, "-m", "driftless.cli.main", f"--kubeconfig={devcluster.kubeconfig}",
            "app", "sync", name, "--timeout", "120",
        ]
    ) + "; echo RC=$?"  # fmt: skip
    await asyncio.to_thread(tmux, "new-session", "-d", "-s", session, "-x", "200", "-y", "20")
    try:
        await asyncio.to_thread(tmux, "send-keys", "-t", session, command, "Enter")
        seen_running, final = False, ""
        deadline = time.monotonic() + 120
        node = (await kube.list("v1", "Node"))[0]["metadata"]["name"]
        while time.monotonic() < deadline:
            screen = await asyncio.to_thread(tmux, "capture-pane", "-p", "-t", session)
            progress = [line for line in screen.splitlines() if "operation=" in line]
            if any("operation=Running" in p for p in progress) and not seen_running:
                seen_running = True
                # The pods can be scheduled from now on: the rollout completes.
                await asyncio.to_thread(kubectl, "label", "node", node, "tty-test=yes")
            if re.search(r"^RC=\d+$", screen, re.MULTILINE):
                final = screen
                break
            await asyncio.sleep(0.2)
        assert re.search(r"^RC=0$", final, re.MULTILINE), final
        assert seen_running, final
        progress = [line for line in final.splitlines() if "operation=" in line]
        # One line rewritten in place, not a scrolling log: the view stays on one line.
        assert len(progress) == 1, final
        assert "operation=Succeeded" in progress[0] and "health=Healthy" in progress[0]
        assert "phase=-" in progress[0]  # finished: no step left
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)  # noqa: ASYNC221
        for item in await kube.list("v1", "Node"):
            name_ = item["metadata"]["name"]
            await asyncio.to_thread(kubectl, "label", "node", name_, "tty-test-", check=False)
