"""The controller's metrics: app info labels, operation ends counted once, address parsing."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from driftless.controller.metrics import (
    MAX_LABEL,
    ControllerMetrics,
    app_info_labels,
    bounded,
    ended_phase,
)
from driftless.controller.queue import WorkQueue
from driftless.core.listen import AddressError, parse_listen_address
from driftless.core.project import LOCAL_SERVER

JSON = dict[str, Any]


def _app(status: JSON | None = None, **spec: Any) -> JSON:
    base: JSON = {
        "source": {"repoURL": "https://git.example/org/repo.git", "path": "app"},
        "destination": {"namespace": "web"},
    }
    return {
        "metadata": {"namespace": "team", "name": "shop"},
        "spec": {**base, **spec},
        "status": status or {},
    }


def _op(phase: str, started: str = "2026-01-01T00:00:00Z") -> JSON:
    return {"operationState": {"phase": phase, "startedAt": started}}


def test_app_info_labels_of_a_plain_app() -> None:
    app = _app({"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}, project="p1")
    assert app_info_labels(app) == (
        "team",
        "shop",
        "p1",
        "https://git.example/org/repo.git",
        LOCAL_SERVER,
        "web",
        "Synced",
        "Healthy",
    )


def test_app_info_defaults_when_nothing_is_observed_yet() -> None:
    labels = app_info_labels(_app())
    assert labels[2] == "default"
    assert labels[6:] == ("Unknown", "Unknown")


@pytest.mark.parametrize(
    "repo",
    [
        "https://user:ghp_SECRETTOKEN123@git.example/org/repo.git",
        "https://git.example/org/repo.git?private_token=SECRETTOKEN123",
        "https://oauth2:SECRETTOKEN123@git.example/org/repo.git",
    ],
)
def test_credentials_in_urls_never_reach_a_label(repo: str) -> None:
    app = _app(destination={"server": "https://admin:SECRETTOKEN123@k8s.example:6443"})
    app["spec"]["source"]["repoURL"] = repo
    labels = app_info_labels(app)
    assert not any("SECRETTOKEN123" in value for value in labels)
    assert "git.example/org/repo.git" in labels[3]
    assert labels[4].endswith("k8s.example:6443")


def test_hostile_status_and_spec_values_are_bounded() -> None:
    app = _app(
        {"sync": {"status": "Synced\n# HELP fake"}, "health": {"status": ["Healthy"]}},
        project="x" * 10_000,
    )
    app["spec"]["destination"] = "not a mapping"
    app["spec"]["source"]["repoURL"] = "https://git.example/" + "a" * 100_000
    labels = app_info_labels(app)
    assert labels[6:] == ("Unknown", "Unknown")
    assert labels[4] == LOCAL_SERVER
    assert all(len(value) <= MAX_LABEL for value in labels)
    assert bounded(42) == ""


def test_destination_by_cluster_name() -> None:
    labels = app_info_labels(_app(destination={"name": "prod", "namespace": "web"}))
    assert labels[4:6] == ("prod", "web")


@pytest.mark.parametrize(
    ("previous", "current", "ended"),
    [
        (None, _app(_op("Succeeded")), None),  # first sight: a baseline
        (_app(), _app(_op("Running")), None),
        (_app(_op("Running")), _app(_op("Running")), None),
        (_app(_op("Running")), _app(_op("Succeeded")), "Succeeded"),
        (_app(), _app(_op("Succeeded")), "Succeeded"),  # started and ended in one pass
        (_app(_op("Succeeded")), _app(_op("Succeeded")), None),  # the same end again
        (_app(_op("Failed", "t1")), _app(_op("Failed", "t2")), "Failed"),  # a new operation
        (_app(_op("Running")), _app(_op("Terminated")), "Terminated"),
        (_app(_op("Running")), _app(_op("Superseded")), "Superseded"),
        (_app(_op("Running")), _app(_op("Bogus")), None),
        (_app(), _app({"operationState": "junk"}), None),
    ],
)
def test_an_operation_is_counted_once_when_it_ends(
    previous: JSON | None, current: JSON, ended: str | None
) -> None:
    assert ended_phase(previous, current) == ended


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (":8080", ("0.0.0.0", 8080)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]:9090", ("::1", 9090)),
        ("localhost:65535", ("localhost", 65535)),
    ],
)
def test_listen_address(text: str, parsed: tuple[str, int]) -> None:
    assert parse_listen_address(text) == parsed


@pytest.mark.parametrize(
    "text", ["8080", "host:", "host:http", ":65536", "::1:80", "[]:80", "a b:80", ":-1", ":٣"]
)
def test_bad_listen_address(text: str) -> None:
    with pytest.raises(AddressError):
        parse_listen_address(text)


def test_a_hostile_project_cannot_forge_a_series() -> None:
    """Label values are escaped by the exposition: a newline in a tenant's field stays inside."""
    app = _app(
        {"sync": {"status": "Synced"}}, project='p"}\ndriftless_app_info{name="forged"} 1\n#'
    )
    apps = {("team", "shop"): app}
    planner = SimpleNamespace(live=SimpleNamespace(cache=None), server_url=LOCAL_SERVER)
    reconciler = SimpleNamespace(
        planner=planner, remote_planners=dict, fast=SimpleNamespace(taken=3)
    )
    queue: WorkQueue[tuple[str, str]] = WorkQueue()
    metrics = ControllerMetrics(lambda: apps, queue, reconciler)  # type: ignore[arg-type]
    running = _app({"operationState": {"phase": "Running", "startedAt": "t"}})
    metrics.observed(
        running, {**app, "status": {"operationState": {"phase": "Failed", "startedAt": "t"}}}
    )
    queue.add(("team", "shop"))
    text = generate_latest(metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (info,) = families["driftless_app_info"].samples
    assert info.labels["name"] == "shop"
    assert info.labels["project"].startswith('p"}\ndriftless_app_info')
    (sync,) = families["driftless_app_sync"].samples
    assert sync.labels["phase"] == "Failed" and sync.value == 1
    assert families["driftless_workqueue_depth"].samples[0].value == 1
    assert families["driftless_workqueue_adds"].samples[0].value == 1
    assert families["driftless_reconcile_fast_path"].samples[0].value == 3
    metrics.forget(("team", "shop"))
    assert "driftless_app_sync_total{" not in generate_latest(metrics.registry).decode()
