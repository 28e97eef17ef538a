"""Several replicas (sharding on): notifications, webhooks and per-app metrics act only where
the app is owned, so users get one message, a push reaches the owner, sums count each app once.

The Controller is real; its ShardKeeper is replaced by a fake whose ``owns`` is a set of keys
(pure predicate), flipped by the tests to play a handover.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from driftless.controller.manager import Controller, ControllerSettings
from driftless.controller.webhooks import ControllerRefresher
from driftless.core.wellknown import REFRESH_ANNOTATION
from driftless.kube.client import KubeApiError, KubeClient
from driftless.kube.errors import KubeNotFoundError
from driftless.sources.git import GitCache

JSON = dict[str, Any]
Key = tuple[str, str]
MINE, THEIRS = ("apps", "mine"), ("apps", "theirs")


class FakeKeeper:
    """Owns the keys in ``owned``; every app in shard 0 (no pin moves an app)."""

    def __init__(self, *owned: Key) -> None:
        self.owned = set(owned)

    def owns(self, key: Key, labels: Mapping[str, object] | None) -> bool:
        return key in self.owned

    def shard_of(self, key: Key, labels: Mapping[str, object] | None) -> int:
        return 0


class Recorder:
    """An AppObserver that records what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str]] = []

    def observe(self, previous: JSON | None, current: JSON) -> None:
        self.calls.append(("observe", _phase(previous), _phase(current) or ""))

    def forget(self, obj: JSON) -> None:
        self.calls.append(("forget", None, obj["metadata"]["name"]))

    async def run(self) -> None:
        return None


class Patcher:
    """The API calls the webhook refresher makes: merge patches, recorded."""

    def __init__(self, fail: dict[str, KubeApiError] | None = None) -> None:
        self.patches: list[tuple[str, str, JSON]] = []
        self.fail = fail or {}

    async def merge_patch(
        self, api_version: str, kind: str, name: str, patch: JSON, *, namespace: str
    ) -> JSON:
        assert kind == "Application"
        if name in self.fail:
            raise self.fail[name]
        self.patches.append((namespace, name, patch))
        return {}


def _phase(obj: JSON | None) -> str | None:
    return None if obj is None else obj["status"]["operationState"]["phase"]


def app(key: Key, phase: str = "Succeeded", started: str = "t1") -> JSON:
    return {
        "metadata": {"namespace": key[0], "name": key[1], "uid": key[1], "generation": 1},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/o/r.git", "targetRevision": "main"},
            "destination": {"namespace": "web"},
        },
        "status": {"operationState": {"phase": phase, "startedAt": started}},
    }


def controller(tmp_path: Path, client: object = None, keeper: FakeKeeper | None = None) -> Any:
    made = Controller(cast(KubeClient, client), GitCache(tmp_path), ControllerSettings())
    made.keeper = cast(Any, keeper)
    return made


# -- notifications ------------------------------------------------------------


def test_a_replica_tells_only_about_owned_apps_and_a_handover_starts_afresh(
    tmp_path: Path,
) -> None:
    keeper = FakeKeeper()
    ctl = controller(tmp_path, keeper=keeper)
    ctl.observer = seen = Recorder()
    ctl._observe(app(MINE, "Running"))
    ctl._observe(app(MINE, "Succeeded"))
    assert seen.calls == [("forget", None, "mine")] * 2  # not ours: the owner tells
    seen.calls.clear()
    keeper.owned.add(MINE)  # the shard comes to this replica
    ctl._observe(app(MINE, "Running", "t2"))
    ctl._observe(app(MINE, "Failed", "t2"))
    # The observer forgot the app: it starts from the update before (the engine's
    # baseline of ``previous``), so only this one transition may fire, never a burst.
    assert seen.calls == [("observe", "Succeeded", "Running"), ("observe", "Running", "Failed")]
    seen.calls.clear()
    keeper.owned.clear()  # and goes to another one
    ctl._observe(app(MINE, "Running", "t3"))
    assert seen.calls == [("forget", None, "mine")]


def test_a_new_app_is_a_baseline_on_its_owner(tmp_path: Path) -> None:
    ctl = controller(tmp_path, keeper=FakeKeeper(MINE))
    ctl.observer = seen = Recorder()
    ctl._observe(app(MINE, "Running"))
    assert seen.calls == [("observe", None, "Running")]


def test_without_sharding_every_update_is_told(tmp_path: Path) -> None:
    ctl = controller(tmp_path)
    ctl.observer = seen = Recorder()
    ctl._observe(app(THEIRS, "Running"))
    ctl._observe(app(THEIRS, "Succeeded"))
    assert seen.calls == [("observe", None, "Running"), ("observe", "Running", "Succeeded")]


def test_two_replicas_tell_each_update_once(tmp_path: Path) -> None:
    """Replica a owns MINE, b owns THEIRS; both watch both apps."""
    a = controller(tmp_path / "a", keeper=FakeKeeper(MINE))
    b = controller(tmp_path / "b", keeper=FakeKeeper(THEIRS))
    a.observer, b.observer = Recorder(), Recorder()
    for key in (MINE, THEIRS):
        for phase in ("Running", "Succeeded"):
            a._observe(app(key, phase))
            b._observe(app(key, phase))
    told = [("observe", None, "Running"), ("observe", "Running", "Succeeded")]
    assert a.observer.calls == told + [("forget", None, "theirs")] * 2
    assert b.observer.calls == [("forget", None, "mine")] * 2 + told


# -- webhooks -----------------------------------------------------------------


async def test_a_push_queues_owned_apps_and_annotates_the_others(tmp_path: Path) -> None:
    api = Patcher()
    ctl = controller(tmp_path, api, FakeKeeper(MINE))
    ctl.apps = {MINE: app(MINE), THEIRS: app(THEIRS)}
    refresher = ControllerRefresher(ctl)
    await refresher.refresh([MINE, THEIRS, ("apps", "deleted")], [])
    assert ctl.queue.adds == 1 and await asyncio.wait_for(ctl.queue.get(), 1) == MINE
    ((namespace, name, patch),) = api.patches
    assert (namespace, name) == THEIRS
    value = patch["metadata"]["annotations"][REFRESH_ANNOTATION]
    assert re.fullmatch(r"webhook:\d{13}", value)


async def test_without_sharding_a_push_only_queues(tmp_path: Path) -> None:
    api = Patcher()
    ctl = controller(tmp_path, api)
    ctl.apps = {MINE: app(MINE), THEIRS: app(THEIRS)}
    await ControllerRefresher(ctl).refresh([MINE, THEIRS], [])
    assert ctl.queue.adds == 2 and api.patches == []


async def test_a_failed_annotation_does_not_stop_the_others_nor_shows_the_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    others = [("apps", f"app-{i}") for i in range(3)]
    api = Patcher(
        {
            "app-0": KubeApiError(500, "internal: token=s3cr3t"),
            "app-1": KubeNotFoundError(404, "gone"),
        }
    )
    ctl = controller(tmp_path, api, FakeKeeper())
    ctl.apps = {key: app(key) for key in others}
    with caplog.at_level(logging.WARNING):
        await ControllerRefresher(ctl).refresh(others, [])
    assert [name for _, name, _ in api.patches] == ["app-2"]
    assert ctl.queue.adds == 0
    assert "s3cr3t" not in caplog.text and "app-1" not in caplog.text
    assert "cannot refresh app apps/app-0: KubeApiError" in caplog.text


# -- metrics ------------------------------------------------------------------


def _series(ctl: Any) -> dict[str, set[str]]:
    text = generate_latest(ctl.metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {
        name: {sample.labels["name"] for sample in families[name].samples}
        for name in ("driftless_app_info", "driftless_app_sync")
    }


def test_per_app_series_only_for_owned_apps(tmp_path: Path) -> None:
    keeper = FakeKeeper(MINE)
    ctl = controller(tmp_path, keeper=keeper)
    for key in (MINE, THEIRS):
        ctl._observe(app(key, "Running"))
        ctl._observe(app(key, "Succeeded"))
    assert _series(ctl) == {"driftless_app_info": {"mine"}, "driftless_app_sync": {"mine"}}
    keeper.owned = {THEIRS}  # a handover moves the series (and its count) here
    assert _series(ctl) == {"driftless_app_info": {"theirs"}, "driftless_app_sync": {"theirs"}}


def test_without_sharding_every_app_has_its_series(tmp_path: Path) -> None:
    ctl = controller(tmp_path)
    for key in (MINE, THEIRS):
        ctl._observe(app(key, "Running"))
        ctl._observe(app(key, "Succeeded"))
    both = {"mine", "theirs"}
    assert _series(ctl) == {"driftless_app_info": both, "driftless_app_sync": both}
