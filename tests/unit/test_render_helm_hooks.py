"""Helm hook annotations → driftless sync hooks, and the pure parts of the Helm renderer."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from driftless.core.errors import RenderError
from driftless.core.models import HelmParameter
from driftless.render.context import KubeTarget
from driftless.render.helm import (
    capability_arguments,
    escape_set_value,
    locate_error,
    missing_dependencies,
    parse_output,
    set_arguments,
)
from driftless.render.helm_hooks import map_hook, map_hooks


def job(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "j"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta}


def driftless_annotations(obj: dict[str, Any] | None) -> dict[str, str] | None:
    if obj is None:
        return None
    annotations = obj["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k.startswith("driftless.dev/")}


HOOKS = {
    "no hook": ({}, {}),
    "pre-install": (
        {"helm.sh/hook": "pre-install"},
        {"driftless.dev/hook": "PreSync", "driftless.dev/hook-delete-policy": "BeforeHookCreation"},
    ),
    "pre-install,pre-upgrade with spaces": (
        {"helm.sh/hook": "pre-install, pre-upgrade"},
        {"driftless.dev/hook": "PreSync", "driftless.dev/hook-delete-policy": "BeforeHookCreation"},
    ),
    "post-upgrade": (
        {"helm.sh/hook": "post-upgrade"},
        {
            "driftless.dev/hook": "PostSync",
            "driftless.dev/hook-delete-policy": "BeforeHookCreation",
        },
    ),
    "pre and post": (
        {"helm.sh/hook": "post-install,pre-install"},
        {
            "driftless.dev/hook": "PreSync,PostSync",
            "driftless.dev/hook-delete-policy": "BeforeHookCreation",
        },
    ),
    "weight and policies": (
        {
            "helm.sh/hook": "pre-install",
            "helm.sh/hook-weight": "-5",
            "helm.sh/hook-delete-policy": "hook-succeeded,hook-failed",
        },
        {
            "driftless.dev/hook": "PreSync",
            "driftless.dev/sync-wave": "-5",
            "driftless.dev/hook-delete-policy": "HookSucceeded,HookFailed",
        },
    ),
    "weight that is no integer is ignored like Helm does": (
        {"helm.sh/hook": "post-install", "helm.sh/hook-weight": "heavy"},
        {
            "driftless.dev/hook": "PostSync",
            "driftless.dev/hook-delete-policy": "BeforeHookCreation",
        },
    ),
    "author's own driftless annotation wins": (
        {"helm.sh/hook": "pre-install", "driftless.dev/hook": "Sync"},
        {"driftless.dev/hook": "Sync", "driftless.dev/hook-delete-policy": "BeforeHookCreation"},
    ),
    "pre-install mixed with pre-delete": (
        {"helm.sh/hook": "pre-install,pre-delete"},
        {"driftless.dev/hook": "PreSync", "driftless.dev/hook-delete-policy": "BeforeHookCreation"},
    ),
    "test hook dropped": ({"helm.sh/hook": "test"}, None),
    "legacy test-success dropped": ({"helm.sh/hook": "test-success"}, None),
    "test mixed with install dropped": ({"helm.sh/hook": "pre-install,test"}, None),
    "delete-only hook dropped": ({"helm.sh/hook": "pre-delete,post-delete"}, None),
    "rollback-only hook dropped": ({"helm.sh/hook": "post-rollback"}, None),
}


@pytest.mark.parametrize("annotations,expected", HOOKS.values(), ids=HOOKS.keys())
def test_hook_mapping(annotations: dict[str, str], expected: dict[str, str] | None) -> None:
    original = job(annotations)
    before = copy.deepcopy(original)
    assert driftless_annotations(map_hook(original)) == expected
    assert original == before  # never mutates its input


def test_helm_annotations_are_kept() -> None:
    mapped = map_hook(job({"helm.sh/hook": "pre-install"}))
    assert mapped is not None
    assert mapped["metadata"]["annotations"]["helm.sh/hook"] == "pre-install"


def test_map_hooks_keeps_order_and_drops() -> None:
    objects = [job(), job({"helm.sh/hook": "test"}), job({"helm.sh/hook": "post-install"})]
    assert [driftless_annotations(o) for o in map_hooks(objects)] == [
        {},
        {
            "driftless.dev/hook": "PostSync",
            "driftless.dev/hook-delete-policy": "BeforeHookCreation",
        },
    ]


# -- pure helpers of the Helm renderer -----------------------------------------------


@pytest.mark.parametrize(
    "value,escaped",
    [("a,b", r"a\,b"), (r"a\,b", r"a\,b"), ("{a,b}", "{a,b}"), ("plain", "plain")],
)
def test_escape_set_value(value: str, escaped: str) -> None:
    assert escape_set_value(value) == escaped


def test_set_arguments() -> None:
    params = [
        HelmParameter(name="image.tag", value="1.0"),
        HelmParameter(name="port", value="80", force_string=True),
    ]
    assert set_arguments(params) == ["--set=image.tag=1.0", "--set-string=port=80"]


def test_capability_arguments() -> None:
    kube = KubeTarget("v1.36.3", ("apps/v1", "example.com/v1/Widget"))
    assert capability_arguments(kube) == [
        "--kube-version=v1.36.3",
        "--api-versions=apps/v1",
        "--api-versions=example.com/v1/Widget",
    ]


@pytest.mark.parametrize(
    "message,file,line",
    [
        (
            "Error: execution error at (demo/templates/bad.yaml:1:15): x!",
            "charts/demo/templates/bad.yaml",
            1,
        ),
        (
            "Error: parse error at (demo/templates/bad.yaml:2): unclosed action",
            "charts/demo/templates/bad.yaml",
            2,
        ),
        (
            "Error: template: demo/charts/sub/templates/x.yaml:7:3: executing ...",
            "charts/demo/charts/sub/templates/x.yaml",
            7,
        ),
        (
            "Error: YAML parse error on demo/templates/cm.yaml: error converting YAML to JSON",
            "charts/demo/templates/cm.yaml",
            None,
        ),
        ("Error: something else", None, None),
    ],
)
def test_locate_error(message: str, file: str | None, line: int | None) -> None:
    assert locate_error(message, "charts/demo") == (file, line)


def test_parse_output_locates_templates_and_maps_hooks() -> None:
    output = (
        "---\n# Source: demo/templates/cm.yaml\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
        "---\n# Source: demo/templates/tests/t.yaml\n"
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n"
        "  annotations:\n    helm.sh/hook: test\n"
        "---\n# Source: demo/templates/empty.yaml\n"
        "---\n# Source: demo/crds/crd.yaml\n"
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: w.example.com\n"
    )
    manifests = parse_output(output, "apps/demo")
    assert [(m.kind, m.source_file, m.line) for m in manifests] == [
        ("ConfigMap", "apps/demo/templates/cm.yaml", None),
        ("CustomResourceDefinition", "apps/demo/crds/crd.yaml", None),
    ]


def test_parse_output_at_repository_root() -> None:
    output = "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\n"
    with pytest.raises(RenderError, match=r"^templates/cm.yaml: ConfigMap has no metadata.name"):
        parse_output(output, ".")


def test_missing_dependencies(tmp_path: Path) -> None:
    (tmp_path / "charts/vendored").mkdir(parents=True)
    (tmp_path / "charts/vendored/Chart.yaml").write_text("name: vendored\nversion: 1.0.0\n")
    (tmp_path / "charts/packed-2.1.0.tgz").write_bytes(b"")
    meta = {
        "dependencies": [
            {"name": "vendored", "repository": "https://x"},
            {"name": "packed", "repository": "https://x"},
            {"name": "local", "repository": "file://../local"},
            {"name": "remote", "repository": "oci://r/x"},
        ]
    }
    assert [(d.name, d.repository) for d in missing_dependencies(meta, tmp_path)] == [
        ("local", "file://../local"),
        ("remote", "oci://r/x"),
    ]
