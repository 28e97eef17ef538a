"""The Kubernetes verb each request of KubeClient is counted under."""

from __future__ import annotations

import pytest

from driftless.kube.metrics import APPLY_PATCH, verb_of

JSON_TYPE = "application/json"


@pytest.mark.parametrize(
    ("method", "query", "content_type", "verb"),
    [
        ("GET", {}, JSON_TYPE, "get"),
        ("GET", None, JSON_TYPE, "get"),
        ("GET", {"limit": "500"}, JSON_TYPE, "list"),
        ("GET", {"limit": "500", "continue": "x"}, JSON_TYPE, "list"),
        ("GET", {"labelSelector": "a=b"}, JSON_TYPE, "list"),
        ("GET", {"watch": "true", "resourceVersion": "5"}, JSON_TYPE, "watch"),
        ("get", {"watch": "true"}, JSON_TYPE, "watch"),
        ("POST", {}, JSON_TYPE, "create"),
        ("PUT", {}, JSON_TYPE, "update"),
        ("PATCH", {"fieldManager": "driftless"}, APPLY_PATCH, "apply"),
        ("PATCH", {}, "application/merge-patch+json", "patch"),
        ("PATCH", {}, "application/json-patch+json", "patch"),
        ("DELETE", {}, JSON_TYPE, "delete"),
        ("OPTIONS", {}, JSON_TYPE, "other"),
    ],
)
def test_verb_of(method: str, query: dict[str, str] | None, content_type: str, verb: str) -> None:
    assert verb_of(method, query, content_type) == verb
