"""The health of a plan's objects, as a front end reports and waits for it.

``done_count`` counts the objects whose verdict ends a wait
(``driftless.health.DONE_HEALTH``). ``plan_health`` judges the live states the plan holds
(no request: right after ``Planner.refresh`` they include what a pass just
wrote); ``live_health`` re-reads every object (push mode polls a rollout
between passes of one plan). Both give one verdict per rendered object, in
plan order, ``Missing`` for an object not in the cluster.
"""

from __future__ import annotations

import asyncio

from driftless.core.models import HealthStatusCode
from driftless.core.resources import ResourceRef
from driftless.health import DONE_HEALTH
from driftless.kube.client import KubeApiError, KubeClient
from driftless.pipeline.plan import Plan


def plan_health(plan: Plan) -> list[HealthStatusCode]:
    """The health of every planned resource from the live states the plan holds."""
    judged = plan.health()
    missing = HealthStatusCode.MISSING
    return [
        judged[s.desired.ref].status if s.desired.ref in judged else missing for s in plan.states
    ]


async def live_health(client: KubeClient, plan: Plan) -> list[HealthStatusCode]:
    """The health of every planned resource, read now (Missing when absent).

    A failed read raises its ``KubeApiError`` naming the object.
    """

    async def one(api_version: str, ref: ResourceRef) -> HealthStatusCode:
        try:
            live = await client.get(api_version, ref.kind, ref.name, ref.namespace or None)
        except KubeApiError as exc:
            raise exc.in_context(f"cannot read {ref} to check its health") from None
        return HealthStatusCode.MISSING if live is None else plan.registry.assess(live).status

    return list(
        await asyncio.gather(*(one(s.desired.api_version, s.desired.ref) for s in plan.states))
    )


def done_count(health: list[HealthStatusCode]) -> int:
    """How many objects are done (Healthy or Suspended)."""
    return sum(1 for h in health if h in DONE_HEALTH)
