"""``core.redaction.redacted``: an API object as the server answers and the CLI prints it (pure)."""

from __future__ import annotations

import json
from typing import Any

from driftless.core import wellknown
from driftless.core.redaction import redacted

JSON = dict[str, Any]
LAST_APPLIED = wellknown.KUBECTL_LAST_APPLIED_ANNOTATION


def app(name: str, version: str) -> JSON:
    return {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name, "namespace": "apps", "resourceVersion": version,
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {"source": {"repoURL": "https://bot:hunter2@git.example.com/x.git"}},
        "status": {"sync": {"status": "Synced"}},
    }  # fmt: skip


def test_the_copies_nobody_reads_go_and_the_rest_is_kept() -> None:
    """managedFields and kubectl's last-applied spec go, at every level; nothing else does."""
    obj = app("a", "7")
    obj["metadata"]["annotations"] = {
        LAST_APPLIED: json.dumps({"spec": {"source": {"repoURL": "https://u:pw@h/x.git"}}}),
        "team": "web",
        "see": "https://u:pw@docs.example.com/runbook",
    }
    obj["metadata"]["labels"] = {"env": "prod"}
    obj["status"]["history"] = [{"id": 0, "revision": "abc"}]
    obj["status"]["resources"] = [{"kind": "ConfigMap", "name": "c"}]
    # An object inside an object (a Project's template, an event's regarding...): same rule.
    obj["spec"]["template"] = {"metadata": {"managedFields": [{}], "annotations": {
        LAST_APPLIED: "{}", "keep": "yes"}}}  # fmt: skip
    kept = redacted(obj)
    assert kept["metadata"] == {
        "name": "a", "namespace": "apps", "resourceVersion": "7",
        "annotations": {"team": "web", "see": "https://docs.example.com/runbook"},
        "labels": {"env": "prod"},
    }  # fmt: skip
    assert list(kept) == ["apiVersion", "kind", "metadata", "spec", "status"]  # order kept
    assert kept["spec"]["template"] == {"metadata": {"annotations": {"keep": "yes"}}}
    assert kept["status"] == obj["status"]
    assert kept["spec"]["source"] == {"repoURL": "https://git.example.com/x.git"}
    assert obj["metadata"]["managedFields"] == [{"manager": "kubectl"}]  # the input is untouched


def test_every_string_holding_a_credential_is_redacted_wherever_it_stands() -> None:
    obj = {
        "status": {
            "conditions": [
                {"message": "cannot reach https://deploy:s3cret@git.example.com/o/r.git"}
            ],
            "history": [{"source": {"repoURL": "https://h.example.com/r.git?token=s3cret"}}],
        },
        "spec": {"source": {"repoURL": "git@github.com:o/r.git"}},
    }
    shown = json.dumps(redacted(obj))
    assert "s3cret" not in shown
    assert "cannot reach https://git.example.com/o/r.git" in shown
    assert "git@github.com:o/r.git" in shown  # an scp-like URL's user is no credential


def test_hostile_shapes_are_copied_as_they_are() -> None:
    assert redacted({"metadata": "x", "b": [{"metadata": None}]}) == {
        "metadata": "x", "b": [{"metadata": None}]}  # fmt: skip
    assert redacted({"metadata": {"annotations": ["a@b?c"]}}) == {
        "metadata": {"annotations": ["a@b?c"]}}  # fmt: skip
    # Keys come out as strings, as JSON has them.
    assert redacted({1: [2, None, 3.5, True]}) == {"1": [2, None, 3.5, True]}
