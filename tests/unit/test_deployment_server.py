"""``driftless install --with-server --dry-run``: the API server's pod and RBAC, audited.

The server faces a network: its pod is locked down like the controller's (the
token in the ``server`` container only, a token-less renderer), its probes are
the server's own, and its RBAC grants what the routes need and nothing else --
above all, no Secret outside its namespace and no write to any workload.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from driftless.cli.main import cli
from driftless.cli.server import server_command
from driftless.core.deployment import (
    RENDER_SOCKET,
    SERVER_CONFIGMAP,
    SERVER_METRICS_PORT,
    SERVER_NAME,
    SERVER_PORT,
    SERVER_SECRETS,
    TOKEN_PATH,
    VIEW_ROLE,
    all_server_rbac,
    server_manifests,
)

JSON = dict[str, Any]
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}
WRITES = {"create", "update", "patch", "delete", "deletecollection", "*"}


def dry_run(*args: str) -> list[JSON]:
    argv = ["install", "--dry-run", "--namespace", "gitops", *args]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    return [doc for doc in yaml.safe_load_all(result.output) if doc]


def server_objects(documents: list[JSON]) -> list[JSON]:
    return [d for d in documents if d["metadata"]["name"].startswith(SERVER_NAME)]


def by_kind(documents: list[JSON], kind: str) -> list[JSON]:
    return [d for d in server_objects(documents) if d["kind"] == kind]


def pod(documents: list[JSON]) -> JSON:
    (deployment,) = by_kind(documents, "Deployment")
    spec: JSON = deployment["spec"]["template"]["spec"]
    return spec


def containers(documents: list[JSON]) -> dict[str, JSON]:
    return {c["name"]: c for c in pod(documents)["containers"]}


def mounts(container: JSON) -> dict[str, JSON]:
    return {m["name"]: m for m in container.get("volumeMounts", [])}


def rules(documents: list[JSON]) -> list[tuple[str, JSON]]:
    """``(role kind, rule)`` of every role the server's ServiceAccount is bound to."""
    return [(r["kind"], rule) for r in server_objects(documents) if "rules" in r
            for rule in r["rules"]]  # fmt: skip


def test_a_plain_install_deploys_no_server() -> None:
    assert server_objects(dry_run()) == []


def test_with_server_deploys_the_server_its_service_and_its_own_account() -> None:
    documents = dry_run("--with-server")
    kinds = sorted(d["kind"] for d in server_objects(documents))
    expected = ["ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
                "ClusterRoleBinding", "Deployment", "Service"]  # fmt: skip
    assert kinds == sorted(expected)
    assert pod(documents)["serviceAccountName"] == SERVER_NAME
    # The controller keeps its own account: the server never runs as the controller.
    controller = [d for d in documents if d["kind"] == "Deployment" and d not in by_kind(
        documents, "Deployment")]  # fmt: skip
    assert controller[0]["spec"]["template"]["spec"]["serviceAccountName"] != SERVER_NAME
    (service,) = by_kind(documents, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    template_labels = by_kind(documents, "Deployment")[0]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= template_labels.items()
    # A controller pod must not match the server's Service.
    controller_labels = controller[0]["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= controller_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"
    assert containers(documents)["server"]["ports"] == [
        {"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"},
        {"name": "metrics", "containerPort": SERVER_METRICS_PORT, "protocol": "TCP"},
    ]


def test_only_the_server_container_holds_the_token_and_the_renderer_serves_its_socket() -> None:
    documents = dry_run("--with-server")
    spec = pod(documents)
    assert spec["automountServiceAccountToken"] is False
    server, renderer = containers(documents)["server"], containers(documents)["renderer"]
    assert mounts(server)["api-token"]["mountPath"] == TOKEN_PATH
    assert "api-token" not in mounts(renderer)
    assert all(m["mountPath"] != TOKEN_PATH for m in renderer["volumeMounts"])
    assert renderer["args"] == ["render-server", "--socket", RENDER_SOCKET]
    assert server["args"][server["args"].index("--render-socket") + 1] == RENDER_SOCKET
    assert mounts(renderer)["cache"]["readOnly"] is True
    assert not mounts(server)["cache"].get("readOnly")  # the server clones into it


@pytest.mark.parametrize("name", ["server", "renderer"])
def test_both_containers_are_locked_down(name: str) -> None:
    documents = dry_run("--with-server")
    container = containers(documents)[name]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert pod(documents)["securityContext"]["runAsNonRoot"] is True


def test_the_probes_are_the_servers_own() -> None:
    server = containers(dry_run("--with-server"))["server"]
    assert server["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert server["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert server["startupProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("scope", ["cluster", "namespace"])
def test_the_pod_runs_a_command_the_server_accepts(scope: str) -> None:
    (deployment,) = [
        d for d in server_manifests("gitops", scope=scope) if d["kind"] == "Deployment"
    ]
    (server,) = [c for c in deployment["spec"]["template"]["spec"]["containers"]
                 if c["name"] == "server"]  # fmt: skip
    assert server["args"][0] == "server"
    ctx = server_command.make_context("server", list(server["args"][1:]))
    assert ctx.params["address"] == "0.0.0.0"  # reached through the Service
    assert ctx.params["insecure_no_auth"] is False
    assert ctx.params["namespace"] == "gitops"
    assert ctx.params["scope"] == scope
    assert str(ctx.params["render_socket"]) == RENDER_SOCKET


def test_single_sign_on_is_configured_from_an_optional_configmap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = containers(dry_run("--with-server"))["server"]
    assert server["envFrom"] == [{"configMapRef": {"name": SERVER_CONFIGMAP, "optional": True}}]
    # The keys the README tells admins to put there are the ones the command reads.
    settings = {
        "DRIFTLESS_OIDC_ISSUER": "https://sso.example.com",
        "DRIFTLESS_OIDC_CLIENT_ID": "driftless",
        "DRIFTLESS_OIDC_CLIENT_SECRET_REF": "driftless-oidc:client-secret",
        "DRIFTLESS_SECURE_COOKIES": "true",
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    ctx = server_command.make_context("server", list(server["args"][1:]))
    assert ctx.params["oidc_issuer"] == "https://sso.example.com"
    assert ctx.params["oidc_client_id"] == "driftless"
    assert ctx.params["secure_cookies"] is True


def test_no_rule_reaches_a_secret_outside_the_servers_namespace() -> None:
    documents = dry_run("--with-server")
    for kind, rule in rules(documents):
        if kind == "ClusterRole":
            assert "secrets" not in rule.get("resources", []), rule
            assert "*" not in rule.get("resources", []) and "*" not in rule["verbs"], rule
    bound = {(b["kind"], b["roleRef"]["name"]) for b in server_objects(documents)
             if "roleRef" in b}  # fmt: skip
    # The only role not written here is Kubernetes' read-only view (which never grants Secrets).
    foreign = {name for _, name in bound} - {
        d["metadata"]["name"] for d in server_objects(documents)
    }
    assert foreign == {VIEW_ROLE}


def test_secrets_are_written_only_by_name_and_never_deleted() -> None:
    documents = dry_run("--with-server")
    secret_rules = [rule for kind, rule in rules(documents) if "secrets" in rule["resources"]]
    assert {kind for kind, rule in rules(documents) if "secrets" in rule["resources"]} == {"Role"}
    for rule in secret_rules:
        writes = set(rule["verbs"]) & WRITES
        if writes:
            assert writes <= {"update", "patch"}, rule
            assert set(rule["resourceNames"]) == set(SERVER_SECRETS), rule
    assert not any("delete" in rule["verbs"] for rule in secret_rules)


def test_the_server_may_not_create_a_secret_so_the_install_makes_its_secrets_empty() -> None:
    """RBAC cannot limit ``create`` by name: a Secret of type service-account-token
    annotated for the controller would hand the server the controller's token."""
    documents = dry_run("--with-server")
    for _, rule in rules(documents):
        if {"secrets", "*"} & set(rule["resources"]):
            assert not {"create", "*"} & set(rule["verbs"]), rule
    made = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Secret"}
    assert set(made) == set(SERVER_SECRETS)
    for secret in made.values():
        assert secret["metadata"]["namespace"] == "gitops"
        assert secret["metadata"]["labels"] == {"app.kubernetes.io/part-of": "driftless"}
        assert secret["type"] == "Opaque"
        assert "data" not in secret and "stringData" not in secret  # apply never wipes them
    assert not [d for d in dry_run() if d["kind"] == "Secret"]


def test_the_only_kind_the_server_writes_is_the_application() -> None:
    for _, rule in rules(dry_run("--with-server")):
        if set(rule["verbs"]) & WRITES and "secrets" not in rule["resources"]:
            if rule["resources"] == ["events"]:  # the audit trail: it creates Events only
                assert set(rule["verbs"]) & WRITES == {"create"}, rule
                continue
            assert rule["apiGroups"] == ["driftless.dev"] and rule["resources"] == ["applications"]


@pytest.mark.parametrize("flags", [("--namespaced",), ("--scope", "namespace")])
def test_a_namespaced_install_gives_the_server_nothing_cluster_wide(flags: tuple[str, ...]) -> None:
    documents = dry_run("--with-server", *flags)
    assert not [d for d in server_objects(documents) if d["kind"] in CLUSTER_SCOPED]
    assert all(d["metadata"].get("namespace") == "gitops" for d in server_objects(documents))
    views = [d for d in by_kind(documents, "RoleBinding") if d["roleRef"]["name"] == VIEW_ROLE]
    assert len(views) == 1 and views[0]["roleRef"]["kind"] == "ClusterRole"
    args = containers(documents)["server"]["args"]
    assert args[args.index("--scope") + 1] == "namespace"


def test_two_installs_never_share_a_cluster_wide_name_and_uninstall_knows_both_scopes() -> None:
    def cluster_names(namespace: str) -> set[str]:
        return {d["metadata"]["name"] for d in server_manifests(namespace) if d["kind"] in
                CLUSTER_SCOPED}  # fmt: skip

    assert cluster_names("a").isdisjoint(cluster_names("b"))
    removed = {(d["kind"], d["metadata"]["name"]) for d in all_server_rbac("a")}
    for scope in ("cluster", "namespace"):
        made = {(d["kind"], d["metadata"]["name"]) for d in server_manifests("a", scope=scope)
                if "rbac" in d["apiVersion"]}  # fmt: skip
        assert made <= removed


def test_crds_only_and_with_server_contradict() -> None:
    result = CliRunner().invoke(cli, ["install", "--dry-run", "--crds-only", "--with-server"])
    assert result.exit_code == 2
    assert "--with-server" in result.output


def test_the_server_serves_metrics_on_its_own_port_never_through_the_service() -> None:
    documents = dry_run("--with-server")
    server = containers(documents)["server"]
    ctx = server_command.make_context("server", list(server["args"][1:]))
    assert ctx.params["metrics_address"] == ("0.0.0.0", SERVER_METRICS_PORT)
    assert ctx.params["port"] == SERVER_PORT != SERVER_METRICS_PORT
    (service,) = by_kind(server_objects(documents), "Service")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
