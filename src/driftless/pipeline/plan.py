"""``Plan``: everything known about one app after a read-only pass.

Made by ``pipeline.planner``; read by the status (``pipeline.status``), the
diff (``pipeline.diffs``) and the drive step. ``Planner.refresh`` folds a
runner's writes back into it, so a plan stays the truth about the cluster
for the rest of a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from driftless.core.models import Application
from driftless.core.resources import ResourceRef
from driftless.health import HealthRegistry, HealthResult
from driftless.sync import plan as sync_plan
from driftless.sync.states import ObjectState, Orphan


@dataclass
class Plan:
    """Everything known about one app after a read-only pass."""

    app: Application
    revision: str
    states: list[ObjectState]
    orphans: list[Orphan] = field(default_factory=list)
    prune_blocked: str | None = None
    hooks: list[sync_plan.Task] = field(default_factory=list)
    rendered: int = 0
    registry: HealthRegistry = field(default_factory=HealthRegistry)

    @property
    def in_sync(self) -> bool:
        return all(s.in_sync for s in self.states) and all(
            o.ignore_extraneous for o in self.orphans
        )

    def needs_sync(self, *, prune_enabled: bool) -> bool:
        """Whether a sync would change anything (orphans count only when pruning)."""
        prunable = [o for o in self.orphans if not (o.prune_disabled or o.ignore_extraneous)]
        return any(not s.in_sync for s in self.states) or (prune_enabled and bool(prunable))

    def tasks(self, selection: set[ResourceRef] | None = None) -> list[sync_plan.Task]:
        """Sync tasks: every resource plus the hooks, or only the selected resources."""
        resources = [s.desired for s in self.states]
        if selection:
            chosen = [r for r in resources if r.ref in selection]
            return sync_plan.resource_tasks(chosen)
        return sync_plan.resource_tasks(resources) + self.hooks

    def health(self) -> dict[ResourceRef, HealthResult]:
        judge = self.registry.assess
        return {s.desired.ref: judge(s.live) for s in self.states if s.live is not None}
