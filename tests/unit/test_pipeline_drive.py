"""``pipeline.drive`` when a read after the runner's pass fails.

The drive step reads after ``advance``: the orphans of the refreshed plan
(``Planner.refresh``) and, with ``live=True``, the health of every object.
Once ``advance`` moved the operation on (objects applied, hooks created), a
failed read there must not throw that progress away — the caller would store
nothing and the next pass would create the hooks again. So the failure
becomes ``Driven.interrupted`` (the reader's words, naming the object) and
the state comes back as far as it got. The cluster is a dictionary that
fails the way the API server would (``driftless.kube.errors``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from driftless.core.models import Application, Operation, OperationPhase, SyncOperation
from driftless.core.resources import Manifest, ResourceRef
from driftless.kube.client import KubeApiError, KubeClient, KubeRefusedError, KubeUnavailableError
from driftless.pipeline.drive import drive
from driftless.pipeline.plan import Plan
from driftless.pipeline.planner import Planner
from driftless.pipeline.policy import start
from driftless.pipeline.projects import PermissiveProjects
from driftless.pipeline.renderers import LocalRenderer, LocalTree
from driftless.sync.prepare import DesiredObject
from driftless.sync.runner import SyncRunner
from driftless.sync.states import ObjectState

JSON = dict[str, Any]
OUTAGE = "the server is currently unable to handle the request"
FORBIDDEN = 'configmaps "old" is forbidden: User "driftless" cannot get'
# The app's inventory names ConfigMap team/old, which the render no longer has.
APP = Application.model_validate(
    {
        "metadata": {"name": "shop", "namespace": "team"},
        "spec": {"source": {"repoURL": "x"}},
        "status": {"resources": [
            {"version": "v1", "kind": "ConfigMap", "namespace": "team", "name": "old"},
        ]},
    }
)  # fmt: skip


class Cluster:
    """Applies succeed; every read fails with ``error``."""

    def __init__(self, error: KubeApiError) -> None:
        self.error = error
        self.applied: list[str] = []

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        self.applied.append(body["metadata"]["name"])
        return body

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        raise self.error


def plan() -> Plan:
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "team"}}  # fmt: skip
    obj = DesiredObject(ref=ResourceRef.from_object(body), body=body, manifest=Manifest(body))
    return Plan(APP, "a" * 40, [ObjectState(desired=obj, live=None, in_sync=False)])


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(KubeUnavailableError(503, OUTAGE), id="outage"),
        pytest.param(KubeRefusedError(403, FORBIDDEN), id="refused"),
    ],
)
@pytest.mark.parametrize("live", [False, True], ids=["plan-health", "live-health"])
async def test_a_failed_orphan_read_after_the_pass_is_an_interruption_keeping_progress(
    error: KubeApiError, live: bool
) -> None:
    cluster = Cluster(error)
    client = cast(KubeClient, cluster)
    planner = Planner(client, LocalRenderer(LocalTree(Path(), Path())), PermissiveProjects())
    state = start(Operation(sync=SyncOperation()), "a" * 40)
    driven = await drive(planner, plan(), SyncRunner(client), state, live=live)
    assert cluster.applied == ["settings"]
    assert driven.state.phase == OperationPhase.SUCCEEDED  # the pass's progress is kept
    assert driven.interrupted is not None
    assert driven.interrupted.message == (
        f"cannot read ConfigMap team/old to check for pruning: {error.message}"
    )
    assert driven.health == ["Healthy"]  # from the applied object, no read needed


async def test_a_failed_live_health_read_is_an_interruption_keeping_progress() -> None:
    cluster = Cluster(KubeUnavailableError(503, OUTAGE))
    client = cast(KubeClient, cluster)
    planner = Planner(client, LocalRenderer(LocalTree(Path(), Path())), PermissiveProjects())
    fresh = plan()
    fresh.app = APP.model_copy(update={"status": type(APP.status)()})  # no inventory: no orphans
    state = start(Operation(sync=SyncOperation()), "a" * 40)
    driven = await drive(planner, fresh, SyncRunner(client), state, live=True)
    assert driven.state.phase == OperationPhase.SUCCEEDED
    assert driven.interrupted is not None
    assert driven.interrupted.message == (
        f"cannot read ConfigMap team/settings to check its health: {OUTAGE}"
    )
