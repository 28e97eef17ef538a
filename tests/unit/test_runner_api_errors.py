"""``SyncRunner.advance`` when the Kubernetes API fails, as a fixture table.

The runner talks to the cluster through six kinds of call: apply, the
delete-and-wait of a hook before it is created again, the read of the
CRDs it applied (until Established) and the discovery refresh after them,
the health-gate read, the delete of a finished hook (its delete policy)
and the delete of an orphan (prune). The cluster here is a dictionary that
stores what is applied and fails exactly one call the way the API server
would, with a class of ``driftless.kube.errors``: no API server, no timing.
(This tests the runner's error handling, not Kubernetes.)

The rule each row checks (module docstring of ``driftless.sync.runner``):
``advance`` never raises, and what happens depends on the call, not on the
error's class, except that a send without any answer is not a failure.
A send the API server answered with an error (apply, hook delete-and-wait,
prune delete) fails the operation as a refused apply always did — phase
Failed, the message naming what failed, the SyncFail hooks run — be it a
403 or a 503. A send that got no answer (``kube.errors.unreachable``) and a
failed read (CRD established read, discovery refresh, health-gate read,
delete policy of a finished hook) ends the pass with the operation still
Running where it got to, nothing recorded as failed, and the error in
``runner.interrupted`` — and the next pass finishes the operation without
creating a hook twice.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from driftless.core.models import Operation, OperationState, SyncOperation
from driftless.core.resources import Manifest, ResourceRef
from driftless.kube.client import (
    KubeApiError,
    KubeClient,
    KubeConflictError,
    KubeRefusedError,
    KubeUnavailableError,
)
from driftless.sync import plan as sp
from driftless.sync.prepare import DesiredObject
from driftless.sync.runner import SyncRunner
from driftless.sync.states import Orphan

JSON = dict[str, Any]
Key = tuple[str, str, str]  # kind, namespace, name

OUTAGE = "the server is currently unable to handle the request"
FORBIDDEN = 'configmaps "x" is forbidden: User "driftless" cannot do this'
WEBHOOK = 'Internal error occurred: failed calling webhook "check.example.com": timeout'
ESTABLISHED = {"conditions": [{"type": "Established", "status": "True"}]}
JOB_COMPLETE = {"conditions": [{"type": "Complete", "status": "True"}]}


class FakeCluster:
    """Stores applied objects; the call named by ``failing`` raises ``error`` (once)."""

    def __init__(self, failing: str = "", error: KubeApiError | None = None) -> None:
        # The run of hook ``migrate`` by an earlier operation (BeforeHookCreation deletes it).
        earlier = {"apiVersion": "batch/v1", "kind": "Job",
                   "metadata": {"name": "migrate", "namespace": "app"}}  # fmt: skip
        self.objects: dict[Key, JSON] = {("Job", "app", "migrate"): earlier}
        self.failing = failing
        self.error = error
        self.calls: list[str] = []  # "apply migrate", "get settings", "refresh", ...
        self.discovery = self

    def _call(self, call: str) -> None:
        self.calls.append(call)
        if call == self.failing and self.error is not None:
            error, self.error = self.error, None
            raise error

    async def refresh(self) -> None:
        self._call("refresh")

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        meta = body["metadata"]
        self._call(f"apply {meta['name']}")
        self.objects[(body["kind"], meta.get("namespace", ""), meta["name"])] = body
        return body

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        self._call(f"get {name}")
        body = self.objects.get((kind, namespace or "", name))
        if body is None:
            return None
        status = {"Job": JOB_COMPLETE, "CustomResourceDefinition": ESTABLISHED}.get(kind, {})
        return {**body, "status": status}

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
    ) -> bool:
        self._call(f"delete {name}")
        return self.objects.pop((kind, namespace or "", name), None) is not None


def desired(api_version: str, kind: str, name: str, namespace: str, **notes: str) -> DesiredObject:
    meta: JSON = {"name": name, "annotations": notes}
    if namespace:
        meta["namespace"] = namespace
    body: JSON = {"apiVersion": api_version, "kind": kind, "metadata": meta}
    return DesiredObject(ref=ResourceRef.from_object(body), body=body, manifest=Manifest(body))


def tasks() -> list[sp.Task]:
    """PreSync hooks ``migrate`` (re-created) and ``notify`` (deleted once it
    succeeded); wave 0: a CRD and ConfigMap ``settings`` (health-gated: wave 1
    follows); wave 1: ConfigMap ``later``."""
    presync = {"driftless.dev/hook": "PreSync"}
    deleted_on_success = {**presync, "driftless.dev/hook-delete-policy": "HookSucceeded"}
    hooks = [
        desired("batch/v1", "Job", "migrate", "app", **presync),
        desired("batch/v1", "Job", "notify", "app", **deleted_on_success),
    ]
    crd = "apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com", ""
    resources = [
        desired(*crd),
        desired("v1", "ConfigMap", "settings", "app"),
        desired("v1", "ConfigMap", "later", "app", **{"driftless.dev/sync-wave": "1"}),
    ]
    return sp.split_hooks(hooks)[1] + sp.resource_tasks(resources)


ORPHAN_REF = ResourceRef("", "ConfigMap", "app", "old")
ORPHANS = [Orphan(ORPHAN_REF, "v1", {"apiVersion": "v1", "kind": "ConfigMap"})]


def operation() -> OperationState:
    return OperationState(
        operation=Operation(sync=SyncOperation(prune=True)),
        started_at="2026-12-03T09:00:00Z",
        revision="a" * 40,
    )


def on_fail_hook() -> list[sp.Task]:
    """A SyncFail hook Job ``cleanup``: runs only when the operation fails."""
    hook = desired("batch/v1", "Job", "cleanup", "app", **{"driftless.dev/hook": "SyncFail"})
    return sp.split_hooks([hook])[1]


async def advance(
    cluster: FakeCluster, state: OperationState, extra: list[sp.Task] | None = None
) -> tuple[OperationState, SyncRunner]:
    runner = SyncRunner(cast(KubeClient, cluster))
    state = await runner.advance(state, tasks() + (extra or []), orphans=ORPHANS,
                                 prune_blocked=None)  # fmt: skip
    return state, runner


def where(state: OperationState) -> str:
    """The step the cursor is on: "<phase> <wave> sent|unsent", or "" at the end."""
    if state.step is None:
        return ""
    wave = "prune" if state.step.wave == sp.PRUNE_WAVE else str(state.step.wave)
    return f"{state.step.phase} {wave} {'sent' if state.step.applied else 'unsent'}"


def results(state: OperationState) -> dict[str, str]:
    return {r.name: r.status for r in state.resources}


async def test_the_fixture_runs_every_call_kind_once_without_failures() -> None:
    cluster = FakeCluster()
    state, runner = await advance(cluster, operation())
    assert (state.phase, state.message, runner.interrupted) == (
        "Succeeded", "successfully synced", None,
    )  # fmt: skip
    for call in (
        "delete migrate", "apply migrate", "get migrate", "delete notify", "apply settings",
        "get widgets.example.com", "refresh", "get settings", "apply later", "delete old",
    ):  # fmt: skip
        assert call in cluster.calls


NO_ANSWER = "cannot reach the API server at https://127.0.0.1:6443: Connection refused"
ANSWERED = [
    pytest.param(KubeUnavailableError(503, OUTAGE), id="unavailable"),
    pytest.param(KubeUnavailableError(500, WEBHOOK), id="webhook"),
    pytest.param(KubeConflictError(409, "the object has been modified"), id="conflict"),
    pytest.param(KubeRefusedError(403, FORBIDDEN), id="refused"),
]
ERRORS = [*ANSWERED, pytest.param(KubeUnavailableError(0, NO_ANSWER), id="no answer")]

SENDS = [
    # (call that fails, the operation's message before the server's words)
    pytest.param("apply settings", "ConfigMap app/settings", id="apply"),
    pytest.param("delete migrate", "Job.batch app/migrate", id="hook delete before creation"),
    pytest.param("delete old", "cannot prune ConfigMap app/old", id="prune delete"),
]  # fmt: skip

READS = [
    # (call that fails, where it leaves the cursor, the interruption's message before the server's)
    pytest.param("get widgets.example.com", "Sync 0 unsent",
                 "cannot read CRD widgets.example.com", id="CRD established read"),
    pytest.param("refresh", "Sync 0 unsent",
                 "cannot refresh API discovery after applying CRDs", id="discovery refresh"),
    pytest.param("get settings", "Sync 0 sent",
                 "cannot read ConfigMap app/settings to check its health", id="health gate read"),
    pytest.param("delete notify", "PreSync 0 sent",
                 "cannot delete hook Job.batch app/notify", id="hook delete policy"),
]  # fmt: skip


@pytest.mark.parametrize("error", ANSWERED)
@pytest.mark.parametrize(("call", "context"), SENDS)
async def test_an_answered_failed_send_fails_the_operation_whatever_the_error(
    call: str, context: str, error: KubeApiError
) -> None:
    cluster = FakeCluster(call, error)
    state, runner = await advance(cluster, operation(), on_fail_hook())
    assert (state.phase, state.message, where(state)) == (
        "Failed", f"{context}: {error.message}", "",
    )  # fmt: skip
    assert runner.interrupted is None
    assert "apply cleanup" in cluster.calls  # the SyncFail hook ran


@pytest.mark.parametrize("error", ERRORS)
@pytest.mark.parametrize(("call", "cursor", "context"), READS)
async def test_a_failed_read_interrupts_the_pass_and_the_next_pass_finishes(
    call: str, cursor: str, context: str, error: KubeApiError
) -> None:
    cluster = FakeCluster(call, error)
    state, runner = await advance(cluster, operation(), on_fail_hook())
    assert (state.phase, state.message, where(state)) == ("Running", "", cursor)
    assert "SyncFailed" not in results(state).values()
    assert isinstance(runner.interrupted, type(error))
    assert runner.interrupted.message == f"{context}: {error.message}"

    state, runner = await advance(cluster, state, on_fail_hook())
    assert (state.phase, state.message, runner.interrupted) == (
        "Succeeded", "successfully synced", None,
    )  # fmt: skip
    assert cluster.calls.count("apply migrate") == 1  # a hook runs once
    assert cluster.calls.count("apply notify") == 1
    assert "apply cleanup" not in cluster.calls


SENT_WITHOUT_ANSWER = [
    # (call that gets no answer, where it leaves the cursor, the message's context)
    pytest.param("apply settings", "Sync 0 unsent", "cannot apply ConfigMap app/settings: ",
                 id="apply"),
    pytest.param("apply migrate", "PreSync 0 unsent", "cannot apply Job.batch app/migrate: ",
                 id="hook apply"),
    pytest.param("delete migrate", "PreSync 0 unsent", "cannot apply Job.batch app/migrate: ",
                 id="hook delete before creation"),
    pytest.param("delete old", "Sync prune unsent", "cannot prune ConfigMap app/old: ",
                 id="prune delete"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "cursor", "context"), SENT_WITHOUT_ANSWER)
async def test_a_send_without_answer_interrupts_the_pass_and_the_next_pass_finishes(
    call: str, cursor: str, context: str
) -> None:
    """The API server gone mid-sync: the operation waits for it, Running, not Failed."""
    cluster = FakeCluster(call, KubeUnavailableError(0, NO_ANSWER))
    state, runner = await advance(cluster, operation(), on_fail_hook())
    assert (state.phase, state.message, where(state)) == ("Running", "", cursor)
    assert "SyncFailed" not in results(state).values()
    assert isinstance(runner.interrupted, KubeUnavailableError)
    assert runner.interrupted.message == context + NO_ANSWER

    state, runner = await advance(cluster, state, on_fail_hook())
    assert (state.phase, state.message, runner.interrupted) == (
        "Succeeded", "successfully synced", None,
    )  # fmt: skip
    assert "apply cleanup" not in cluster.calls  # nothing failed


class AppliedButNoAnswer(FakeCluster):
    """Applies hook ``migrate``, then loses the answer (the API server died meanwhile)."""

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        applied = await super().apply(body, field_manager=field_manager, dry_run=dry_run)
        if body["metadata"]["name"] == "migrate" and self.failing == "lose answer":
            self.failing = ""
            raise KubeUnavailableError(0, NO_ANSWER)
        return applied


async def test_a_hook_whose_creation_was_not_recorded_is_found_not_run_again() -> None:
    """Its Job exists with this operation's stamp: applied again, never deleted."""
    cluster = AppliedButNoAnswer("lose answer")
    state, runner = await advance(cluster, operation())
    assert (state.phase, where(state)) == ("Running", "PreSync 0 unsent")
    assert runner.interrupted is not None
    assert cluster.calls.count("delete migrate") == 1  # the earlier operation's run

    state, runner = await advance(cluster, state)
    assert (state.phase, runner.interrupted) == ("Succeeded", None)
    assert cluster.calls.count("delete migrate") == 1  # this operation's run was kept
    job = cluster.objects[("Job", "app", "migrate")]
    assert job["metadata"]["annotations"]["driftless.dev/hook-operation"].endswith("|PreSync")


async def test_a_new_operation_deletes_the_hook_run_of_the_previous_one() -> None:
    cluster = FakeCluster()
    await advance(cluster, operation())
    second = operation()
    second.started_at = "2026-12-03T10:00:00Z"
    state, _ = await advance(cluster, second)
    assert state.phase == "Succeeded"
    assert cluster.calls.count("delete migrate") == 2  # before each operation's own run
    job = cluster.objects[("Job", "app", "migrate")]
    assert "2026-12-03T10:00:00Z" in job["metadata"]["annotations"]["driftless.dev/hook-operation"]


async def test_refused_apply_is_recorded_on_the_object() -> None:
    """What a user reads per object: the refused one SyncFailed with the server's words."""
    cluster = FakeCluster("apply settings", KubeRefusedError(422, "spec.x: Invalid value"))
    state, _ = await advance(cluster, operation())
    [settings] = [r for r in state.resources if r.name == "settings"]
    assert (settings.status, settings.message) == ("SyncFailed", "spec.x: Invalid value")


class TwoFailures(FakeCluster):
    """One wave meets a refusal on one object and an outage on another."""

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        name = body["metadata"]["name"]
        if name == "settings":
            raise KubeRefusedError(403, FORBIDDEN)
        if name == "widgets.example.com":
            raise KubeUnavailableError(503, OUTAGE)
        return await super().apply(body, field_manager=field_manager, dry_run=dry_run)


class RefusedAndNoAnswer(FakeCluster):
    """One wave meets a refusal on one object and no answer on another."""

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        name = body["metadata"]["name"]
        if name == "settings":
            raise KubeRefusedError(403, FORBIDDEN)
        if name == "widgets.example.com":
            raise KubeUnavailableError(0, NO_ANSWER)
        return await super().apply(body, field_manager=field_manager, dry_run=dry_run)


async def test_a_refusal_fails_the_operation_though_another_send_got_no_answer() -> None:
    state, runner = await advance(RefusedAndNoAnswer(), operation())
    assert (state.phase, runner.interrupted) == ("Failed", None)
    assert state.message == f"ConfigMap app/settings: {FORBIDDEN}"
    status = {r.name: r.status for r in state.resources}
    assert (status["settings"], status["widgets.example.com"]) == ("SyncFailed", "Pending")


async def test_every_failed_apply_of_a_wave_is_recorded_and_fails_the_operation() -> None:
    state, runner = await advance(TwoFailures(), operation())
    assert state.phase == "Failed"
    assert runner.interrupted is None
    failed = {r.name: r.message for r in state.resources if r.status == "SyncFailed"}
    assert failed == {"settings": FORBIDDEN, "widgets.example.com": OUTAGE}
