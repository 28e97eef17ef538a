"""``driftless import --from-cluster`` against the embedded control plane with
the peers' CRDs installed: Argo CD and Flux objects applied as their users
write them come out as driftless objects; ``--apply`` creates them and the
first sync adopts what "Argo CD" deployed (same uid, its marks still there)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import yaml

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.kube.discovery import UnknownKindError
from tests.fixtures.git import MakeGitRepo
from tests.integration.cli_driver import invoke
from tests.integration.helpers import APPS_NAMESPACE, ready, unique, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]

# (group, version, kind, plural) of the peers' kinds driftless import reads.
PEER_CRDS = [
    ("argoproj.io", "v1alpha1", "Application", "applications"),
    ("argoproj.io", "v1alpha1", "AppProject", "appprojects"),
    ("argoproj.io", "v1alpha1", "ApplicationSet", "applicationsets"),
    ("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories"),
    ("source.toolkit.fluxcd.io", "v1", "HelmRepository", "helmrepositories"),
    ("source.toolkit.fluxcd.io", "v1beta2", "OCIRepository", "ocirepositories"),
    ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"),
    ("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases"),
]
_CRD_API = "apiextensions.k8s.io/v1"
_OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def peer_crd(group: str, version: str, kind: str, plural: str) -> JSON:
    """A minimal structural CRD: spec and status kept as written."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": _OPEN, "status": _OPEN},
                        }
                    },
                }
            ],
        },
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def peer_crds(kube: KubeClient) -> AsyncIterator[None]:
    """The peers' CRDs while the test runs, removed after it.

    Removed because kubectl resolves ``application`` to argoproj.io's kind
    once that exists, and later tests run ``kubectl get application``.
    """
    await install_peer_crds(kube)
    yield
    names = [f"{plural}.{group}" for group, _, _, plural in PEER_CRDS]
    for name in names:
        await kube.delete(_CRD_API, "CustomResourceDefinition", name)
    deadline = time.monotonic() + 120
    while any([await kube.get(_CRD_API, "CustomResourceDefinition", n) for n in names]):
        assert time.monotonic() < deadline, "the peers' CRDs outlived their deletion"
        await asyncio.sleep(0.5)
    await kube.discovery.refresh()


async def install_peer_crds(kube: KubeClient) -> None:
    for group, version, kind, plural in PEER_CRDS:
        await kube.apply(peer_crd(group, version, kind, plural), field_manager="test")
    deadline = time.monotonic() + 60
    for group, version, kind, _ in PEER_CRDS:
        while True:
            try:
                await kube.discovery.refresh()
                await kube.list(f"{group}/{version}", kind)
                break
            except UnknownKindError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)


async def namespace(kube: KubeClient, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    await kube.apply(body, field_manager="test")


def configmap(name: str, value: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}}
    )


async def test_import_from_cluster_prints_then_applies_and_the_sync_adopts(
    kube: KubeClient,
    controller: Controller,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    peer_crds: None,
) -> None:
    name = unique("argo")
    flux_name = f"{name}-flux"
    target = f"{name}-ns"
    for ns in ("argocd", "flux-system", target):
        await namespace(kube, ns)
    repo = make_git_repo(
        {
            "app/settings.yaml": configmap("settings", "from-git"),
            "flux/kustomization.yaml": "resources: [cm.yaml]\n",
            "flux/cm.yaml": configmap(f"{name}-flux-settings", "from-flux"),
        }
    )
    # What Argo CD deployed: its tracking marks, written by its field manager.
    tracking = f"{name}:/ConfigMap:{target}/settings"
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "settings",
                "namespace": target,
                "labels": {"app.kubernetes.io/instance": name},
                "annotations": {"argocd.argoproj.io/tracking-id": tracking},
            },
            "data": {"v": "from-argo"},
        },
        field_manager="argocd-controller",
    )
    before = await kube.get("v1", "ConfigMap", "settings", target)
    assert before is not None
    argo_app: JSON = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo.url, "targetRevision": "main", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": target},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }
    git_repository: JSON = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": flux_name, "namespace": "flux-system"},
        "spec": {"interval": "1m", "url": repo.url, "ref": {"branch": "main"}},
    }
    kustomization: JSON = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": flux_name, "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "path": "./flux",
            "prune": True,
            "targetNamespace": target,
            "sourceRef": {"kind": "GitRepository", "name": flux_name},
        },
    }
    for obj in (argo_app, git_repository, kustomization):
        await kube.apply(obj, field_manager="test")

    printed = await invoke(devcluster.kubeconfig, "import", "--from-cluster")
    assert printed.exit_code == 0, printed.output
    apps = {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all(printed.stdout)
        if doc and doc["kind"] == APPLICATION_KIND
    }
    assert apps[name]["spec"]["source"] == {
        "repoURL": repo.url,
        "targetRevision": "main",
        "path": "app",
    }
    assert apps[name]["spec"]["destination"]["namespace"] == target
    assert apps[flux_name]["spec"]["source"]["kustomize"] == {"namespace": target}
    assert apps[flux_name]["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # Printing creates nothing.
    assert await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE) is None

    applied = await invoke(devcluster.kubeconfig, "import", "--from-cluster", "--apply")
    assert applied.exit_code == 0, applied.output
    assert f"application/{name} applied" in applied.stdout
    await wait_for(kube, name, ready, timeout=120)
    await wait_for(kube, flux_name, ready, timeout=120)

    after = await kube.get("v1", "ConfigMap", "settings", target)
    assert after is not None
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # adopted, not recreated
    assert after["data"] == {"v": "from-git"}
    annotations = after["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/tracking-id"] == tracking  # still readable
    assert annotations["driftless.dev/tracking-id"].startswith(f"{APPS_NAMESPACE}_{name}:")
    assert after["metadata"]["labels"]["app.kubernetes.io/instance"] == name
    managers = {f["manager"] for f in after["metadata"]["managedFields"]}
    assert {"driftless", "argocd-controller"} <= managers  # taken over field by field
    flux_cm = await kube.get("v1", "ConfigMap", f"{name}-flux-settings", target)
    assert flux_cm is not None and flux_cm["data"] == {"v": "from-flux"}

    # A second import does not silently replace the apps it (or a user) made.
    again = await invoke(devcluster.kubeconfig, "import", "--from-cluster", "--apply")
    assert again.exit_code == 2
    assert f"application/{name}" in again.stderr and "nothing applied" in again.stderr
    replaced = await invoke(
        devcluster.kubeconfig, "import", "--from-cluster", "--apply", "--upsert"
    )
    assert replaced.exit_code == 0, replaced.output
    for obj in (argo_app, git_repository, kustomization):
        meta = obj["metadata"]
        await kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"])


async def test_import_from_cluster_reads_projects_helm_releases_their_values_and_secrets(
    kube: KubeClient, devcluster: DevCluster, peer_crds: None
) -> None:
    name = unique("peers")
    for ns in ("argocd", "flux-system"):
        await namespace(kube, ns)
    token = "tok-" + name  # a credential value: must never reach stderr
    objects: list[JSON] = [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {
                "sourceRepos": ["https://github.com/example/*"],
                "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "web"}],
                "syncWindows": [{"kind": "allow", "schedule": "10 1 * * *", "duration": "1h"}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": "argocd",
                "labels": {"argocd.argoproj.io/secret-type": "repository"},
            },
            "stringData": {"url": "https://github.com/example/private", "password": token},
        },
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"interval": "5m", "url": "https://stefanprodan.github.io/podinfo"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-values", "namespace": "flux-system"},
            "data": {"values.yaml": "replicaCount: 3\n"},
        },
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": f"{name}-rel", "namespace": "flux-system"},
            "spec": {
                "interval": "10m",
                "chart": {
                    "spec": {
                        "chart": "podinfo",
                        "version": "6.5.0",
                        "sourceRef": {"kind": "HelmRepository", "name": name},
                    }
                },
                "valuesFrom": [{"kind": "ConfigMap", "name": f"{name}-values"}],
                "values": {"ui": {"color": "blue"}},
            },
        },
    ]
    for obj in objects:
        await kube.apply(obj, field_manager="test")
    try:
        result = await invoke(devcluster.kubeconfig, "import", "--from-cluster")
        # The project's sync windows cannot be expressed: listed, exit 1.
        assert result.exit_code == 1
        assert f"not expressible: AppProject argocd/{name}: spec.syncWindows" in result.stderr
        assert f"skipped: Secret argocd/{name}: holds credentials" in result.stderr
        assert token not in result.output
        docs = {
            (d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(result.stdout) if d
        }
        project = docs[("Project", name)]
        assert project["spec"]["sourceRepos"] == ["https://github.com/example/*"]
        release = docs[(APPLICATION_KIND, f"{name}-rel")]["spec"]["source"]
        assert release["chart"] == "podinfo" and release["targetRevision"] == "6.5.0"
        assert yaml.safe_load(release["helm"]["values"]) == {
            "replicaCount": 3,
            "ui": {"color": "blue"},
        }
        with_secrets = await invoke(
            devcluster.kubeconfig, "import", "--from-cluster", "--include-secrets"
        )
        secrets = [
            d
            for d in yaml.safe_load_all(with_secrets.stdout)
            if d and d["kind"] == "Secret" and d["metadata"]["labels"]
        ]
        assert any(
            s["metadata"]["labels"] == {"driftless.dev/secret-type": "repository"} for s in secrets
        )
        assert token not in with_secrets.stderr
    finally:
        for obj in objects:
            meta = obj["metadata"]
            await kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"])
