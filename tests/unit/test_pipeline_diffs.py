"""The one diff of a plan (``pipeline.diffs.plan_diffs``), as ``app diff``/``apply`` show it.

Fixture table: an object's live state, its desired body and its server-side
dry-run, and what a user reads (changed / added / removed / unchanged).
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.models import Application
from driftless.core.resources import Manifest, ResourceRef
from driftless.pipeline.diffs import plan_diffs
from driftless.pipeline.plan import Plan
from driftless.sync.prepare import DesiredObject
from driftless.sync.states import ObjectState, Orphan

JSON = dict[str, Any]
APP = Application.model_validate(
    {"metadata": {"name": "shop", "namespace": "team"}, "spec": {"source": {"repoURL": "x"}}}
)
REF = ResourceRef("", "ConfigMap", "team", "a")


def cm(value: str, **extra: Any) -> JSON:
    meta = {"name": "a", "namespace": "team", **extra}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value}}


def state(live: JSON | None, desired: JSON, predicted: JSON | None = None) -> ObjectState:
    obj = DesiredObject(ref=REF, body=desired, manifest=Manifest(desired))
    return ObjectState(desired=obj, live=live, in_sync=False, predicted=predicted)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(state(None, cm("1")), "added", id="not-live"),
        pytest.param(state(cm("1"), cm("1")), "unchanged", id="same"),
        pytest.param(state(cm("1"), cm("2")), "changed", id="value-changed"),
        # The dry-run is what the server would store: it wins over the body.
        pytest.param(state(cm("2"), cm("1"), predicted=cm("2")), "unchanged", id="dry-run-wins"),
    ],
)
def test_rendered_object(obj: ObjectState, expected: str) -> None:
    [diff] = plan_diffs(Plan(APP, "abc", [obj]))
    assert (diff.ref, diff.status) == (REF, expected)


def orphan(name: str, *, prune: bool = True) -> Orphan:
    annotations = {} if prune else {"driftless.dev/sync-options": "Prune=false"}
    meta = {"name": name, "namespace": "team", "annotations": annotations}
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    return Orphan(ResourceRef("", "ConfigMap", "team", name), "v1", live)


@pytest.mark.parametrize(
    ("include_orphans", "expected"),
    [
        pytest.param(True, [("old", "removed")], id="orphans-shown-as-deletions"),
        pytest.param(False, [], id="apply-without-prune-shows-none"),
    ],
)
def test_orphans(include_orphans: bool, expected: list[tuple[str, str]]) -> None:
    plan = Plan(APP, "abc", [], orphans=[orphan("old"), orphan("kept", prune=False)])
    diffs = plan_diffs(plan, include_orphans=include_orphans)
    assert [(d.ref.name, d.status) for d in diffs] == expected
