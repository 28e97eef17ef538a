"""ignoreDifferences field removal and Secret masking."""

import pytest

from driftless.core.models import IgnoreDifference
from driftless.core.resources import ResourceRef
from driftless.diff.ignore import remove_fields, remove_pointer, rules_for, strip_ignored
from driftless.diff.report import resource_diff
from driftless.diff.secrets import mask_pair

DEPLOY = ResourceRef("apps", "Deployment", "ns", "web")


def test_rules_match_by_group_kind_name() -> None:
    rules = [
        IgnoreDifference(group="apps", kind="Deployment", json_pointers=["/spec/replicas"]),
        IgnoreDifference(group="apps", kind="Deployment", name="other"),
        IgnoreDifference(group="*", kind="*", namespace="ns"),
        IgnoreDifference(kind="ConfigMap"),
    ]
    assert rules_for(rules, DEPLOY) == [rules[0], rules[2]]


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("/spec/replicas", {"spec": {"template": {"a": 1}}, "m": {"a/b": 1, "c~d": 2}}),
        ("/m/a~1b", {"spec": {"replicas": 2, "template": {"a": 1}}, "m": {"c~d": 2}}),
        ("/m/c~0d", {"spec": {"replicas": 2, "template": {"a": 1}}, "m": {"a/b": 1}}),
        ("/not/there", {"spec": {"replicas": 2, "template": {"a": 1}}, "m": {"a/b": 1, "c~d": 2}}),
    ],
)
def test_json_pointers(pointer: str, expected: dict[str, object]) -> None:
    obj = {"spec": {"replicas": 2, "template": {"a": 1}}, "m": {"a/b": 1, "c~d": 2}}
    remove_pointer(obj, pointer)
    assert obj == expected


def test_managed_fields_of_a_manager_are_removed() -> None:
    live = {
        "metadata": {
            "managedFields": [
                {
                    "manager": "hpa",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:spec": {
                            "f:replicas": {},
                            "f:containers": {'k:{"name":"app"}': {"f:image": {}}},
                        }
                    },
                }
            ]
        },
        "spec": {"replicas": 3, "containers": [{"name": "app", "image": "x"}, {"name": "b"}]},
    }
    rule = IgnoreDifference(kind="Deployment", managed_fields_managers=["hpa"])
    stripped = strip_ignored(live, [rule], live)
    assert stripped["spec"] == {"containers": [{"name": "app"}, {"name": "b"}]}
    assert live["spec"]["replicas"] == 3  # input untouched


def test_set_and_index_entries() -> None:
    obj = {"finalizers": ["a", "b"], "items": [1, 2, 3]}
    remove_fields(obj, {"f:finalizers": {'v:"a"': {}}, "f:items": {"i:1": {}}})
    assert obj == {"finalizers": ["b"], "items": [1, 3]}


def test_secret_values_never_appear_and_sides_differ() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"a": "Z2l0", "b": "c2FtZQ==", "n": "eA=="},
    }
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"a": "bGl2ZQ==", "b": "c2FtZQ==", "o": "eQ=="},
    }
    masked_desired, masked_live = mask_pair(desired, live)
    assert masked_desired is not None and masked_live is not None
    assert masked_desired["data"] == {
        "a": "<changed: value in git>",
        "b": "<unchanged>",
        "n": "<added>",
    }
    assert masked_live["data"] == {
        "a": "<changed: value in cluster>",
        "b": "<unchanged>",
        "o": "<removed>",
    }
    text = resource_diff(ResourceRef("", "Secret", "ns", "s"), live=live, desired=desired).text
    for value in ("Z2l0", "bGl2ZQ==", "c2FtZQ==", "eA==", "eQ=="):
        assert value not in text
    assert "-  a: '<changed: value in cluster>'" in text
    assert "+  a: '<changed: value in git>'" in text


def test_non_secrets_are_not_masked() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}
    assert mask_pair(cm, cm) == (cm, cm)


def test_api_errors_about_secrets_lose_echoed_values() -> None:
    from driftless.core.resources import Manifest
    from driftless.kube.client import KubeApiError
    from driftless.sync.execute import _redacted
    from driftless.sync.prepare import DesiredObject

    secret = DesiredObject(ResourceRef("", "Secret", "ns", "s"), {}, Manifest({}))
    typed = KubeApiError(500, ".data: expected map, got &{hunter2}")
    assert "hunter2" not in _redacted(typed, secret).message
    invalid = KubeApiError(422, 'data[x]: Invalid value: "hunter2": must be base64')
    assert "hunter2" not in _redacted(invalid, secret).message
    configmap = DesiredObject(ResourceRef("", "ConfigMap", "ns", "c"), {}, Manifest({}))
    plain = KubeApiError(422, 'Invalid value: "x"')
    assert _redacted(plain, configmap).message == 'Invalid value: "x"'
