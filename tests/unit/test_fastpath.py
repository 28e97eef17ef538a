"""When a resync may skip the plan (``driftless.controller.fastpath``).

Tables of every input that must force the full path: the app itself (refresh,
hard refresh, operation, termination, deletion, chart source, decryption, Helm
lookup, an operation not Succeeded), the last full pass (settled or not), each part of the
snapshot, the status on the app, and the periodic full pass. Expected values
are written out, never computed by the code under test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from driftless.controller import fastpath
from driftless.controller.fastpath import Decision, Memory, Record, Snapshot
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import Application
from driftless.sources.git import GitCache

JSON = dict[str, Any]
SHA = "a" * 40
CM = ("v1", "ConfigMap", "web", "cm-0")
DEP = ("apps/v1", "Deployment", "web", "dep-0")
STATUS: JSON = {"sync": {"status": "Synced", "revision": SHA}, "health": {"status": "Healthy"}}
SNAPSHOT = Snapshot(
    revision=SHA,
    generation=3,
    annotations=(("team", "a"),),
    project_version="41",
    environment=("41", ("0.1.0", "driftless", 16), "https://kubernetes.default.svc"),
    objects=((DEP, ("uid-d", "100")), (CM, ("uid-c", "101"))),
)
T0 = 1000.0


def record(**changes: Any) -> Record:
    return replace(Record(SNAPSHOT, STATUS, T0), **changes)


def test_unchanged_snapshot_and_status_take_the_fast_path() -> None:
    assert fastpath.decide(record(), SNAPSHOT, dict(STATUS), T0 + 60) == Decision(True, "")


@pytest.mark.parametrize(
    ("changed", "reason"),
    [
        ({"revision": "b" * 40}, "revision changed"),
        ({"generation": 4}, "generation changed"),
        ({"annotations": (("team", "b"),)}, "annotations changed"),
        ({"annotations": ()}, "annotations changed"),
        ({"project_version": "42"}, "project_version changed"),
        ({"environment": ("41", ("0.2.0", "driftless", 16), "x")}, "environment changed"),
        # An out-of-band edit (new resourceVersion) of one object.
        ({"objects": ((DEP, ("uid-d", "100")), (CM, ("uid-c", "102")))}, "objects changed"),
        # Deleted and recreated under the same name: a new uid.
        ({"objects": ((DEP, ("uid-x", "100")), (CM, ("uid-c", "101")))}, "objects changed"),
        # Deleted.
        ({"objects": ((DEP, fastpath.ABSENT), (CM, ("uid-c", "101")))}, "objects changed"),
    ],
)
def test_any_change_in_the_snapshot_forces_the_full_path(changed: JSON, reason: str) -> None:
    now = replace(SNAPSHOT, **changed)
    assert fastpath.decide(record(), now, STATUS, T0 + 60) == Decision(False, reason)


@pytest.mark.parametrize(
    ("rec", "snapshot", "status", "now", "reason"),
    [
        (None, SNAPSHOT, STATUS, T0, "no settled full pass yet"),
        (record(), None, STATUS, T0, "snapshot not available"),
        (record(fast_passes=9), SNAPSHOT, STATUS, T0 + 60, "periodic full pass (count)"),
        (record(), SNAPSHOT, STATUS, T0 + 1801, "periodic full pass (age)"),
        # Someone else wrote the status: the full path writes ours again.
        (record(), SNAPSHOT, {**STATUS, "health": {"status": "Degraded"}}, T0, "status changed"),
        (record(), SNAPSHOT, {}, T0, "status changed"),
    ],
)
def test_no_record_unknown_snapshot_age_or_status_force_the_full_path(
    rec: Record | None, snapshot: Snapshot | None, status: JSON, now: float, reason: str
) -> None:
    assert fastpath.decide(rec, snapshot, status, now) == Decision(False, reason)


def test_eight_fast_passes_still_allow_a_ninth() -> None:
    assert fastpath.decide(record(fast_passes=8), SNAPSHOT, STATUS, T0 + 60).fast


def test_a_chart_dependency_range_due_again_forces_the_full_path() -> None:
    # The last render resolved a dependency's range at T0 - 100 (expires at T0 + 200):
    # at the same commit a new upstream release may render otherwise from then on.
    ranged = record(snapshot=replace(SNAPSHOT, renders_until=T0 + 200))
    # The snapshot taken at a resync knows no deadline: equal all the same.
    assert fastpath.decide(ranged, SNAPSHOT, STATUS, T0 + 199) == Decision(True, "")
    due = Decision(False, "chart dependency ranges to resolve again")
    assert fastpath.decide(ranged, SNAPSHOT, STATUS, T0 + 200) == due
    assert fastpath.decide(ranged, SNAPSHOT, STATUS, T0 + 1000) == due


def app_object(
    *,
    annotations: dict[str, str] | None = None,
    source: JSON | None = None,
    operation: JSON | None = None,
    phase: str | None = None,
    deleting: bool = False,
) -> JSON:
    meta: JSON = {"name": "web", "namespace": "team-a", "generation": 3}
    if annotations is not None:
        meta["annotations"] = annotations
    if deleting:
        meta["deletionTimestamp"] = "2026-12-03T09:00:00Z"
    obj: JSON = {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": meta,
        "spec": {
            "source": source or {"repoURL": "https://example.com/r.git", "path": "deploy"},
            "destination": {"namespace": "web"},
        },
    }
    if operation is not None:
        obj["operation"] = operation
    if phase is not None:
        started = "2026-12-03T09:00:00Z"
        obj["status"] = {
            "operationState": {
                "operation": {"sync": {}},
                "phase": phase,
                "startedAt": started,
                "revision": SHA,
            }
        }
    return obj


@pytest.mark.parametrize(
    ("raw", "hard", "reason"),
    [
        (app_object(), True, "hard refresh"),
        (app_object(annotations={"driftless.dev/refresh": "normal"}), False, "refresh requested"),
        (
            app_object(annotations={"driftless.dev/terminate-operation": "x"}),
            False,
            "termination requested",
        ),
        (app_object(operation={"sync": {}}), False, "operation requested"),
        (app_object(deleting=True), False, "being deleted"),
        (
            app_object(
                source={
                    "repoURL": "https://charts.example.com",
                    "chart": "web",
                    "targetRevision": "^1.0",
                }
            ),
            False,
            "chart source",
        ),
        (
            app_object(
                source={
                    "repoURL": "https://example.com/r.git",
                    "path": "deploy",
                    "decryption": {"secretRef": {"name": "sops"}},
                }
            ),
            False,
            "SOPS decryption",
        ),
        (
            app_object(
                source={
                    "repoURL": "https://example.com/r.git",
                    "path": "chart",
                    "helm": {"lookup": True},
                }
            ),
            False,
            "Helm lookup",
        ),
        (app_object(phase="Running"), False, "last operation"),
        (app_object(phase="Failed"), False, "last operation"),
        (app_object(phase="Error"), False, "last operation"),
        (app_object(phase="Terminated"), False, "last operation"),
    ],
)
def test_apps_that_always_take_the_full_path(raw: JSON, hard: bool, reason: str) -> None:
    app = Application.model_validate(raw)
    assert fastpath.app_blocker(app, raw, hard) == reason


@pytest.mark.parametrize("raw", [app_object(), app_object(phase="Succeeded")])
def test_a_plain_git_app_may_take_the_fast_path(raw: JSON) -> None:
    assert fastpath.app_blocker(Application.model_validate(raw), raw, False) is None


def status(sync: str, health: str) -> JSON:
    return {"sync": {"status": sync}, "health": {"status": health}}


@pytest.mark.parametrize(
    ("shown", "automated", "quiet", "expected"),
    [
        (status("Synced", "Healthy"), True, True, True),
        (status("Synced", "Degraded"), True, True, True),
        (status("Synced", "Suspended"), False, True, True),
        # Rollouts are polled: their health moves without our objects changing spec.
        (status("Synced", "Progressing"), True, True, False),
        (status("Synced", "Missing"), True, True, False),
        # A manual app stays OutOfSync until someone syncs it; an automated one syncs.
        (status("OutOfSync", "Healthy"), False, True, True),
        (status("OutOfSync", "Healthy"), True, True, False),
        (status("Unknown", "Healthy"), False, True, False),
        ({}, False, True, False),
        # A pass that started, advanced or ended an operation, or waits to retry.
        (status("Synced", "Healthy"), True, False, False),
    ],
)
def test_which_full_passes_are_remembered(
    shown: JSON, automated: bool, quiet: bool, expected: bool
) -> None:
    assert fastpath.settled(shown, automated=automated, quiet=quiet) is expected


def test_hostile_annotations_only_force_the_full_path() -> None:
    # A tenant cannot make a changed app look unchanged through its annotations:
    # they are compared, never trusted, and a live edit still differs.
    raw = app_object(annotations={"driftless.dev/fast-path": "true", "team": "a"})
    now = replace(
        SNAPSHOT,
        annotations=fastpath.annotations_of(raw),
        objects=((DEP, ("uid-d", "100")), (CM, ("uid-c", "999"))),
    )
    assert fastpath.decide(record(), now, STATUS, T0) == Decision(False, "annotations changed")
    same_annotations = replace(now, annotations=SNAPSHOT.annotations)
    assert fastpath.decide(record(), same_annotations, STATUS, T0) == Decision(
        False, "objects changed"
    )


def test_live_version_and_annotations_of() -> None:
    live = {"metadata": {"uid": "u1", "resourceVersion": "7", "name": "x"}}
    assert fastpath.live_version(live) == ("u1", "7")
    assert fastpath.live_version(None) == fastpath.ABSENT
    raw = {"metadata": {"annotations": {"b": "2", "a": "1"}}}
    assert fastpath.annotations_of(raw) == (("a", "1"), ("b", "2"))
    assert fastpath.annotations_of({"metadata": {}}) == ()


def test_memory_counts_fast_passes_and_forgets() -> None:
    memory = Memory()
    key = ("team-a", "web")
    memory.remember(key, SNAPSHOT, STATUS, T0)
    memory.took(key)
    memory.took(key)
    stored = memory.get(key)
    assert stored is not None and stored.fast_passes == 2 and memory.taken == 2
    memory.remember(key, SNAPSHOT, STATUS, T0 + 10)  # a new full pass starts the count again
    assert memory.get(key) == Record(SNAPSHOT, STATUS, T0 + 10, 0)
    memory.forget(key)
    assert memory.get(key) is None and len(memory) == 0


def test_memory_is_bounded_dropping_the_oldest_full_pass_first() -> None:
    memory = Memory(max_records=2)
    for i, name in enumerate(("a", "b", "a", "c")):
        memory.remember(("ns", name), SNAPSHOT, STATUS, T0 + i)
    assert memory.get(("ns", "b")) is None  # "a" was refreshed after "b"
    assert memory.get(("ns", "a")) is not None and memory.get(("ns", "c")) is not None


class _Watch:
    """A stand-in kube client: lists ``listed``, then its watch delivers ``events``."""

    def __init__(self, listed: list[JSON], events: list[tuple[str, JSON]]) -> None:
        self.listed = listed
        self.events = events

    async def list_with_version(self, *args: Any) -> tuple[list[JSON], str]:
        return self.listed, "1"

    async def watch(self, *args: Any, **kwargs: Any) -> AsyncIterator[SimpleNamespace]:
        for kind, obj in self.events:
            yield SimpleNamespace(type=kind, obj=obj)


def _app(name: str) -> JSON:
    return {"metadata": {"namespace": "team-a", "name": name, "resourceVersion": "5"}}


async def test_a_deleted_app_s_record_is_dropped(tmp_path: Path) -> None:
    client = _Watch([_app("kept"), _app("relisted-away")], [("DELETED", _app("deleted"))])
    settings = ControllerSettings(namespace="team-a")
    controller = Controller(client, GitCache(tmp_path), settings)  # type: ignore[arg-type]
    memory = controller.reconciler.fast
    for name in ("kept", "relisted-away", "deleted"):
        controller.apps[("team-a", name)] = _app(name)
        memory.remember(("team-a", name), SNAPSHOT, STATUS, T0)
    client.listed = [_app("kept"), _app("deleted")]
    await controller._relist()  # "relisted-away" is gone from the list
    await controller._watch_from("1")  # "deleted" is deleted
    assert memory.get(("team-a", "kept")) is not None
    assert memory.get(("team-a", "relisted-away")) is None
    assert memory.get(("team-a", "deleted")) is None
    assert len(memory) == 1
