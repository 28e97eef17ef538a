"""The pure half of the binary builds: version table, wrapper go.mod, ldflags."""

from __future__ import annotations

import re

import pytest

from driftless.devcluster import gobuild, versions
from driftless.devcluster.versions import Recipe

UPSTREAM_GOMOD = """\
module k8s.io/kubernetes

go 1.26.0

require (
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
\tgithub.com/spf13/cobra v1.10.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/kube-openapi => k8s.io/kube-openapi v0.0.0-20250101
)
"""


def test_version_table_has_unique_names_and_release_tags() -> None:
    names = [c.name for c in versions.ALL]
    assert len(names) == len(set(names))
    for component in versions.ALL:
        assert re.fullmatch(r"v\d+\.\d+\.\d+", component.version), component
        suffix = f"-{component.source_digest}" if component.recipe is Recipe.SOURCE else ""
        assert component.filename == f"{component.name}-{component.version}{suffix}"
    assert set(versions.CONTROL_PLANE) <= set(versions.ALL)
    assert set(versions.TOOLS) <= set(versions.ALL)


def test_kubernetes_components_share_one_version_and_module() -> None:
    kube = [c for c in versions.ALL if c.recipe is Recipe.KUBERNETES]
    assert {c.name for c in kube} == {
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubectl",
    }
    assert {(c.module, c.version) for c in kube} == {("k8s.io/kubernetes", "v1.36.3")}
    assert len({gobuild.workdir_name(c) for c in kube}) == 1


def test_staging_modules_are_only_the_local_replaces() -> None:
    assert gobuild.staging_modules(UPSTREAM_GOMOD) == ["k8s.io/api", "k8s.io/client-go"]


def test_staging_version() -> None:
    assert gobuild.staging_version("v1.36.3") == "v0.36.3"
    with pytest.raises(ValueError):
        gobuild.staging_version("v2.0.0")
    with pytest.raises(ValueError):
        gobuild.staging_version("master")


def test_kubernetes_wrapper_gomod_replaces_staging_with_published_modules() -> None:
    text = gobuild.wrapper_gomod(versions.KUBE_APISERVER, UPSTREAM_GOMOD)
    assert "module driftless.local/k8s-io-kubernetesbuild\n" in text
    assert f"go {gobuild.GO_DIRECTIVE}\n" in text
    assert "require k8s.io/kubernetes v1.36.3\n" in text
    assert "\tk8s.io/api => k8s.io/api v0.36.3\n" in text
    assert "\tk8s.io/client-go => k8s.io/client-go v0.36.3\n" in text
    assert "kube-openapi" not in text


def test_kubernetes_wrapper_needs_the_upstream_gomod() -> None:
    with pytest.raises(ValueError):
        gobuild.wrapper_gomod(versions.KUBECTL)
    with pytest.raises(ValueError):
        gobuild.wrapper_gomod(versions.KUBECTL, "module k8s.io/kubernetes\n")


def test_plain_wrapper_gomod_requires_the_module_without_replaces() -> None:
    text = gobuild.wrapper_gomod(versions.ETCD)
    assert "require go.etcd.io/etcd/server/v3 v3.6.16\n" in text
    assert "replace" not in text


def test_kubernetes_ldflags_stamp_the_version() -> None:
    flags = gobuild.ldflags(versions.KUBE_APISERVER, "2026-07-22T18:07:38Z")
    assert flags.startswith("-s -w ")
    assert "-X k8s.io/component-base/version.gitVersion=v1.36.3" in flags
    assert "-X k8s.io/component-base/version.gitMajor=1" in flags
    assert "-X k8s.io/component-base/version.gitMinor=36" in flags
    assert "-X k8s.io/component-base/version.buildDate=2026-07-22T18:07:38Z" in flags


def test_helm_ldflags_stamp_its_version_variable() -> None:
    flags = gobuild.ldflags(versions.HELM, "x")
    assert flags == "-s -w -X helm.sh/helm/v3/internal/version.version=v3.22.0"
    assert gobuild.ldflags(versions.ETCD, "x") == "-s -w"
