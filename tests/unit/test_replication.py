"""``install --replicas N``: N pods named through the downward API, sharing the apps."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from driftless.cli.main import cli
from driftless.controller import shutdown
from driftless.core.deployment import controller_manifests, rbac, safe_strategy
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


# -- how the controller pods are replaced -------------------------------------------

ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
# What README promises for SIGTERM in every state (controller.shutdown).
SIGTERM_PROMISE_SECONDS = 5


def _dry_run(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, ["install", "--dry-run", *args])
    assert result.exit_code == 0, result.output
    docs = [d for d in yaml.safe_load_all(result.output) if d and d["kind"] == "Deployment"]
    return next(d for d in docs if d["metadata"]["name"] == "driftless-controller")


def test_one_controller_holds_no_lease_so_it_is_recreated_never_overlapped() -> None:
    assert _dry_run()["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("args", [("--replicas", "3"), ("--replicas", "2", "--shards", "1")])
def test_replicas_holding_leases_are_rolled_one_new_pod_before_an_old_one_goes(
    args: tuple[str, ...],
) -> None:
    assert _dry_run(*args)["spec"]["strategy"] == ROLLING


@pytest.mark.parametrize("replicas", [1, 3])
def test_sigterm_ends_the_controller_well_before_the_kubelet_kills_it(replicas: int) -> None:
    pod = _dry_run("--replicas", str(replicas))["spec"]["template"]["spec"]
    worst = (
        shutdown.DEFAULT_GRACE_SECONDS
        + shutdown.CANCEL_WAIT_SECONDS
        + shutdown.LEASES_SECONDS
        + 2 * shutdown.CLOSE_STEP_SECONDS
    )
    assert worst <= SIGTERM_PROMISE_SECONDS
    # Twice the promise: a loaded node still frees the Leases instead of being SIGKILLed.
    assert pod["terminationGracePeriodSeconds"] >= 2 * SIGTERM_PROMISE_SECONDS


def _sharded() -> dict:  # type: ignore[type-arg]
    return _deployment(replicate_controller(controller_manifests("driftless"), 3, 32))


@pytest.mark.parametrize(
    ("live", "rolled"),
    [
        (None, True),  # a first install: nothing to overlap
        ("sharded", True),  # Leases on both sides
        ("plain", False),  # one Lease-less controller: stopped first
        ({}, False),  # something unreadable counts as Lease-less
        ({"spec": {"template": {"spec": {"containers": "x"}}}}, False),
        ({"spec": {"template": {"spec": {"containers": [{"name": "controller"}]}}}}, False),
    ],
)
def test_a_rollout_from_pods_without_leases_is_recreate(live: object, rolled: bool) -> None:
    known = {"sharded": _sharded(), "plain": _deployment(controller_manifests("driftless"))}
    current = known.get(live, live) if isinstance(live, str) else live
    wanted = _sharded()
    before = repr(wanted)
    chosen = safe_strategy(current, wanted)  # type: ignore[arg-type]
    assert chosen["spec"]["strategy"] == (ROLLING if rolled else {"type": "Recreate"})
    assert repr(wanted) == before  # pure
    assert {**chosen["spec"], "strategy": None} == {**wanted["spec"], "strategy": None}


def test_going_back_to_one_controller_is_recreate_whatever_runs() -> None:
    plain = _deployment(controller_manifests("driftless"))
    assert safe_strategy(_sharded(), plain)["spec"]["strategy"] == {"type": "Recreate"}
