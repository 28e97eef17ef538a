"""Hook and health gates of the sync step machine, as fixture tables.

The gates are private to ``driftless.sync.runner``; the smallest public seam
is ``SyncRunner.advance`` on an operation. The cluster here is a dictionary
that stores what is applied and reports, for each object, the status a row
gives it: no API server, no timing. Each row says what a user then reads in
``status.operationState``: the operation's phase and message, the hook's
phase, and which hook objects are left in the cluster (delete policies).

Rules (package docstring of ``driftless.sync``): a hook is done when its Job
is Complete, its Pod Succeeded, or any other object Healthy; a Job Failed,
a Pod Failed or another object Degraded fails the operation at once; anything
else keeps the operation Running at its step.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from driftless.core.models import (
    Operation,
    OperationState,
    ResourceResult,
    SyncOperation,
)
from driftless.core.resources import Manifest, ResourceRef
from driftless.kube.client import KubeClient
from driftless.sync import plan as sp
from driftless.sync.prepare import DesiredObject
from driftless.sync.runner import SyncRunner

JSON = dict[str, Any]
Key = tuple[str, str, str]  # kind, namespace, name


class _Discovery:
    async def refresh(self) -> None:
        return None


class FakeCluster:
    """Stores applied objects; each reads back with the status the test gives it."""

    def __init__(self, statuses: dict[str, JSON] | None = None) -> None:
        self.objects: dict[Key, JSON] = {}
        self.statuses = statuses or {}  # by object name
        self.log: list[str] = []  # "apply <name>", "delete <name>", in order
        self.discovery = _Discovery()

    def put(self, body: JSON) -> None:
        meta = body["metadata"]
        self.objects[(body["kind"], meta.get("namespace", ""), meta["name"])] = body

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        if not dry_run:
            self.log.append(f"apply {body['metadata']['name']}")
            self.put(body)
        return body

    async def replace(self, body: JSON) -> JSON:
        self.put(body)
        return body

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        body = self.objects.get((kind, namespace or "", name))
        if body is None:
            return None
        return {**body, "status": self.statuses.get(name, {})}

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
    ) -> bool:
        existed = self.objects.pop((kind, namespace or "", name), None) is not None
        if existed:
            self.log.append(f"delete {name}")
        return existed

    def names(self) -> set[str]:
        return {name for (_, _, name) in self.objects}


def obj(api_version: str, kind: str, name: str, **annotations: str) -> DesiredObject:
    body: JSON = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "app", "annotations": annotations},
    }
    return DesiredObject(ref=ResourceRef.from_object(body), body=body, manifest=Manifest(body))


def hook(
    api_version: str, kind: str, name: str, phase: str = "PreSync", policy: str | None = None
) -> sp.Task:
    annotations = {"driftless.dev/hook": phase}
    if policy is not None:
        annotations["driftless.dev/hook-delete-policy"] = policy
    [task] = sp.split_hooks([obj(api_version, kind, name, **annotations)])[1]
    return task


def resource(api_version: str, kind: str, name: str, wave: int = 0) -> sp.Task:
    [task] = sp.resource_tasks(
        [obj(api_version, kind, name, **{"driftless.dev/sync-wave": str(wave)})]
    )
    return task


def operation() -> OperationState:
    return OperationState(
        operation=Operation(sync=SyncOperation()),
        started_at="2026-12-03T09:00:00Z",
        revision="a" * 40,
    )


async def advance(
    cluster: FakeCluster, tasks: list[sp.Task], state: OperationState | None = None, **kw: Any
) -> OperationState:
    runner = SyncRunner(cast(KubeClient, cluster), **kw)
    return await runner.advance(state or operation(), tasks, orphans=[], prune_blocked=None)


def hook_result(state: OperationState, name: str) -> ResourceResult:
    [result] = [r for r in state.resources if r.name == name and r.hook_type]
    return result


def job(**conditions: str) -> JSON:
    return {
        "conditions": [{"type": t, "status": "True", "message": m} for t, m in conditions.items()]
    }


# -- the hook gate --------------------------------------------------------------------

JOB = ("batch/v1", "Job")
POD = ("v1", "Pod")
PVC = ("v1", "PersistentVolumeClaim")
CONFIGMAP = ("v1", "ConfigMap")
WIDGET = ("example.com/v1", "Widget")


@pytest.mark.parametrize(
    ("kind", "status", "hook_phase", "phase", "message"),
    [
        pytest.param(JOB, job(Complete=""), "Succeeded", "Succeeded", "successfully synced",
                     id="Job Complete"),
        pytest.param(JOB, job(Failed="BackoffLimitExceeded"), "Failed", "Failed",
                     "PreSync hook Job migrate failed: BackoffLimitExceeded", id="Job Failed"),
        pytest.param(JOB, job(Failed=""), "Failed", "Failed",
                     "PreSync hook Job migrate failed: job failed", id="Job Failed, no message"),
        pytest.param(JOB, job(Complete="", Failed="x"), "Succeeded", "Succeeded",
                     "successfully synced", id="Job Complete wins"),
        pytest.param(JOB, {}, "Running", "Running", "", id="Job without conditions"),
        pytest.param(JOB, {"conditions": [{"type": "Complete", "status": "False"}]}, "Running",
                     "Running", "", id="Job Complete=False"),
        pytest.param(JOB, job(FailureTarget="x"), "Running", "Running", "",
                     id="Job only about to fail: wait for Failed"),
        pytest.param(POD, {"phase": "Succeeded"}, "Succeeded", "Succeeded",
                     "successfully synced", id="Pod Succeeded"),
        pytest.param(POD, {"phase": "Failed"}, "Failed", "Failed",
                     "PreSync hook Pod migrate failed: ", id="Pod Failed"),
        pytest.param(POD, {"phase": "Running"}, "Running", "Running", "", id="Pod Running"),
        pytest.param(POD, {}, "Running", "Running", "", id="Pod without status"),
        pytest.param(PVC, {"phase": "Bound"}, "Succeeded", "Succeeded", "successfully synced",
                     id="other kind Healthy"),
        pytest.param(PVC, {"phase": "Pending"}, "Running", "Running", "",
                     id="other kind Progressing"),
        pytest.param(PVC, {"phase": "Lost"}, "Failed", "Failed",
                     "PreSync hook PersistentVolumeClaim migrate failed: claim lost its volume",
                     id="other kind Degraded"),
        pytest.param(CONFIGMAP, {}, "Succeeded", "Succeeded", "successfully synced",
                     id="object without health: done once created"),
        pytest.param(WIDGET, {"conditions": [{"type": "Ready", "status": "False",
                                              "message": "quota exceeded"}]},
                     "Failed", "Failed", "PreSync hook Widget migrate failed: quota exceeded",
                     id="custom resource Ready=False"),
        pytest.param(WIDGET, {"conditions": [{"type": "Ready", "status": "True"}]},
                     "Succeeded", "Succeeded", "successfully synced",
                     id="custom resource Ready=True"),
    ],
)  # fmt: skip
async def test_hook_gate(
    kind: tuple[str, str], status: JSON, hook_phase: str, phase: str, message: str
) -> None:
    cluster = FakeCluster({"migrate": status})
    tasks = [hook(*kind, "migrate"), resource("v1", "ConfigMap", "settings")]
    state = await advance(cluster, tasks)
    assert hook_result(state, "migrate").hook_phase == hook_phase
    assert (state.phase, state.message) == (phase, message)
    if phase == "Running":  # waits at the hook's step; nothing after it was applied
        assert state.step is not None
        assert (state.step.phase, state.step.applied) == ("PreSync", True)
        assert cluster.names() == {"migrate"}
    if phase == "Succeeded":
        assert "settings" in cluster.names()
    if phase == "Failed":
        assert "settings" not in cluster.names()


async def test_a_running_hook_is_checked_again_on_the_next_pass() -> None:
    cluster = FakeCluster({"migrate": {}})
    tasks = [hook(*JOB, "migrate"), resource("v1", "ConfigMap", "settings")]
    state = await advance(cluster, tasks)
    assert state.phase == "Running"
    cluster.statuses["migrate"] = job(Complete="")
    state = await advance(cluster, tasks, state)
    assert (state.phase, hook_result(state, "migrate").hook_phase) == ("Succeeded", "Succeeded")
    assert cluster.names() == {"migrate", "settings"}


async def test_a_failed_hook_runs_the_sync_fail_hooks() -> None:
    cluster = FakeCluster({"migrate": job(Failed="DeadlineExceeded"), "cleanup": job(Complete="")})
    tasks = [
        hook(*JOB, "migrate"),
        resource("v1", "ConfigMap", "settings"),
        hook(*JOB, "cleanup", phase="SyncFail"),
    ]
    state = await advance(cluster, tasks)
    assert state.phase == "Failed"
    assert state.message == "PreSync hook Job migrate failed: DeadlineExceeded"
    assert hook_result(state, "cleanup").hook_phase == "Succeeded"
    assert cluster.names() == {"migrate", "cleanup"}


# -- hook delete policies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "status", "left"),
    [
        pytest.param(None, job(Complete=""), {"migrate"}, id="default: kept after success"),
        pytest.param(None, job(Failed="x"), {"migrate"}, id="default: kept after failure"),
        pytest.param("HookSucceeded", job(Complete=""), set(), id="HookSucceeded, succeeded"),
        pytest.param("HookSucceeded", job(Failed="x"), {"migrate"}, id="HookSucceeded, failed"),
        pytest.param("HookFailed", job(Failed="x"), set(), id="HookFailed, failed"),
        pytest.param("HookFailed", job(Complete=""), {"migrate"}, id="HookFailed, succeeded"),
        pytest.param(
            "HookSucceeded,HookFailed", job(Failed="x"), set(), id="both policies, failed"
        ),
        pytest.param("HookSucceeded", {}, {"migrate"}, id="still running: kept"),
    ],
)
async def test_delete_policy_after_the_hook(
    policy: str | None, status: JSON, left: set[str]
) -> None:
    cluster = FakeCluster({"migrate": status})
    await advance(cluster, [hook(*JOB, "migrate", policy=policy)])
    assert cluster.names() == left


@pytest.mark.parametrize(
    ("policy", "log"),
    [
        pytest.param(
            None, ["delete migrate", "apply migrate"], id="default: old instance deleted first"
        ),
        pytest.param(
            "BeforeHookCreation,HookFailed",
            ["delete migrate", "apply migrate"],
            id="named with another policy",
        ),
        pytest.param(
            "HookSucceeded",
            ["apply migrate", "delete migrate"],
            id="not asked: applied over the old one, deleted once it succeeded",
        ),
        pytest.param("HookFailed", ["apply migrate"], id="not asked: applied over the old one"),
    ],
)
async def test_before_hook_creation(policy: str | None, log: list[str]) -> None:
    cluster = FakeCluster({"migrate": job(Complete="")})
    cluster.put({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate",
                 "namespace": "app", "labels": {"run": "previous"}}})  # fmt: skip
    state = await advance(cluster, [hook(*JOB, "migrate", policy=policy)])
    assert state.phase == "Succeeded"
    assert cluster.log == log


# -- health gates of objects a later step depends on ---------------------------------------


@pytest.mark.parametrize(
    ("status", "phase", "message", "next_applied"),
    [
        pytest.param({"phase": "Bound"}, "Succeeded", "successfully synced", True, id="Healthy"),
        pytest.param({"phase": "Pending"}, "Running", "", False, id="Progressing: waits"),
        pytest.param(
            {"phase": "Lost"},
            "Failed",
            "PersistentVolumeClaim app/data is Degraded: claim lost its volume",
            False,
            id="Degraded: fails at once",
        ),
    ],
)
async def test_a_later_wave_waits_for_health(
    status: JSON, phase: str, message: str, next_applied: bool
) -> None:
    cluster = FakeCluster({"data": status})
    tasks = [resource(*PVC, "data", wave=0), resource("v1", "ConfigMap", "after", wave=1)]
    state = await advance(cluster, tasks)
    assert (state.phase, state.message) == (phase, message)
    assert ("after" in cluster.names()) is next_applied


@pytest.mark.parametrize(
    ("wait_at_end", "phase"),
    [
        pytest.param(False, "Succeeded", id="last step: the app's health, not the sync's"),
        pytest.param(True, "Running", id="push mode --wait: the last step waits too"),
    ],
)
async def test_the_last_step_waits_only_when_asked(wait_at_end: bool, phase: str) -> None:
    cluster = FakeCluster({"data": {"phase": "Pending"}})
    state = await advance(cluster, [resource(*PVC, "data")], wait_at_end=wait_at_end)
    assert state.phase == phase


@pytest.mark.parametrize(
    ("waited", "phase"),
    [
        pytest.param(299.0, "Running", id="before the deadline"),
        pytest.param(300.0, "Failed", id="at the deadline"),
    ],
)
async def test_health_deadline(waited: float, phase: str) -> None:
    now = [1796288400.0]
    cluster = FakeCluster({"data": {"phase": "Pending"}})
    tasks = [resource(*PVC, "data", wave=0), resource("v1", "ConfigMap", "after", wave=1)]
    state = await advance(cluster, tasks, clock=lambda: now[0], health_timeout=300.0)
    assert state.step is not None and state.step.waiting_since == "2026-12-03T09:00:00Z"
    now[0] += waited
    state = await advance(cluster, tasks, state, clock=lambda: now[0], health_timeout=300.0)
    assert state.phase == phase
    if phase == "Failed":
        assert state.message == (
            "health deadline of 300s passed in Sync wave 0 (syncPolicy.healthTimeout); "
            "still waiting for: PersistentVolumeClaim app/data: claim is pending"
        )
