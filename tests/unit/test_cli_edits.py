"""Pure parts of the CLI's write commands: merge patches, flag parsing, spec edits."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from pydantic import ValidationError as PydanticValidationError

from driftless.cli import app_edit, objects, project, toggle
from driftless.cli.main import cli
from driftless.core.models import Application, ApplicationSource, ApplicationSpec
from driftless.core.project import ProjectSpec

# -- objects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        ({"a": 1}, {"a": 1}, {}),
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"x": 1, "y": 3}}, {"a": {"y": 3}}),
        ({"a": {"x": 1}}, {"a": {}}, {"a": {"x": None}}),
        ({"l": [1, 2]}, {"l": [2]}, {"l": [2]}),
        ({}, {"a": {"b": 1}}, {"a": {"b": 1}}),
        ({"a": 1}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ],
)
def test_merge_patch_diff(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert objects.merge_patch_diff(old, new) == patch


def test_validation_message_names_the_field() -> None:
    with pytest.raises(PydanticValidationError) as caught:
        Application.model_validate({"spec": {"source": {"path": "x"}}})
    assert objects.validation_message(caught.value) == "spec.source.repoURL: Field required"
    with pytest.raises(PydanticValidationError) as caught:
        ApplicationSpec.model_validate({"source": {"repoURL": "x"}, "interval": "soon"})
    message = objects.validation_message(caught.value, "spec")
    assert message.startswith("spec.interval: ")


def test_key_value() -> None:
    assert objects.key_value("a=b=c", "--x") == ("a", "b=c")
    assert objects.key_value("a=", "--x") == ("a", "")
    for bad in ("novalue", "=v"):
        with pytest.raises(click.BadParameter):
            objects.key_value(bad, "--x")


def test_check_name() -> None:
    assert objects.check_name("guest-book.v1", "app") == "guest-book.v1"
    for bad in ("Guestbook", "-x", "a_b", "", "x" * 254):
        with pytest.raises(click.BadParameter):
            objects.check_name(bad, "app")


def test_load_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "apps.yaml"
    path.write_text("a: 1\n---\n---\nkind: List\nitems:\n- b: 2\n- c: 3\n")
    assert objects.load_documents(str(path)) == [{"a": 1}, {"b": 2}, {"c": 3}]
    monkeypatch.setattr("sys.stdin", io.StringIO("{d: 4}"))
    assert objects.load_documents("-") == [{"d": 4}]
    path.write_text("- not a mapping\n")
    with pytest.raises(click.BadParameter, match="not a mapping"):
        objects.load_documents(str(path))
    path.write_text("a: [\n")
    with pytest.raises(click.BadParameter, match="invalid YAML"):
        objects.load_documents(str(path))
    with pytest.raises(click.BadParameter, match="cannot read"):
        objects.load_documents(str(tmp_path / "missing.yaml"))


# -- project ------------------------------------------------------------------------


def test_parse_destination_and_group_kind() -> None:
    dest = project.parse_destination("https://kubernetes.default.svc, team-*")
    assert (dest.server, dest.namespace) == ("https://kubernetes.default.svc", "team-*")
    for bad in ("no-comma", ",ns", "server,", "a,b,c"):
        with pytest.raises(click.BadParameter):
            project.parse_destination(bad)
    assert project.parse_group_kind("apps/Deployment", "--x").model_dump() == {
        "group": "apps",
        "kind": "Deployment",
    }
    assert project.parse_group_kind("/Namespace", "--x").group == ""
    assert project.parse_group_kind("Namespace", "--x").group == ""
    gk = project.parse_group_kind("rbac.authorization.k8s.io/ClusterRole", "--x")
    assert (gk.group, gk.kind) == ("rbac.authorization.k8s.io", "ClusterRole")
    with pytest.raises(click.BadParameter):
        project.parse_group_kind("apps/", "--x")


def test_build_spec_adds_flags_to_file_spec() -> None:
    spec = project.build_spec(
        {"sourceRepos": ["https://a/*"], "description": "from file"},
        description=None,
        source_repos=("https://a/*", "https://b/*"),
        destinations=("*,team",),
        allow_cluster=("/Namespace",),
        deny_namespaced=("/ResourceQuota",),
        source_namespaces=("team-*",),
    )
    assert spec.to_api() == {
        "description": "from file",
        "sourceRepos": ["https://a/*", "https://b/*"],
        "destinations": [{"server": "*", "namespace": "team"}],
        "clusterResourceAllowList": [{"group": "", "kind": "Namespace"}],
        "namespaceResourceDenyList": [{"group": "", "kind": "ResourceQuota"}],
        "sourceNamespaces": ["team-*"],
        "roles": [],
        "allowHelmLookup": False,
    }
    with pytest.raises(click.UsageError, match=r"spec\.sourceRepos"):
        project.build_spec(
            {"sourceRepos": "not-a-list"},
            description=None,
            source_repos=(),
            destinations=(),
            allow_cluster=(),
            deny_namespaced=(),
        )


def test_spec_from_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("kind: Project\nmetadata: {name: team}\nspec: {sourceRepos: ['*']}\n")
    assert project.spec_from_file(str(path), "team") == {"sourceRepos": ["*"]}
    with pytest.raises(click.BadParameter, match="not 'other'"):
        project.spec_from_file(str(path), "other")
    path.write_text("sourceRepos: ['*']\n")
    assert project.spec_from_file(str(path), "any") == {"sourceRepos": ["*"]}
    path.write_text("kind: Application\nspec: {}\n")
    with pytest.raises(click.BadParameter, match="not a Project"):
        project.spec_from_file(str(path), "any")


def _edit(spec: ProjectSpec, **kw: Any) -> ProjectSpec:
    args: dict[str, Any] = {
        "description": None,
        "add_repos": (),
        "remove_repos": (),
        "add_destinations": (),
        "remove_destinations": (),
    }
    return project.edited_spec(spec, **{**args, **kw})


def test_project_edits_are_idempotent_and_minimal() -> None:
    spec = ProjectSpec.model_validate(
        {"sourceRepos": ["a", "b"], "destinations": [{"server": "*", "namespace": "x"}]}
    )
    edited = _edit(
        spec,
        add_repos=("c", "a"),
        remove_repos=("b",),
        add_destinations=("*,y", "*, y"),
        remove_destinations=("*,x",),
    )
    assert edited.source_repos == ["a", "c"]
    assert [(d.server, d.namespace) for d in edited.destinations] == [("*", "y")]
    again = _edit(edited, add_repos=("c", "a"), remove_repos=("b",), add_destinations=("*,y",))
    assert again == edited
    assert spec.source_repos == ["a", "b"], "the input is not modified"

    current = {"spec": spec.to_api()}
    assert project.spec_patch(current, lambda s: _edit(s, add_repos=("a",))) == {}
    assert project.spec_patch(current, lambda s: _edit(s, description="d")) == {
        "spec": {"description": "d"}
    }
    assert project.spec_patch(current, lambda s: _edit(s, add_repos=("z",))) == {
        "spec": {"sourceRepos": ["a", "b", "z"]}
    }


def test_apps_of_counts_default_project() -> None:
    apps = [
        {"metadata": {"name": "b"}, "spec": {"project": "team"}},
        {"metadata": {"name": "a"}, "spec": {"project": "team"}},
        {"metadata": {"name": "c"}, "spec": {}},
    ]
    assert project.apps_of("team", apps) == ["a", "b"]
    assert project.apps_of("default", apps) == ["c"]


# -- app edits ----------------------------------------------------------------------


def _spec(**source: Any) -> ApplicationSpec:
    return ApplicationSpec(source=ApplicationSource(repo_url="https://git/x.git", **source))


def test_app_edits_set_only_given_fields() -> None:
    edits = app_edit.AppEdits(
        revision="v2",
        sync_options=("CreateNamespace=true",),
        self_heal=True,
        interval="1m",
        dest_namespace="web",
    )
    spec = edits.apply_to(_spec(path="apps/web"))
    body = spec.to_api()
    assert body["source"] == {
        "repoURL": "https://git/x.git",
        "targetRevision": "v2",
        "path": "apps/web",
    }
    assert body["destination"] == {"namespace": "web"}
    assert body["syncPolicy"]["automated"]["selfHeal"] is True
    assert body["syncPolicy"]["automated"]["prune"] is False
    assert body["syncPolicy"]["syncOptions"] == ["CreateNamespace=true"]
    assert body["interval"] == "1m"
    assert body["project"] == "default"
    untouched = {
        k: v
        for k, v in body.items()
        if k not in ("source", "destination", "syncPolicy", "interval")
    }
    assert untouched == {k: v for k, v in _spec().to_api().items() if k in untouched}
    assert edits.apply_to(spec) == spec, "idempotent"


def test_app_edits_sync_policy() -> None:
    automated = app_edit.AppEdits(sync_policy="automated", auto_prune=True).apply_to(_spec())
    assert automated.sync_policy.automated is not None
    assert automated.sync_policy.automated.prune
    manual = app_edit.AppEdits(sync_policy="manual").apply_to(automated)
    assert manual.sync_policy.automated is None
    unchanged = app_edit.AppEdits(auto_prune=False).apply_to(manual)
    assert unchanged.sync_policy.automated is None
    replaced = app_edit.AppEdits(sync_options=("A=1", "B=2")).apply_to(_spec())
    replaced = app_edit.AppEdits(sync_options=("A=3",)).apply_to(replaced)
    assert replaced.sync_policy.sync_options == ["B=2", "A=3"]
    with pytest.raises(click.UsageError, match="need --sync-policy automated"):
        app_edit.AppEdits(sync_policy="manual", self_heal=True).check()
    with pytest.raises(click.BadParameter):
        app_edit.AppEdits(interval="3 minutes").check()
    with pytest.raises(click.BadParameter):
        app_edit.AppEdits(helm_sets=("noequals",)).check()


def test_app_edits_helm_and_kustomize() -> None:
    helm = app_edit.AppEdits(
        helm_sets=("replicas=2", "image.tag=1.0"), helm_values_files=("prod.yaml",)
    ).apply_to(_spec())
    helm = app_edit.AppEdits(
        helm_sets=("replicas=3",), helm_unsets=("image.tag",), helm_values_files=("prod.yaml",)
    ).apply_to(helm)
    assert helm.source.helm is not None
    assert [(p.name, p.value) for p in helm.source.helm.parameters] == [("replicas", "3")]
    assert helm.source.helm.value_files == ["prod.yaml"]

    kust = app_edit.AppEdits(kustomize_images=("nginx:1.25", "redis=redis:7")).apply_to(_spec())
    kust = app_edit.AppEdits(kustomize_images=("nginx=nginx:1.27",)).apply_to(kust)
    assert kust.source.kustomize is not None
    assert kust.source.kustomize.images == ["redis=redis:7", "nginx=nginx:1.27"]

    mixed = app_edit.AppEdits(directory_recurse=True).apply_to(kust)
    with pytest.raises(click.UsageError, match="cannot be combined"):
        app_edit.validated(mixed)


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("nginx", "nginx"),
        ("nginx:1.27", "nginx"),
        ("nginx=ghcr.io/x/nginx:1", "nginx"),
        ("registry:5000/team/app:2", "registry:5000/team/app"),
        ("registry:5000/team/app", "registry:5000/team/app"),
        ("app@sha256:abc", "app"),
    ],
)
def test_image_name(image: str, name: str) -> None:
    assert app_edit.image_name(image) == name


def test_validated_rejects_bad_interval_after_assignment() -> None:
    spec = _spec()
    spec.interval = "soon"
    with pytest.raises(click.UsageError, match=r"spec\.interval"):
        app_edit.validated(spec)


def test_app_spec_patch_only_touches_changes() -> None:
    current = {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a", "resourceVersion": "7"},
        "spec": {
            "source": {"repoURL": "https://git/x.git", "path": "p", "futureField": 1},
            "syncPolicy": {"automated": {"prune": True}},
        },
    }
    patch = app_edit.app_spec_patch(current, app_edit.AppEdits(revision="v3"))
    assert patch == {"spec": {"source": {"targetRevision": "v3"}}}
    patch = app_edit.app_spec_patch(current, app_edit.AppEdits(sync_policy="manual"))
    assert patch == {"spec": {"syncPolicy": {"automated": None}}}
    assert app_edit.app_spec_patch(current, app_edit.AppEdits(path="p")) == {}


def test_apps_from_file(tmp_path: Path) -> None:
    path = tmp_path / "apps.yaml"
    path.write_text(
        "apiVersion: driftless.dev/v1alpha1\nkind: Application\n"
        "metadata: {name: one, labels: {team: a}, uid: x}\n"
        "spec: {source: {repoURL: 'https://git/x.git'}}\nstatus: {sync: {status: Synced}}\n"
        "---\nkind: Application\nmetadata: {name: two, namespace: other}\n"
        "spec: {source: {repoURL: 'https://git/y.git'}}\n"
    )
    one, two = app_edit.apps_from_file(str(path), None)
    assert one == {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "one", "labels": {"team": "a"}, "namespace": "driftless"},
        "spec": {"source": {"repoURL": "https://git/x.git"}},
    }
    assert two["metadata"]["namespace"] == "other"
    assert two["apiVersion"] == "driftless.dev/v1alpha1"
    with pytest.raises(click.UsageError, match="not driftless"):
        app_edit.apps_from_file(str(path), "driftless")
    path.write_text("kind: Application\nmetadata: {name: bad}\nspec: {source: {}}\n")
    with pytest.raises(click.UsageError, match=r"application bad: spec.source.repoURL"):
        app_edit.apps_from_file(str(path), None)
    path.write_text("kind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(click.UsageError, match="expected kind Application"):
        app_edit.apps_from_file(str(path), None)


# -- Helm lookup: the project's grant and the app's opt-in ---------------------------


def test_toggle_value_refuses_both_ways() -> None:
    assert toggle.toggle_value((), "x") is None
    assert toggle.toggle_value((True, True), "x") is True
    assert toggle.toggle_value((False,), "x") is False
    with pytest.raises(click.UsageError, match="--x and --no-x contradict"):
        toggle.toggle_value((True, False), "x")


def test_project_allow_helm_lookup_create_and_set() -> None:
    empty: dict[str, Any] = {
        "description": None,
        "source_repos": (),
        "destinations": (),
        "allow_cluster": (),
        "deny_namespaced": (),
    }
    assert project.build_spec({}, **empty).allow_helm_lookup is False
    assert project.build_spec({}, **empty, allow_helm_lookup=True).allow_helm_lookup is True
    from_file = project.build_spec({"allowHelmLookup": True}, **empty)
    assert from_file.allow_helm_lookup is True, "no flag leaves the file's grant"

    current = {"spec": {"sourceRepos": ["a"]}}
    assert project.spec_patch(current, lambda s: _edit(s, allow_helm_lookup=True)) == {
        "spec": {"allowHelmLookup": True}
    }
    granted = {"spec": {"sourceRepos": ["a"], "allowHelmLookup": True}}
    assert project.spec_patch(granted, lambda s: _edit(s, allow_helm_lookup=True)) == {}
    assert project.spec_patch(granted, lambda s: _edit(s)) == {}
    assert project.spec_patch(granted, lambda s: _edit(s, allow_helm_lookup=False)) == {
        "spec": {"allowHelmLookup": False}
    }


def test_project_get_says_whether_helm_lookup_is_allowed() -> None:
    def shown(spec: dict[str, Any]) -> list[str]:
        text = project.describe_project({"metadata": {"name": "p"}, "spec": spec}, [])
        return [line for line in text.splitlines() if line.startswith("Helm lookup:")]

    assert shown({}) == ["Helm lookup:   refused"]
    assert shown({"allowHelmLookup": True}) == ["Helm lookup:   allowed"]
    assert shown({"allowHelmLookup": "yes please"}) == ["Helm lookup:   refused"], "invalid spec"


def test_app_helm_lookup_on_and_off() -> None:
    on = app_edit.AppEdits(helm_lookup=True).apply_to(_spec(path="chart"))
    assert on.to_api()["source"]["helm"]["lookup"] is True
    assert app_edit.AppEdits(helm_lookup=True).apply_to(on) == on, "idempotent"
    off = app_edit.AppEdits(helm_lookup=False).apply_to(on)
    assert off.source.helm is not None and off.source.helm.lookup is False
    plain = _spec(path="manifests")
    assert app_edit.AppEdits(helm_lookup=False).apply_to(plain) == plain, "no Helm block made"

    current = {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a", "resourceVersion": "7"},
        "spec": {"source": {"repoURL": "https://git/x.git", "helm": {"parameters": []}}},
    }
    patch = app_edit.app_spec_patch(current, app_edit.AppEdits(helm_lookup=True))
    assert patch == {"spec": {"source": {"helm": {"lookup": True}}}}


@pytest.mark.parametrize(
    "source",
    [
        {"kustomize": {"images": ["nginx:1"]}},
        {"directory": {"recurse": True}},
        {"jsonnet": {"libs": ["lib"]}},
    ],
)
def test_helm_lookup_on_a_non_helm_app_is_a_usage_error(source: dict[str, Any]) -> None:
    current = {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a"},
        "spec": {"source": {"repoURL": "https://git/x.git", **source}},
    }
    with pytest.raises(click.UsageError, match=r"^--helm-lookup: the app's source has"):
        app_edit.app_spec_patch(current, app_edit.AppEdits(helm_lookup=True))
    with pytest.raises(click.UsageError, match=r"--helm-set, --helm-lookup: .* not a Helm chart"):
        app_edit.app_spec_patch(current, app_edit.AppEdits(helm_sets=("a=b",), helm_lookup=True))
    # Turning lookup off where there is no Helm block is a no-op, not an error.
    assert app_edit.app_spec_patch(current, app_edit.AppEdits(helm_lookup=False)) == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["app", "set", "web", "--helm-lookup", "--no-helm-lookup"],
            "--helm-lookup and --no-helm-lookup contradict each other",
        ),
        (
            [
                "app",
                "create",
                "web",
                "--repo",
                "https://git/x.git",
                "--no-helm-lookup",
                "--helm-lookup",
            ],
            "--helm-lookup and --no-helm-lookup contradict each other",
        ),
        (
            [
                "app",
                "create",
                "web",
                "--repo",
                "https://git/x.git",
                "--helm-lookup",
                "--kustomize-image",
                "nginx:1",
            ],
            "--helm-lookup: the app's source has kustomize options",
        ),
        (
            ["project", "set", "team", "--no-allow-helm-lookup", "--allow-helm-lookup"],
            "--allow-helm-lookup and --no-allow-helm-lookup contradict each other",
        ),
    ],
)
def test_contradictory_lookup_flags_fail_before_any_cluster_call(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No cluster: a kubeconfig that names nothing reachable; the usage error comes first.
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
