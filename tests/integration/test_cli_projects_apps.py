"""``driftless project ...`` and ``driftless app create|set|delete`` against the dev cluster."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftless.cli import objects
from driftless.cli.project import ProjectSpec, edited_spec, spec_patch
from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.core.wellknown import RESOURCES_FINALIZER
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.cli_driver import invoke, run_subprocess
from tests.integration.helpers import APPS_NAMESPACE, ready, unique, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cli-edit\ndata:\n  n: '{n}'\n"
LOCAL = "https://kubernetes.default.svc"


async def gone(kube: KubeClient, api_version: str, kind: str, name: str, ns: str) -> None:
    for _ in range(200):
        if await kube.get(api_version, kind, name, ns) is None:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{kind} {ns}/{name} still exists")


# -- projects ------------------------------------------------------------------------


async def test_project_lifecycle(devcluster: DevCluster, kube: KubeClient) -> None:
    kc = devcluster.kubeconfig
    name = unique("proj")
    created = await invoke(
        kc, "project", "create", name, "--description", "team a",
        "--source-repo", "https://git.example.com/a/*",
        "--destination", f"{LOCAL},team-a-*",
        "--allow-cluster-resource", "/Namespace",
        "--deny-namespaced-resource", "/ResourceQuota",
        "--source-namespace", "team-a",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == f"project.driftless.dev/{name} created"
    stored = await kube.get(API_VERSION, PROJECT_KIND, name, APPS_NAMESPACE)
    assert stored is not None
    assert stored["spec"] == {
        "description": "team a",
        "sourceRepos": ["https://git.example.com/a/*"],
        "destinations": [{"server": LOCAL, "namespace": "team-a-*"}],
        "clusterResourceAllowList": [{"group": "", "kind": "Namespace"}],
        "namespaceResourceDenyList": [{"group": "", "kind": "ResourceQuota"}],
        "sourceNamespaces": ["team-a"],
        "roles": [],
        "allowHelmLookup": False,
    }
    managers = {m["manager"] for m in stored["metadata"]["managedFields"]}
    assert objects.CLI_FIELD_MANAGER in managers

    again = await invoke(kc, "project", "create", name)
    assert again.exit_code == 1
    assert again.output.strip() == (
        f'Error: project "{name}" already exists in namespace {APPS_NAMESPACE};'
        " use --upsert to replace its spec"
    )

    replaced = await invoke(
        kc, "project", "create", name, "--upsert", "--source-repo", "https://git.example.com/a/*",
        "--destination", f"{LOCAL},team-a-*",
    )  # fmt: skip
    assert replaced.stdout.strip() == f"project.driftless.dev/{name} configured"
    stored = await kube.get(API_VERSION, PROJECT_KIND, name, APPS_NAMESPACE)
    assert stored is not None
    assert stored["spec"] == {
        "sourceRepos": ["https://git.example.com/a/*"],
        "destinations": [{"server": LOCAL, "namespace": "team-a-*"}],
        "clusterResourceAllowList": [],
        "namespaceResourceDenyList": [],
        "sourceNamespaces": [],
        "roles": [],
        "allowHelmLookup": False,
    }, "upsert replaces the spec"

    listed = await invoke(kc, "project", "list")
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "SOURCE-REPOS", "DESTINATIONS", "APPS", "AGE"]
    row = next(r.split() for r in rows if r.split()[0] == name)
    assert row[1:4] == ["https://git.example.com/a/*", f"{LOCAL},team-a-*", "0"]
    assert "default" in [r.split()[0] for r in rows]
    await invoke(kc, "project", "set", name, "--description", "team a")
    names = await invoke(kc, "project", "list", "-o", "name", "--no-headers")
    assert f"project.driftless.dev/{name}" in names.stdout.splitlines()
    wide = await invoke(kc, "project", "list", "-o", "wide", "--no-headers")
    assert any(line.split()[0] == name and "team a" in line for line in wide.stdout.splitlines())
    as_json = json.loads((await invoke(kc, "project", "list", "-o", "json")).stdout)
    assert name in [p["metadata"]["name"] for p in as_json["items"]]

    got = await invoke(kc, "project", "get", name)
    assert got.exit_code == 0, got.output
    assert f"Name:          {APPS_NAMESPACE}/{name}" in got.stdout
    assert "Description:   team a" in got.stdout
    assert f"  {LOCAL},team-a-*" in got.stdout
    as_yaml = yaml.safe_load((await invoke(kc, "project", "get", name, "-o", "yaml")).stdout)
    assert as_yaml["spec"]["sourceRepos"] == ["https://git.example.com/a/*"]

    changed = await invoke(
        kc, "project", "set", name,
        "--add-source-repo", "https://git.example.com/shared/*",
        "--remove-source-repo", "https://git.example.com/a/*",
        "--add-destination", f"{LOCAL},team-a",
        "--remove-destination", f"{LOCAL},team-a-*",
        "--add-source-namespace", "team-a-*",
        "--description", "",
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert changed.stdout.strip() == f"project.driftless.dev/{name} updated"
    stored = await kube.get(API_VERSION, PROJECT_KIND, name, APPS_NAMESPACE)
    assert stored is not None
    assert stored["spec"]["sourceRepos"] == ["https://git.example.com/shared/*"]
    assert stored["spec"]["destinations"] == [{"server": LOCAL, "namespace": "team-a"}]
    assert "description" not in stored["spec"]
    assert stored["spec"]["sourceNamespaces"] == ["team-a-*"]
    same = await invoke(
        kc, "project", "set", name, "--add-source-repo", "https://git.example.com/shared/*"
    )
    assert same.stdout.strip() == f"project.driftless.dev/{name} unchanged"

    deleted = await invoke(kc, "project", "delete", name)
    assert deleted.exit_code == 0, deleted.output
    await gone(kube, API_VERSION, PROJECT_KIND, name, APPS_NAMESPACE)


async def test_project_user_mistakes_are_one_line(devcluster: DevCluster, kube: KubeClient) -> None:
    kc = devcluster.kubeconfig
    for args, code, message in [
        (("project", "get", "nope"), 1,
         f'Error: project "nope" not found in namespace {APPS_NAMESPACE}'),
        (("project", "set", "nope", "--add-source-repo", "x"), 1,
         f'Error: project "nope" not found in namespace {APPS_NAMESPACE}'),
        (("project", "delete", "nope"), 1,
         f'Error: project "nope" not found in namespace {APPS_NAMESPACE}'),
        (("project", "create", "x", "--destination", "only-server"), 2,
         "Error: Invalid value for '--destination': expected SERVER_GLOB,NAMESPACE_GLOB"),
        (("project", "create", "Bad_Name"), 2, "Error: Invalid value for 'NAME'"),
        (("project", "list", "-o", "xml"), 2, "Error: Invalid value for '-o' / '--output'"),
    ]:  # fmt: skip
        result = await invoke(kc, *args)
        assert result.exit_code == code, (args, result.output)
        last = result.output.strip().splitlines()[-1]
        assert last.startswith(message), (args, result.output)
        assert "Traceback" not in result.output


async def test_project_set_keeps_a_concurrent_edit(
    devcluster: DevCluster, kube: KubeClient
) -> None:
    """Someone else writes between our read and our write: both changes survive."""
    name = unique("proj-race")
    assert (
        await invoke(devcluster.kubeconfig, "project", "create", name, "--source-repo", "a")
    ).exit_code == 0
    client = await KubeClient.from_kubeconfig(str(devcluster.kubeconfig))
    original = client.merge_patch
    calls = 0

    async def interleaved(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:  # another user's edit lands after our read
            theirs = {"spec": {"sourceRepos": ["a", "theirs"]}}
            await original(API_VERSION, PROJECT_KIND, name, theirs, namespace=APPS_NAMESPACE)
        return await original(*args, **kwargs)

    client.merge_patch = interleaved  # type: ignore[method-assign]

    def edit(spec: ProjectSpec) -> ProjectSpec:
        return edited_spec(
            spec, description=None, add_repos=("mine",), remove_repos=(),
            add_destinations=(), remove_destinations=(),
        )  # fmt: skip

    try:
        stored, changed = await objects.update(
            client, API_VERSION, PROJECT_KIND, name, APPS_NAMESPACE,
            lambda current: spec_patch(current, edit),
        )  # fmt: skip
    finally:
        await client.close()
    assert changed and calls == 2
    assert stored["spec"]["sourceRepos"] == ["a", "theirs", "mine"]


async def test_project_in_use_is_not_deleted_without_force(
    devcluster: DevCluster, kube: KubeClient
) -> None:
    kc = devcluster.kubeconfig
    project, app = unique("proj-used"), unique("app-in-proj")
    assert (await invoke(kc, "project", "create", project)).exit_code == 0
    made = await invoke(kc, "app", "create", app, "--repo", "https://git.example.com/x.git",
                        "--project", project)  # fmt: skip
    assert made.exit_code == 0, made.output
    refused = await run_subprocess(kc, "project", "delete", project)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f'Error: project "{project}" is used by 1 application(s): {app};'
        " move or delete them first, or use --force"
    )
    assert await kube.get(API_VERSION, PROJECT_KIND, project, APPS_NAMESPACE) is not None
    forced = await run_subprocess(kc, "project", "delete", project, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "will stall" in forced.stderr
    await invoke(kc, "app", "delete", app, "--no-cascade")


# -- apps ----------------------------------------------------------------------------


async def test_app_create_from_flags_becomes_ready(
    kube: KubeClient, controller: Controller, devcluster: DevCluster, make_git_repo: MakeGitRepo
) -> None:
    kc = devcluster.kubeconfig
    name = unique("cli-create")
    repo = make_git_repo({"app/cm.yaml": CM.format(n=1)})
    created = await run_subprocess(
        kc, "app", "create", name, "--repo", repo.url, "--path", "app", "--revision", "main",
        "--dest-namespace", name, "--sync-policy", "automated", "--self-heal",
        "--sync-option", "CreateNamespace=true", "--interval", "1h",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == f"application.driftless.dev/{name} created"
    app = await wait_for(kube, name, ready)
    assert app["status"]["sync"]["revision"] == repo.head()
    assert app["spec"]["syncPolicy"]["automated"]["selfHeal"] is True
    managers = {m["manager"] for m in app["metadata"]["managedFields"]}
    assert objects.CLI_FIELD_MANAGER in managers
    assert await kube.get("v1", "ConfigMap", "cli-edit", name) is not None

    again = await invoke(kc, "app", "create", name, "--repo", repo.url)
    assert again.exit_code == 1
    assert again.output.strip() == (
        f"Error: application(s) already exist: {APPS_NAMESPACE}/{name};"
        " use --upsert to replace their spec"
    )

    # app set: the controller follows the new revision at once (interval is 1h).
    repo.branch("next", checkout=True)
    sha = repo.commit({"app/cm.yaml": CM.format(n=2)}, "next")
    changed = await run_subprocess(kc, "app", "set", name, "--revision", "next")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == f"application.driftless.dev/{name} updated"
    await wait_for(kube, name, lambda a: a["status"]["sync"]["revision"] == sha, timeout=30)
    live = await kube.get("v1", "ConfigMap", "cli-edit", name)
    assert live is not None and live["data"]["n"] == "2"
    app = await wait_for(kube, name, ready)
    assert app["spec"]["source"]["path"] == "app", "fields not given are kept"
    assert app["spec"]["syncPolicy"]["automated"]["selfHeal"] is True

    manual = await invoke(kc, "app", "set", name, "--sync-policy", "manual")
    assert manual.exit_code == 0, manual.output
    stored = await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
    assert stored is not None and "automated" not in stored["spec"]["syncPolicy"]

    # Cascade (the default): the controller deletes what the app deployed.
    deleted = await run_subprocess(kc, "app", "delete", name, "--wait", "--timeout", "60s")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == (
        f"application.driftless.dev/{name} deleted (its objects are deleted too)"
    )
    assert await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE) is None
    await gone(kube, "v1", "ConfigMap", "cli-edit", name)


async def test_app_create_from_file_upsert_and_delete_without_cascade(
    kube: KubeClient,
    controller: Controller,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    tmp_path: Path,
) -> None:
    kc = devcluster.kubeconfig
    first, second = unique("cli-file"), unique("cli-stdin")
    repo = make_git_repo({"cm.yaml": CM.format(n=1)})

    def manifest(name: str, **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": APPLICATION_KIND,
            "metadata": {"name": name, "finalizers": [RESOURCES_FINALIZER]},
            "spec": {
                "source": {"repoURL": repo.url, "targetRevision": "main"},
                "destination": {"namespace": name},
                "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
                **spec,
            },
        }

    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(manifest(first)))
    created = await invoke(kc, "app", "create", "-f", str(path))
    assert created.exit_code == 0, created.output
    from_stdin = await invoke(
        kc, "app", "create", "-f", "-", stdin=yaml.safe_dump(manifest(second))
    )
    assert from_stdin.stdout.strip() == f"application.driftless.dev/{second} created"
    await wait_for(kube, first, ready)
    await wait_for(kube, second, ready)

    path.write_text(yaml.safe_dump(manifest(first, interval="2m")))
    refused = await invoke(kc, "app", "create", "-f", str(path))
    assert refused.exit_code == 1 and "use --upsert" in refused.output
    upserted = await invoke(kc, "app", "create", "-f", str(path), "--upsert")
    assert upserted.stdout.strip() == f"application.driftless.dev/{first} configured"
    stored = await kube.get(API_VERSION, APPLICATION_KIND, first, APPS_NAMESPACE)
    assert stored is not None and stored["spec"]["interval"] == "2m"

    path.write_text(yaml.safe_dump(manifest("bad-one", interval="soon")))
    invalid = await invoke(kc, "app", "create", "-f", str(path))
    assert invalid.exit_code == 2
    assert "application bad-one: spec.interval:" in invalid.output

    # No cascade: the finalizer the manifest set is removed, the objects keep running.
    for name in (first, second):
        kept = await invoke(kc, "app", "delete", name, "--no-cascade", "--wait")
        assert kept.exit_code == 0, kept.output
        assert kept.stdout.strip().endswith("(its objects keep running)")
        assert await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE) is None
        # The app is gone: its objects were not deleted, and not even marked for deletion.
        kept_object = await kube.get("v1", "ConfigMap", "cli-edit", name)
        assert kept_object is not None
        assert "deletionTimestamp" not in kept_object["metadata"]
        namespace = await kube.get("v1", "Namespace", name)
        assert namespace is not None and "deletionTimestamp" not in namespace["metadata"]


async def test_app_user_mistakes_are_one_line(devcluster: DevCluster, kube: KubeClient) -> None:
    kc = devcluster.kubeconfig
    not_found = f'Error: application "nope" not found in namespace {APPS_NAMESPACE}'
    for args, code, message in [
        (("app", "set", "nope", "--revision", "v1"), 1, not_found),
        (("app", "delete", "nope"), 1, not_found),
        (("app", "create", "x"), 2, "Error: --repo is required"),
        (("app", "create", "x", "--repo", "r", "--interval", "3 min"), 2,
         "Error: Invalid value for '--interval': invalid duration"),
        (("app", "create", "x", "--repo", "r", "--sync-option", "nokey"), 2,
         "Error: Invalid value for '--sync-option': expected KEY=VALUE"),
        (("app", "create", "x", "--repo", "r", "--sync-policy", "manual", "--self-heal"), 2,
         "Error: --auto-prune and --self-heal need --sync-policy automated"),
        (("app", "create", "x", "--repo", "r", "--helm-set", "a=1", "--directory-recurse"), 2,
         "Error: --helm-set: the app's source has directory options, not a Helm chart"),
        (("app", "create", "-f", "/does/not/exist.yaml"), 2,
         "Error: Invalid value for '-f': cannot read /does/not/exist.yaml"),
        (("app", "set", "x"), 2, "Error: nothing to change"),
        (("app", "delete", "x", "--timeout", "forever"), 2, "Error: Invalid value for '--timeout'"),
    ]:  # fmt: skip
        result = await invoke(kc, *args)
        assert result.exit_code == code, (args, result.output)
        assert result.output.strip().splitlines()[-1].startswith(message), (args, result.output)


async def test_helm_lookup_flags_reach_the_stored_specs(
    devcluster: DevCluster, kube: KubeClient
) -> None:
    """The grant and the opt-in survive the API server (the CRD schema keeps them)."""
    kc = devcluster.kubeconfig
    proj, chart, kust = unique("lookup"), unique("cli-chart"), unique("cli-kust")

    async def stored(kind: str, name: str) -> dict[str, Any]:
        obj = await kube.get(API_VERSION, kind, name, APPS_NAMESPACE)
        assert obj is not None
        return dict(obj["spec"])

    created = await invoke(kc, "project", "create", proj, "--allow-helm-lookup")
    assert created.exit_code == 0, created.output
    assert (await stored(PROJECT_KIND, proj))["allowHelmLookup"] is True
    assert "Helm lookup:   allowed" in (await invoke(kc, "project", "get", proj)).stdout
    both = await invoke(kc, "project", "set", proj, "--no-allow-helm-lookup", "--allow-helm-lookup")
    assert both.exit_code == 2, both.output
    assert "--allow-helm-lookup and --no-allow-helm-lookup contradict" in both.output
    assert (await stored(PROJECT_KIND, proj))["allowHelmLookup"] is True, "nothing written"
    refused = await invoke(kc, "project", "set", proj, "--no-allow-helm-lookup")
    assert refused.stdout.strip() == f"project.driftless.dev/{proj} updated"
    assert (await stored(PROJECT_KIND, proj))["allowHelmLookup"] is False
    assert "Helm lookup:   refused" in (await invoke(kc, "project", "get", proj)).stdout

    repo = "https://git.example.com/team/deploy.git"
    made = await invoke(kc, "app", "create", chart, "--repo", repo, "--path", "chart",
                        "--project", proj, "--helm-lookup")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert (await stored(APPLICATION_KIND, chart))["source"]["helm"]["lookup"] is True
    off = await invoke(kc, "app", "set", chart, "--no-helm-lookup")
    assert off.stdout.strip() == f"application.driftless.dev/{chart} updated"
    assert (await stored(APPLICATION_KIND, chart))["source"]["helm"]["lookup"] is False

    made = await invoke(kc, "app", "create", kust, "--repo", repo, "--kustomize-image", "nginx:1")
    assert made.exit_code == 0, made.output
    before = await stored(APPLICATION_KIND, kust)
    not_helm = await invoke(kc, "app", "set", kust, "--helm-lookup")
    assert not_helm.exit_code == 2, not_helm.output
    assert not_helm.output.strip().splitlines()[-1] == (
        "Error: --helm-lookup: the app's source has kustomize options, not a Helm chart"
        " (a source has one renderer)"
    )
    assert await stored(APPLICATION_KIND, kust) == before, "nothing written"

    for app in (chart, kust):
        deleted = await invoke(kc, "app", "delete", app, "--no-cascade", "--wait")
        assert deleted.exit_code == 0, deleted.output
    assert (await invoke(kc, "project", "delete", proj)).exit_code == 0


async def test_every_new_command_has_examples(devcluster: DevCluster) -> None:
    commands = [
        ("project", "create"), ("project", "list"), ("project", "get"), ("project", "set"),
        ("project", "delete"), ("app", "create"), ("app", "set"), ("app", "delete"),
        ("version",), ("completion",), ("cluster", "add"), ("cluster", "list"), ("cluster", "rm"),
    ]  # fmt: skip
    for command in commands:
        result = await invoke(devcluster.kubeconfig, *command, "--help")
        assert result.exit_code == 0, result.output
        assert "Examples:" in result.stdout, command
