"""Hooks written with ``generateName``: accepted on hooks only, one instance per operation."""

from typing import Any

import pytest
import yaml

from driftless.core.errors import RenderError
from driftless.core.generate_name import MAX_PREFIX, instance_name, template_label
from driftless.core.resources import Manifest, tracking_of
from driftless.core.wellknown import HOOK_TEMPLATE_LABEL, TRACKING_ANNOTATION
from driftless.render.helm import parse_output
from driftless.render.manifests import reject_duplicates, to_manifests
from driftless.render.yaml_docs import parse_yaml_stream
from driftless.sync import plan as sp
from driftless.sync.prepare import prepare

HOOKS = {
    "driftless": {"driftless.dev/hook": "PreSync"},
    "argo": {"argocd.argoproj.io/hook": "PreSync"},
    "helm": {"helm.sh/hook": "pre-install"},
}


def _job(annotations: dict[str, Any] | None, *, generate: Any = "migrate-") -> dict[str, Any]:
    meta: dict[str, Any] = {"generateName": generate}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta}


@pytest.mark.parametrize("hook", list(HOOKS))
def test_a_hook_may_use_generate_name(hook: str) -> None:
    [manifest] = to_manifests(parse_yaml_stream(_yaml(_job(HOOKS[hook])), "h.yaml"), "h.yaml")
    assert manifest.obj["metadata"] == _job(HOOKS[hook])["metadata"]  # untouched


@pytest.mark.parametrize(
    "obj",
    [
        _job(None),  # no annotations at all
        _job({"example.com/hook": "PreSync"}),  # not a hook annotation
        _job({"driftless.dev/hook": ["PreSync"]}),  # hostile: not a string
        _job(HOOKS["argo"], generate=""),  # empty generateName
        _job(HOOKS["argo"], generate={"x": 1}),  # hostile: not a string
    ],
    ids=["plain", "other-annotation", "hook-not-a-string", "empty", "mapping"],
)
def test_anything_else_with_generate_name_is_refused_naming_it(obj: dict[str, Any]) -> None:
    with pytest.raises(RenderError) as caught:
        to_manifests(parse_yaml_stream(_yaml(obj), "a.yaml"), "a.yaml")
    assert "Job has no metadata.name" in str(caught.value)


def test_the_refusal_names_the_generate_name() -> None:
    with pytest.raises(RenderError, match="generateName 'migrate-' is only supported on hooks"):
        to_manifests(parse_yaml_stream(_yaml(_job(None)), "a.yaml"), "a.yaml")


def test_two_templates_of_one_generate_name_are_duplicates() -> None:
    manifests = [
        Manifest(_job(HOOKS["argo"]), "a.yaml", 1),
        Manifest(_job(HOOKS["argo"]), "b.yaml", 1),
    ]
    with pytest.raises(RenderError, match=r"duplicate object Job\.batch migrate-"):
        reject_duplicates(manifests)


def test_instance_names_look_generated_are_stable_and_cut_like_the_api_server() -> None:
    name = instance_name("migrate-", "op1")
    assert name == instance_name("migrate-", "op1")
    assert name != instance_name("migrate-", "op2")
    assert name.startswith("migrate-") and len(name) == len("migrate-") + 5
    assert set(name[-5:]) <= set("bcdfghjklmnpqrstvwxz2456789")
    long = instance_name("x" * 300, "op1")
    assert len(long) == 63 and long.startswith("x" * MAX_PREFIX)


def _templates() -> list[Any]:
    job = _job({"driftless.dev/hook": "PreSync,PostSync"})
    return prepare(
        [Manifest(job, "h.yaml", 1)],
        app_namespace="apps",
        app_name="shop",
        default_namespace="shop",
        is_namespaced=lambda *_: True,
    )


def test_a_template_is_known_by_its_generate_name_and_labelled() -> None:
    [template] = _templates()
    assert template.ref.name == "migrate-"
    assert template.generate_name == "migrate-"
    tracking = template.body["metadata"]["annotations"][TRACKING_ANNOTATION]
    assert tracking == "apps_shop:batch/Job:shop/migrate-"
    assert template.body["metadata"]["labels"][HOOK_TEMPLATE_LABEL] == template_label(tracking)


def test_each_operation_and_phase_gets_its_own_instance_the_same_on_every_pass() -> None:
    _, tasks = sp.split_hooks(_templates())
    first = sp.instances(tasks, sp.operation_seed("2026-01-01T00:00:00Z", 0, None))
    again = sp.instances(tasks, sp.operation_seed("2026-01-01T00:00:00Z", 0, None))
    retried = sp.instances(tasks, sp.operation_seed("2026-01-01T00:00:00Z", 1, None))
    names = [t.obj.ref.name for t in first]
    assert names == [t.obj.ref.name for t in again]  # a resumed pass finds its instances
    assert len(set(names)) == 2  # PreSync and PostSync each run one
    assert not set(names) & {t.obj.ref.name for t in retried}
    for task in first:
        meta = task.obj.body["metadata"]
        assert task.generated and meta["name"] == task.obj.ref.name
        tracked = tracking_of(task.obj.body)
        assert tracked is not None and tracked.ref == task.obj.ref
        assert meta["labels"][HOOK_TEMPLATE_LABEL] == sp.template_label_of(tasks[0].obj)
    assert tasks[0].obj.ref.name == "migrate-"  # the plan's templates are not changed


def _live(name: str, tracking: str | None, label: str) -> dict[str, Any]:
    annotations = {TRACKING_ANNOTATION: tracking} if tracking else {}
    meta = {"name": name, "annotations": annotations, "labels": {HOOK_TEMPLATE_LABEL: label}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta}


def test_earlier_instances_are_this_apps_other_runs_only() -> None:
    _, tasks = sp.split_hooks(_templates())
    [current, _] = sp.instances(tasks, "op")
    label = sp.template_label_of(current.obj)
    listed = [
        _live("migrate-old11", "apps_shop:batch/Job:shop/migrate-old11", label),
        _live(current.obj.ref.name, f"apps_shop:batch/Job:shop/{current.obj.ref.name}", label),
        # Hostile: someone else's Job wearing the label, or one with no tracking id.
        _live("migrate-their", "other_shop:batch/Job:shop/migrate-their", label),
        _live("migrate-nobdy", None, label),
        _live("migrate-wrong", "apps_shop:batch/Job:shop/migrate-wrong", "another-template"),
    ]
    assert sp.earlier_instances(listed, current.obj) == ["migrate-old11"]


def test_same_instance_needs_this_operations_tracking_id() -> None:
    _, tasks = sp.split_hooks(_templates())
    [current, _] = sp.instances(tasks, "op")
    name = current.obj.ref.name
    assert sp.same_instance(_live(name, f"apps_shop:batch/Job:shop/{name}", "x"), current.obj)
    assert not sp.same_instance(_live(name, f"other_x:batch/Job:shop/{name}", "x"), current.obj)
    assert not sp.same_instance(_live(name, None, "x"), current.obj)
    assert not sp.same_instance(None, current.obj)


def _yaml(obj: dict[str, Any]) -> str:
    return str(yaml.safe_dump(obj))


def test_a_helm_hook_with_generate_name_renders_as_a_presync_template() -> None:
    text = "---\n# Source: demo/templates/migrate.yaml\n" + yaml.safe_dump(
        _job({"helm.sh/hook": "pre-upgrade,pre-install"}, generate="demo-db-")
    )
    [manifest] = parse_output(text, "charts/demo")
    assert manifest.obj["metadata"]["generateName"] == "demo-db-"
    assert manifest.obj["metadata"]["annotations"]["driftless.dev/hook"] == "PreSync"
