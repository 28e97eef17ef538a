"""``sync.execute.compare`` dry-runs what exists live, and what it would create
only when a hook of the operation runs before or beside it.

The cluster here is a dictionary that records every request (no API server):
the test checks which objects get a dry-run and what state each is given.
A refused apply of a new object, its validation, is checked by
``test_runner_api_errors`` and on the real control plane by
``tests/integration/test_sync_new_objects.py``.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from driftless.core.errors import ValidationError
from driftless.core.resources import Manifest, ResourceRef
from driftless.core.vocabulary import SyncPhase
from driftless.kube.client import KubeClient, KubeInvalidError, KubeNotFoundError
from driftless.sync import execute
from driftless.sync import plan as sp
from driftless.sync.prepare import DesiredObject

JSON = dict[str, Any]


class RecordingCluster:
    """Live objects by (kind, namespace, name); dry-runs answer the body, or ``refuse``."""

    def __init__(self, live: dict[tuple[str, str, str], JSON], refuse: str = "") -> None:
        self.live = live
        self.refuse = refuse
        self.dry_runs: list[str] = []
        self.namespaces: dict[str, str] = {}  # the namespace each dry-run was sent to

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        return self.live.get((kind, namespace or "", name))

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        assert dry_run, "compare never writes"
        name = body["metadata"]["name"]
        self.dry_runs.append(name)
        self.namespaces[name] = body["metadata"].get("namespace", "")
        if name == self.refuse:
            raise KubeInvalidError(422, f'ConfigMap "{name}" is invalid: data: expected map')
        return body


def configmap(name: str, namespace: str = "app") -> DesiredObject:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"k": "v"},
    }
    ref = ResourceRef("", "ConfigMap", namespace, name)
    return DesiredObject(ref=ref, body=body, manifest=Manifest(body, source_file=f"{name}.yaml"))


def namespace(name: str) -> DesiredObject:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    return DesiredObject(
        ref=ResourceRef("", "Namespace", "", name), body=body, manifest=Manifest(body)
    )


async def compare(cluster: RecordingCluster, desired: list[DesiredObject]) -> list[Any]:
    return await execute.compare(cast(KubeClient, cluster), desired)


async def test_only_live_objects_are_dry_run() -> None:
    live = {("ConfigMap", "app", "kept"): {**configmap("kept").body, "data": {"k": "old"}}}
    cluster = RecordingCluster(live)
    states = await compare(cluster, [configmap("kept"), configmap("new")])
    assert cluster.dry_runs == ["kept"]
    kept, new = states
    assert (kept.in_sync, kept.message, kept.predicted) == (
        False,
        "differs from git",
        kept.desired.body,
    )
    assert (new.live, new.in_sync, new.message, new.predicted) == (
        None, False, execute.MISSING, None,
    )  # fmt: skip


async def test_objects_of_a_namespace_the_sync_creates_are_not_dry_run() -> None:
    cluster = RecordingCluster({})
    states = await compare(cluster, [namespace("fresh"), configmap("a", "fresh")])
    assert cluster.dry_runs == []
    assert [s.message for s in states] == [execute.MISSING, "namespace not yet created"]


async def test_a_refused_change_to_a_live_object_still_fails_the_plan_naming_it() -> None:
    live = {("ConfigMap", "app", "bad"): configmap("bad").body}
    cluster = RecordingCluster(live, refuse="bad")
    with pytest.raises(Exception) as raised:
        await compare(cluster, [configmap("new"), configmap("bad")])
    assert "dry-run of ConfigMap app/bad (bad.yaml) failed" in str(raised.value)
    assert "expected map" in str(raised.value)
    assert cluster.dry_runs == ["bad"]


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (KubeNotFoundError(404, 'namespaces "nowhere" not found'), True),
        (KubeNotFoundError(404, 'configmaps "x" not found'), False),
        (KubeInvalidError(422, 'namespaces "x" is invalid'), False),
    ],
    ids=["missing-namespace", "other-not-found", "not-a-404"],
)
def test_the_missing_namespace_hint(error: Any, hint: bool) -> None:
    said = execute.missing_namespace_hint(error)
    assert ("CreateNamespace=true" in said) is hint


# -- a hook runs before it: the new object is dry-run in the plan ------------------------


def hook(phase: SyncPhase, wave: int = 0) -> sp.Task:
    return sp.Task(configmap(f"hook-{phase}-{wave}"), phase, wave, hook=True)


def waved(name: str, wave: int) -> DesiredObject:
    obj = configmap(name)
    obj.body["metadata"]["annotations"] = {"driftless.dev/sync-wave": str(wave)}
    return obj


@pytest.mark.parametrize(
    ("hooks", "dry_run"),
    [
        ([], []),
        ([hook(SyncPhase.PRE_SYNC, 5)], ["w0", "w1", "w2"]),
        ([hook(SyncPhase.SYNC, 1)], ["w1", "w2"]),  # beside w1 (sent together), before w2
        ([hook(SyncPhase.SYNC, 3)], []),
        ([hook(SyncPhase.POST_SYNC, -9)], []),  # PostSync runs after every Sync wave
        ([hook(SyncPhase.SYNC_FAIL, -9)], []),  # runs only after a failure
        ([hook(SyncPhase.POST_SYNC), hook(SyncPhase.SYNC, 2)], ["w2"]),
    ],
    ids=["none", "presync", "sync-w1", "sync-after", "postsync", "syncfail", "earliest-counts"],
)
async def test_new_objects_a_hook_runs_before_or_beside_are_dry_run(
    hooks: list[sp.Task], dry_run: list[str]
) -> None:
    cluster = RecordingCluster({})
    desired = [waved("w0", 0), waved("w1", 1), waved("w2", 2)]
    states = await execute.compare(cast(KubeClient, cluster), desired, hooks=hooks)
    assert sorted(cluster.dry_runs) == dry_run
    # Validation only: a new object's state is the same either way.
    assert [(s.live, s.message, s.predicted) for s in states] == [(None, execute.MISSING, None)] * 3


async def test_a_presync_hook_makes_a_refused_new_object_fail_the_plan_naming_it() -> None:
    cluster = RecordingCluster({}, refuse="bad")
    with pytest.raises(ValidationError) as raised:
        await execute.compare(
            cast(KubeClient, cluster),
            [configmap("good"), configmap("bad")],
            hooks=[hook(SyncPhase.PRE_SYNC)],
        )
    assert "dry-run of ConfigMap app/bad (bad.yaml) failed" in str(raised.value)
    assert "expected map" in str(raised.value)


async def test_with_a_presync_hook_a_new_namespace_s_objects_are_dry_run_in_default() -> None:
    cluster = RecordingCluster({}, refuse="bad")
    with pytest.raises(ValidationError) as raised:
        await execute.compare(
            cast(KubeClient, cluster),
            [namespace("fresh"), configmap("bad", "fresh")],
            hooks=[hook(SyncPhase.PRE_SYNC)],
        )
    # The namespace the user wrote, not the stand-in ``default``.
    assert "ConfigMap fresh/bad" in str(raised.value)
    assert cluster.namespaces == {"fresh": "", "bad": "default"}


async def test_with_a_hook_a_bad_wave_still_fails_the_plan_naming_the_object() -> None:
    cluster = RecordingCluster({})
    bad = configmap("odd")
    bad.body["metadata"]["annotations"] = {"driftless.dev/sync-wave": "1; rm -rf /"}
    with pytest.raises(ValidationError) as raised:
        await execute.compare(cast(KubeClient, cluster), [bad], hooks=[hook(SyncPhase.SYNC, 0)])
    assert "ConfigMap app/odd (odd.yaml)" in str(raised.value)
    assert "sync-wave must be an integer" in str(raised.value)
    assert cluster.dry_runs == []
