"""``driftless import``'s converters: Argo CD and Flux objects as their docs show
them -> the driftless objects, and every field without an equivalent listed."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from driftless.cli.imports.convert import convert_all
from driftless.cli.imports.report import Conversion, Severity
from driftless.core.models import Application
from driftless.core.project import Project

JSON = dict[str, Any]


def convert(text: str, *, include_secrets: bool = False) -> Conversion:
    return convert_all(
        list(yaml.safe_load_all(text)), namespace="driftless", include_secrets=include_secrets
    )


def unsupported(result: Conversion) -> set[tuple[str, str]]:
    return {(f.source, f.field) for f in result.findings if f.severity is Severity.UNSUPPORTED}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- Argo CD Application ---------------------------------------------------------------------

GUESTBOOK = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
  labels: {team: web}
spec:
  project: team-web
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: guestbook
    directory:
      recurse: true
      include: '*.yaml'
      exclude: 'skip/*'
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true, ServerSideApply=true]
    retry: {limit: 3, backoff: {duration: 10s, factor: 3, maxDuration: 5m}}
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers: [/spec/replicas]
  revisionHistoryLimit: 5
"""


def test_an_argo_application_becomes_the_same_driftless_application() -> None:
    result = convert(GUESTBOOK)
    assert not result.partial
    (app,) = result.objects
    assert app["metadata"] == {
        "name": "guestbook",
        "namespace": "driftless",
        "labels": {"team": "web"},
        "finalizers": ["resources-finalizer.driftless.dev"],
    }
    assert app["spec"] == {
        "project": "team-web",
        "source": {
            "repoURL": "https://github.com/argoproj/argocd-example-apps.git",
            "targetRevision": "HEAD",
            "path": "guestbook",
            "directory": {"recurse": True, "include": "*.yaml", "exclude": "skip/*"},
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True, "allowEmpty": False},
            "syncOptions": ["CreateNamespace=true"],
            "retry": {"limit": 3, "backoff": {"duration": "10s", "maxDuration": "5m", "factor": 3}},
        },
        "ignoreDifferences": [
            {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
        ],
        "revisionHistoryLimit": 5,
    }
    Application.model_validate(app)  # driftless accepts it as is
    notes = [f for f in result.findings if f.severity is Severity.NOTE]
    assert [f.field for f in notes] == ["spec.syncPolicy.syncOptions ServerSideApply=true"]


HELM_APP = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: redis, namespace: argocd}
spec:
  source:
    repoURL: https://charts.bitnami.com/bitnami
    chart: redis
    targetRevision: 17.3.7
    helm:
      releaseName: cache
      valueFiles: [values-prod.yaml]
      valuesObject: {replica: {replicaCount: 2}}
      parameters:
      - {name: auth.enabled, value: "false", forceString: true}
      fileParameters: [{name: cert, path: files/cert.pem}]
  destination: {name: in-cluster, namespace: cache}
"""


def test_a_helm_source_keeps_values_and_parameters_and_lists_file_parameters() -> None:
    result = convert(HELM_APP)
    (app,) = result.objects
    source = app["spec"]["source"]
    assert source["chart"] == "redis" and source["targetRevision"] == "17.3.7"
    assert source["helm"]["releaseName"] == "cache"
    assert source["helm"]["valueFiles"] == ["values-prod.yaml"]
    assert yaml.safe_load(source["helm"]["values"]) == {"replica": {"replicaCount": 2}}
    assert source["helm"]["parameters"] == [
        {"name": "auth.enabled", "value": "false", "forceString": True}
    ]
    assert app["spec"]["destination"] == {"name": "in-cluster", "namespace": "cache"}
    assert app["spec"]["project"] == "default"
    assert "syncPolicy" in app["spec"] and "automated" not in app["spec"]["syncPolicy"]
    assert unsupported(result) == {("Application argocd/redis", "spec.source.helm.fileParameters")}
    assert result.partial


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {
                "kustomize": {
                    "namePrefix": "p-",
                    "images": ["nginx:1.25"],
                    "commonLabels": {"env": "dev"},
                    "components": ["../c"],
                }
            },
            {
                "kustomize": {
                    "namePrefix": "p-",
                    "images": ["nginx:1.25"],
                    "commonLabels": {"env": "dev"},
                    "components": ["../c"],
                }
            },
        ),
        (
            {
                "directory": {
                    "jsonnet": {
                        "tlas": [{"name": "n", "value": "api"}],
                        "extVars": [{"name": "e", "value": "1+1", "code": True}],
                        "libs": ["vendor"],
                    }
                }
            },
            {
                "jsonnet": {
                    "tlas": [{"name": "n", "value": "api", "code": False}],
                    "extVars": [{"name": "e", "value": "1+1", "code": True}],
                    "libs": ["vendor"],
                }
            },
        ),
    ],
)
def test_kustomize_and_jsonnet_options_carry_over(source: JSON, expected: JSON) -> None:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a", "namespace": "argocd"},
        "spec": {
            "source": {"repoURL": "https://git.example.com/a.git", "path": "p", **source},
            "destination": {"namespace": "a"},
        },
    }
    result = convert_all([app], namespace="driftless", include_secrets=False)
    assert not result.partial
    got = result.objects[0]["spec"]["source"]
    assert {k: v for k, v in got.items() if k not in ("repoURL", "path")} == expected


@pytest.mark.parametrize(
    ("spec_patch", "field"),
    [
        (
            {
                "source": None,
                "sources": [
                    {"repoURL": "https://g/a.git", "path": "a"},
                    {"repoURL": "https://g/b.git", "ref": "values"},
                ],
            },
            "spec.sources[1:]",
        ),
        (
            {"syncPolicy": {"syncOptions": ["PrunePropagationPolicy=orphan"]}},
            "spec.syncPolicy.syncOptions PrunePropagationPolicy=orphan",
        ),
        (
            {"syncPolicy": {"managedNamespaceMetadata": {"labels": {"a": "b"}}}},
            "spec.syncPolicy.managedNamespaceMetadata",
        ),
        ({"syncPolicy": {"retry": {"limit": -1}}}, "spec.syncPolicy.retry.limit"),
        (
            {"ignoreDifferences": [{"kind": "Deployment", "jqPathExpressions": [".spec"]}]},
            "spec.ignoreDifferences[0].jqPathExpressions",
        ),
        ({"info": [{"name": "url", "value": "x"}]}, "spec.info"),
        (
            {
                "source": {
                    "repoURL": "https://g/a.git",
                    "directory": {"recurse": True, "jsonnet": {"libs": ["lib"]}},
                }
            },
            "spec.source.directory.recurse",
        ),
        (
            {"source": {"repoURL": "https://g/a.git", "kustomize": {"patches": []}}},
            "spec.source.kustomize.patches",
        ),
    ],
)
def test_argo_fields_without_an_equivalent_are_listed(spec_patch: JSON, field: str) -> None:
    spec: JSON = {
        "source": {"repoURL": "https://g/a.git", "path": "a"},
        "destination": {"namespace": "a"},
    }
    spec.update(spec_patch)
    if spec["source"] is None:
        del spec["source"]
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a", "namespace": "argocd"},
        "spec": spec,
    }
    result = convert_all([app], namespace="driftless", include_secrets=False)
    assert ("Application argocd/a", field) in unsupported(result)
    assert result.partial
    assert len(result.objects) == 1  # the rest of the app is still converted


# -- AppProject and ApplicationSet ----------------------------------------------------------

PROJECT = """
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: team-web, namespace: argocd}
spec:
  description: Web team
  sourceRepos: ['https://github.com/example/*']
  destinations:
  - {namespace: 'web-*', server: https://kubernetes.default.svc}
  - {namespace: prod, name: prod-cluster}
  - {namespace: x, name: unknown-cluster}
  clusterResourceWhitelist: [{group: '', kind: Namespace}]
  clusterResourceBlacklist: [{group: '*', kind: '*'}]
  namespaceResourceBlacklist: [{group: '', kind: ResourceQuota}]
  sourceNamespaces: [team-web]
  roles:
  - name: read-only
    description: Read-only
    policies: ['p, proj:team-web:read-only, applications, get, team-web/*, allow']
    groups: [web-devs]
    jwtTokens: [{iat: 1}]
  syncWindows: [{kind: deny, schedule: '* * * * *', duration: 1h}]
---
apiVersion: v1
kind: Secret
metadata:
  name: prod
  namespace: argocd
  labels: {argocd.argoproj.io/secret-type: cluster}
stringData:
  name: prod-cluster
  server: https://prod.example.com:6443
  config: '{"bearerToken": "s3cr3t-token", "tlsClientConfig": {"insecure": true}}'
"""


def test_an_app_project_becomes_a_project_and_lists_what_projects_cannot_say() -> None:
    result = convert(PROJECT)
    (project,) = [o for o in result.objects if o["kind"] == "Project"]
    assert project["spec"] == {
        "description": "Web team",
        "sourceRepos": ["https://github.com/example/*"],
        "sourceNamespaces": ["team-web"],
        "destinations": [
            {"server": "https://kubernetes.default.svc", "namespace": "web-*"},
            {"server": "https://prod.example.com:6443", "namespace": "prod"},
        ],
        "clusterResourceAllowList": [{"group": "", "kind": "Namespace"}],
        "namespaceResourceDenyList": [{"group": "", "kind": "ResourceQuota"}],
        "roles": [
            {
                "name": "read-only",
                "description": "Read-only",
                "policies": ["p, proj:team-web:read-only, applications, get, team-web/*, allow"],
                "groups": ["web-devs"],
            }
        ],
    }
    Project.model_validate(project)
    where = "AppProject argocd/team-web"
    assert unsupported(result) == {
        (where, "spec.destinations[2].name"),
        (where, "spec.clusterResourceBlacklist"),
        (where, "spec.roles[0].jwtTokens"),
        (where, "spec.syncWindows"),
    }
    skipped = [f for f in result.findings if f.severity is Severity.SKIPPED]
    assert [f.source for f in skipped] == ["Secret argocd/prod"]


def test_an_application_set_is_listed_whole() -> None:
    result = convert(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\n"
        "metadata: {name: clusters, namespace: argocd}\nspec: {generators: [{clusters: {}}]}\n"
    )
    assert result.objects == []
    (finding,) = result.findings
    assert finding.source == "ApplicationSet argocd/clusters"
    assert "no ApplicationSet" in finding.reason and result.partial


# -- Secrets ----------------------------------------------------------------------------------

REPO_SECRETS = f"""
apiVersion: v1
kind: Secret
metadata:
  name: private-repo
  namespace: argocd
  labels: {{argocd.argoproj.io/secret-type: repository}}
data:
  type: {b64("git")}
  url: {b64("https://github.com/example/private-repo")}
  username: {b64("robot")}
  password: {b64("hunter2-token")}
  project: {b64("team-web")}
---
apiVersion: v1
kind: Secret
metadata:
  name: org-creds
  namespace: argocd
  labels: {{argocd.argoproj.io/secret-type: repo-creds}}
stringData:
  url: https://github.com/example
  password: org-token-xyz
  githubAppID: "1"
"""


def test_repository_secrets_are_skipped_unless_asked_and_never_show_a_value() -> None:
    result = convert(REPO_SECRETS)
    assert result.objects == []
    lines = "\n".join(f.line() for f in result.findings)
    assert "hunter2-token" not in lines and "org-token-xyz" not in lines and "robot" not in lines
    assert {f.source for f in result.findings if f.severity is Severity.SKIPPED} == {
        "Secret argocd/private-repo",
        "Secret argocd/org-creds",
    }
    assert unsupported(result) == {
        ("Secret argocd/private-repo", "data.project"),
        ("Secret argocd/org-creds", "data.githubAppID"),
    }


def test_with_include_secrets_they_become_driftless_repository_credentials() -> None:
    from driftless.sources.credentials import match_credential, parse_secret

    result = convert(REPO_SECRETS, include_secrets=True)
    creds = [parse_secret(o) for o in result.objects]
    assert all(
        o["metadata"]["labels"] == {"driftless.dev/secret-type": "repository"}
        and o["metadata"]["namespace"] == "driftless"
        for o in result.objects
    )
    repo = match_credential(creds, "https://github.com/example/private-repo.git")
    assert repo is not None and repo.password == "hunter2-token" and repo.username == "robot"
    # repo-creds: a credential for every repository under its prefix.
    other = match_credential(creds, "https://github.com/example/another")
    assert other is not None and other.password == "org-token-xyz"


def test_a_cluster_secret_becomes_a_driftless_cluster_secret() -> None:
    from driftless.kube.clusters import connection_from_secret

    result = convert(PROJECT, include_secrets=True)
    (secret,) = [o for o in result.objects if o["kind"] == "Secret"]
    assert secret["metadata"]["labels"] == {"driftless.dev/secret-type": "cluster"}
    connection = connection_from_secret(secret)
    assert connection.name == "prod-cluster"
    assert connection.server == "https://prod.example.com:6443"
    assert connection.bearer_token == "s3cr3t-token"


# -- Flux ------------------------------------------------------------------------------------

FLUX_KUSTOMIZATION = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 1m
  url: https://github.com/stefanprodan/podinfo
  ref: {branch: master}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 10m
  targetNamespace: default
  sourceRef: {kind: GitRepository, name: podinfo}
  path: ./kustomize
  prune: true
  timeout: 1m
  images: [{name: podinfo, newName: ghcr.io/stefanprodan/podinfo, newTag: 6.5.0}]
  dependsOn: [{name: infra}]
"""


def test_a_flux_kustomization_and_its_git_repository_become_one_application() -> None:
    result = convert(FLUX_KUSTOMIZATION)
    (app,) = result.objects
    assert app["metadata"] == {"name": "podinfo", "namespace": "driftless"}
    assert app["spec"] == {
        "source": {
            "repoURL": "https://github.com/stefanprodan/podinfo",
            "targetRevision": "master",
            "path": "kustomize",
            "kustomize": {
                "namespace": "default",
                "images": ["podinfo=ghcr.io/stefanprodan/podinfo:6.5.0"],
            },
        },
        "destination": {"namespace": "default"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "healthTimeout": "1m"},
        "interval": "1m",
    }
    Application.model_validate(app)
    assert unsupported(result) == {("Kustomization flux-system/podinfo", "spec.dependsOn")}


@pytest.mark.parametrize(
    ("ref", "revision"),
    [
        ({"commit": "a" * 40, "branch": "main"}, "a" * 40),
        ({"name": "refs/tags/v1.2.0"}, "v1.2.0"),
        ({"semver": ">=1.0.0 <2.0.0", "tag": "v1"}, ">=1.0.0 <2.0.0"),
        ({"tag": "v6.5.0"}, "v6.5.0"),
        ({}, "master"),
    ],
)
def test_the_git_ref_becomes_the_target_revision_in_flux_s_order(ref: JSON, revision: str) -> None:
    docs = list(yaml.safe_load_all(FLUX_KUSTOMIZATION))
    docs[0]["spec"]["ref"] = ref
    result = convert_all(docs, namespace="driftless", include_secrets=False)
    assert result.objects[0]["spec"]["source"]["targetRevision"] == revision


def test_a_suspended_kustomization_syncs_only_when_asked() -> None:
    docs = list(yaml.safe_load_all(FLUX_KUSTOMIZATION))
    docs[1]["spec"]["suspend"] = True
    result = convert_all(docs, namespace="driftless", include_secrets=False)
    assert "automated" not in result.objects[0]["spec"]["syncPolicy"]


FLUX_HELM = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: flux-system}
spec: {interval: 5m, url: 'https://stefanprodan.github.io/podinfo'}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 10m
  targetNamespace: web
  releaseName: frontend
  chart:
    spec:
      chart: podinfo
      version: '>=6.0.0'
      sourceRef: {kind: HelmRepository, name: podinfo}
  install: {createNamespace: true, crds: Skip}
  driftDetection: {mode: enabled}
  valuesFrom:
  - {kind: ConfigMap, name: podinfo-values}
  - {kind: Secret, name: podinfo-secret-values}
  values:
    replicaCount: 2
    ui: {color: blue}
  postRenderers: [{kustomize: {patches: []}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: podinfo-values, namespace: flux-system}
data:
  values.yaml: |
    replicaCount: 1
    ui: {message: hello}
"""


def test_a_helm_release_and_its_helm_repository_become_a_chart_application() -> None:
    result = convert(FLUX_HELM)
    (app,) = result.objects
    source = app["spec"]["source"]
    assert source["repoURL"] == "https://stefanprodan.github.io/podinfo"
    assert source["chart"] == "podinfo" and source["targetRevision"] == ">=6.0.0"
    assert source["helm"]["releaseName"] == "frontend" and source["helm"]["skipCrds"] is True
    # valuesFrom (the ConfigMap) first, then values on top, as Helm merges them.
    assert yaml.safe_load(source["helm"]["values"]) == {
        "replicaCount": 2,
        "ui": {"message": "hello", "color": "blue"},
    }
    assert app["spec"]["destination"] == {"namespace": "web"}
    assert app["spec"]["syncPolicy"] == {
        "automated": {"prune": True, "selfHeal": True},
        "syncOptions": ["CreateNamespace=true"],
    }
    Application.model_validate(app)
    where = "HelmRelease flux-system/podinfo"
    assert unsupported(result) == {(where, "spec.valuesFrom[1]"), (where, "spec.postRenderers")}


def test_a_helm_release_from_an_oci_repository_names_the_oci_chart() -> None:
    result = convert("""
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {name: podinfo, namespace: apps}
spec: {interval: 10m, url: oci://ghcr.io/stefanprodan/charts/podinfo, ref: {tag: 6.5.0}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: apps}
spec:
  interval: 10m
  chartRef: {kind: OCIRepository, name: podinfo}
""")
    (app,) = result.objects
    assert app["spec"]["source"] == {
        "repoURL": "oci://ghcr.io/stefanprodan/charts",
        "chart": "podinfo",
        "targetRevision": "6.5.0",
        "helm": {"releaseName": "podinfo"},
    }
    assert app["spec"]["destination"] == {"namespace": "apps"}
    assert not result.partial


def test_flux_sources_that_driftless_cannot_read_are_listed() -> None:
    result = convert("""
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {name: manifests, namespace: apps}
spec: {url: oci://ghcr.io/example/manifests, ref: {tag: latest}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: from-oci, namespace: apps}
spec: {sourceRef: {kind: OCIRepository, name: manifests}, path: ./, prune: true}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: dangling, namespace: apps}
spec: {sourceRef: {kind: GitRepository, name: nowhere}, path: ./}
""")
    assert result.objects == []
    assert unsupported(result) == {
        ("Kustomization apps/from-oci", "spec.sourceRef"),
        ("Kustomization apps/dangling", "sourceRef"),
    }


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        {"apiVersion": "example.com/v9", "kind": "Widget", "metadata": {"name": "w"}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "plain"},
            "data": {"password": b64("do-not-print")},
        },
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "bad"},
            "spec": {"source": {"repoURL": "x", "helm": {"parameters": 5}}},
        },
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "bad-name"},
            "spec": {"source": {"repoURL": "https://g/a", "helm": {"releaseName": "Not A Name!"}}},
        },
    ],
)
def test_what_cannot_be_read_is_listed_not_dropped(doc: JSON) -> None:
    result = convert_all([doc], namespace="driftless", include_secrets=True)
    assert result.objects == [] and result.partial
    assert "do-not-print" not in "\n".join(f.line() for f in result.findings)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"metadata": {"name": "Not_A_Name", "namespace": "argocd"}}, "metadata.name"),
        ({"spec": {"source": {"repoURL": "https://g/a.git", "path": "../../etc"}}}, "path"),
        ({"spec": {"source": {"repoURL": "ftp://g/a.git"}}}, "repoURL"),
    ],
)
def test_what_driftless_would_refuse_is_listed_with_the_field(patch: JSON, expected: str) -> None:
    app = yaml.safe_load(GUESTBOOK)
    app.update(patch)
    result = convert_all([app], namespace="driftless", include_secrets=False)
    assert result.objects == [] and result.partial
    assert any(expected in f.line() for f in result.findings), result.findings


def test_two_objects_with_one_name_keep_the_first_and_list_the_second() -> None:
    docs = list(yaml.safe_load_all(GUESTBOOK))
    other = yaml.safe_load(GUESTBOOK)
    other["metadata"]["namespace"] = "argocd-2"
    result = convert_all([*docs, other], namespace="driftless", include_secrets=False)
    assert len(result.objects) == 1
    assert ("Application guestbook", "") in unsupported(result)


def test_argo_annotations_state_is_ignored_intent_is_listed() -> None:
    app = yaml.safe_load(GUESTBOOK)
    app["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "notified.notifications.argoproj.io": "{}",
        "argocd.argoproj.io/manifest-generate-paths": ".",
        "notifications.argoproj.io/subscribe.on-sync-succeeded.slack": "ops",
    }
    result = convert_all([app], namespace="driftless", include_secrets=False)
    fields = {(f.field, f.severity) for f in result.findings}
    assert ("metadata.annotations[argocd.argoproj.io/manifest-generate-paths]", Severity.NOTE) in (
        fields
    )
    assert unsupported(result) == {
        (
            "Application argocd/guestbook",
            "metadata.annotations[notifications.argoproj.io/subscribe.on-sync-succeeded.slack]",
        )
    }


def test_a_helm_release_of_a_chart_in_git_reads_values_files_from_the_chart_directory() -> None:
    result = convert("""
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: platform, namespace: flux-system}
spec: {interval: 5m, url: 'https://github.com/example/platform', ref: {tag: v2.0.0}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ingress, namespace: flux-system}
spec:
  interval: 30m
  targetNamespace: ingress
  chart:
    spec:
      chart: ./charts/ingress
      sourceRef: {kind: GitRepository, name: platform}
      valuesFiles: [charts/ingress/values.yaml, environments/prod/ingress.yaml]
""")
    (app,) = result.objects
    assert app["spec"]["source"] == {
        "repoURL": "https://github.com/example/platform",
        "targetRevision": "v2.0.0",
        "path": "charts/ingress",
        "helm": {
            "valueFiles": ["values.yaml", "../../environments/prod/ingress.yaml"],
            "releaseName": "ingress",
        },
    }
    assert app["spec"]["interval"] == "30m"
    assert not result.partial


def test_a_shared_source_s_findings_are_listed_once() -> None:
    docs = list(yaml.safe_load_all(FLUX_HELM))
    docs[0]["spec"]["secretRef"] = {"name": "podinfo-auth"}
    second = yaml.safe_load(yaml.safe_dump(docs[1]))
    second["metadata"]["name"] = "podinfo-2"
    result = convert_all([*docs, second], namespace="driftless", include_secrets=False)
    assert len(result.objects) == 2
    about_repo = [f for f in result.findings if f.source == "HelmRepository flux-system/podinfo"]
    assert [f.field for f in about_repo] == ["spec.secretRef"]
    assert "driftless repo add" in about_repo[0].reason
