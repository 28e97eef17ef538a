"""The one drive step of a sync: advance the runner, refresh the plan, read health.

Both front ends that sync run exactly this step: the reconciler once per
pass (the next pass re-plans), push mode in a loop over one plan until the
operation ends, the user's ``--timeout`` expires or, without ``--wait``, the
last step was sent.

Contract of ``drive``:

* the runner advances ``state`` as far as it can without waiting (see
  ``sync.runner``); with a ``selection`` only the selected resources are
  synced and nothing is pruned;
* what the runner wrote is folded into the plan (``Planner.refresh``), so the
  plan is the truth about the cluster for the rest of the pass;
* ``Driven.interrupted`` is the failed read that ended the pass early — the
  runner's (see ``sync.runner``: a failed send fails the operation in the
  state instead) or this step's own orphan and health reads, whose failure
  after ``advance`` changed the state must not lose that progress (hooks
  would be created again). The state holds the progress made so far: store
  it, show the message, retry later. ``drive`` never raises ``KubeApiError``;
* ``Driven.health`` is one verdict per rendered object: from the refreshed
  plan (no request), or read again from the cluster with ``live=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftless.core.errors import DriftlessError
from driftless.core.models import HealthStatusCode, OperationPhase, OperationState
from driftless.core.resources import ResourceRef
from driftless.kube.client import KubeApiError
from driftless.pipeline.health import live_health, plan_health
from driftless.pipeline.plan import Plan
from driftless.pipeline.planner import Planner
from driftless.sync.runner import SyncRunner


@dataclass(frozen=True)
class Driven:
    """What one drive step did."""

    state: OperationState
    interrupted: DriftlessError | None
    health: list[HealthStatusCode]

    @property
    def running(self) -> bool:
        return self.state.phase == OperationPhase.RUNNING


async def drive(
    planner: Planner,
    plan: Plan,
    runner: SyncRunner,
    state: OperationState,
    *,
    selection: set[ResourceRef] | None = None,
    live: bool = False,
) -> Driven:
    """One step: advance → refresh → health (see the module docstring)."""
    state = await runner.advance(
        state,
        plan.tasks(selection),
        orphans=[] if selection else plan.orphans,
        prune_blocked=plan.prune_blocked,
    )
    interrupted = runner.interrupted
    try:
        await planner.refresh(plan, runner.applied)
        health = await live_health(planner.client, plan) if live else plan_health(plan)
    except KubeApiError as exc:
        # The state moved on (objects applied, hooks created): keep it.
        return Driven(state, interrupted or exc, plan_health(plan))
    return Driven(state, interrupted, health)
