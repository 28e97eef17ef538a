"""Hooks with ``generateName`` on the real API server: the sync runner's side.

A controller that dies after creating a hook's Job but before storing the
operation state must not run the Job twice: the next pass of the same
operation finds the instance it created. The next operation deletes it
(``BeforeHookCreation``) but never a Job of another app wearing the same
template label.
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.models import Operation, OperationState, SyncOperation
from driftless.core.resources import Manifest
from driftless.core.wellknown import HOOK_TEMPLATE_LABEL, TRACKING_ANNOTATION
from driftless.kube.client import KubeClient
from driftless.sync import plan as sp
from driftless.sync.prepare import prepare
from driftless.sync.runner import SyncRunner
from tests.integration.helpers import unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]

TEMPLATE: JSON = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {
        "generateName": "migrate-",
        "annotations": {"argocd.argoproj.io/hook": "PreSync"},
    },
    "spec": {
        "backoffLimit": 0,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                # Never scheduled: the hook stays Running while the test looks.
                "nodeSelector": {"nowhere": "true"},
                "containers": [{"name": "m", "image": "example.com/m:1"}],
            }
        },
    },
}


def _tasks(namespace: str) -> list[sp.Task]:
    desired = prepare(
        [Manifest(TEMPLATE, "hook.yaml", 1)],
        app_namespace="driftless",
        app_name=namespace,
        default_namespace=namespace,
        is_namespaced=lambda *_: True,
    )
    _, hooks = sp.split_hooks(desired)
    return hooks


def _operation(started_at: str) -> OperationState:
    return OperationState(
        operation=Operation(sync=SyncOperation()), started_at=started_at, revision="a" * 40
    )


async def _jobs(kube: KubeClient, namespace: str) -> list[str]:
    return sorted(j["metadata"]["name"] for j in await kube.list("batch/v1", "Job", namespace))


async def test_a_lost_state_does_not_create_a_second_job_and_the_next_sync_replaces_it(
    kube: KubeClient,
) -> None:
    namespace = unique("genhook")
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        field_manager="test",
    )
    tasks = _tasks(namespace)
    runner = SyncRunner(kube)

    first = await runner.advance(
        _operation("2026-12-03T10:00:00Z"), tasks, orphans=[], prune_blocked=None
    )
    [row] = [r for r in first.resources if r.hook_type == "PreSync"]
    assert row.name.startswith("migrate-") and row.hook_phase == "Running"
    assert await _jobs(kube, namespace) == [row.name]

    # The controller died before storing ``first``: the same operation starts over.
    again = await runner.advance(
        _operation("2026-12-03T10:00:00Z"), tasks, orphans=[], prune_blocked=None
    )
    assert runner.interrupted is None and again.phase == "Running", again.message
    [row_again] = [r for r in again.resources if r.hook_type == "PreSync"]
    assert row_again.name == row.name
    assert await _jobs(kube, namespace) == [row.name]  # still the one Job

    # Hostile: another app's Job carrying this template's label is not ours to delete.
    [ours] = await kube.list("batch/v1", "Job", namespace)
    label = ours["metadata"]["labels"][HOOK_TEMPLATE_LABEL]
    foreign = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "migrate-other",
            "namespace": namespace,
            "labels": {HOOK_TEMPLATE_LABEL: label},
            "annotations": {TRACKING_ANNOTATION: f"x_y:batch/Job:{namespace}/migrate-other"},
        },
        "spec": TEMPLATE["spec"],
    }
    await kube.apply(foreign, field_manager="test")

    # The next operation: BeforeHookCreation (the default) replaces the earlier run.
    following = await runner.advance(
        _operation("2026-12-03T11:00:00Z"), tasks, orphans=[], prune_blocked=None
    )
    [new_row] = [r for r in following.resources if r.hook_type == "PreSync"]
    assert new_row.name != row.name and new_row.name.startswith("migrate-")
    assert await _jobs(kube, namespace) == sorted([new_row.name, "migrate-other"])
    await kube.delete("v1", "Namespace", namespace)
