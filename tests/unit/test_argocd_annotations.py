"""Argo CD's sync annotations read as driftless's (``core.argocd``, ``sync.prepare``)."""

from typing import Any

import pytest

from driftless.core import argocd
from driftless.core.errors import ValidationError
from driftless.core.resources import Manifest, ResourceRef
from driftless.core.wellknown import (
    COMPARE_OPTIONS_ANNOTATION,
    HOOK_ANNOTATION,
    HOOK_DELETE_POLICY_ANNOTATION,
    SYNC_OPTIONS_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
)
from driftless.render.helm_hooks import map_hook
from driftless.sync import plan as sp
from driftless.sync.prepare import CREATE_NAMESPACE_MANAGER, prepare
from driftless.sync.states import Orphan

ARGO = "argocd.argoproj.io/"


@pytest.mark.parametrize(
    ("argo", "expected"),
    [
        ({"hook": "PreSync"}, {HOOK_ANNOTATION: "PreSync"}),
        ({"hook": "PreSync, PostSync"}, {HOOK_ANNOTATION: "PreSync,PostSync"}),
        ({"hook": "Skip"}, {HOOK_ANNOTATION: "Skip"}),
        ({"hook": "SyncFail"}, {HOOK_ANNOTATION: "SyncFail"}),
        (
            {"hook-delete-policy": "BeforeHookCreation,HookSucceeded"},
            {HOOK_DELETE_POLICY_ANNOTATION: "BeforeHookCreation,HookSucceeded"},
        ),
        ({"sync-wave": "-2"}, {SYNC_WAVE_ANNOTATION: "-2"}),
        ({"sync-wave": 3}, {SYNC_WAVE_ANNOTATION: "3"}),
        ({"sync-options": "Prune=false"}, {SYNC_OPTIONS_ANNOTATION: "Prune=false"}),
        (
            {"sync-options": "Replace=true,CreateNamespace=true"},
            {SYNC_OPTIONS_ANNOTATION: "Replace=true,CreateNamespace=true"},
        ),
        # Accepted: what driftless always does (no annotation needed).
        ({"sync-options": "ServerSideApply=true"}, {}),
        (
            {"sync-options": "ServerSideApply=true,SkipDryRunOnMissingResource=true"},
            {SYNC_OPTIONS_ANNOTATION: "SkipDryRunOnMissingResource=true"},
        ),
        ({"compare-options": "IgnoreExtraneous"}, {COMPARE_OPTIONS_ANNOTATION: "IgnoreExtraneous"}),
        ({}, {}),
    ],
)
def test_supported_values_become_driftless_annotations(
    argo: dict[str, Any], expected: dict[str, str]
) -> None:
    out = argocd.translate({ARGO + k: v for k, v in argo.items()})
    assert (out.added, out.problems) == (expected, [])


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("hook", "PostDelete", "no hook when an application is deleted"),
        ("hook", "PreDelete", "no hook when an application is deleted"),
        ("hook", "presync", "use PostSync, PreSync"),
        ("hook", "", "empty"),
        ("hook-delete-policy", "OnSuccess", "use BeforeHookCreation"),
        ("sync-wave", "first", "integer"),
        ("sync-wave", "1.5", "integer"),
        ("sync-options", "Validate=false", "Validate=false: use Prune=false"),
        ("sync-options", "Prune=false,ServerSideApply=false", "ServerSideApply=false"),
        ("compare-options", "ServerSideDiff=true", "use IgnoreExtraneous"),
        ("sync-wave", ["1"], "integer"),  # hostile: a list where a string belongs
    ],
)
def test_unsupported_values_are_problems_naming_annotation_and_value(
    key: str, value: Any, named: str
) -> None:
    out = argocd.translate({ARGO + key: value})
    assert out.added == {}
    [problem] = out.problems
    assert problem.startswith(f"{ARGO}{key}: {value!r} is not supported")
    assert named in problem


def test_driftless_names_win_and_the_argo_value_is_not_even_read() -> None:
    out = argocd.translate(
        {
            HOOK_ANNOTATION: "Sync",
            ARGO + "hook": "PostDelete",
            SYNC_WAVE_ANNOTATION: "1",
            ARGO + "sync-wave": "9",
        }
    )
    assert (out.added, out.problems) == ({}, [])


def test_argo_hook_wins_over_helm_hook_and_driftless_over_both() -> None:
    obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "j",
            "annotations": {
                "helm.sh/hook": "post-install",
                "helm.sh/hook-weight": "5",
                ARGO + "hook": "PreSync",
            },
        },
    }
    mapped = map_hook(obj)
    assert mapped is not None
    annotations = mapped["metadata"]["annotations"]
    assert HOOK_ANNOTATION not in annotations  # left for core.argocd (PreSync)
    assert annotations[SYNC_WAVE_ANNOTATION] == "5"  # no Argo wave: Helm's weight maps
    annotations[HOOK_ANNOTATION] = "Sync"
    assert argocd.translate(annotations).added.get(HOOK_ANNOTATION) is None


def _prepare(*objects: dict[str, Any]) -> list[Any]:
    manifests = [Manifest(o, source_file="hooks.yaml", line=3) for o in objects]
    return prepare(
        manifests,
        app_namespace="apps",
        app_name="shop",
        default_namespace="shop",
        is_namespaced=lambda _v, kind: kind != "Namespace",
    )


def _obj(kind: str, name: str, **annotations: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "annotations": annotations}
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def test_prepare_maps_argo_hooks_waves_and_options_onto_the_applied_body() -> None:
    desired = _prepare(
        _obj(
            "ConfigMap", "late", **{ARGO + "sync-wave": "2", ARGO + "sync-options": "Prune=false"}
        ),
        _obj("Pod", "pre", **{ARGO + "hook": "PreSync", ARGO + "hook-delete-policy": "HookFailed"}),
    )
    resources, hooks = sp.split_hooks(desired)
    [late] = resources
    assert sp.wave_of(late) == 2
    assert sp.object_options(late) == {"Prune=false"}
    assert late.body["metadata"]["annotations"][ARGO + "sync-wave"] == "2"  # kept, readable
    [hook] = hooks
    assert (hook.phase, hook.delete_policies) == ("PreSync", {"HookFailed"})


def test_prepare_refuses_an_unsupported_value_naming_object_file_and_value() -> None:
    with pytest.raises(ValidationError) as caught:
        _prepare(_obj("Pod", "cleanup", **{ARGO + "hook": "PostDelete"}))
    message = str(caught.value)
    assert "hooks.yaml:3" in message
    assert "Pod cleanup" in message
    assert "argocd.argoproj.io/hook: 'PostDelete' is not supported" in message


def test_create_namespace_option_creates_the_objects_namespace_first_untracked() -> None:
    cm = _obj("ConfigMap", "c", **{ARGO + "sync-options": "CreateNamespace=true"})
    cm["metadata"]["namespace"] = "extra"
    desired = _prepare(cm, _obj("ConfigMap", "d"))
    first = desired[0]
    assert (first.ref.kind, first.ref.name, first.first) == ("Namespace", "extra", True)
    assert first.field_manager == CREATE_NAMESPACE_MANAGER
    assert "annotations" not in first.body["metadata"]  # untracked: never pruned
    assert [d.ref.name for d in desired].count("extra") == 1


def test_create_namespace_option_is_not_added_when_the_render_has_the_namespace() -> None:
    cm = _obj("ConfigMap", "c", **{ARGO + "sync-options": "CreateNamespace=true"})
    cm["metadata"]["namespace"] = "extra"
    desired = _prepare(cm, _obj("Namespace", "extra"))
    namespaces = [d for d in desired if d.ref.kind == "Namespace"]
    assert [(n.ref.name, n.first) for n in namespaces] == [("extra", False)]


@pytest.mark.parametrize(
    ("value", "ignored"),
    [("IgnoreExtraneous", True), ("Foo, IgnoreExtraneous", True), ("", False), (None, False)],
)
def test_ignore_extraneous_orphans_do_not_count_against_sync(
    value: str | None, ignored: bool
) -> None:
    annotations = {COMPARE_OPTIONS_ANNOTATION: value} if value is not None else {}
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"annotations": annotations}}
    orphan = Orphan(ResourceRef("", "ConfigMap", "shop", "gen"), "v1", live)
    assert orphan.ignore_extraneous is ignored


@pytest.mark.parametrize(
    ("annotations", "skips"),
    [
        ({ARGO + "sync-options": "SkipDryRunOnMissingResource=true"}, True),
        ({SYNC_OPTIONS_ANNOTATION: "Prune=false, SkipDryRunOnMissingResource=true"}, True),
        # driftless's own annotation wins, even when it does not say it.
        (
            {
                SYNC_OPTIONS_ANNOTATION: "Prune=false",
                ARGO + "sync-options": "SkipDryRunOnMissingResource=true",
            },
            False,
        ),
        ({ARGO + "sync-options": "SkipDryRunOnMissingResource=false"}, False),
        ({}, False),
    ],
)
def test_skips_dry_run_reads_either_name(annotations: dict[str, str], skips: bool) -> None:
    assert argocd.skips_dry_run({"metadata": {"annotations": annotations}}) is skips
    assert argocd.skips_dry_run({"metadata": {"annotations": ["hostile"]}}) is False
