"""``diff.predict.applied``: a server-side apply predicted from the live object alone;
and the diffs of a plan made that way (``pipeline.diffs.diff_entries``)."""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.models import Application
from driftless.core.resources import Manifest, ResourceRef
from driftless.diff.predict import applied
from driftless.pipeline.diffs import (
    CLIENT_SIDE,
    DRY_RUN,
    UNREADABLE,
    PredictedState,
    diff_entries,
)
from driftless.pipeline.plan import Plan
from driftless.sync.prepare import DesiredObject
from driftless.sync.states import ObjectState, Orphan

JSON = dict[str, Any]
ME = "driftless"


def owned(manager: str, fields: JSON, operation: str = "Apply") -> JSON:
    return {"manager": manager, "operation": operation, "apiVersion": "v1",
            "fieldsType": "FieldsV1", "fieldsV1": fields}  # fmt: skip


def configmap(data: JSON, *managers: JSON, **meta: Any) -> JSON:
    metadata: JSON = {"name": "cm", "namespace": "ns", **meta}
    if managers:
        metadata["managedFields"] = list(managers)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def deployment(containers: list[JSON], *managers: JSON) -> JSON:
    metadata: JSON = {"name": "web", "namespace": "ns"}
    if managers:
        metadata["managedFields"] = list(managers)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}}}  # fmt: skip


def data_fields(*keys: str) -> JSON:
    return {"f:data": {".": {}, **{f"f:{k}": {} for k in keys}}}


def containers_of(obj: JSON) -> list[JSON]:
    containers: list[JSON] = obj["spec"]["template"]["spec"]["containers"]
    return containers


CONTAINER_FIELDS: JSON = {"f:spec": {"f:template": {"f:spec": {"f:containers": {
    'k:{"name":"web"}': {".": {}, "f:name": {}, "f:image": {}, "f:env": {
        'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}}}  # fmt: skip

CASES: list[tuple[str, JSON | None, JSON, JSON]] = [
    (
        "a scalar driftless owns changes to the desired value",
        configmap({"a": "drifted"}, owned(ME, data_fields("a"))),
        configmap({"a": "git"}),
        configmap({"a": "git"}, owned(ME, data_fields("a"))),
    ),
    (
        "a field driftless applied before and git no longer has is removed",
        configmap({"a": "1", "gone": "2"}, owned(ME, data_fields("a", "gone"))),
        configmap({"a": "1"}),
        configmap({"a": "1"}, owned(ME, data_fields("a", "gone"))),
    ),
    (
        "a field another manager owns is kept (not in git, never driftless's)",
        configmap(
            {"a": "1", "theirs": "x"},
            owned(ME, data_fields("a")),
            owned("kubectl", data_fields("theirs"), "Update"),
        ),
        configmap({"a": "1"}),
        configmap(
            {"a": "1", "theirs": "x"},
            owned(ME, data_fields("a")),
            owned("kubectl", data_fields("theirs"), "Update"),
        ),
    ),
    (
        "a field driftless dropped from git but another manager also owns is kept",
        configmap(
            {"a": "1", "shared": "x"},
            owned(ME, data_fields("a", "shared")),
            owned("hpa", data_fields("shared")),
        ),
        configmap({"a": "1"}),
        configmap(
            {"a": "1", "shared": "x"},
            owned(ME, data_fields("a", "shared")),
            owned("hpa", data_fields("shared")),
        ),
    ),
    (
        "driftless's Update entry (not an apply) removes nothing",
        configmap({"a": "1", "old": "2"}, owned(ME, data_fields("a", "old"), "Update")),
        configmap({"a": "1"}),
        configmap({"a": "1", "old": "2"}, owned(ME, data_fields("a", "old"), "Update")),
    ),
    (
        "a list with a merge key is merged by name, server defaults of kept items stay",
        deployment(
            [
                {
                    "name": "web",
                    "image": "web:1",
                    "imagePullPolicy": "IfNotPresent",
                    "env": [{"name": "A", "value": "1"}],
                },
                {"name": "sidecar", "image": "mesh:1"},
            ]
        ),
        deployment([{"name": "web", "image": "web:2", "env": [{"name": "A", "value": "1"}]}]),
        deployment(
            [
                {
                    "name": "web",
                    "image": "web:2",
                    "imagePullPolicy": "IfNotPresent",
                    "env": [{"name": "A", "value": "1"}],
                },
                {"name": "sidecar", "image": "mesh:1"},
            ]
        ),
    ),
    (
        "an item driftless applied and git dropped leaves the merged list",
        deployment(
            [{"name": "web", "image": "web:1", "env": [{"name": "A", "value": "1"}]}],
            owned(ME, CONTAINER_FIELDS),
        ),
        deployment([{"name": "web", "image": "web:1", "env": [{"name": "B", "value": "2"}]}]),
        deployment(
            [{"name": "web", "image": "web:1", "env": [{"name": "B", "value": "2"}]}],
            owned(ME, CONTAINER_FIELDS),
        ),
    ),
    (
        "a list without a known merge key is replaced whole",
        configmap({}, finalizers=["a", "b"], labels={"x": "1"}) | {"items": [1, 2, 3]},
        configmap({}, labels={"y": "2"}) | {"items": [3]},
        configmap({}, finalizers=["a", "b"], labels={"x": "1", "y": "2"}) | {"items": [3]},
    ),
    (
        "a new object (nothing live) is the desired body",
        None,
        configmap({"a": "git"}),
        configmap({"a": "git"}),
    ),
]


@pytest.mark.parametrize(("live", "desired", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_applied_predicts_a_server_side_apply(
    live: JSON | None, desired: JSON, expected: JSON
) -> None:
    assert applied(live, desired, ME) == expected


def test_ports_merge_by_port_and_the_protocol_the_server_defaults() -> None:
    live = {"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080},
                               {"port": 53, "protocol": "UDP"}]}}  # fmt: skip
    desired = {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    assert applied(live, desired, ME)["spec"]["ports"] == [
        {"port": 80, "protocol": "TCP", "targetPort": 9090},
        {"port": 53, "protocol": "UDP"},
    ]


def test_the_live_object_and_the_desired_body_are_left_untouched() -> None:
    live = configmap({"a": "1", "gone": "2"}, owned(ME, data_fields("a", "gone")))
    desired = configmap({"a": "3"})
    before = (repr(live), repr(desired))
    result = applied(live, desired, ME)
    result["data"]["new"] = "x"
    assert (repr(live), repr(desired)) == before


@pytest.mark.parametrize(
    "fields",
    [{"f:data": "not a tree"}, {"f:data": {'k:{"broken': {}}}, {"k:[]": {}}, {"f:missing": {}}],
)
def test_hostile_managed_fields_change_nothing_they_do_not_name(fields: JSON) -> None:
    live = configmap({"a": "1"}, owned(ME, fields))
    assert applied(live, configmap({"a": "1"}), ME)["data"] == {"a": "1"}


# -- the diffs of a plan made without dry runs (``pipeline.diffs.diff_entries``) --------


def _plan(*states: ObjectState, orphans: list[Orphan] | None = None) -> Plan:
    app = Application.model_validate(
        {"metadata": {"name": "shop", "namespace": "team"}, "spec": {"source": {"repoURL": "x"}}}
    )
    return Plan(app, "abc", list(states), orphans=orphans or [])


def _desired(body: JSON) -> DesiredObject:
    meta = body["metadata"]
    ref = ResourceRef("", body["kind"], meta.get("namespace", ""), meta["name"])
    return DesiredObject(ref=ref, body=body, manifest=Manifest(body))


SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
          "stringData": {"password": "in-git"}}  # fmt: skip


def test_a_client_side_plan_says_so_and_an_unreadable_object_is_not_added() -> None:
    live = configmap({"a": "drifted"}, owned(ME, data_fields("a")))
    desired = configmap({"a": "git"})
    predicted = applied(live, desired, ME)
    why = "this server may not read Secret ns/s"
    plan = _plan(
        PredictedState(_desired(desired), live, False, "differs from git", predicted),
        PredictedState(_desired(SECRET), None, False, why, None, unreadable=why),
    )
    changed, secret = diff_entries(plan)
    assert (changed["status"], changed["predicted"]) == ("changed", CLIENT_SIDE)
    assert "-  a: drifted\n+  a: git\n" in changed["diff"]
    assert secret == {"group": "", "kind": "Secret", "namespace": "ns", "name": "s",
                      "status": UNREADABLE, "diff": "", "predicted": CLIENT_SIDE,
                      "message": why}  # fmt: skip
    assert "in-git" not in str(diff_entries(plan))


def test_a_dry_run_plan_says_dry_run_and_its_orphans_too() -> None:
    live = configmap({"a": "1"})
    gone = Orphan(ResourceRef("", "ConfigMap", "ns", "old"), "v1", configmap({}, name="old"))
    plan = _plan(ObjectState(_desired(live), live, True, "", live), orphans=[gone])
    assert [(e["status"], e["predicted"]) for e in diff_entries(plan)] == [
        ("unchanged", DRY_RUN),
        ("removed", DRY_RUN),
    ]
    client_side = _plan(PredictedState(_desired(live), live, True, "", live), orphans=[gone])
    assert [e["predicted"] for e in diff_entries(client_side)] == [CLIENT_SIDE, CLIENT_SIDE]
