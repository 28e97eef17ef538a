"""``install --replicas N``: N pods named through the downward API, sharing the apps."""

from __future__ import annotations

import pytest

from driftless.core.deployment import controller_manifests, rbac
from driftless.core.replication import replicate_controller


def _deployment(manifests: list[dict[str, object]]) -> dict[str, object]:
    return next(m for m in manifests if m["kind"] == "Deployment")


def _controller(deployment: dict) -> dict:  # type: ignore[type-arg]
    return next(
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "controller"
    )


def test_one_replica_is_todays_deployment_without_leases() -> None:
    plain = controller_manifests("driftless")
    assert replicate_controller(plain, 1, 32) == plain
    assert "--shards" not in _controller(_deployment(plain))["args"]


def test_three_replicas_share_the_apps_named_by_their_pods() -> None:
    manifests = replicate_controller(controller_manifests("driftless"), 3, 32)
    deployment = _deployment(manifests)
    assert deployment["spec"]["replicas"] == 3  # type: ignore[index]
    container = _controller(deployment)
    assert container["args"][-2:] == ["--shards", "32"]
    pod_name = {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    assert pod_name in container["env"]
    # The renderer (no token) learns nothing new.
    renderer = next(
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "renderer"
    )  # type: ignore[index]
    assert "--shards" not in renderer["args"]


def test_the_input_manifests_are_not_changed() -> None:
    plain = controller_manifests("driftless")
    before = repr(plain)
    replicate_controller(plain, 3, 1)
    assert repr(plain) == before


@pytest.mark.parametrize("scope", ["cluster", "namespace"])
def test_the_controller_may_manage_leases_in_its_namespace(scope: str) -> None:
    role = rbac("driftless", scope)[0]  # type: ignore[arg-type]
    needed = {"get", "list", "watch", "create", "update", "patch", "delete"}
    assert any(
        ({"coordination.k8s.io", "*"} & set(rule.get("apiGroups", [])))
        and ({"leases", "*"} & set(rule.get("resources", [])))
        and (needed <= set(rule["verbs"]) or "*" in rule["verbs"])
        for rule in role["rules"]
    )
    if scope == "namespace":
        assert role["kind"] == "Role" and role["metadata"]["namespace"] == "driftless"
