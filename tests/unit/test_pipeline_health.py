"""A plan's health as push mode counts it (``pipeline.health``): one verdict per object.

Fixture table: what is live for each rendered object, and the verdicts a
user sees counted as ``healthy=N/M`` in the progress line.
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.models import Application, HealthStatusCode
from driftless.core.resources import Manifest, ResourceRef
from driftless.health import DONE_HEALTH
from driftless.pipeline.health import done_count, plan_health
from driftless.pipeline.plan import Plan
from driftless.sync.prepare import DesiredObject
from driftless.sync.states import ObjectState

JSON = dict[str, Any]
APP = Application.model_validate(
    {"metadata": {"name": "shop", "namespace": "team"}, "spec": {"source": {"repoURL": "x"}}}
)
H, P, M = HealthStatusCode.HEALTHY, HealthStatusCode.PROGRESSING, HealthStatusCode.MISSING


def configmap(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def deployment(name: str, ready: int) -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "generation": 1},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
                   "readyReplicas": ready, "availableReplicas": ready},
    }  # fmt: skip


def state(body: JSON, live: JSON | None) -> ObjectState:
    ref = ResourceRef("apps" if "/" in body["apiVersion"] else "", body["kind"], "team",
                      body["metadata"]["name"])  # fmt: skip
    desired = DesiredObject(ref=ref, body=body, manifest=Manifest(body))
    return ObjectState(desired=desired, live=live, in_sync=live is not None)


@pytest.mark.parametrize(
    ("states", "expected", "done"),
    [
        pytest.param([], [], 0, id="empty"),
        pytest.param([state(configmap("a"), configmap("a"))], [H], 1, id="live-configmap"),
        pytest.param([state(configmap("a"), None)], [M], 0, id="not-in-cluster"),
        pytest.param(
            [state(deployment("web", 1), deployment("web", 1)),
             state(deployment("api", 2), deployment("api", 2))],
            [P, H], 1, id="rollout-under-way-in-plan-order",
        ),
    ],
)  # fmt: skip
def test_plan_health(
    states: list[ObjectState], expected: list[HealthStatusCode], done: int
) -> None:
    health = plan_health(Plan(APP, "abc", states))
    assert (health, done_count(health)) == (expected, done)


def test_suspended_counts_as_done() -> None:
    assert (
        HealthStatusCode.SUSPENDED in DONE_HEALTH and HealthStatusCode.DEGRADED not in DONE_HEALTH
    )


def test_one_done_health_for_every_wait() -> None:
    """The sync gates, push mode's --wait and app wait --health stop on the same verdicts."""
    from driftless.cli import app_ops, push
    from driftless.pipeline import health
    from driftless.sync import runner

    for module in (runner, health, push, app_ops):
        assert module.DONE_HEALTH is DONE_HEALTH, module.__name__
    assert set(DONE_HEALTH) == {HealthStatusCode.HEALTHY, HealthStatusCode.SUSPENDED}
