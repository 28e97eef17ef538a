"""Who decides whether a kind is namespaced: discovery, then only trustworthy CRDs."""

from __future__ import annotations

from typing import Any

from driftless.core.project import Project
from driftless.core.resources import Manifest, ResourceRef
from driftless.sync.redact import redact_api_error
from driftless.sync.scope import crd_claims, decide, is_builtin_group

ALLOW_ALL = Project.model_validate(
    {"spec": {"clusterResourceAllowList": [{"group": "*", "kind": "*"}]}}
)
NO_CRDS = Project.model_validate(
    {"spec": {"clusterResourceAllowList": [{"group": "", "kind": "Namespace"}]}}
)


def _crd(group: str, kind: str, scope: str = "Namespaced", **annotations: str) -> Manifest:
    obj: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"x.{group}", "annotations": annotations},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": "xs"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    return Manifest(obj)


def test_a_fake_crd_for_a_builtin_kind_claims_nothing() -> None:
    fake = _crd("rbac.authorization.k8s.io", "ClusterRoleBinding")
    assert crd_claims([fake], ALLOW_ALL) == {}
    assert crd_claims([_crd("", "Secret"), _crd("apps", "Deployment")], ALLOW_ALL) == {}
    assert crd_claims([_crd("driftless.dev", "Project")], ALLOW_ALL) == {}


def test_skipped_or_hook_crds_claim_nothing() -> None:
    skip = _crd("example.com", "Widget", **{"driftless.dev/hook": "Skip"})
    hook = _crd("example.com", "Gadget", **{"driftless.dev/hook": "PreSync"})
    assert crd_claims([skip, hook], ALLOW_ALL) == {}


def test_crds_the_project_forbids_claim_nothing() -> None:
    assert crd_claims([_crd("example.com", "Widget")], NO_CRDS) == {}


def test_an_applied_allowed_crd_speaks_for_its_new_kind() -> None:
    claims = crd_claims([_crd("example.com", "Widget", "Cluster")], ALLOW_ALL)
    assert claims == {("example.com/v1", "Widget"): False}


def test_discovery_wins_over_any_claim() -> None:
    key = ("example.com/v1", "Widget")
    assert decide(key, True, {key: False}) is True
    assert decide(key, False, {key: True}) is False
    assert decide(key, None, {key: True}) is True
    assert decide(key, None, {}) is None


def test_builtin_groups() -> None:
    for group in ("", "apps", "batch", "rbac.authorization.k8s.io", "k8s.io", "x.kubernetes.io"):
        assert is_builtin_group(group), group
    for group in ("example.com", "cluster.x-k8s.io", "monitoring.coreos.com"):
        assert not is_builtin_group(group), group


def test_write_errors_about_secrets_are_redacted_for_every_path() -> None:
    secret = ResourceRef("", "Secret", "ns", "s")
    message = 'Secret "s" is invalid: data[token]: Invalid value: "hunter2": bad'
    assert "hunter2" not in redact_api_error(message, secret)
    assert "hunter2" not in redact_api_error("expected map, got &{hunter2 x}", secret)
    configmap = ResourceRef("", "ConfigMap", "ns", "c")
    assert redact_api_error(message, configmap) == message


def test_an_untrusted_crd_is_named_in_the_message() -> None:
    from driftless.core.errors import ValidationError
    from driftless.core.project import ProjectViolationError
    from driftless.sync.scope import distrust

    key = ("example.com/v1", "Widget")
    refused = distrust([_crd("example.com", "Widget")], NO_CRDS, key)
    assert isinstance(refused, ProjectViolationError)
    skipped = _crd("example.com", "Widget", **{"driftless.dev/hook": "Skip"})
    assert isinstance(distrust([skipped], ALLOW_ALL, key), ValidationError)
    builtin = distrust([_crd("apps", "Widget")], ALLOW_ALL, ("apps/v1", "Widget"))
    assert builtin is not None and "built into Kubernetes" in builtin.message
    assert distrust([], ALLOW_ALL, key) is None
