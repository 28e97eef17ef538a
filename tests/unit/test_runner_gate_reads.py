"""The health gate of a large step reads its objects together, not one after another.

A 500-object wave followed by another wave is health-gated: every pass reads
each object of the wave again (a GET: the watch cache may not have seen the
apply yet). Sequential reads made that 500 round trips per pass. The fake
cluster here answers a read only once ``WIDTH`` reads are in flight at once,
so sequential reads would never finish; the verdicts (order, first failure)
are the same as ever.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from driftless.core.models import Operation, OperationState, SyncOperation
from driftless.core.resources import Manifest, ResourceRef
from driftless.kube.client import KubeClient
from driftless.sync import plan as sp
from driftless.sync.prepare import DesiredObject
from driftless.sync.runner import SyncRunner

JSON = dict[str, Any]
WIDTH = 4


class ConcurrentReadsOnly:
    """Applies are stored; a GET waits until ``WIDTH`` GETs are waiting together."""

    def __init__(self, degraded: str = "") -> None:
        self.objects: dict[str, JSON] = {}
        self.in_flight = 0
        self.widest = 0
        self.enough = asyncio.Event()
        self.degraded = degraded

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        self.objects[body["metadata"]["name"]] = body
        return body

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        self.in_flight += 1
        self.widest = max(self.widest, self.in_flight)
        if self.in_flight >= WIDTH:
            self.enough.set()
        await self.enough.wait()
        self.in_flight -= 1
        body = self.objects.get(name)
        if body is None:
            return None
        if name == self.degraded:  # a Deployment whose rollout failed
            failed = {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
            }
            return {**body, "status": {"observedGeneration": 1, "conditions": [failed]}}
        return {**body, "status": {"observedGeneration": 1, "replicas": 0}}  # rolled out


def deployment(name: str, wave: int) -> DesiredObject:
    body: JSON = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "app", "generation": 1,
                     "annotations": {"driftless.dev/sync-wave": str(wave)}},
        "spec": {"replicas": 0},
    }  # fmt: skip
    return DesiredObject(ref=ResourceRef.from_object(body), body=body, manifest=Manifest(body))


def tasks() -> list[sp.Task]:
    """Wave 0: ``WIDTH`` Deployments (gated: wave 1 follows); wave 1: one more."""
    first = [deployment(f"d{i}", 0) for i in range(WIDTH)]
    return sp.resource_tasks([*first, deployment("later", 1)])


async def advance(cluster: ConcurrentReadsOnly) -> OperationState:
    runner = SyncRunner(cast(KubeClient, cluster), concurrency=WIDTH)
    state = OperationState(operation=Operation(sync=SyncOperation()),
                           started_at="2026-12-03T09:00:00Z", revision="a" * 40)  # fmt: skip
    advanced = runner.advance(state, tasks(), orphans=[], prune_blocked=None)
    return await asyncio.wait_for(advanced, timeout=5)


async def test_the_gate_reads_the_wave_together() -> None:
    cluster = ConcurrentReadsOnly()
    state = await advance(cluster)
    assert (state.phase, state.message) == ("Succeeded", "successfully synced")
    assert cluster.widest >= WIDTH
    assert "later" in cluster.objects  # the gate let wave 1 run


async def test_a_degraded_object_still_fails_the_step_naming_it() -> None:
    cluster = ConcurrentReadsOnly(degraded="d2")
    state = await advance(cluster)
    assert state.phase == "Failed"
    assert "Deployment.apps app/d2 is Degraded" in str(state.message)
    assert "later" not in cluster.objects
