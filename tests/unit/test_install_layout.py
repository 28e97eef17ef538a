"""``driftless install --dry-run``: the controller's pod as an attacker would audit it.

The printed YAML is checked structurally: the ServiceAccount token reaches the
controller container only, the renderer (which runs repository content) has
no token and a read-only view of the cache, both containers are locked down,
and the namespaced install has no cluster-wide RBAC.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from driftless.cli.controller import controller_command
from driftless.cli.main import cli
from driftless.core.deployment import (
    CONTROLLER_METRICS_PORT,
    RENDER_SOCKET,
    TOKEN_PATH,
    all_rbac,
    binds_this_install,
    controller_manifests,
)

JSON = dict[str, Any]


def dry_run(*args: str) -> list[JSON]:
    result = CliRunner().invoke(cli, ["install", "--dry-run", "--namespace", "gitops", *args])
    assert result.exit_code == 0, result.output
    return [doc for doc in yaml.safe_load_all(result.output) if doc]


def pod_spec(documents: list[JSON]) -> JSON:
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    spec: JSON = deployment["spec"]["template"]["spec"]
    return spec


def containers(documents: list[JSON]) -> dict[str, JSON]:
    return {c["name"]: c for c in pod_spec(documents)["containers"]}


def mounts(container: JSON) -> dict[str, JSON]:
    return {m["name"]: m for m in container.get("volumeMounts", [])}


def test_token_is_mounted_into_the_controller_container_only() -> None:
    documents = dry_run()
    spec = pod_spec(documents)
    assert spec["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in spec["volumes"]}
    token_volumes = {
        name
        for name, volume in volumes.items()
        if any("serviceAccountToken" in s for s in volume.get("projected", {}).get("sources", []))
    }
    assert token_volumes == {"api-token"}
    sources = volumes["api-token"]["projected"]["sources"]
    assert sources[0]["serviceAccountToken"]["path"] == "token"
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    by_name = containers(documents)
    assert set(by_name) == {"controller", "renderer"}
    controller, renderer = by_name["controller"], by_name["renderer"]
    assert mounts(controller)["api-token"] == {
        "name": "api-token",
        "mountPath": TOKEN_PATH,
        "readOnly": True,
    }
    assert "api-token" not in mounts(renderer)
    assert not [m for m in mounts(renderer).values() if m["mountPath"].startswith("/var/run")]
    # Nothing else can hand the renderer a credential either.
    assert not [e for e in renderer.get("env", []) if "valueFrom" in e]
    assert "envFrom" not in renderer


def test_renderer_serves_the_socket_the_controller_uses_and_reads_the_cache_read_only() -> None:
    by_name = containers(dry_run())
    controller, renderer = by_name["controller"], by_name["renderer"]
    assert renderer["args"][:3] == ["render-server", "--socket", RENDER_SOCKET]
    args = controller["args"]
    assert args[args.index("--render-socket") + 1] == RENDER_SOCKET
    socket_dir = RENDER_SOCKET.rsplit("/", 1)[0]
    assert mounts(controller)["render-socket"]["mountPath"] == socket_dir
    assert mounts(renderer)["render-socket"]["mountPath"] == socket_dir
    assert mounts(renderer)["cache"]["readOnly"] is True
    assert mounts(renderer)["cache"]["mountPath"] == mounts(controller)["cache"]["mountPath"]
    assert not mounts(controller)["cache"].get("readOnly")


@pytest.mark.parametrize("name", ["controller", "renderer"])
def test_both_containers_are_locked_down(name: str) -> None:
    documents = dry_run()
    container = containers(documents)[name]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    pod = pod_spec(documents)["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}


def test_cluster_scope_binds_a_cluster_role() -> None:
    kinds = {d["kind"] for d in dry_run()}
    assert {"ClusterRole", "ClusterRoleBinding"} <= kinds
    assert not {"Role", "RoleBinding"} & kinds


@pytest.mark.parametrize("flags", [("--namespaced",), ("--scope", "namespace")])
def test_namespaced_install_has_no_cluster_wide_rbac(flags: tuple[str, ...]) -> None:
    documents = dry_run(*flags)
    kinds = {d["kind"] for d in documents}
    assert "ClusterRoleBinding" not in kinds
    # The only ClusterRoles are the CRDs' aggregated ones, which bind no one (see below).
    cluster_roles = {d["metadata"]["name"] for d in documents if d["kind"] == "ClusterRole"}
    assert cluster_roles == set(AGGREGATED)
    (role,) = [d for d in documents if d["kind"] == "Role"]
    (binding,) = [d for d in documents if d["kind"] == "RoleBinding"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "gitops"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "driftless-controller", "namespace": "gitops"}
    ]
    args = containers(documents)["controller"]["args"]
    assert args[1:3] == ["--namespace", "gitops"]
    assert args[args.index("--scope") + 1] == "namespace"


def test_the_commands_the_pod_runs_exist() -> None:
    runner = CliRunner()
    server = runner.invoke(cli, ["render-server", "--help"])
    assert server.exit_code == 0 and "--socket" in server.output
    controller = runner.invoke(cli, ["controller", "--help"])
    assert controller.exit_code == 0 and "--render-socket" in controller.output


def test_two_cluster_wide_installs_never_share_a_binding() -> None:
    """Cluster-scoped names are global: each install's binding is its own.

    With one shared name, installing into a second namespace would move the
    binding to that namespace's ServiceAccount, and uninstalling either
    install would delete the other's RBAC.
    """

    def cluster_rbac(namespace: str) -> dict[str, JSON]:
        return {
            d["kind"]: d
            for d in controller_manifests(namespace)
            if d["kind"] in {"ClusterRole", "ClusterRoleBinding"}
        }

    first, second = cluster_rbac("team-a"), cluster_rbac("team-b")
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        assert first[kind]["metadata"]["name"] != second[kind]["metadata"]["name"]
    binding = second["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == second["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "driftless-controller", "namespace": "team-b"}
    ]
    # What uninstall of team-a deletes never names team-b's cluster-wide objects.
    removed = {(d["kind"], d["metadata"]["name"]) for d in all_rbac("team-a")}
    assert not {(k, d["metadata"]["name"]) for k, d in second.items()} & removed


@pytest.mark.parametrize(
    ("subjects", "ours"),
    [
        ([{"kind": "ServiceAccount", "name": "driftless-controller", "namespace": "gitops"}], True),
        ([{"kind": "ServiceAccount", "name": "driftless-controller", "namespace": "other"}], False),
        (
            [
                {"kind": "ServiceAccount", "name": "driftless-controller", "namespace": "gitops"},
                {"kind": "Group", "name": "system:masters"},
            ],
            False,
        ),
        ([], False),
    ],
)
def test_an_old_shared_binding_is_this_installs_only_when_it_grants_only_it(
    subjects: list[JSON], ours: bool
) -> None:
    binding = {"kind": "ClusterRoleBinding", "subjects": subjects}
    assert binds_this_install(binding, "gitops") is ours
    assert binds_this_install(None, "gitops") is False


@pytest.mark.parametrize("flags", [(), ("--namespaced",)])
def test_the_controller_serves_metrics_and_its_probes_on_the_metrics_port(
    flags: tuple[str, ...],
) -> None:
    controller = containers(dry_run(*flags))["controller"]
    assert controller["ports"] == [
        {"name": "metrics", "containerPort": CONTROLLER_METRICS_PORT, "protocol": "TCP"}
    ]
    assert controller["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert controller["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert controller["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    ctx = controller_command.make_context("controller", list(controller["args"][1:]))
    assert ctx.params["metrics_address"] == ("0.0.0.0", CONTROLLER_METRICS_PORT)
    assert ctx.params["namespace"] == "gitops"


def test_metrics_are_off_unless_asked() -> None:
    ctx = controller_command.make_context("controller", [])
    assert ctx.params["metrics_address"] is None


def test_a_bad_metrics_address_is_refused_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["controller", "--metrics-address", "8080"])
    assert result.exit_code == 2
    assert "'8080' is not HOST:PORT" in result.output


AGGREGATED = {
    "driftless-notifications-edit": {"edit", "admin"},
    "driftless-notifications-view": {"view", "edit", "admin"},
}
_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


@pytest.mark.parametrize("flags", [(), ("--namespaced",), ("--crds-only",)])
def test_tenants_edit_view_and_admin_roles_get_the_notification_kinds(
    flags: tuple[str, ...],
) -> None:
    documents = dry_run(*flags)
    plurals = {
        d["spec"]["names"]["plural"]
        for d in documents
        if d["kind"] == "CustomResourceDefinition"
        and d["spec"]["names"]["kind"].startswith("Notif")
    }
    assert plurals == {"notificationrules", "notificationservices"}
    roles = {
        d["metadata"]["name"]: d
        for d in documents
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] in AGGREGATED
    }
    assert set(roles) == set(AGGREGATED)
    for name, into in AGGREGATED.items():
        labels = roles[name]["metadata"]["labels"]
        assert {k.removeprefix(_AGGREGATE) for k in labels if k.startswith(_AGGREGATE)} == into
        assert all(labels[_AGGREGATE + r] == "true" for r in into)
        (rule,) = roles[name]["rules"]
        assert rule["apiGroups"] == ["driftless.dev"]
        # Only the notification kinds, never their status (the controller's) nor a wildcard.
        assert set(rule["resources"]) == plurals
    edit, view = (roles[n]["rules"][0]["verbs"] for n in AGGREGATED)
    assert {"create", "update", "patch", "delete"} <= set(edit)
    assert set(view) == {"get", "list", "watch"}
    # Bound to no one by the install: Kubernetes' aggregation is the only way in.
    for d in documents:
        if d["kind"].endswith("Binding"):
            assert d["roleRef"]["name"] not in AGGREGATED


def test_applications_and_projects_are_aggregated_into_no_tenant_role() -> None:
    """Creating an Application is deploying with the controller's rights: never a side
    effect of ``edit`` in a namespace."""
    for d in dry_run():
        labels = d.get("metadata", {}).get("labels") or {}
        if d["kind"] == "ClusterRole" and any(k.startswith(_AGGREGATE) for k in labels):
            resources = {r for rule in d["rules"] for r in rule.get("resources", [])}
            assert not resources & {"applications", "projects", "*"}
