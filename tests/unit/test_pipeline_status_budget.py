"""A large app's status is kept under its budget (``pipeline.status_budget``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from driftless.core.models import ApplicationStatus
from driftless.pipeline.status_budget import DEFAULT_BUDGET, fit, size

JSON = dict[str, Any]


def result(name: str, status: str = "Synced", **extra: Any) -> JSON:
    return {"group": "", "version": "v1", "kind": "ConfigMap", "namespace": "ns", "name": name,
            "status": status, "syncPhase": "Sync", "wave": 0, **extra}  # fmt: skip


def inventory_entry(name: str) -> JSON:
    return {"group": "", "version": "v1", "kind": "ConfigMap", "namespace": "ns", "name": name,
            "status": "Synced", "health": {"status": "Healthy"}}  # fmt: skip


def app_status(results: list[Any], phase: str = "Succeeded", **operation: Any) -> JSON:
    return {
        "sync": {"status": "Synced", "revision": "a" * 40},
        "resources": [inventory_entry(f"cm-{i}") for i in range(len(results))],
        "operationState": {
            "operation": {"sync": {"revision": "a" * 40}},
            "phase": phase,
            "startedAt": "2026-12-04T10:00:00Z",
            "resources": results,
            **operation,
        },
    }


def test_a_status_within_its_budget_is_returned_as_it_is() -> None:
    status = app_status([result(f"cm-{i}") for i in range(10)])
    assert fit(status, size(status)) is status
    assert fit(status) is status  # the default budget: 512 KiB


def test_over_budget_only_notable_results_stay_and_the_plain_ones_are_counted() -> None:
    notable = [
        result("failed", "SyncFailed", message="admission webhook refused it"),
        result("gone", "Pruned", message="pruned"),
        result("kept", "PruneSkipped", message="Prune=false"),
        result("later", "Pending"),
        result("migrate", hookType="PreSync", hookPhase="Succeeded"),
        result("dry", message="dry run"),
    ]
    plain = [result(f"cm-{i}") for i in range(50)]
    status = app_status(plain[:25] + notable + plain[25:])
    before = copy.deepcopy(status)
    fitted = fit(status, size(status) - 1)
    operation = fitted["operationState"]
    assert operation["resources"] == notable  # in their order
    assert operation["resourcesOmitted"] == 50
    assert fitted["resources"] == status["resources"]  # the inventory pruning reads: whole
    assert status == before  # the input is not modified
    ApplicationStatus.model_validate(fitted)  # still a valid status for the CRD's model


def test_still_over_budget_with_only_notable_results_it_lists_none_and_counts_all() -> None:
    pruned = [result(f"old-{i}", "Pruned", message="pruned") for i in range(300)]
    status = app_status([result(f"cm-{i}") for i in range(10)] + pruned, resourcesOmitted=5)
    notable_only = size(fit(status, size(status) - 1))
    fitted = fit(status, notable_only - 1)
    operation = fitted["operationState"]
    assert operation["resources"] == []
    assert operation["resourcesOmitted"] == 5 + 310
    assert (operation["phase"], operation["startedAt"]) == ("Succeeded", "2026-12-04T10:00:00Z")
    assert fitted["resources"] == status["resources"]
    assert size(fitted) < notable_only


@pytest.mark.parametrize("phase", ["Running", None, "Paused", 3])
def test_a_running_operation_is_never_shortened(phase: Any) -> None:
    status = app_status([result(f"cm-{i}") for i in range(50)], phase="Running")
    status["operationState"]["phase"] = phase
    if phase is None:  # no phase: the model reads Running
        del status["operationState"]["phase"]
    assert fit(status, 100) is status


@pytest.mark.parametrize("phase", ["Succeeded", "Failed", "Error", "Superseded", "Terminated"])
def test_every_finished_operation_may_be_shortened(phase: str) -> None:
    status = app_status([result(f"cm-{i}") for i in range(50)], phase=phase)
    assert fit(status, size(status) - 1)["operationState"]["resourcesOmitted"] == 50


def test_a_status_already_fitted_keeps_its_count_and_is_stable() -> None:
    status = app_status([result(f"cm-{i}") for i in range(50)])
    once = fit(status, 1000)
    assert once["operationState"]["resourcesOmitted"] == 50
    assert fit(once, 1000) is once  # nothing more to leave out: the same object
    # A later pass lists more plain results (a status rebuilt on the fitted operation).
    again = copy.deepcopy(once)
    again["operationState"]["resources"] = [result("new")]
    assert fit(again, 1000)["operationState"]["resourcesOmitted"] == 51


@pytest.mark.parametrize("hostile", ["abc", -5, True, 1.5, None, [], {"x": 1}])
def test_a_hand_edited_count_counts_nothing(hostile: Any) -> None:
    status = app_status([result(f"cm-{i}") for i in range(20)], resourcesOmitted=hostile)
    assert fit(status, 100)["operationState"]["resourcesOmitted"] == 20


@pytest.mark.parametrize(
    "operation", [None, "Succeeded", 42, [], {"phase": "Succeeded", "resources": None}]
)
def test_a_malformed_operation_is_left_alone(operation: Any) -> None:
    status = {"resources": [], "operationState": operation, "padding": "x" * 200}
    assert fit(status, 10) is status


def test_entries_that_are_not_objects_stay() -> None:
    status = app_status(["garbage", 7, result("cm-0")])
    fitted = fit(status, size(status) - 1)
    assert fitted["operationState"]["resources"] == ["garbage", 7]
    assert fitted["operationState"]["resourcesOmitted"] == 1


def test_size_counts_utf8_bytes_of_compact_json() -> None:
    assert size({"a": "é"}) == len('{"a":"é"}'.encode())
    assert DEFAULT_BUDGET == 512 * 1024
