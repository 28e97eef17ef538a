"""Every ``list`` prints the same shapes: kubectl's table, List, and ``kind.group/name``."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from driftless.cli import listing
from driftless.cli.app import app_listing
from driftless.cli.cluster import IN_CLUSTER_ROW, cluster_view
from driftless.cli.repo import repository_view

JSON = dict[str, Any]

APP: JSON = {
    "apiVersion": "driftless.dev/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "shop", "namespace": "team-a"},
    "spec": {"source": {"repoURL": "https://git.example.com/shop.git", "path": "deploy"}},
    "status": {
        "sync": {"status": "Synced", "revision": "0123456789abcdef"},
        "health": {"status": "Healthy"},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}


@pytest.mark.parametrize(
    ("namespace", "output", "no_headers", "expected"),
    [
        ("team-a", "table", False, [
            ["NAME", "SYNC", "HEALTH", "REVISION", "AGE"],
            ["shop", "Synced", "Healthy", "0123456789ab", "<unknown>"],
        ]),
        ("team-a", "table", True, [["shop", "Synced", "Healthy", "0123456789ab", "<unknown>"]]),
        (None, "table", False, [
            ["NAMESPACE", "NAME", "SYNC", "HEALTH", "REVISION", "AGE"],
            ["team-a", "shop", "Synced", "Healthy", "0123456789ab", "<unknown>"],
        ]),
        ("team-a", "wide", True, [[
            "shop", "Synced", "Healthy", "0123456789ab", "<unknown>", "True",
            "https://git.example.com/shop.git", "deploy", "HEAD",
        ]]),
        ("team-a", "name", False, [["application.driftless.dev/shop"]]),
    ],
)  # fmt: skip
def test_app_table_wide_and_name(
    namespace: str | None, output: str, no_headers: bool, expected: list[list[str]]
) -> None:
    text = listing.render(app_listing(namespace), [APP], output, no_headers=no_headers)
    assert [line.split() for line in text.splitlines()] == expected


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_json_and_yaml_are_a_kubectl_list_of_the_items(output: str) -> None:
    text = listing.render(app_listing("team-a"), [APP], output)
    parsed = json.loads(text) if output == "json" else yaml.safe_load(text)
    assert parsed == {"apiVersion": "v1", "kind": "List", "items": [APP]}


@pytest.mark.parametrize(
    ("output", "expected"),
    [("table", ""), ("wide", ""), ("name", ""), ("json", '"items": []')],
)
def test_nothing_to_list(output: str, expected: str) -> None:
    text = listing.render(app_listing("team-a"), [], output)
    assert expected in text if expected else text == ""


SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "AAAAsecretkeymaterial\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def _secret(data: dict[str, str]) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "repo-1",
            "namespace": "driftless",
            "labels": {"driftless.dev/secret-type": "repository"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "secretvalue"},
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


@pytest.mark.parametrize(
    ("data", "spec", "message"),
    [
        ({"url": "https://alice:tok3n@git.example.com/team", "password": "tok3n"},
         {"type": "https", "knownHosts": "-"}, "ok"),
        ({"url": "ssh://git@git.example.com/team", "sshPrivateKey": SSH_KEY,
          "insecureIgnoreHostKey": "true"},
         {"type": "ssh", "knownHosts": "ignored (insecure)"}, "ok"),
        ({"password": "tok3n"}, {"type": "invalid", "url": "-"}, None),
    ],
)  # fmt: skip
def test_a_repository_view_shows_no_secret_value(
    data: dict[str, str], spec: JSON, message: str | None
) -> None:
    view = repository_view(_secret(data))
    shown = json.dumps(view)
    for secret in ("tok3n", "secretkeymaterial", "secretvalue"):
        assert secret not in shown
    assert view["kind"] == "RepositoryCredential" and view["metadata"]["name"] == "repo-1"
    assert spec.items() <= view["spec"].items()
    if message is not None:
        assert view["status"]["message"] == message
    assert (
        listing.render(listing.Listing("repositorycredential.driftless.dev", ()), [view], "name")
        == "repositorycredential.driftless.dev/repo-1"
    )


def test_the_in_cluster_destination_is_a_cluster_view() -> None:
    view = cluster_view(IN_CLUSTER_ROW, None)
    assert view["metadata"] == {"name": "in-cluster"}
    assert view["spec"]["server"] == "https://kubernetes.default.svc"
