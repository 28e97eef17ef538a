"""Issue 3's desired-state guarantees on the real cluster: quiet diffs after a
sync, an out-of-band edit shown exactly, ignoreDifferences, Secret masking,
pruning exactly what left git, the resources finalizer, and projects."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from typing import Any

import pytest

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION
from driftless.core.wellknown import SYNC_OPTIONS_ANNOTATION
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.devcluster import Kubectl
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    condition,
    configmap_manifest,
    create_app,
    deployment_manifest,
    ready,
    ready_false_with,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: s3cret-value-in-git
"""


def cm(name: str) -> str:
    return configmap_manifest(name, {"v": "1"})


def diff_cli(cluster: DevCluster, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "driftless.cli.main",
            f"--kubeconfig={cluster.kubeconfig}",
            "app",
            "diff",
            name,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_diff_of_a_broken_source_is_a_source_error_not_a_difference(
    kube: KubeClient, devcluster: DevCluster, make_git_repo: MakeGitRepo
) -> None:
    """A pipeline must tell "git differs" (1) from "the source is broken" (5), like diff --local."""
    name = unique("diffsrc")
    repo = make_git_repo({"cm.yaml": cm("c")})
    await create_app(kube, application(name, repo.url, path="no/such/dir", automated=False))
    missing_path = await asyncio.to_thread(diff_cli, devcluster, name)
    assert missing_path.returncode == 5, missing_path.stdout + missing_path.stderr
    assert "no/such/dir" in missing_path.stderr
    assert "Traceback" not in missing_path.stderr and missing_path.stdout == ""

    broken = make_git_repo({"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n"})
    other = unique("diffyaml")
    await create_app(kube, application(other, broken.url, automated=False))
    bad_yaml = await asyncio.to_thread(diff_cli, devcluster, other)
    assert bad_yaml.returncode == 5, bad_yaml.stdout + bad_yaml.stderr
    assert "cm.yaml" in bad_yaml.stderr


async def test_diff_is_quiet_after_sync_and_shows_exactly_an_edit(
    kube: KubeClient,
    controller: Controller,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    kubectl: Kubectl,
) -> None:
    name = unique("diff")
    repo = make_git_repo(
        {
            "deploy.yaml": deployment_manifest(),
            "secret.yaml": SECRET,
            "cm.yaml": cm("c"),
        }
    )
    # Manual app, applied once by hand-off: create it automated, then let it be.
    await create_app(kube, application(name, repo.url, interval="1h"))
    await wait_for(kube, name, ready)

    quiet = await asyncio.to_thread(diff_cli, devcluster, name)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stdout == ""

    # An out-of-band edit, as an administrator would do it.
    await asyncio.to_thread(
        kubectl, "-n", name, "patch", "deployment", "web", "--type=merge",
        "-p", '{"spec":{"replicas":5}}',
    )  # fmt: skip
    await asyncio.to_thread(
        kubectl, "-n", name, "patch", "secret", "creds", "--type=merge",
        "-p", '{"stringData":{"password":"changed-by-hand"}}',
    )  # fmt: skip
    shown = await asyncio.to_thread(diff_cli, devcluster, name)
    assert shown.returncode == 1, shown.stderr
    text = shown.stdout
    assert "-  replicas: 5\n" in text and "+  replicas: 2\n" in text
    changed_lines = [
        line for line in text.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert len(changed_lines) == 4, text  # replicas -/+ and the secret key -/+, nothing else
    assert "-  password: '<changed: value in cluster>'" in text
    assert "+  password: '<changed: value in git>'" in text
    # Neither value may leak, in plain text or in the base64 form the API stores.
    as_json_text = (await asyncio.to_thread(diff_cli, devcluster, name, "-o", "json")).stdout
    for value in ("s3cret-value-in-git", "changed-by-hand"):
        encoded = base64.b64encode(value.encode()).decode()
        for output in (text, shown.stderr, as_json_text):
            assert value not in output and encoded not in output

    as_json = json.loads(as_json_text)
    statuses = {(d["kind"], d["status"]) for d in as_json}
    assert ("Deployment", "changed") in statuses and ("ConfigMap", "unchanged") in statuses


async def test_ignore_differences_lets_another_owner_keep_a_field(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo, kubectl: Kubectl
) -> None:
    name = unique("ignore")
    repo = make_git_repo({"deploy.yaml": deployment_manifest()})
    app = application(name, repo.url, interval="2s")
    app["spec"]["ignoreDifferences"] = [
        {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
    ]
    await create_app(kube, app)
    await wait_for(kube, name, ready)
    # An autoscaler (here: kubectl scale) owns replicas from now on.
    await asyncio.to_thread(kubectl, "-n", name, "scale", "deployment", "web", "--replicas=3")
    # A new commit changes the Deployment elsewhere, so the controller applies it:
    # the apply must carry the new image and leave the ignored replicas alone.
    revision = repo.commit({"deploy.yaml": deployment_manifest(image="example.com/web:2.0")})

    def applied(app: JSON) -> bool:
        sync = (app.get("status") or {}).get("sync") or {}
        return sync.get("revision") == revision and sync.get("status") == "Synced"

    await wait_for(kube, name, applied, timeout=120, what=f"a sync of {revision}")
    live = await kube.get("apps/v1", "Deployment", "web", name)
    assert live is not None
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "example.com/web:2.0"
    assert live["spec"]["replicas"] == 3


async def test_prune_removes_exactly_what_left_git(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("prune")
    repo = make_git_repo(
        {
            "a.yaml": cm("a"),
            "b.yaml": cm("b"),
            "keep.yaml": cm("keep"),
            "d.yaml": deployment_manifest(),
        }
    )
    app = application(name, repo.url, interval="2s")
    app["spec"]["syncPolicy"]["automated"]["prune"] = True
    await create_app(kube, app)
    await wait_for(kube, name, ready)
    # An object the app never owned, in its namespace: must survive.
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "foreign", "namespace": name},
        },
        field_manager="someone-else",
    )
    # One that git will drop but that says Prune=false.
    keep = configmap_manifest(
        "keep", {"v": "1"}, annotations={SYNC_OPTIONS_ANNOTATION: "Prune=false"}
    )
    repo.commit({"keep.yaml": keep}, "protect keep")
    await wait_for(kube, name, lambda a: a["status"]["sync"]["revision"] == repo.head())

    sha = repo.commit(delete=["b.yaml", "d.yaml", "keep.yaml"], message="drop b, d and keep")
    app_now = await wait_for(
        kube,
        name,
        lambda a: a["status"]["sync"]["revision"] == sha and ready(a),
        timeout=30,
    )
    assert await kube.get("v1", "ConfigMap", "b", name) is None
    assert await kube.get("apps/v1", "Deployment", "web", name) is None
    assert await kube.get("v1", "ConfigMap", "a", name) is not None
    assert await kube.get("v1", "ConfigMap", "foreign", name) is not None
    assert await kube.get("v1", "ConfigMap", "keep", name) is not None
    kept = next(r for r in app_now["status"]["resources"] if r["name"] == "keep")
    assert kept["requiresPruning"] is True and "Prune=false" in kept["message"]


async def test_without_prune_orphans_are_reported(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("noprune")
    repo = make_git_repo(
        {
            "a.yaml": cm("a"),
            "b.yaml": cm("b"),
        }
    )
    await create_app(kube, application(name, repo.url, interval="2s"))
    await wait_for(kube, name, ready)
    sha = repo.commit(delete=["b.yaml"], message="drop b")
    found = await wait_for(
        kube,
        name,
        lambda a: (
            a["status"]["sync"]["revision"] == sha and a["status"]["sync"]["status"] == "OutOfSync"
        ),
        timeout=30,
    )
    row = next(r for r in found["status"]["resources"] if r["name"] == "b")
    assert row["requiresPruning"] is True and row["message"] == "requires pruning"
    assert await kube.get("v1", "ConfigMap", "b", name) is not None


async def test_empty_render_never_prunes_everything(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("empty")
    repo = make_git_repo({"app/a.yaml": cm("a"), "README.md": "x"})
    app = application(name, repo.url, path="app", interval="2s")
    app["spec"]["syncPolicy"]["automated"]["prune"] = True
    await create_app(kube, app)
    await wait_for(kube, name, ready)
    sha = repo.commit({"app/notes.txt": "emptied by mistake"}, delete=["app/a.yaml"])
    found = await wait_for(kube, name, lambda a: a["status"]["sync"]["revision"] == sha, timeout=30)
    assert await kube.get("v1", "ConfigMap", "a", name) is not None
    row = next(r for r in found["status"]["resources"] if r["name"] == "a")
    assert "refusing to prune" in row["message"]


async def test_deleting_app_with_finalizer_deletes_its_objects(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    with_finalizer, without = unique("fin"), unique("nofin")
    repo = make_git_repo({"a.yaml": cm("a")})
    app = application(with_finalizer, repo.url)
    app["metadata"]["finalizers"] = ["resources-finalizer.driftless.dev"]
    await create_app(kube, app)
    await create_app(kube, application(without, repo.url))
    await wait_for(kube, with_finalizer, ready)
    await wait_for(kube, without, ready)
    for name in (with_finalizer, without):
        await kube.delete(API_VERSION, "Application", name, APPS_NAMESPACE)
    for _ in range(600):  # 120 s: the deadline of a loaded machine, not a speed test
        gone = await kube.get(API_VERSION, "Application", with_finalizer, APPS_NAMESPACE) is None
        if gone:
            break
        await asyncio.sleep(0.2)
    assert gone, "the finalizer was never removed"
    assert await kube.get("v1", "ConfigMap", "a", with_finalizer) is None
    assert await kube.get("v1", "ConfigMap", "a", without) is not None


async def test_project_restrictions(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    project = unique("team")
    good_repo = make_git_repo({"a.yaml": cm("a")})
    cluster_scoped = make_git_repo(
        {
            "a.yaml": cm("a"),
            "role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
            "metadata:\n  name: PLACEHOLDER\nrules: []\n",
        }
    )
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": "Project",
            "metadata": {"name": project, "namespace": APPS_NAMESPACE},
            "spec": {
                "sourceRepos": [good_repo.url, cluster_scoped.url],
                "destinations": [{"server": "*", "namespace": f"{project}-*"}],
                "namespaceResourceDenyList": [{"group": "", "kind": "Secret"}],
            },
        },
        field_manager="test",
    )

    allowed = f"{project}-ok"
    app = application(allowed, good_repo.url)
    app["spec"]["project"] = project
    await create_app(kube, app)
    await wait_for(kube, allowed, ready)

    wrong_ns = unique("elsewhere")
    app = application(wrong_ns, good_repo.url)
    app["spec"]["project"] = project
    await create_app(kube, app)
    found = await wait_for(kube, wrong_ns, ready_false_with("ProjectViolation"))
    assert f"namespace {wrong_ns} is not permitted in project {project}" in str(
        condition(found, "Ready")
    )
    assert await kube.get("v1", "ConfigMap", "a", wrong_ns) is None

    wrong_repo_app = f"{project}-repo"
    other = make_git_repo({"a.yaml": cm("a")})
    app = application(wrong_repo_app, other.url)
    app["spec"]["project"] = project
    await create_app(kube, app)
    found = await wait_for(kube, wrong_repo_app, ready_false_with("ProjectViolation"))
    assert "is not permitted in project" in str(condition(found, "Ready"))

    role_app = f"{project}-role"
    app = application(role_app, cluster_scoped.url)
    app["spec"]["project"] = project
    await create_app(kube, app)
    found = await wait_for(kube, role_app, ready_false_with("ProjectViolation"))
    message = str(condition(found, "Ready"))
    assert "ClusterRole" in message and "role.yaml" in message
    assert await kube.get("v1", "ConfigMap", "a", role_app) is None

    missing = unique("noproject")
    app = application(missing, good_repo.url)
    app["spec"]["project"] = "does-not-exist"
    await create_app(kube, app)
    found = await wait_for(kube, missing, ready_false_with("ProjectViolation"))
    assert "project does-not-exist does not exist" in str(condition(found, "Ready"))
