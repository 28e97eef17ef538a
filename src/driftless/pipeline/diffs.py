"""The one diff of a plan: what a sync would change, object by object. Pure.

Used by ``driftless app diff``, ``driftless diff --local`` and ``driftless
apply`` (and the server's live diff), so they all show the same thing:

* each rendered object: its live state against the server-side dry-run of
  the desired body (``predicted``; the desired body itself when no dry-run
  was made), with the object's ignoreDifferences rules applied;
* each orphan that pruning would delete (not ``Prune=false`` ones) as a
  deletion, unless ``include_orphans`` is off (``apply`` without ``--prune``).

Secret values are masked by ``diff.report``.
"""

from __future__ import annotations

from driftless.diff.report import ResourceDiff, resource_diff
from driftless.pipeline.plan import Plan


def plan_diffs(plan: Plan, *, include_orphans: bool = True) -> list[ResourceDiff]:
    """Every resource's diff (live vs the dry-run of desired), orphans as deletions."""
    diffs = []
    for state in plan.states:
        desired = state.predicted if state.predicted is not None else state.desired.body
        diffs.append(
            resource_diff(
                state.desired.ref, live=state.live, desired=desired, ignore=state.desired.ignore
            )
        )
    if include_orphans:
        for orphan in plan.orphans:
            if not orphan.prune_disabled:
                diffs.append(resource_diff(orphan.ref, live=orphan.live, desired=None))
    return diffs
