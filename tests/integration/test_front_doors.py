"""Front doors no other test opens (issue 16).

* the controller run as the installed ServiceAccount (its token, its RBAC),
  stopped by SIGTERM in the middle of a sync: exit 0, the operation left
  resumable, and a new controller finishes it;
* a chart whose dependency is vendored in ``charts/``, rendered by real helm
  through the controller, with the parent's values reaching the subchart;
* ``revisionHistoryLimit`` trimming ``status.history``;
* the self-heal backoff growing while someone keeps editing a healed object.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster import binaries, versions
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.devcluster import Kubectl
from tests.fixtures.git import MakeGitRepo
from tests.integration.cli_driver import entry_point
from tests.integration.helpers import MIN_WAIT, application, create_app, ready, unique, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
GATE_NODE = "kwok-node-0"


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)


def gated_deployment(name: str, gate: str) -> str:
    """A wave-0 Deployment whose pods schedule only once ``gate`` is opened on a node."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations:
    driftless.dev/sync-wave: "0"
spec:
  replicas: 1
  progressDeadlineSeconds: 600
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      nodeSelector: {{{gate}: open}}
      containers:
        - name: app
          image: example.com/{name}:1
"""


WAVE_1 = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: after
  annotations:
    driftless.dev/sync-wave: "1"
data:
  v: "1"
"""


def token_kubeconfig(cluster: DevCluster, token: str, path: Path) -> Path:
    """The admin kubeconfig's cluster entry with a ServiceAccount token as the only user."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    entry = admin["clusters"][0]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [entry],
                "users": [{"name": "sa", "user": {"token": token}}],
                "contexts": [{"name": "sa", "context": {"cluster": entry["name"], "user": "sa"}}],
                "current-context": "sa",
            }
        )
    )
    return path


async def app_in(kube: KubeClient, namespace: str, name: str) -> JSON:
    found = await kube.get(API_VERSION, APPLICATION_KIND, name, namespace)
    assert found is not None, f"application {namespace}/{name} is gone"
    return found


async def wait_in(kube: KubeClient, namespace: str, name: str, check: Any, what: str) -> JSON:
    deadline = time.monotonic() + MIN_WAIT * 2
    app = await app_in(kube, namespace, name)
    while time.monotonic() < deadline:
        app = await app_in(kube, namespace, name)
        if check(app):
            return app
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {app.get('status')}")


def op(app: JSON) -> JSON:
    return dict((app.get("status") or {}).get("operationState") or {})


def row_health(app: JSON, name: str) -> str:
    rows = (app.get("status") or {}).get("resources") or []
    row: JSON = next((r for r in rows if r["name"] == name), {})
    return str((row.get("health") or {}).get("status", ""))


def start(argv: list[str], log: Path) -> subprocess.Popen[str]:
    """The controller, its stderr to ``log`` (a pipe nobody reads could fill and block it)."""
    with log.open("w") as sink:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=sink, text=True)


def stop(process: subprocess.Popen[str], log: Path) -> tuple[int, str]:
    """SIGTERM, as the kubelet sends it; the exit status and stderr."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"ignored SIGTERM: {log.read_text()[-3000:]}") from None
    return process.returncode, log.read_text()


async def test_installed_service_account_runs_the_controller_and_sigterm_stops_it_cleanly(
    devcluster: DevCluster, kube: KubeClient, make_git_repo: MakeGitRepo, tmp_path: Path,
    kubectl: Kubectl,
) -> None:  # fmt: skip
    home = unique("home")
    installed = await asyncio.to_thread(
        run,
        [entry_point(), "--kubeconfig", str(devcluster.kubeconfig), "install", "--namespace", home],
    )
    assert installed.returncode == 0, installed.stderr
    token = await asyncio.to_thread(
        run,
        [str(binaries.ensure(versions.KUBECTL)), f"--kubeconfig={devcluster.kubeconfig}",
         "create", "token", "driftless-controller", "-n", home, "--duration", "1h"],
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    config = token_kubeconfig(devcluster, token.stdout.strip(), tmp_path / "sa.yaml")
    argv = [
        entry_point(), "--kubeconfig", str(config), "controller", "--namespace", home,
        "--controller-namespace", home, "--allow-local-repositories",
        "--cache-dir", str(tmp_path / "cache"), "--interval", "1h",
    ]  # fmt: skip

    name = unique("sa-app")
    gate = f"gate-{name}"
    repo = make_git_repo({"dep.yaml": gated_deployment("web", gate), "after.yaml": WAVE_1})
    app = application(name, repo.url)  # CreateNamespace: a cluster-scoped write too
    app["metadata"]["namespace"] = home
    await create_app(kube, app)
    first = start(argv, tmp_path / "first.log")
    second: subprocess.Popen[str] | None = None
    try:
        waiting = await wait_in(
            kube, home, name,
            lambda a: op(a).get("phase") == "Running" and row_health(a, "web") == "Progressing",
            "wave 0 applied by the ServiceAccount's controller",
        )  # fmt: skip
        code, stderr = await asyncio.to_thread(stop, first, tmp_path / "first.log")
        assert code == 0, stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
        # Nothing half-written: the operation is recorded as running at wave 0,
        # resumable, and wave 1 was never applied.
        stopped = await app_in(kube, home, name)
        state = op(stopped)
        assert state["phase"] == "Running"
        assert state["startedAt"] == op(waiting)["startedAt"]
        assert (state["step"]["phase"], state["step"]["wave"]) == ("Sync", 0)
        assert await kube.get("v1", "ConfigMap", "after", name) is None

        await asyncio.to_thread(kubectl, "label", "node", GATE_NODE, f"{gate}=open", "--overwrite")
        second = start(argv, tmp_path / "second.log")
        done = await wait_in(kube, home, name, ready, "the resumed sync to finish")
        assert op(done)["phase"] == "Succeeded"
        assert op(done)["startedAt"] == state["startedAt"]  # the same operation, resumed
        assert await kube.get("v1", "ConfigMap", "after", name) is not None
        code, stderr = await asyncio.to_thread(stop, second, tmp_path / "second.log")
        assert code == 0, stderr[-3000:]
        assert "Traceback" not in stderr and "Forbidden" not in stderr, stderr[-3000:]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        await asyncio.to_thread(kubectl, "label", "node", GATE_NODE, f"{gate}-", check=False)
        await kube.delete(API_VERSION, APPLICATION_KIND, name, home)


CHART = """\
apiVersion: v2
name: shop
version: 1.0.0
dependencies:
  - name: common
    version: 0.1.0
"""
SUBCHART = "apiVersion: v2\nname: common\nversion: 0.1.0\n"
SUBCHART_CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Chart.Name }}-vendored
data:
  greeting: {{ .Values.greeting | quote }}
  parent: {{ .Values.global.parent | quote }}
"""
PARENT_CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Chart.Name }}-parent
data:
  v: "1"
"""


async def test_vendored_chart_dependency_is_rendered_by_helm_through_the_controller(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("vendored")
    repo = make_git_repo(
        {
            "chart/Chart.yaml": CHART,
            "chart/values.yaml": "common:\n  greeting: from-parent\nglobal:\n  parent: shop\n",
            "chart/templates/cm.yaml": PARENT_CM,
            "chart/charts/common/Chart.yaml": SUBCHART,
            "chart/charts/common/values.yaml": "greeting: default\n",
            "chart/charts/common/templates/cm.yaml": SUBCHART_CM,
        }
    )
    await create_app(kube, application(name, repo.url, path="chart"))
    app = await wait_for(kube, name, ready, what="the chart synced")
    vendored = await kube.get("v1", "ConfigMap", "common-vendored", name)
    assert vendored is not None, app["status"].get("resources")
    # The parent's values reached the subchart: helm rendered the tree, dependencies included.
    assert vendored["data"] == {"greeting": "from-parent", "parent": "shop"}
    assert await kube.get("v1", "ConfigMap", "shop-parent", name) is not None
    assert {r["name"] for r in app["status"]["resources"]} >= {"common-vendored", "shop-parent"}


def cm(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  v: '{value}'\n"


def synced_at(revision: str) -> Any:
    def check(app: JSON) -> bool:
        return bool(app["status"]["sync"]["revision"] == revision and ready(app))

    return check


async def test_revision_history_limit_keeps_only_the_newest_syncs(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("histlimit")
    repo = make_git_repo({"cm.yaml": cm("0")})
    app = application(name, repo.url, interval="2s")
    app["spec"]["revisionHistoryLimit"] = 2
    await create_app(kube, app)
    await wait_for(kube, name, ready)
    revisions = [repo.head()]
    for value in ("1", "2", "3"):
        revisions.append(repo.commit({"cm.yaml": cm(value)}, value))
        await wait_for(kube, name, synced_at(revisions[-1]), what=f"commit {value} synced")
    history = (await wait_for(kube, name, ready))["status"]["history"]
    assert [h["revision"] for h in history] == revisions[-2:]
    ids = [h["id"] for h in history]
    assert ids == sorted(ids) and len(set(ids)) == 2  # the newest two, in order


async def test_self_heal_backs_off_more_each_time_it_is_undone(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo, kubectl: Kubectl
) -> None:
    """Someone keeps editing a healed object: heals come, each later than the last.

    The controller waits 2 s, then 4 s, then 8 s before the 2nd, 3rd and 4th heal
    (``pipeline.policy``); a slow machine only lengthens the gaps, so
    lower bounds are safe to assert.
    """
    name = unique("healbackoff")
    repo = make_git_repo({"cm.yaml": cm("git")})
    app = application(name, repo.url)  # interval 1h: only drift triggers work
    app["spec"]["syncPolicy"]["automated"]["selfHeal"] = True
    await create_app(kube, app)
    await wait_for(kube, name, ready)

    healed_at: list[float] = []
    for attempt in range(4):
        await asyncio.to_thread(
            kubectl, "-n", name, "patch", "configmap", "settings", "--type=merge",
            "-p", f'{{"data":{{"v":"edited {attempt}"}}}}',
        )  # fmt: skip
        deadline = time.monotonic() + MIN_WAIT
        while True:
            live = await kube.get("v1", "ConfigMap", "settings", name)
            if live is not None and live["data"]["v"] == "git":
                healed_at.append(time.monotonic())
                break
            assert time.monotonic() < deadline, f"heal {attempt + 1} never came"
            await asyncio.sleep(0.1)
    gaps = [later - earlier for earlier, later in itertools.pairwise(healed_at)]
    # Waits of 2, 4, 8 s; a margin for when this test saw each heal (it polls).
    for gap, wait in zip(gaps, (2.0, 4.0, 8.0), strict=True):
        assert gap >= wait - 0.5, gaps
