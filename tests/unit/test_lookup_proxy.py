"""The Helm lookup proxy's decisions: which requests it answers, what a Project lets
a chart read, and the kubeconfig and wire form of a render's access."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftless.core.errors import RenderError, TransientError
from driftless.core.models import ApplicationSource
from driftless.core.project import Project, ProjectViolationError, check_helm_lookup
from driftless.render import KubeTarget, helm, wire
from driftless.render.detect import Renderer
from driftless.render.lookup_proxy import (
    MAX_LIST_BYTES,
    ApiPath,
    LookupAccess,
    LookupScope,
    RefusedError,
    check_read,
    encoded_item,
    kubeconfig,
    list_body,
    list_chunks,
    on_destination_server,
    parse_request,
    served_type,
    status,
)
from driftless.render.lookup_server import Grant

SERVER = "https://kubernetes.default.svc"
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@dataclass(frozen=True)
class Served:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool


SERVED = [
    Served("", "v1", "ConfigMap", "configmaps", True),
    Served("", "v1", "Secret", "secrets", True),
    Served("", "v1", "Namespace", "namespaces", False),
    Served("", "v1", "Pod", "pods", True),
    Served("apps", "v1", "Deployment", "deployments", True),
    Served("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Served("storage.k8s.io", "v1", "StorageClass", "storageclasses", False),
]


def scope(**spec: object) -> LookupScope:
    project = Project.model_validate(
        {
            "metadata": {"name": "team"},
            "spec": {
                "destinations": [{"server": "*", "namespace": "team-*"}],
                "allowHelmLookup": True,
                **spec,
            },
        }
    )
    return LookupScope(project, SERVER, frozenset({"driftless"}))


def res(
    group: str, resource: str, namespace: str | None = None, name: str | None = None
) -> ApiPath:
    return ApiPath("resource", group, "v1", resource, namespace, name)


def refusal(method: str, raw: str) -> RefusedError:
    with pytest.raises(RefusedError) as caught:
        parse_request(method, raw)
    return caught.value


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("/version", ApiPath("version")),
        ("/api", ApiPath("api")),
        ("/apis", ApiPath("apis")),
        ("/api/v1", ApiPath("discovery", "", "v1")),
        ("/apis/apps/v1", ApiPath("discovery", "apps", "v1")),
        ("/api/v1/namespaces/team-a/configmaps/x", res("", "configmaps", "team-a", "x")),
        ("/api/v1/namespaces/team-a/configmaps", res("", "configmaps", "team-a")),
        ("/api/v1/namespaces/team-a", res("", "namespaces", None, "team-a")),
        ("/api/v1/namespaces", res("", "namespaces")),
        ("/apis/apps/v1/namespaces/ns/deployments/web", res("apps", "deployments", "ns", "web")),
        ("/apis/rbac/v1/clusterroles/system:view", res("rbac", "clusterroles", name="system:view")),
        # ``timeout`` is what clients add on their own; it changes nothing.
        ("/api/v1?timeout=32s", ApiPath("discovery", "", "v1")),
    ],
)  # fmt: skip
def test_reads_are_parsed_as_the_api_server_parses_them(raw: str, parsed: ApiPath) -> None:
    assert parse_request("GET", raw) == parsed


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT"])
def test_every_verb_but_get_is_refused(method: str) -> None:
    refused = refusal(method, "/api/v1/namespaces/team-a/configmaps")
    assert refused.status == 403 and "read-only" in refused.message


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("/api/v1/namespaces/team-a/configmaps?watch=true", "watch is not allowed"),
        ("/api/v1/namespaces/team-a/configmaps?watch=1&timeout=1s", "watch is not allowed"),
        ("/api/v1/namespaces/team-a/configmaps?labelSelector=a", "labelSelector"),
        ("/api/v1/namespaces/team-a/configmaps?fieldSelector=x", "fieldSelector"),
        ("/api/v1/namespaces/team-a/configmaps?watch", "malformed query"),
        # Subresources are not object reads: logs, exec, proxies to in-cluster services.
        ("/api/v1/namespaces/team-a/pods/web/log", "subresource log"),
        ("/api/v1/namespaces/team-a/pods/web/exec", "subresource exec"),
        ("/api/v1/namespaces/team-a/services/web/proxy/admin", "subresource proxy/admin"),
        ("/api/v1/nodes/n1/proxy", "subresource proxy"),
        ("/api/v1/namespaces/team-a/status", "subresource status"),
        # Path tricks: dots, encoded slashes and dots, empty segments.
        ("/api/v1/namespaces/team-a/configmaps/../../secrets", "segment"),
        ("/api/v1/namespaces/team-a/configmaps/..", "segment"),
        ("/api/v1/namespaces/./configmaps", "segment"),
        ("/api/v1/namespaces/team-a%2Fsecrets/configmaps", "segment"),
        ("/api/v1/namespaces/team-a/configmaps/%2e%2e", "segment"),
        ("/api/v1//namespaces/team-a/configmaps", "segment"),
        ("/api/v1/namespaces/team-a/configmaps/", "segment"),
        ("/api/v1/namespaces/team-a/configmaps/x#frag", "segment"),
        ("/api/v1/namespaces/team\x00/configmaps", "segment"),
        ("/api/v1/namespaces/team-a\n/configmaps", "segment"),
        ("//evil.example/api", "segment"),
        ("api/v1", "malformed"),
        ("/", "segment"),
        ("/apis/apps", "only discovery"),
        ("/openapi/v2", "only discovery"),
        ("/healthz", "only discovery"),
    ],
)
def test_requests_outside_the_grammar_are_refused(raw: str, words: str) -> None:
    refused = refusal("GET", raw)
    assert refused.status == 403
    assert words in refused.message, refused.message


def test_the_resource_must_be_served_at_the_scope_asked() -> None:
    found = served_type(parse_request("GET", "/api/v1/namespaces/team-a/configmaps/x"), SERVED)
    assert found.kind == "ConfigMap"
    for raw in ("/api/v1/namespaces/team-a/widgets/x", "/api/v1/namespaces/team-a/namespaces/x"):
        with pytest.raises(RefusedError) as caught:
            served_type(parse_request("GET", raw), SERVED)
        assert caught.value.status == 404


def read(grant: LookupScope, raw: str) -> None:
    path = parse_request("GET", raw)
    check_read(grant, served_type(path, SERVED), path.namespace)


def refused_read(grant: LookupScope, raw: str) -> str:
    with pytest.raises(RefusedError) as caught:
        read(grant, raw)
    assert caught.value.status == 403
    return caught.value.message


def test_namespaced_reads_in_the_project_s_namespaces_are_allowed() -> None:
    read(scope(), "/api/v1/namespaces/team-a/configmaps/settings")
    read(scope(), "/api/v1/namespaces/team-b/configmaps")
    read(scope(), "/apis/apps/v1/namespaces/team-a/deployments/web")


def test_namespaces_outside_the_project_are_refused_by_name() -> None:
    message = refused_read(scope(), "/api/v1/namespaces/kube-system/configmaps/x")
    assert "ConfigMap in namespace kube-system" in message
    assert "not a destination of project team" in message


def test_the_controller_s_namespace_needs_a_literal_destination() -> None:
    wide = scope(destinations=[{"server": "*", "namespace": "*"}])
    read(wide, "/api/v1/namespaces/anything/configmaps/x")
    assert "namespace driftless" in refused_read(wide, "/api/v1/namespaces/driftless/configmaps/x")


def test_destinations_of_another_cluster_do_not_count() -> None:
    elsewhere = scope(destinations=[{"server": "https://other:6443", "namespace": "*"}])
    refused_read(elsewhere, "/api/v1/namespaces/team-a/configmaps/x")


def test_lists_across_all_namespaces_are_refused() -> None:
    assert "across all namespaces" in refused_read(scope(), "/api/v1/configmaps")
    assert "across all namespaces" in refused_read(scope(), "/apis/apps/v1/deployments")


@pytest.mark.parametrize(
    "raw",
    [
        "/api/v1/namespaces/team-a/secrets/db",
        "/api/v1/namespaces/team-a/secrets",
        "/api/v1/secrets",
    ],
)
def test_secrets_are_never_readable_even_where_everything_else_is(raw: str) -> None:
    everything = scope(
        destinations=[{"server": "*", "namespace": "*"}],
        clusterResourceAllowList=[{"group": "*", "kind": "*"}],
    )
    assert "Secrets are never readable" in refused_read(everything, raw)


def test_the_namespaced_deny_list_applies_to_reads() -> None:
    narrow = scope(namespaceResourceDenyList=[{"group": "apps", "kind": "*"}])
    read(narrow, "/api/v1/namespaces/team-a/configmaps/x")
    message = refused_read(narrow, "/apis/apps/v1/namespaces/team-a/deployments/web")
    assert "Deployment.apps in namespace team-a" in message and "not allowed" in message


def test_a_project_of_another_cluster_reads_nothing_here_cluster_scoped_kinds_included() -> None:
    """The allow list names kinds, not clusters: a Project that deploys to another
    cluster only reads no Namespace or ClusterRole of this one."""
    elsewhere = scope(
        destinations=[{"server": "https://team-cluster:6443", "namespace": "*"}],
        clusterResourceAllowList=[{"group": "*", "kind": "*"}],
    )
    for raw in (
        "/api/v1/namespaces/kube-system",
        "/api/v1/namespaces",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin",
        "/api/v1/namespaces/team-a/configmaps/x",
    ):
        message = refused_read(elsewhere, raw)
        assert f"cluster {SERVER} is not a destination of project team" in message, raw
    # The same Project on its own cluster reads them.
    here = LookupScope(elsewhere.project, "https://team-cluster:6443")
    read(here, "/api/v1/namespaces/kube-system")
    read(here, "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin")


def test_a_project_with_no_destination_reads_nothing() -> None:
    none = scope(destinations=[], clusterResourceAllowList=[{"group": "*", "kind": "*"}])
    assert "is not a destination" in refused_read(none, "/api/v1/namespaces/kube-system")


def test_a_list_is_written_as_the_api_server_writes_it_from_encoded_items() -> None:
    config_maps = SERVED[0]
    items = [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}, "data": {"k": "\u00e9"}}]
    encoded = [encoded_item(item) for item in items]
    whole = json.loads(b"".join(list_chunks(config_maps, encoded, "42")))
    assert whole == list_body(config_maps, items, "42")
    assert json.loads(b"".join(list_chunks(config_maps, [], "7")))["items"] == []
    assert sum(map(len, encoded)) < MAX_LIST_BYTES


def test_the_destination_server_is_matched_as_for_deploying() -> None:
    assert on_destination_server(scope().project, SERVER)
    glob = scope(destinations=[{"server": "https://*.prod:6443", "namespace": "*"}]).project
    assert on_destination_server(glob, "https://eu.prod:6443")
    assert not on_destination_server(glob, "https://eu.PROD:6443")  # case-sensitive, as deploying
    assert not on_destination_server(glob, "https://eu.prod.evil:6443")
    assert not on_destination_server(glob, SERVER)


def test_cluster_scoped_kinds_need_the_allow_list() -> None:
    message = refused_read(scope(), "/api/v1/namespaces/team-a")
    assert "cluster-scoped kind Namespace" in message
    refused_read(scope(), "/apis/storage.k8s.io/v1/storageclasses")
    allowed = scope(clusterResourceAllowList=[{"group": "storage.k8s.io", "kind": "*"}])
    read(allowed, "/apis/storage.k8s.io/v1/storageclasses/standard")
    refused_read(allowed, "/api/v1/namespaces")


def test_refusals_are_kubernetes_statuses_helm_prints() -> None:
    body = status(403, "Secret in namespace a: no")
    assert body["kind"] == "Status" and body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == "driftless lookup: Secret in namespace a: no"
    assert status(404, "gone")["reason"] == "NotFound"


def test_a_project_must_allow_lookup() -> None:
    check_helm_lookup(scope().project)
    with pytest.raises(ProjectViolationError, match="allowHelmLookup"):
        check_helm_lookup(Project.model_validate({"metadata": {"name": "p"}}))


def test_the_kubeconfig_names_the_proxy_and_the_token_only() -> None:
    access = LookupAccess("https://127.0.0.1:4321", CA, "t0ken")
    config = json.loads(kubeconfig(access))
    cluster = {
        "server": access.url,
        "certificate-authority-data": base64.b64encode(CA.encode()).decode(),
    }
    assert config["clusters"] == [{"name": "lookup", "cluster": cluster}]
    assert config["users"] == [{"name": "lookup", "user": {"token": "t0ken"}}]
    assert "t0ken" not in repr(access)
    flags = helm.lookup_arguments(Path("/tmp/x/lookup-kubeconfig"))
    assert flags == ["--dry-run=server", "--kubeconfig=/tmp/x/lookup-kubeconfig"]


def test_the_access_travels_in_the_render_request_and_stays_out_of_its_repr() -> None:
    source = ApplicationSource.model_validate(
        {"repoURL": "https://git.example.com/r.git", "path": "c", "helm": {"lookup": True}}
    )
    request = wire.RenderRequest(
        Renderer.HELM, source, Path("/t"), Path("/t/c"), "a", "ns", KubeTarget("v1.36.3"), 10.0,
        lookup=LookupAccess("https://127.0.0.1:4321", CA, "secret-token"),
    )  # fmt: skip
    again = wire.RenderRequest.from_json(request.to_json())
    assert again == request and again.source.helm is not None and again.source.helm.lookup
    assert "secret-token" not in repr(again)


@pytest.mark.parametrize(
    "lookup",
    [
        {"url": "https://evil.example:443", "ca": CA, "token": "t"},
        {"url": "http://127.0.0.1:1", "ca": CA, "token": "t"},
        {"url": "https://127.0.0.1:1", "ca": CA, "token": ""},
        {"url": "https://127.0.0.1:1", "ca": "", "token": "t"},
        {"url": "https://127.0.0.1:1", "ca": CA},
        "https://127.0.0.1:1",
    ],
)
def test_a_request_whose_lookup_is_not_a_loopback_proxy_is_malformed(lookup: object) -> None:
    source = ApplicationSource.model_validate({"repoURL": "https://g/r.git", "path": "c"})
    data = wire.RenderRequest(
        Renderer.HELM, source, Path("/t"), Path("/t/c"), "a", "ns", KubeTarget("v1"), 10.0
    ).to_json()
    data["lookup"] = lookup
    with pytest.raises((ValueError, KeyError, TypeError)):
        wire.RenderRequest.from_json(data)


def grant(**seen: object) -> Grant:
    access = LookupAccess("https://127.0.0.1:1", CA, "t")
    return Grant(access, scope(), lifetime=60.0, **seen)  # type: ignore[arg-type]


def test_a_token_s_lifetime_starts_at_its_first_use_not_at_the_grant() -> None:
    """A render queued for a render server slot longer than the lifetime still reads."""
    queued = grant()
    assert queued.valid(1000.0)  # first lookup, long after the grant was made
    assert queued.valid(1060.0)
    assert not queued.valid(1060.5) and queued.expired


def test_a_render_that_outlived_its_token_is_a_transient_failure() -> None:
    late = grant()
    late.valid(0.0)
    late.valid(61.0)
    helm_failed = RenderError("helm template failed: ... Unauthorized", file="c/t.yaml")
    error = late.explain(helm_failed)
    assert isinstance(error, TransientError) and not isinstance(error, RenderError)
    assert "past its token's 60 s lifetime" in error.message


def test_a_refused_lookup_names_the_refusal_where_helm_failed() -> None:
    helm_failed = RenderError("helm template failed: ... forbidden", file="c/t.yaml", line=3)
    error = grant(refusals=["Secret in namespace a: Secrets are never readable"]).explain(
        helm_failed
    )
    assert isinstance(error, RenderError)
    assert error.file == "c/t.yaml" and error.line == 3
    assert "Helm lookup refused: Secret in namespace a" in error.message


def test_an_unreachable_destination_makes_the_failure_transient() -> None:
    helm_failed = RenderError("helm template failed: ... 503", file="c/t.yaml")
    error = grant(unavailable="cannot reach the API server").explain(helm_failed)
    assert isinstance(error, TransientError) and not isinstance(error, RenderError)
    assert "could not read the destination" in error.message


def test_a_failure_without_lookup_trouble_is_left_as_it_is() -> None:
    helm_failed = RenderError("helm template failed: parse error", file="c/t.yaml")
    assert grant().explain(helm_failed) is helm_failed
