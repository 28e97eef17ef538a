"""The embedded control plane, for real: versions, nodes, workloads, lifetimes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from driftless.devcluster import procs, versions
from driftless.devcluster.apiclient import ApiClient
from driftless.devcluster.cluster import DevCluster
from tests.fixtures.devcluster import Kubectl

pytestmark = pytest.mark.integration

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: devcluster-test
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
"""


def _pid_gone(pid: int) -> bool:
    return procs.start_time(pid) is None


def _wait_all_gone(pids: list[int], timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if not _pid_gone(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if not _pid_gone(p)]


def test_version_is_the_pinned_release(devcluster: DevCluster, kubectl: Kubectl) -> None:
    client = ApiClient(str(devcluster.server), devcluster.certs)
    assert client.get("/version")["gitVersion"] == versions.KUBERNETES_VERSION
    out = json.loads(kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == "v1.36.3"
    assert out["clientVersion"]["gitVersion"] == "v1.36.3"


def test_fake_nodes_are_ready(devcluster: DevCluster, kubectl: Kubectl) -> None:
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert len(nodes) == devcluster.nodes
    for node in nodes:
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", node["metadata"]["name"]


def test_deployment_becomes_available(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "devcluster-test")
    kubectl("apply", "-f", "-", input=DEPLOYMENT)
    kubectl(
        "-n",
        "devcluster-test",
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=300s",
    )
    pods = json.loads(kubectl("-n", "devcluster-test", "get", "pods", "-o", "json").stdout)
    phases = sorted(p["status"]["phase"] for p in pods["items"])
    assert phases == ["Running", "Running"]
    assert all(p["spec"].get("nodeName", "").startswith("kwok-node-") for p in pods["items"])


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftless.devcluster.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )


def test_detached_cli_cluster_outlives_up_and_down_stops_it(tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "cli")]
    started = _cli("up", "--nodes", "1", *state)
    assert started.returncode == 0, started.stderr
    kubeconfig = Path(started.stdout.strip())
    assert kubeconfig.is_file()
    # `up` has exited; the cluster must still be there.
    status = _cli("status", *state)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "running" in status.stdout
    pids = list(DevCluster("cli", state_dir=tmp_path / "cli").status().pids.values())
    assert len(pids) == len(versions.CONTROL_PLANE)
    assert not any(_pid_gone(p) for p in pids)

    stopped = _cli("down", *state)
    assert stopped.returncode == 0, stopped.stderr
    # `down` returned: every process was signalled; reaping may still take a moment.
    assert _wait_all_gone(pids, timeout=60) == []
    assert not (tmp_path / "cli").exists()
    assert _cli("status", *state).returncode == 1


ATTACHED_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from driftless.devcluster.cluster import DevCluster
    cluster = DevCluster("orphan", state_dir=Path(sys.argv[1]), nodes=1).up(attached=True)
    print(json.dumps(cluster.pids), flush=True)
    time.sleep(600)
    """
)


def test_sigkilled_parent_leaves_no_orphan(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", ATTACHED_SCRIPT, str(tmp_path / "orphan")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, parent.stderr.read() if parent.stderr else ""
        pids = list(json.loads(line).values())
        assert len(pids) == len(versions.CONTROL_PLANE)
        assert not any(_pid_gone(p) for p in pids)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait_all_gone(pids) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
