"""Issue 9 on the real cluster: no app held hostage.

Every test runs on a dev cluster WITHOUT the load-balancer address stand-in
(``devcluster_without_addresses``), as on a bare-metal or local cluster: a
``type: LoadBalancer`` Service there never gets an address and stays
Progressing for good. A controller of its own (the real one) watches it.

What a user observes:
* an app whose last step is such a Service ends its operation Succeeded, the
  app reads Progressing, and a later commit is applied;
* a wave that never turns Healthy fails the operation at the app's
  ``healthTimeout``, the message names the object and why, retries follow
  the policy;
* a newer commit supersedes an operation waiting for health (history shows
  both); with ``supersede: false`` the status still shows the new commit
  OutOfSync while the old operation waits, and ``driftless app terminate-op``
  (the installed entry point) stops it;
* a termination request naming another operation is ignored and removed.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from driftless.cli.install import install
from driftless.cli.tools import render_tools
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo
from tests.integration.cli_driver import entry_point
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    condition,
    create_app,
    get_app,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
TERMINATE = "driftless.dev/terminate-operation"
REFRESH = "driftless.dev/refresh"
LB_WAITING = "waiting for the load balancer to get an address"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def bare_kube(devcluster_without_addresses: DevCluster) -> AsyncIterator[KubeClient]:
    client = await KubeClient.from_kubeconfig(str(devcluster_without_addresses.kubeconfig))
    await install(client, namespace=APPS_NAMESPACE)
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def bare_controller(
    bare_kube: KubeClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Controller]:
    """The real controller on the bare cluster, for the whole session."""
    cache = GitCache(Path(tmp_path_factory.mktemp("git-cache-bare")), allow_local=True)
    settings = ControllerSettings(namespace=APPS_NAMESPACE, workers=4, default_interval=3600)
    instance = Controller(bare_kube, cache, settings, tools=render_tools())
    stop = asyncio.Event()
    task = asyncio.create_task(instance.run(stop))
    yield instance
    stop.set()
    await task


@pytest_asyncio.fixture(loop_scope="session")
async def kube(bare_kube: KubeClient, bare_controller: Controller) -> KubeClient:
    """Overrides the shared ``kube``: the bare cluster, its controller running.

    The shared clean-up fixture (``delete_the_test_s_apps``, added to every
    test using ``kube``) then deletes this test's Applications on it.
    """
    return bare_kube


def lb_service(name: str, *, wave: int = 0, kind: str = "LoadBalancer") -> str:
    return f"""\
apiVersion: v1
kind: Service
metadata:
  name: {name}
  annotations:
    driftless.dev/sync-wave: "{wave}"
spec:
  type: {kind}
  selector: {{app: {name}}}
  ports:
    - port: 80
"""


def configmap(name: str, *, wave: int = 0, value: str = "1") -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  annotations:
    driftless.dev/sync-wave: "{wave}"
data:
  value: "{value}"
"""


def with_policy(app: JSON, **policy: Any) -> JSON:
    app["spec"]["syncPolicy"].update(policy)
    return app


def op_state(app: JSON) -> JSON:
    return dict((app.get("status") or {}).get("operationState") or {})


def history(app: JSON) -> list[JSON]:
    return list((app.get("status") or {}).get("history") or [])


def waiting_in_wave(wave: int, revision: str | None = None) -> Any:
    """The operation runs and its cursor waits on ``wave`` (objects sent)."""

    def check(app: JSON) -> bool:
        op = op_state(app)
        step = op.get("step") or {}
        right = revision is None or op.get("revision") == revision
        return (
            right
            and op.get("phase") == "Running"
            and step.get("wave") == wave
            and bool(step.get("applied"))
        )

    return check


async def refresh(kube: KubeClient, name: str) -> None:
    stamp = f"{time.time():.6f}"
    patch = {"metadata": {"annotations": {REFRESH: stamp}}}
    await kube.merge_patch(API_VERSION, APPLICATION_KIND, name, patch, namespace=APPS_NAMESPACE)


async def cm_value(kube: KubeClient, name: str, namespace: str) -> str | None:
    cm = await kube.get("v1", "ConfigMap", name, namespace)
    return None if cm is None else str((cm.get("data") or {}).get("value"))


def cli(cluster: DevCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [entry_point(), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


async def test_loadbalancer_service_does_not_hold_the_app_hostage(
    kube: KubeClient, make_git_repo: MakeGitRepo
) -> None:
    name = unique("hostage")
    repo = make_git_repo({"svc.yaml": lb_service("web"), "cm.yaml": configmap("conf")})
    await create_app(kube, application(name, repo.url))
    first = repo.head()
    app = await wait_for(
        kube, name, lambda a: op_state(a).get("phase") == "Succeeded", what="operation ended"
    )
    assert op_state(app)["revision"] == first
    # The Service really has no address (no stand-in) and the app says so.
    svc = await kube.get("v1", "Service", "web", name)
    assert svc is not None and not ((svc.get("status") or {}).get("loadBalancer") or {}).get(
        "ingress"
    )
    app = await wait_for(
        kube, name, lambda a: (a["status"].get("health") or {}).get("status") == "Progressing"
    )
    ready = condition(app, "Ready")
    assert ready is not None and ready["status"] == "False" and ready["reason"] == "Progressing"
    assert LB_WAITING in ready["message"]
    assert app["status"]["sync"] == {"status": "Synced", "revision": first}

    second = repo.commit({"cm.yaml": configmap("conf", value="2")})
    await refresh(kube, name)
    app = await wait_for(
        kube,
        name,
        lambda a: op_state(a).get("revision") == second and op_state(a).get("phase") == "Succeeded",
        what="the later commit synced",
    )
    assert await cm_value(kube, "conf", name) == "2"
    assert [h["revision"] for h in history(app)] == [first, second]
    assert [h["result"] for h in history(app)] == ["Succeeded", "Succeeded"]


async def test_wave_that_never_turns_healthy_fails_at_the_deadline_and_is_retried(
    kube: KubeClient, make_git_repo: MakeGitRepo
) -> None:
    name = unique("deadline")
    repo = make_git_repo(
        {"svc.yaml": lb_service("front", wave=0), "cm.yaml": configmap("after", wave=1)}
    )
    retry = {"limit": 1, "backoff": {"duration": "1s", "factor": 1, "maxDuration": "1s"}}
    await create_app(
        kube, with_policy(application(name, repo.url), healthTimeout="4s", retry=retry)
    )
    app = await wait_for(
        kube,
        name,
        lambda a: len([h for h in history(a) if h["result"] == "Failed"]) >= 2,
        what="the first attempt and its retry failed",
    )
    op = op_state(app)
    assert op["phase"] == "Failed"
    assert op["operation"]["retry"] == 1
    message = op["message"]
    assert "health deadline of 4s passed in Sync wave 0" in message, message
    assert f"Service {name}/front: {LB_WAITING}" in message, message
    # The wave after never ran.
    assert await kube.get("v1", "ConfigMap", "after", name) is None
    ready = condition(app, "Ready")
    assert ready is not None and ready["reason"] == "SyncFailed"
    assert {h["revision"] for h in history(app)} == {repo.head()}


async def test_health_timeout_under_one_second_is_refused_on_the_app(
    kube: KubeClient, make_git_repo: MakeGitRepo
) -> None:
    name = unique("badtimeout")
    repo = make_git_repo({"cm.yaml": configmap("c")})
    await create_app(kube, with_policy(application(name, repo.url), healthTimeout="0s"))
    app = await wait_for(
        kube,
        name,
        lambda a: (condition(a, "Stalled") or {}).get("status") == "True",
        what="Stalled",
    )
    stalled = condition(app, "Stalled")
    assert stalled is not None and "healthTimeout must be at least 1s" in stalled["message"]
    assert await kube.get("v1", "ConfigMap", "c", name) is None


async def test_newer_commit_supersedes_an_operation_waiting_for_health(
    kube: KubeClient, make_git_repo: MakeGitRepo
) -> None:
    name = unique("supersede")
    repo = make_git_repo(
        {"svc.yaml": lb_service("front", wave=0), "cm.yaml": configmap("after", wave=1)}
    )
    first = repo.head()
    await create_app(kube, application(name, repo.url))
    await wait_for(kube, name, waiting_in_wave(0, first), what="waiting for wave 0")
    # The new commit no longer needs a load balancer: its sync can finish.
    second = repo.commit(
        {
            "svc.yaml": lb_service("front", wave=0, kind="ClusterIP"),
            "cm.yaml": configmap("after", wave=1, value="2"),
        }
    )
    await refresh(kube, name)
    app = await wait_for(
        kube,
        name,
        lambda a: op_state(a).get("revision") == second and op_state(a).get("phase") == "Succeeded",
        what="the new revision synced",
    )
    assert await cm_value(kube, "after", name) == "2"
    entries = history(app)
    assert [(h["revision"], h["result"]) for h in entries] == [
        (first, "Superseded"),
        (second, "Succeeded"),
    ]
    assert app["status"]["sync"] == {"status": "Synced", "revision": second}


async def test_with_supersede_off_the_status_shows_the_commit_and_terminate_op_stops_the_wait(
    kube: KubeClient, make_git_repo: MakeGitRepo, devcluster_without_addresses: DevCluster
) -> None:
    name = unique("terminate")
    repo = make_git_repo(
        {"svc.yaml": lb_service("front", wave=0), "cm.yaml": configmap("after", wave=1)}
    )
    first = repo.head()
    await create_app(kube, with_policy(application(name, repo.url), supersede=False))
    await wait_for(kube, name, waiting_in_wave(0, first), what="waiting for wave 0")

    # While the operation waits, a new commit shows OutOfSync with its SHA.
    second = repo.commit({"cm.yaml": configmap("after", wave=1, value="2")})
    await refresh(kube, name)
    app = await wait_for(
        kube,
        name,
        lambda a: a["status"].get("sync") == {"status": "OutOfSync", "revision": second},
        what="OutOfSync at the new commit",
    )
    assert op_state(app)["revision"] == first and op_state(app)["phase"] == "Running"
    ready = condition(app, "Ready")
    assert ready is not None and ready["reason"] == "Progressing"
    assert f"syncing revision {first[:12]} (Sync, wave 0)" in ready["message"]
    assert f"the target is now revision {second[:12]}" in ready["message"]

    result = await asyncio.to_thread(cli, devcluster_without_addresses, "app", "terminate-op", name)
    assert result.returncode == 0, result.stderr
    assert "terminated" in result.stderr and "ended on its own" not in result.stderr
    app = await get_app(kube, name)
    terminated = [h for h in history(app) if h["result"] == "Terminated"]
    assert [h["revision"] for h in terminated] == [first]
    assert TERMINATE not in (app["metadata"].get("annotations") or {})
    # Nothing of wave 1 was applied by the terminated operation; the newer
    # commit then gets its own operation (the automation is not stuck).
    app = await wait_for(
        kube, name, lambda a: op_state(a).get("revision") == second, what="a sync of the new commit"
    )
    assert op_state(app)["operation"]["initiatedBy"]["automated"] is True

    # Nothing left to stop once that one is terminated too: exit 1, said plainly.
    await wait_for(kube, name, waiting_in_wave(0, second), what="waiting for wave 0 again")
    again = await asyncio.to_thread(cli, devcluster_without_addresses, "app", "terminate-op", name)
    assert again.returncode == 0, again.stderr
    nothing = await asyncio.to_thread(
        cli, devcluster_without_addresses, "app", "terminate-op", name
    )
    assert nothing.returncode == 1
    assert f"application {name} has no running operation" in nothing.stderr
    # A terminated revision is not retried by the automation.
    await refresh(kube, name)
    app = await wait_for(
        kube,
        name,
        lambda a: REFRESH not in (a["metadata"].get("annotations") or {}),
        what="the refresh served",
    )
    assert op_state(app)["phase"] == "Terminated" and op_state(app)["revision"] == second
    assert await cm_value(kube, "after", name) is None


async def test_stale_termination_request_is_ignored_and_removed(
    kube: KubeClient, make_git_repo: MakeGitRepo, devcluster_without_addresses: DevCluster
) -> None:
    name = unique("stale")
    repo = make_git_repo(
        {"svc.yaml": lb_service("front", wave=0), "cm.yaml": configmap("after", wave=1)}
    )
    await create_app(kube, application(name, repo.url))
    app = await wait_for(kube, name, waiting_in_wave(0), what="waiting for wave 0")
    started = op_state(app)["startedAt"]
    # A request naming another (older) operation, as a hostile or late writer would leave.
    for bogus in ("1999-01-01T00:00:00Z", " ", "x" * 300):
        patch = {"metadata": {"annotations": {TERMINATE: bogus, REFRESH: bogus[:20]}}}
        await kube.merge_patch(API_VERSION, APPLICATION_KIND, name, patch, namespace=APPS_NAMESPACE)
        app = await wait_for(
            kube,
            name,
            lambda a: TERMINATE not in (a["metadata"].get("annotations") or {}),
            what="the stale request removed",
        )
        assert op_state(app)["phase"] == "Running" and op_state(app)["startedAt"] == started
    missing = await asyncio.to_thread(
        cli, devcluster_without_addresses, "app", "terminate-op", "no-such-app"
    )
    assert missing.returncode == 1
    assert 'application "no-such-app" not found' in missing.stderr


async def test_terminate_op_works_while_git_is_unreachable(
    kube: KubeClient, make_git_repo: MakeGitRepo, devcluster_without_addresses: DevCluster
) -> None:
    name = unique("gitgone")
    repo = make_git_repo(
        {"svc.yaml": lb_service("front", wave=0), "cm.yaml": configmap("after", wave=1)}
    )
    await create_app(kube, application(name, repo.url))
    app = await wait_for(kube, name, waiting_in_wave(0), what="waiting for wave 0")
    started = op_state(app)["startedAt"]
    repo.path.rename(repo.path.with_name(repo.path.name + "-gone"))
    await refresh(kube, name)
    await wait_for(
        kube,
        name,
        lambda a: (
            (condition(a, "Ready") or {}).get("reason") == "SourceUnavailable"
            or "does not exist" in (condition(a, "Ready") or {}).get("message", "")
        ),
        what="the source failure reported",
    )
    result = await asyncio.to_thread(cli, devcluster_without_addresses, "app", "terminate-op", name)
    assert result.returncode == 0, result.stderr
    app = await get_app(kube, name)
    assert op_state(app)["phase"] == "Terminated" and op_state(app)["startedAt"] == started
    assert [h["result"] for h in history(app)] == ["Terminated"]


async def test_a_manual_sync_to_a_revision_is_not_superseded_by_the_automation(
    kube: KubeClient, make_git_repo: MakeGitRepo
) -> None:
    name = unique("manual")
    repo = make_git_repo({"cm.yaml": configmap("conf")})
    pinned = repo.commit(
        {"svc.yaml": lb_service("front", wave=0), "cm.yaml": configmap("conf", wave=1, value="2")}
    )
    await create_app(kube, application(name, repo.url, automated=False))
    await wait_for(
        kube, name, lambda a: bool(((a.get("status") or {}).get("sync") or {}).get("revision"))
    )
    operation = {
        "sync": {"revision": pinned},
        "initiatedBy": {"username": "tester", "automated": False},
    }
    await kube.merge_patch(
        API_VERSION, APPLICATION_KIND, name, {"operation": operation}, namespace=APPS_NAMESPACE
    )
    await wait_for(kube, name, waiting_in_wave(0, pinned), what="the manual sync waiting")
    # Automation on, and a newer commit: the person's operation keeps running.
    newer = repo.commit({"cm.yaml": configmap("conf", wave=1, value="3")})
    patch = {"spec": {"syncPolicy": {"automated": {"prune": False}}}}
    await kube.merge_patch(API_VERSION, APPLICATION_KIND, name, patch, namespace=APPS_NAMESPACE)
    await refresh(kube, name)
    app = await wait_for(
        kube,
        name,
        lambda a: a["status"].get("sync", {}).get("revision") == newer,
        what="the newer commit compared",
    )
    op = op_state(app)
    assert op["phase"] == "Running" and op["revision"] == pinned
    assert op["operation"]["initiatedBy"] == {"username": "tester", "automated": False}
    assert not [h for h in history(app) if h["result"] == "Superseded"]
