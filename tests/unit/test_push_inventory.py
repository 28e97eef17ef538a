"""The push-mode inventory (encode/decode) and what ``driftless apply`` stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftless.cli.exits import EXIT_USAGE, SourceFailedError, UsageFailedError, code_of
from driftless.cli.push import (
    _default_name,
    offline_target,
    resolve_source,
)
from driftless.core.models import ResourceStatus
from driftless.core.wellknown import INVENTORY_REVISION_ANNOTATION
from driftless.pipeline import inventory
from driftless.pipeline.renderers import LocalTree


def entry(
    kind: str, name: str, group: str = "", version: str = "v1", ns: str = "x"
) -> ResourceStatus:
    return ResourceStatus(group=group, version=version, kind=kind, namespace=ns, name=name)


def test_round_trip_sorted_and_unique() -> None:
    entries = [
        entry("Deployment", "web", "apps"),
        entry("ConfigMap", "a"),
        entry("ConfigMap", "a"),
        entry("Namespace", "x", ns=""),
    ]
    text = inventory.encode(entries)
    decoded = inventory.decode(text)
    assert [inventory.entry_key(e) for e in decoded] == sorted(
        {inventory.entry_key(e) for e in entries}
    )
    assert inventory.encode(reversed(entries)) == text  # order-independent
    assert set(json.loads(text)[0]) == set(inventory.FIELDS)


def test_empty_inventory() -> None:
    assert inventory.decode(inventory.encode([])) == []


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"kind": "ConfigMap"}',
        "[1]",
        '[{"kind": "ConfigMap"}]',
        '[{"name": "a"}]',
        '[{"kind": "ConfigMap", "name": 3}]',
    ],
)
def test_decode_rejects_foreign_content(text: str) -> None:
    with pytest.raises(inventory.InventoryError):
        inventory.decode(text)


def test_configmap_shape() -> None:
    body = inventory.configmap("shop", "team", [entry("ConfigMap", "a")], "abc123")
    assert body["metadata"]["name"] == "driftless-inventory-shop"
    assert body["metadata"]["namespace"] == "team"
    assert body["metadata"]["annotations"][INVENTORY_REVISION_ANNOTATION] == "abc123"
    assert inventory.decode(body["data"][inventory.DATA_KEY])[0].name == "a"


def test_offline_target_lists_builtin_apis() -> None:
    target = offline_target("v1.36.3")
    assert target.version == "v1.36.3"
    assert "apps/v1" in target.api_versions
    assert "apps/v1/Deployment" in target.api_versions
    assert "batch/v1/CronJob" in target.api_versions


def test_resolve_source(tmp_path: Path) -> None:
    root = tmp_path
    (root / "app").mkdir()
    plain = resolve_source(str(root), "app", None)
    assert plain.local == LocalTree(root.resolve(), (root / "app").resolve())
    with pytest.raises(UsageFailedError):
        resolve_source(str(root), "app", "main")
    with pytest.raises(SourceFailedError):
        resolve_source(str(root), "missing", None)
    with pytest.raises(SourceFailedError):
        resolve_source(str(root), "../..", None)
    with pytest.raises(SourceFailedError):
        resolve_source(str(root / "nope"), ".", None)
    remote = resolve_source("https://git.example.com/a.git", "k8s", "v1")
    assert remote.local is None and remote.repo_url == "https://git.example.com/a.git"
    assert code_of(UsageFailedError("x")) == EXIT_USAGE


def test_default_name() -> None:
    assert _default_name("https://x/shop.git", ".") == "shop"
    assert _default_name(".", "deploy/overlays/prod_eu") == "prod-eu"
