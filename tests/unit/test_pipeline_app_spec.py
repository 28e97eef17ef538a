"""``pipeline.app_spec``: the one check of an Application a person writes (CLI and API server)."""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.models import ApplicationSource, ApplicationSpec, DirectorySource, HelmSource
from driftless.core.project import Project
from driftless.pipeline import app_spec

HOME = "driftless"
SECRET = "hunter2-secret"
GIT = "https://git.example"
X = {"source": {"repoURL": "x"}}


def with_source(**fields: Any) -> ApplicationSpec:
    return ApplicationSpec.model_validate(
        {"source": {"repoURL": "https://git.example/x.git", **fields}}
    )


# -- validated: good input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        {"repoURL": "https://git.example/team/app.git", "path": "apps/web", "targetRevision": "v1"},
        {"repoURL": "git@git.example:team/app.git", "targetRevision": ">=1.0 <2"},
        {"repoURL": "ssh://git@git.example:2222/team/app"},
        {"repoURL": "https://charts.example/stable", "chart": "podinfo", "targetRevision": "6.*"},
        {"repoURL": "oci://registry.example/charts", "chart": "podinfo"},
        {"repoURL": "https://git.example/x", "path": "overlays/prod", "kustomize": {}},
    ],
)
def test_good_specs_pass(source: dict[str, Any]) -> None:
    checked = app_spec.validated(ApplicationSpec.model_validate({"source": source}))
    assert checked.source.repo_url == source["repoURL"]


def test_local_repositories_are_the_callers_choice() -> None:
    local = with_source(repoURL="file:///srv/git/app")
    assert app_spec.validated(local).source.repo_url == "file:///srv/git/app"
    for url in ("file:///srv/git/app", "/srv/git/app"):
        with pytest.raises(app_spec.SpecError) as caught:
            app_spec.validated(with_source(repoURL=url), local_repos=False)
        assert caught.value.field == "spec.source.repoURL"
        assert "local repositories" in caught.value.problem
    # An app that already has one keeps it through an edit of another field.
    kept = app_spec.validated(local, local_repos=False, kept_repo="file:///srv/git/app")
    assert kept.source.repo_url == "file:///srv/git/app"


# -- validated: hostile input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "field", "said"),
    [
        ({"repoURL": f"https://user:{SECRET}@git.example/x.git"}, "repoURL", "password"),
        ({"repoURL": f"https://u:{SECRET}@charts.example/", "chart": "c"}, "repoURL", "password"),
        ({"repoURL": "ext::sh -c touch% /tmp/pwned"}, "repoURL", ""),
        ({"repoURL": "--upload-pack=touch /tmp/pwned"}, "repoURL", ""),
        ({"repoURL": "ssh://-oProxyCommand=touch/x"}, "repoURL", ""),
        ({"repoURL": "https://git.example/x?private_token=abc"}, "repoURL", ""),
        ({"repoURL": "oci://registry.example/charts"}, "repoURL", "OCI"),
        ({"repoURL": "gopher://git.example/x"}, "repoURL", ""),
        ({"repoURL": GIT, "targetRevision": "--output=/etc/x"}, "targetRevision", "'-'"),
        ({"repoURL": GIT, "targetRevision": "main\n"}, "targetRevision", "control"),
        ({"repoURL": GIT, "targetRevision": "v" * 1025}, "targetRevision", "longer"),
        ({"repoURL": GIT, "path": "/etc"}, "path", "relative"),
        ({"repoURL": GIT, "path": "apps/../../etc"}, "path", ".."),
        ({"repoURL": GIT, "path": "a\\..\\b"}, "path", "relative"),
        ({"repoURL": GIT, "helm": {}, "directory": {}}, "source", "combined"),
        ({"repoURL": ""}, "repoURL", "at least 1"),
    ],
)  # fmt: skip
def test_hostile_sources_are_refused_naming_the_field(
    source: dict[str, Any], field: str, said: str
) -> None:
    with pytest.raises(app_spec.SpecError) as caught:
        app_spec.validated(ApplicationSpec.model_construct(source=_source(source)))
    error = caught.value
    assert error.field == f"spec.source.{field}".removesuffix(".source"), error.message
    assert said in error.message
    assert SECRET not in error.message
    assert error.message.startswith(f"{error.field}: ")


def _source(raw: dict[str, Any]) -> ApplicationSource:
    """A source as assigned by an edit: not validated yet (``validated`` must)."""
    return ApplicationSource.model_construct(
        repo_url=raw["repoURL"],
        target_revision=raw.get("targetRevision", "HEAD"),
        path=raw.get("path", "."),
        chart=raw.get("chart"),
        directory=DirectorySource() if "directory" in raw else None,
        helm=HelmSource() if "helm" in raw else None,
    )


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"source": {"repoURL": "x"}, "interval": "soon"}, "spec.interval"),
        ({"source": {}}, "spec.source.repoURL"),
        ({**X, "syncPolicy": {"retry": {"limit": -1}}}, "spec.syncPolicy.retry.limit"),
        ({**X, "destination": {"namespace": "Not_A_NS"}}, "spec.destination.namespace"),
        ("not an object", "spec"),
    ],
)  # fmt: skip
def test_the_model_names_the_field(raw: Any, field: str) -> None:
    with pytest.raises(app_spec.SpecError) as caught:
        app_spec.parse_spec(raw)
    assert caught.value.field == field


# -- names, unknown fields, documents ----------------------------------------------------------


@pytest.mark.parametrize("name", ["Guestbook", "-x", "a_b", "", "x" * 254, "a/b", "a..b", "ä"])
def test_names_that_are_not_dns_1123_are_refused(name: str) -> None:
    with pytest.raises(app_spec.SpecError, match=r"^metadata\.name: not a valid name"):
        app_spec.check_name(name)
    assert app_spec.check_name("guest-book.v1") == "guest-book.v1"


@pytest.mark.parametrize(
    ("data", "found"),
    [
        ({"source": {"repoURL": "x", "targetRevison": "v1"}}, "spec.source.targetRevison"),
        ({"source": {"repoURL": "x"}, "sync_policy": {}}, "spec.sync_policy"),
        ({"source": {"repoURL": "x", "helm": {"parameters": [{"name": "a", "x": 1}]}}},
         "spec.source.helm.parameters[0].x"),
        ({**X, "syncPolicy": {"automated": {"prune": True, "selfheal": True}}},
         "spec.syncPolicy.automated.selfheal"),
        ({"source": {"repoURL": "x"}, "syncPolicy": {"automated": None}}, ""),
        ({"source": {"repoURL": "x", "helm": {"parameters": "not a list"}}}, ""),
        ({"source": {"repoURL": "x"}, "y" * 500: 1}, "spec." + "y" * 60),
        ({"source": {"repoURL": "x", "path": "p"}, "destination": {"namespace": "n"}}, ""),
    ],
)  # fmt: skip
def test_unknown_fields_are_found(data: dict[str, Any], found: str) -> None:
    assert app_spec.unknown_field(data) == found


def test_a_document_becomes_the_application_to_write() -> None:
    doc = {
        "metadata": {"name": "web", "labels": {"team": "a"}},
        "spec": {"source": {"repoURL": "https://git.example/x.git"}},
    }
    written = app_spec.application_from_document(doc, "apps", local_repos=False, strict=True)
    assert written == {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "labels": {"team": "a"}, "namespace": "apps"},
        "spec": {"source": {"repoURL": "https://git.example/x.git"}},
    }


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"metadata": {"name": "web", "uid": "x"}, "spec": X}, "metadata.uid"),
        ({"metadata": {"name": "Web"}, "spec": X}, "metadata.name"),
        ({"metadata": {"name": "web", "namespace": "a_b"}, "spec": X}, "metadata.namespace"),
        ({"metadata": {"name": "web"}, "spec": {"source": {"repoURL": "x", "pth": "a"}}},
         "spec.source.pth"),
        ({"metadata": {"name": "web"}, "spec": {"source": {"repoURL": "file:///etc"}}},
         "spec.source.repoURL"),
        ({"metadata": {"name": "web"}}, "spec"),
        ({"metadata": {"name": "web", "labels": {"a b": "x"}}, "spec": X}, "metadata.labels.a b"),
        ({"metadata": {"name": "web", "labels": {"team": "a/b"}}, "spec": X},
         "metadata.labels.team"),
        ({"metadata": {"name": "web", "labels": {"team": 1}}, "spec": X}, "metadata.labels.team"),
        ({"metadata": {"name": "web", "annotations": {"-x": "y"}}, "spec": X},
         "metadata.annotations.-x"),
        ({"metadata": {"name": "web", "labels": ["x"]}, "spec": X}, "metadata.labels"),
        ({"kind": "ConfigMap", "metadata": {"name": "web"}, "spec": {}}, "kind"),
        ({"metadata": "web", "spec": {}}, "metadata"),
    ],
)  # fmt: skip
def test_a_bad_document_is_refused_naming_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(app_spec.SpecError) as caught:
        app_spec.application_from_document(doc, "apps", local_repos=False, strict=True)
    assert caught.value.field == field


# -- edits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": 2}, {"b": None}, {"a": 1}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"y": None, "z": 3}}, {"a": {"x": 1, "z": 3}}),
        ({"l": [1, 2]}, {"l": [3]}, {"l": [3]}),
        ({"a": 1}, {"a": {"b": 1}}, {"a": {"b": 1}}),
        ({}, {"missing": None}, {}),
    ],
)
def test_merge_patch_apply(target: Any, patch: Any, result: Any) -> None:
    before = repr(target)
    assert app_spec.merge_patch_apply(target, patch) == result
    assert repr(target) == before, "the target is not changed"
    assert app_spec.merge_patch_apply(target, app_spec.merge_patch_diff(target, result)) == result


def test_spec_patch_leaves_unknown_stored_fields_alone() -> None:
    current = {
        "metadata": {"name": "a", "resourceVersion": "7"},
        "spec": {"source": {"repoURL": "https://git/x.git", "path": "p", "futureField": 1}},
    }
    new = with_source(repoURL="https://git/x.git", path="q")
    assert app_spec.spec_patch(current, new) == {"spec": {"source": {"path": "q"}}}
    same = with_source(repoURL="https://git/x.git", path="p")
    assert app_spec.spec_patch(current, same) == {}
    with pytest.raises(app_spec.SpecError, match="stored application is invalid"):
        app_spec.spec_patch({"spec": {"source": {}}}, same)


# -- the Project --------------------------------------------------------------------------------


def project(**spec_: Any) -> Project:
    return Project.model_validate({"metadata": {"name": "team", "namespace": HOME}, "spec": spec_})


TEAM = project(
    sourceRepos=["https://git.example/team/*"],
    destinations=[{"server": "https://kubernetes.default.svc", "namespace": "team-*"}],
    sourceNamespaces=["team-apps"],
)


@pytest.mark.parametrize(
    ("namespace", "raw", "field", "said"),
    [
        ("team-apps", {"repoURL": f"{GIT}/team/a"}, "", ""),
        ("driftless", {"repoURL": f"{GIT}/team/a"}, "", ""),
        ("other", {"repoURL": f"{GIT}/team/a"}, "metadata.namespace", "sourceNamespaces"),
        ("team-apps", {"repoURL": f"{GIT}/other/a"}, "spec.source.repoURL", "not permitted"),
        ("team-apps", {"repoURL": f"{GIT}/team/../other/a"}, "spec.source.repoURL", "not perm"),
        ("team-apps", {"repoURL": f"{GIT}/team/a", "dest": "prod"}, "spec.destination", "not perm"),
        ("team-apps", {"repoURL": f"{GIT}/team/a", "dest": HOME}, "spec.destination", "by name"),
        ("team-apps", {"repoURL": f"{GIT}/team/a", "helm": {"lookup": True}},
         "spec.source.helm.lookup", "allowHelmLookup"),
        ("team-apps", {"repoURL": f"{GIT}/team/a", "helm": {"lookup": False}}, "", ""),
    ],
)  # fmt: skip
def test_the_project_refuses_with_its_own_message(
    namespace: str, raw: dict[str, Any], field: str, said: str
) -> None:
    dest = raw.pop("dest", "team-web")
    wanted = ApplicationSpec.model_validate(
        {"project": "team", "source": raw, "destination": {"namespace": dest}}
    )
    problem = app_spec.project_problem(namespace, wanted, TEAM, HOME)
    if not field:
        assert problem is None
        return
    assert problem is not None
    assert problem.field == field
    assert said in problem.problem and "project team" in problem.problem


def test_the_controllers_namespace_is_protected_even_from_a_glob() -> None:
    everything = project(sourceRepos=["*"], destinations=[{"server": "*", "namespace": "*"}])
    wanted = ApplicationSpec.model_validate(
        {"source": {"repoURL": "https://git.example/a"}, "destination": {"namespace": HOME}}
    )
    problem = app_spec.project_problem(HOME, wanted, everything, HOME)
    assert problem is not None and "belongs to the driftless controller" in problem.problem
    remote = ApplicationSpec.model_validate(
        {"source": {"repoURL": "https://git.example/a"}, "destination": {"name": "prod"}}
    )
    assert app_spec.project_problem(HOME, remote, everything, HOME) is None
