"""Which rules hear about which apps: visibility by namespace, selectors, and the
engine's observe path (a baseline first, one job per rule that sees the app)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from prometheus_client import REGISTRY

from driftless.kube.client import KubeClient
from driftless.notifications.engine import Job, NotificationEngine
from driftless.notifications.model import NotificationRuleSpec, RuleSelector
from driftless.notifications.selection import sees, selects

HOME = "driftless"


def app(name: str = "web", namespace: str = "team-a", **extra: Any) -> dict[str, Any]:
    labels = extra.pop("labels", {})
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"{namespace}/{name}",
            "labels": labels,
        },
        "spec": {"project": extra.pop("project", "default")},
        "status": extra.pop("status", {"sync": {"status": "Synced", "revision": "a" * 40}}),
    }


@pytest.mark.parametrize(
    ("rule_ns", "app_ns", "seen"),
    [
        ("team-a", "team-a", True),
        ("team-a", "team-b", False),  # a tenant never hears of another namespace's apps
        (HOME, "team-b", True),  # administrators' rules see every app
        ("team-b", HOME, False),
    ],
)
def test_visibility(rule_ns: str, app_ns: str, seen: bool) -> None:
    assert sees(rule_ns, HOME, app_ns) is seen


@pytest.mark.parametrize(
    ("selector", "target", "picked"),
    [
        ({}, app(), True),
        ({"projects": ["shop"]}, app(project="shop"), True),
        ({"projects": ["shop"]}, app(), False),
        ({"apps": ["web-*"]}, app("web-eu"), True),
        ({"apps": ["web-*"]}, app("api"), False),
        ({"apps": ["team-a/*"]}, app("api"), True),
        ({"apps": ["team-b/*"]}, app("api"), False),
        ({"matchLabels": {"tier": "front"}}, app(labels={"tier": "front", "x": "y"}), True),
        ({"matchLabels": {"tier": "front"}}, app(labels={"tier": "back"}), False),
        ({"projects": ["shop"], "apps": ["web"]}, app(project="other"), False),  # AND
        ({"apps": ["*"]}, {"metadata": "hostile", "spec": None}, True),
    ],
)
def test_selector(selector: dict[str, Any], target: dict[str, Any], picked: bool) -> None:
    assert selects(RuleSelector.model_validate(selector), target) is picked


def engine_with_rules(rules: dict[tuple[str, str], dict[str, Any]]) -> NotificationEngine:
    # The client is never used by observe(): no API calls happen here.
    engine = NotificationEngine(cast(KubeClient, None), home=HOME)
    for key, spec in rules.items():
        obj = {
            "metadata": {"namespace": key[0], "name": key[1], "uid": "/".join(key)},
            "spec": spec,
        }
        engine._on_rule("ADDED", obj)
    return engine


RULE = {"services": ["hook"], "triggers": ["on-health-degraded"]}


def test_observe_queues_one_job_per_rule_that_sees_the_app_and_never_repeats() -> None:
    engine = engine_with_rules(
        {
            ("team-a", "mine"): RULE,
            ("team-b", "theirs"): RULE,
            (HOME, "admins"): RULE,
            ("team-a", "suspended"): {**RULE, "suspend": True},
            ("team-a", "other-trigger"): {**RULE, "triggers": ["on-sync-failed"]},
        }
    )
    healthy = app(status={"health": {"status": "Healthy"}})
    degraded = app(status={"health": {"status": "Degraded"}})
    engine.observe(None, degraded)  # the initial list: a baseline, nothing sent
    assert engine.pending == 0
    engine.observe(degraded, healthy)
    engine.observe(healthy, degraded)
    jobs = drain(engine)
    assert sorted(job.rule for job in jobs) == [(HOME, "admins"), ("team-a", "mine")]
    assert {job.trigger for job in jobs} == {"on-health-degraded"}
    # Degraded -> Progressing -> Degraded at the same revision: not a new message.
    progressing = app(status={"health": {"status": "Progressing"}})
    engine.observe(degraded, progressing)
    engine.observe(progressing, degraded)
    assert engine.pending == 0


def drain(engine: NotificationEngine) -> list[Job]:
    return [q.get_nowait() for q in engine.queues for _ in range(q.qsize())]


def dropped_by_the_engine() -> float:
    labels = {"service_type": "none", "queue": "engine"}
    return REGISTRY.get_sample_value("driftless_notifications_dropped_total", labels) or 0.0


def test_a_full_queue_drops_instead_of_blocking_and_counts_it() -> None:
    engine = NotificationEngine(cast(KubeClient, None), home=HOME, queue_size=1)
    engine._on_rule("ADDED", {"metadata": {"namespace": "team-a", "name": "r"}, "spec": RULE})
    before = dropped_by_the_engine()
    # One app degrading three times (Healthy clears each): its queue holds one job.
    for n in range(3):
        healthy = app(status={"health": {"status": "Healthy"}, "sync": {"revision": f"{n}"}})
        engine.observe(None if n == 0 else healthy, healthy)
        engine.observe(healthy, app(status={"health": {"status": "Degraded"}}))
    assert (engine.pending, engine.dropped) == (1, 2)
    assert dropped_by_the_engine() - before == 2


def test_an_invalid_rule_selects_nothing() -> None:
    engine = engine_with_rules({("team-a", "bad"): {"services": [], "triggers": ["on-nothing"]}})
    assert engine.rules[("team-a", "bad")].spec is None
    with pytest.raises(ValueError):
        NotificationRuleSpec.model_validate({"services": ["x"], "triggers": ["on-nothing"]})
