"""Which triggers an Application's status change fires: tables of old -> new status."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from driftless.notifications import triggers as t

A, B = "a" * 40, "b" * 40


def app(
    *,
    sync: str = "Synced",
    rev: str | None = A,
    health: str = "Healthy",
    phase: str | None = None,
    op_rev: str | None = None,
    started: str = "t1",
    pruned: int = 0,
    self_heal: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "sync": {"status": sync, "revision": rev},
        "health": {"status": health},
    }
    if phase:
        results = [
            {"kind": "ConfigMap", "name": f"c{i}", "status": "Pruned"} for i in range(pruned)
        ]
        status["operationState"] = {
            "operation": {"sync": {"dryRun": dry_run}},
            "phase": phase,
            "startedAt": started,
            "revision": op_rev or rev or "",
            "resources": [{"kind": "Deployment", "name": "web", "status": "Synced"}, *results],
        }
    automated = {"selfHeal": True} if self_heal else {}
    return {
        "metadata": {"name": "web", "namespace": "team", "uid": "u1"},
        "spec": {"syncPolicy": {"automated": automated} if self_heal else {}},
        "status": status,
    }


CASES = [
    # (what, old, new, fired)
    ("nothing changed", app(), app(), []),
    ("a sync starts", app(), app(phase="Running", rev=B), [(t.RUNNING, B)]),
    (
        "the same running operation again",
        app(phase="Running", rev=B),
        app(phase="Running", rev=B),
        [],
    ),
    (
        "a sync succeeds",
        app(phase="Running", health="Progressing"),
        app(phase="Succeeded", health="Progressing"),
        [(t.SUCCEEDED, A)],
    ),
    ("a sync fails", app(phase="Running"), app(phase="Failed"), [(t.FAILED, A)]),
    ("a sync errors", app(phase="Running"), app(phase="Error"), [(t.FAILED, A)]),
    ("superseded is no outcome", app(phase="Running"), app(phase="Superseded"), []),
    (
        "a sync that pruned",
        app(phase="Running"),
        app(phase="Succeeded", pruned=2, health="Progressing"),
        [(t.SUCCEEDED, A), (t.PRUNED, A)],
    ),
    (
        "a dry run that would prune",
        app(phase="Running"),
        app(phase="Succeeded", pruned=1, dry_run=True, health="Progressing"),
        [(t.SUCCEEDED, A)],
    ),
    (
        "a new operation straight after an old one with the same phase",
        app(phase="Succeeded", started="t1"),
        app(phase="Succeeded", started="t2", health="Progressing"),
        [(t.RUNNING, A), (t.SUCCEEDED, A)],
    ),
    (
        "a first sync written once, already ended",
        app(rev=None, health="Missing"),
        app(phase="Failed", rev=B),
        [(t.RUNNING, B), (t.FAILED, B)],
    ),
    ("the cluster drifts", app(), app(sync="OutOfSync"), [(t.DRIFT, A)]),
    ("git moved: not drift", app(), app(sync="OutOfSync", rev=B), []),
    (
        "self-heal on: not told",
        app(self_heal=True),
        app(sync="OutOfSync", self_heal=True),
        [],
    ),
    (
        "a running sync is no drift",
        app(phase="Running"),
        app(phase="Running", sync="OutOfSync"),
        [],
    ),
    ("already OutOfSync", app(sync="OutOfSync"), app(sync="OutOfSync"), []),
]


@pytest.mark.parametrize(("what", "old", "new", "fired"), CASES, ids=[c[0] for c in CASES])
def test_operation_and_drift_triggers(
    what: str, old: dict[str, Any], new: dict[str, Any], fired: list[t.Fired]
) -> None:
    _, got = t.step(t.baseline(old), old, new)
    assert got == fired


def run(states: list[dict[str, Any]]) -> list[t.Fired]:
    """Feed a sequence of observed objects; every trigger fired along the way."""
    memory, out = t.baseline(states[0]), []
    for old, new in itertools.pairwise(states):
        memory, fired = t.step(memory, old, new)
        out += fired
    return out


def test_health_degrades_and_recovers_through_progressing() -> None:
    fired = run([app(), app(health="Degraded"), app(health="Progressing"), app(health="Healthy")])
    assert fired == [(t.DEGRADED, A), (t.RECOVERED, A)]


def test_progressing_to_healthy_without_degraded_is_no_recovery() -> None:
    assert run([app(health="Progressing"), app(health="Healthy")]) == []


def test_an_app_first_seen_degraded_recovers() -> None:
    assert run([app(health="Degraded"), app(health="Healthy")]) == [(t.RECOVERED, A)]


def test_deployed_once_per_new_revision_when_healthy() -> None:
    fired = run(
        [
            app(),
            app(phase="Running", rev=B, health="Progressing"),
            app(phase="Succeeded", rev=B, health="Progressing"),
            app(phase="Succeeded", rev=B, health="Healthy"),
            app(phase="Succeeded", rev=B, health="Progressing"),
            app(phase="Succeeded", rev=B, health="Healthy"),
            # a re-sync of the same revision is no new deployment
            app(phase="Running", rev=B, started="t2"),
            app(phase="Succeeded", rev=B, started="t2"),
        ]
    )
    assert [f for f in fired if f[0] == t.DEPLOYED] == [(t.DEPLOYED, B)]


def test_the_revision_the_app_already_runs_is_not_deployed_again_after_a_restart() -> None:
    # The controller restarted: its first sight of the app is a baseline.
    first = app(phase="Succeeded", rev=A)
    fired = run([first, app(phase="Running", started="t2"), app(phase="Succeeded", started="t2")])
    assert (t.DEPLOYED, A) not in fired


def test_a_failed_sync_deploys_nothing() -> None:
    fired = run([app(), app(phase="Running", rev=B), app(phase="Failed", rev=B)])
    assert [f[0] for f in fired] == [t.RUNNING, t.FAILED]
    fired = run([app(), app(phase="Failed", rev=B, health="Degraded")])
    assert [f[0] for f in fired] == [t.RUNNING, t.FAILED, t.DEGRADED]


def test_cleared_conditions() -> None:
    assert t.cleared(app(phase="Succeeded")) >= {t.FAILED, t.DEGRADED, t.DRIFT}
    assert t.cleared(app(phase="Failed", health="Degraded", sync="OutOfSync")) == {
        t.SUCCEEDED,
        t.RECOVERED,
    }


def test_dedupe_one_message_per_rule_trigger_app_revision_until_cleared() -> None:
    d = t.Dedupe()
    assert d.first("r1", t.FAILED, "u1", A)
    assert not d.first("r1", t.FAILED, "u1", A)  # a retry failing again
    assert d.first("r2", t.FAILED, "u1", A)  # another rule
    assert d.first("r1", t.FAILED, "u2", A)  # another app
    assert d.first("r1", t.FAILED, "u1", B)  # another revision
    d.clear("u1", {t.FAILED})
    assert d.first("r1", t.FAILED, "u1", B)  # the condition turned false in between
    d.forget_app("u1")
    assert len(d) == 1


@pytest.mark.parametrize(
    "hostile",
    [
        {},
        {"status": None},
        {"status": {"operationState": "x", "sync": [], "health": 3}},
        {"status": {"operationState": {"phase": "Succeeded", "resources": "nope"}}},
        {"spec": "x", "status": {"sync": {"status": "OutOfSync", "revision": 5}}},
    ],
)
def test_malformed_objects_fire_nothing_and_never_raise(hostile: dict[str, Any]) -> None:
    memory, fired = t.step(t.baseline(hostile), app(), hostile)
    assert isinstance(memory, t.Memory)
    assert all(trigger in t.__dict__.values() for trigger, _ in fired)


def told(states: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """What one rule subscribed to every trigger is sent over ``states`` (as the engine does)."""
    memory, dedupe, sent = t.baseline(states[0]), t.Dedupe(), []
    for old, new in itertools.pairwise(states):
        memory, fired = t.step(memory, old, new)
        dedupe.clear("u1", t.cleared(new))
        for trigger, revision in fired:
            if dedupe.first("rule", trigger, "u1", t.occurrence(trigger, revision, new)):
                sent.append((trigger, revision))
    return sent


def test_a_retry_of_the_same_commit_is_told_running_and_its_outcome_again() -> None:
    first = [app(phase="Running", started="t1"), app(phase="Failed", started="t1")]
    retry = [app(phase="Running", started="t2"), app(phase="Failed", started="t2")]
    assert told([app(), *first, *retry]) == [
        (t.RUNNING, A),
        (t.FAILED, A),
        (t.RUNNING, A),  # a commit status set back to pending...
        (t.FAILED, A),  # ...gets its outcome
    ]


def test_a_resync_of_the_same_commit_is_told_again_once() -> None:
    states = [
        app(),
        app(phase="Running", started="t1"),
        app(phase="Succeeded", started="t1"),
        app(phase="Succeeded", started="t1"),  # the same operation seen again: nothing
        app(phase="Running", started="t2"),
        app(phase="Succeeded", started="t2"),
    ]
    again = [(t.RUNNING, A), (t.SUCCEEDED, A)]
    assert told(states) == [*again, (t.DEPLOYED, A), *again]  # deployed: once per revision


def test_health_and_drift_stay_once_per_revision() -> None:
    states = [app(), app(sync="OutOfSync"), app(sync="OutOfSync", health="Progressing")]
    assert told(states) == [(t.DRIFT, A)]
    assert t.occurrence(t.DEGRADED, A, app(phase="Running")) == A
    assert t.occurrence(t.RUNNING, A, app(phase="Running", started="t9")) == f"{A}@t9##0"
    assert t.occurrence(t.RUNNING, None, {"status": {"operationState": "x"}}) == "@##0"


def test_two_syncs_started_within_one_second_are_two_operations() -> None:
    """``startedAt`` has one-second precision: the revision tells the operations apart."""
    other = "b" * 40
    states = [
        app(phase="Succeeded", started="t1", op_rev=A),
        app(phase="Succeeded", started="t1", op_rev=other, rev=other),
    ]
    fired = told(states)
    assert (t.RUNNING, other) in fired
    assert (t.SUCCEEDED, other) in fired
