"""What push mode remembers after a sync (``pipeline.inventory.next_inventory``).

Fixture table: the objects rendered now, the inventory stored by the last
apply, what this sync did, and the inventory the next apply reads back.
The rule a user relies on: nothing applied is forgotten until it is pruned.
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.models import (
    Application,
    Operation,
    OperationPhase,
    OperationState,
    ResourceResult,
    ResourceStatus,
)
from driftless.core.resources import Manifest, ResourceRef
from driftless.core.wellknown import TRACKING_ANNOTATION
from driftless.pipeline import inventory
from driftless.pipeline.plan import Plan
from driftless.sync.prepare import DesiredObject
from driftless.sync.states import ObjectState, Orphan

JSON = dict[str, Any]
APP = Application.model_validate(
    {"metadata": {"name": "shop", "namespace": "team"}, "spec": {"source": {"repoURL": "x"}}}
)


def ref(name: str, kind: str = "ConfigMap") -> ResourceRef:
    return ResourceRef("", kind, "" if kind == "Namespace" else "team", name)


def state(name: str, kind: str = "ConfigMap", *, tracked: bool = True) -> ObjectState:
    r = ref(name, kind)
    meta: JSON = {"name": name}
    if tracked:
        meta["annotations"] = {TRACKING_ANNOTATION: f"team_shop:/{kind}:{r.namespace}/{name}"}
    body = {"apiVersion": "v1", "kind": kind, "metadata": meta}
    desired = DesiredObject(ref=r, body=body, manifest=Manifest(body))
    return ObjectState(desired=desired, live=None, in_sync=False)


def stored(name: str, kind: str = "ConfigMap") -> ResourceStatus:
    r = ref(name, kind)
    return ResourceStatus(version="v1", kind=kind, namespace=r.namespace, name=name)


def orphan(name: str) -> Orphan:
    return Orphan(ref(name), "v1", {"metadata": {"name": name}})


def sync(phase: OperationPhase, pruned: tuple[str, ...] = ()) -> OperationState:
    results = [
        ResourceResult(version="v1", kind="ConfigMap", namespace="team", name=n, status="Pruned")
        for n in pruned
    ]
    return OperationState(
        operation=Operation(), phase=phase, started_at="2026-01-01T00:00:00Z", resources=results
    )


OK, FAILED, RUNNING = OperationPhase.SUCCEEDED, OperationPhase.FAILED, OperationPhase.RUNNING

CASES = [
    # (rendered states, orphans, previous inventory, operation, names stored next)
    pytest.param([state("a")], [], [], sync(OK), ["a"], id="first-apply"),
    pytest.param(
        [state("a"), state("team", "Namespace", tracked=False)], [], [], sync(OK), ["a"],
        id="created-namespace-never-stored",
    ),
    pytest.param(
        [state("a")], [], [stored("a"), stored("gone")], sync(OK, pruned=("gone",)), ["a"],
        id="pruned-forgotten",
    ),
    pytest.param(
        [state("a")], [orphan("old")], [stored("a"), stored("old")], sync(OK), ["a", "old"],
        id="orphan-not-pruned-kept",
    ),
    pytest.param(
        [state("a")], [], [stored("a"), stored("stale")], sync(OK), ["a"],
        id="success-drops-entries-no-longer-live",
    ),
    pytest.param(
        [state("a")], [], [stored("a"), stored("old")], sync(FAILED), ["a", "old"],
        id="failed-keeps-everything-not-pruned",
    ),
    pytest.param(
        [state("a")], [], [stored("old")], sync(RUNNING, pruned=("old",)), ["a"],
        id="unfinished-forgets-only-pruned",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("states", "orphans", "previous", "op", "expected"), CASES)
def test_next_inventory(
    states: list[ObjectState],
    orphans: list[Orphan],
    previous: list[ResourceStatus],
    op: OperationState,
    expected: list[str],
) -> None:
    plan = Plan(APP, "abc", states, orphans=orphans)
    entries = inventory.next_inventory(plan, previous, op)
    assert sorted(e.name for e in entries) == expected


async def test_status_inventory_is_the_apps_status_resources() -> None:
    app = APP.model_copy(deep=True)
    app.status.resources = [stored("a")]
    assert [e.name for e in await inventory.StatusInventory(app).read()] == ["a"]
