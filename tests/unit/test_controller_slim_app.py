"""controller.manager.slim_app: the watch's copy of an app is kept without managedFields."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from driftless.controller.manager import slim_app

APP: dict[str, Any] = {
    "apiVersion": "driftless.dev/v1alpha1",
    "kind": "Application",
    "metadata": {
        "name": "a",
        "namespace": "driftless",
        "resourceVersion": "7",
        "generation": 2,
        "annotations": {"driftless.dev/refresh": "now"},
        "finalizers": ["driftless.dev/resources"],
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
    },
    "spec": {"source": {"repoURL": "https://example.test/r.git"}},
    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
}


def test_managed_fields_go_everything_else_stays() -> None:
    before = copy.deepcopy(APP)
    slim = slim_app(APP)
    assert "managedFields" not in slim["metadata"]
    expected = copy.deepcopy(APP)
    del expected["metadata"]["managedFields"]
    assert slim == expected
    assert before == APP  # the input is not changed (the watch may hand it elsewhere)


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"metadata": None},
        {"metadata": "garbage"},
        {"metadata": {"name": "a"}},
        {"metadata": ["managedFields"]},
    ],
)
def test_objects_without_managed_fields_are_kept_as_they_are(obj: dict[str, Any]) -> None:
    assert slim_app(obj) is obj
