"""Bodies driftless applies: tracking id, namespaces, order, duplicates."""

from typing import Any

import pytest

from driftless.core.errors import ValidationError
from driftless.core.resources import Manifest
from driftless.core.wellknown import TRACKING_ANNOTATION
from driftless.sync.prepare import prepare

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "CustomResourceDefinition"}


def _namespaced(api_version: str, kind: str) -> bool:
    return kind not in CLUSTER_SCOPED


def _m(kind: str, name: str, api_version: str = "v1", **meta: Any) -> Manifest:
    return Manifest(
        {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, **meta}},
        source_file=f"{name}.yaml",
        line=1,
    )


def test_defaults_namespace_and_sets_tracking_id() -> None:
    [cm] = prepare(
        [_m("ConfigMap", "c")],
        app_namespace="d",
        app_name="app",
        default_namespace="ns",
        is_namespaced=_namespaced,
    )
    assert cm.body["metadata"]["namespace"] == "ns"
    assert cm.body["metadata"]["annotations"][TRACKING_ANNOTATION] == "d_app:/ConfigMap:ns/c"


def test_keeps_explicit_namespace_and_drops_it_for_cluster_scoped() -> None:
    out = prepare(
        [_m("ConfigMap", "c", namespace="other"), _m("Namespace", "n", namespace="junk")],
        app_namespace="d",
        app_name="app",
        default_namespace="ns",
        is_namespaced=_namespaced,
    )
    by_kind = {d.ref.kind: d for d in out}
    assert by_kind["ConfigMap"].ref.namespace == "other"
    assert "namespace" not in by_kind["Namespace"].body["metadata"]


def test_order_namespaces_and_crds_first() -> None:
    manifests = [
        _m("Deployment", "d", "apps/v1"),
        _m("Widget", "w", "example.com/v1"),
        _m("ConfigMap", "c"),
        _m("CustomResourceDefinition", "widgets.example.com", "apiextensions.k8s.io/v1"),
        _m("Namespace", "n"),
    ]
    out = prepare(
        manifests,
        app_namespace="d",
        app_name="a",
        default_namespace="ns",
        is_namespaced=_namespaced,
    )
    assert [d.ref.kind for d in out] == [
        "Namespace",
        "CustomResourceDefinition",
        "ConfigMap",
        "Deployment",
        "Widget",
    ]


def test_missing_namespace_is_an_error_naming_the_file() -> None:
    with pytest.raises(ValidationError, match=r"c\.yaml:1: ConfigMap c has no namespace"):
        prepare(
            [_m("ConfigMap", "c")],
            app_namespace="d",
            app_name="a",
            default_namespace="",
            is_namespaced=_namespaced,
        )


def test_same_object_twice_after_defaulting_is_an_error() -> None:
    first = _m("ConfigMap", "c")
    second = _m("ConfigMap", "c", namespace="ns")
    second.source_file = "other.yaml"
    with pytest.raises(ValidationError, match=r"defined twice \(first in c\.yaml:1\)"):
        prepare(
            [first, second],
            app_namespace="d",
            app_name="a",
            default_namespace="ns",
            is_namespaced=_namespaced,
        )
