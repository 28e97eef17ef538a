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
* ``Driven.interrupted`` is the transient API failure that ended the pass
  early (the state holds the progress made so far: store it, retry with
  backoff); a refusal is never here — it fails the operation in the state;
* ``Driven.health`` is one verdict per rendered object: from the refreshed
  plan (no request), or read again from the cluster with ``live=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftless.core.errors import DriftlessError
from driftless.core.models import HealthStatusCode, OperationPhase, OperationState
from driftless.core.resources import ResourceRef
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
    await planner.refresh(plan, runner.applied)
    health = await live_health(planner.client, plan) if live else plan_health(plan)
    return Driven(state, runner.interrupted, health)
