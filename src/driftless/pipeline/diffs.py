"""The one diff of a plan: what a sync would change, object by object. Pure.

Used by ``driftless app diff``, ``driftless diff --local`` and ``driftless
apply`` (and the server's live diff), so they all show the same thing:

* each rendered object: its live state against the server-side dry-run of
  the desired body (``predicted``; the desired body itself when no dry-run
  was made), with the object's ignoreDifferences rules applied;
* each orphan that pruning would delete (not ``Prune=false`` ones) as a
  deletion, unless ``include_orphans`` is off (``apply`` without ``--prune``).

Secret values are masked by ``diff.report``.

A plan made without dry runs (``Planner.plan(dry_run=False)``, for readers
that may not write) holds ``PredictedState``s: the desired side is
``diff.predict``'s client-side prediction, and an object whose live state
could not be read is ``unreadable`` (its diff is unknown, never "added").
``diff_entries`` is the JSON of each diff with how it was computed
(``predicted``: ``dry-run`` or ``client-side``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from driftless.diff.report import ResourceDiff, resource_diff
from driftless.pipeline.plan import Plan
from driftless.sync.states import ObjectState

JSON = dict[str, Any]
#: How a diff's desired side was computed (``predicted`` in ``diff_entries``).
DRY_RUN: Final = "dry-run"
CLIENT_SIDE: Final = "client-side"
#: The status of an object whose live state the planner may not read.
UNREADABLE: Final = "unreadable"


@dataclass
class PredictedState(ObjectState):
    """An object's state computed without a dry run (``diff.predict``).

    ``unreadable``: why its live state could not be read ("" when it was);
    then ``live`` is None without meaning the object is missing.
    """

    unreadable: str = ""


def plan_diffs(plan: Plan, *, include_orphans: bool = True) -> list[ResourceDiff]:
    """Every resource's diff (live vs the dry-run of desired), orphans as deletions."""
    diffs = []
    for state in plan.states:
        if isinstance(state, PredictedState) and state.unreadable:
            diffs.append(ResourceDiff(state.desired.ref, UNREADABLE, ""))
            continue
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


def diff_entries(plan: Plan) -> list[JSON]:
    """``plan_diffs`` as JSON, each saying how it was computed (``predicted``) and, for an
    unreadable object, why (``message``)."""
    how = {s.desired.ref: s for s in plan.states}
    # An orphan's diff (a deletion) predicts nothing: it says how its plan was made.
    whole = CLIENT_SIDE if any(isinstance(s, PredictedState) for s in plan.states) else DRY_RUN
    entries = []
    for diff in plan_diffs(plan):
        state = how.get(diff.ref)
        method = whole if state is None else _method(state)
        entry = {**diff.to_json(), "predicted": method}
        if isinstance(state, PredictedState) and state.unreadable:
            entry["message"] = state.unreadable
        entries.append(entry)
    return entries


def _method(state: ObjectState) -> str:
    return CLIENT_SIDE if isinstance(state, PredictedState) else DRY_RUN
