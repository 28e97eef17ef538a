"""Push mode: ``driftless render``, ``diff --local`` and ``apply`` run as a CI job would.

Every command runs as a real subprocess of the installed ``driftless`` entry
point. ``render`` runs with
``KUBECONFIG=/nonexistent`` to prove it needs no cluster.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftless.core.wellknown import TRACKING_ANNOTATION
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo, git
from tests.integration.cli_driver import entry_point
from tests.integration.helpers import APPS_NAMESPACE, application, create_app, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "render"


def driftless(
    *args: str, kubeconfig: Path | str = "/nonexistent"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    return subprocess.run(
        [entry_point(), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )


async def run(
    *args: str, kubeconfig: Path | str = "/nonexistent"
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(driftless, *args, kubeconfig=kubeconfig)


def docs(text: str) -> list[JSON]:
    return [d for d in yaml.safe_load_all(text) if d]


def configmap(name: str, value: str) -> str:
    return (
        f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: "{value}"\n'
    )


def deployment(name: str, *, deadline: int = 600, unschedulable: bool = False) -> str:
    selector = "      nodeSelector: {nowhere: 'true'}\n" if unschedulable else ""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  progressDeadlineSeconds: {deadline}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
{selector}      containers:
        - name: app
          image: example.com/{name}:1
"""


# ------------------------------------------------------------------ render


async def test_render_plain_directory_offline(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.yaml").write_text(configmap("a", "1") + "---\n" + configmap("b", "2"))
    result = await run("render", "--repo", str(tmp_path), "--path", "app")
    assert result.returncode == 0, result.stderr
    assert [d["metadata"]["name"] for d in docs(result.stdout)] == ["a", "b"]
    as_json = await run("render", "--repo", str(tmp_path), "--path", "app", "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert yaml.safe_load(as_json.stdout)["kind"] == "List"


async def test_render_git_repo_at_revision(make_git_repo: MakeGitRepo) -> None:
    repo = make_git_repo({"app/cm.yaml": configmap("cm", "first")})
    first = repo.head()
    repo.commit({"app/cm.yaml": configmap("cm", "second")})
    at_first = await run("render", "--repo", str(repo.path), "--path", "app", "--revision", first)
    assert at_first.returncode == 0, at_first.stderr
    assert docs(at_first.stdout)[0]["data"]["value"] == "first"
    at_head = await run("render", "--repo", repo.url, "--path", "app")
    assert docs(at_head.stdout)[0]["data"]["value"] == "second"


async def test_render_kustomize_overlay_and_helm(tmp_path: Path) -> None:
    overlay = await run("render", "--repo", str(FIXTURES / "kustomize"), "--path", "overlays/prod")
    assert overlay.returncode == 0, overlay.stderr
    objects = docs(overlay.stdout)
    # The overlay itself took effect, not just the base: prefix, namespace, image tag.
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert deployment["metadata"]["name"].startswith("prod-")
    assert deployment["metadata"]["namespace"] == "web-prod"
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert "registry.example.com/web:1.0.3" in images
    chart = await run(
        "render", "--repo", str(FIXTURES / "helm"), "--path", "demo", "--namespace", "shop",
        "--kube-version", "v1.35.1",
    )  # fmt: skip
    assert chart.returncode == 0, chart.stderr
    rendered = docs(chart.stdout)
    # --namespace and --kube-version reached helm: the chart echoes both.
    (cluster,) = [o for o in rendered if o["metadata"]["name"].endswith("-cluster")]
    assert cluster["metadata"]["namespace"] == "shop"
    assert cluster["data"]["kubeVersion"] == "v1.35.1"
    assert any(o["kind"] == "Deployment" for o in rendered)


async def test_render_errors_are_exit_5_and_usage_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    bad = await run("render", "--repo", str(tmp_path))
    assert bad.returncode == 5, bad.stderr
    assert "bad.yaml" in bad.stderr and "Traceback" not in bad.stderr
    missing = await run("render", "--repo", str(tmp_path), "--path", "nowhere")
    assert missing.returncode == 5
    unreachable = await run("render", "--repo", "http://127.0.0.1:9/none.git")
    assert unreachable.returncode == 5, unreachable.stderr
    revision_of_plain = await run("render", "--repo", str(tmp_path), "--revision", "main")
    assert revision_of_plain.returncode == 2
    flag = await run("render", "--repo", str(tmp_path), "--bogus")
    assert flag.returncode == 2


# ------------------------------------------------------------------- apply


def fresh_clone(origin: Path, tmp: Path, label: str) -> Path:
    """What a CI job starts from: a new clone of the repository."""
    target = tmp / f"ci-{label}"
    git("clone", "--quiet", str(origin), str(target), cwd=tmp)
    return target


async def managers(kube: KubeClient, kind: str, name: str, ns: str) -> set[str]:
    api = "apps/v1" if kind == "Deployment" else "v1"
    live = await kube.get(api, kind, name, ns)
    assert live is not None, f"{kind} {name} missing"
    return {m.get("manager") for m in live["metadata"].get("managedFields") or []}


async def test_ci_job_apply_update_prune_and_broken_commit(
    kube: KubeClient, devcluster: DevCluster, make_git_repo: MakeGitRepo, tmp_path: Path
) -> None:
    ns = unique("push")
    repo = make_git_repo(
        {
            "app/a.yaml": configmap("a", "1"),
            "app/b.yaml": configmap("b", "1"),
            "app/web.yaml": deployment("web"),
        }
    )
    cfg = devcluster.kubeconfig
    flags = (
        "--path",
        "app",
        "--dest-namespace",
        ns,
        "--name",
        ns,
        "--wait",
        "--prune",
        "--create-namespace",
    )

    first = await run("apply", "--repo", str(fresh_clone(repo.path, tmp_path, "1")), *flags,
                      kubeconfig=cfg)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "===== added: ConfigMap" in first.stdout  # the diff of what changes
    assert "healthy" in first.stderr
    live_a = await kube.get("v1", "ConfigMap", "a", ns)
    assert live_a is not None
    # Push mode names the app after its destination namespace, in that namespace.
    assert live_a["metadata"]["annotations"][TRACKING_ANNOTATION] == f"{ns}_{ns}:/ConfigMap:{ns}/a"
    assert "driftless" in await managers(kube, "ConfigMap", "a", ns)
    assert "driftless" in await managers(kube, "Deployment", "web", ns)
    assert await kube.get("v1", "ConfigMap", f"driftless-inventory-{ns}", ns) is not None

    repo.commit({"app/a.yaml": configmap("a", "2")}, delete=["app/b.yaml"])
    second = await run("apply", "--repo", str(fresh_clone(repo.path, tmp_path, "2")), *flags,
                       kubeconfig=cfg)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert await kube.get("v1", "ConfigMap", "b", ns) is None
    live_a = await kube.get("v1", "ConfigMap", "a", ns)
    assert live_a is not None and live_a["data"]["value"] == "2"

    repo.commit({"app/a.yaml": configmap("a", "3") + "  broken: [\n"})
    broken = await run("apply", "--repo", str(fresh_clone(repo.path, tmp_path, "3")), *flags,
                       kubeconfig=cfg)  # fmt: skip
    assert broken.returncode == 5, broken.stderr
    assert "Traceback" not in broken.stderr
    live_a = await kube.get("v1", "ConfigMap", "a", ns)
    assert live_a is not None and live_a["data"]["value"] == "2"
    assert await kube.get("apps/v1", "Deployment", "web", ns) is not None

    # The merge-request preview: a checkout compared with the cluster via an Application.
    # Push mode tracked the objects as app ``ns`` of namespace ``ns``: the Application
    # that previews them is that app, so it lives there, with a Project admitting it.
    repo.commit({"app/a.yaml": configmap("a", "2")})
    checkout = fresh_clone(repo.path, tmp_path, "4")
    project = {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Project",
        "metadata": {"name": f"preview-{ns}", "namespace": APPS_NAMESPACE},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": ns}],
            "sourceNamespaces": [ns],
        },
    }
    await kube.apply(project, field_manager="test")
    app = application(ns, repo.url, path="app", namespace=ns, automated=False)
    app["metadata"]["namespace"] = ns
    app["spec"]["project"] = f"preview-{ns}"
    await create_app(kube, app)
    try:
        same = await run("diff", "--local", str(checkout / "app"), "--app", ns,
                         "-n", ns, kubeconfig=cfg)  # fmt: skip
        assert same.returncode == 0, same.stdout + same.stderr
        assert same.stdout == "" and same.stderr == ""
        (checkout / "app" / "a.yaml").write_text(configmap("a", "edited"))
        edited = await run("diff", "--local", str(checkout / "app"), "--app", ns,
                           "-n", ns, kubeconfig=cfg)  # fmt: skip
        assert edited.returncode == 1, edited.stderr
        changed = [line for line in edited.stdout.splitlines() if line.startswith("=====")]
        assert changed == [f"===== changed: ConfigMap {ns}/a ====="], edited.stdout
        assert '+  value: "edited"' in edited.stdout or "+  value: edited" in edited.stdout
        assert '-  value: "2"' in edited.stdout or "-  value: '2'" in edited.stdout
    finally:
        await kube.delete("driftless.dev/v1alpha1", "Application", ns, ns)
        await kube.delete("driftless.dev/v1alpha1", "Project", f"preview-{ns}", APPS_NAMESPACE)


async def test_apply_degraded_is_exit_3(
    kube: KubeClient, devcluster: DevCluster, tmp_path: Path
) -> None:
    ns = unique("push-degraded")
    (tmp_path / "web.yaml").write_text(deployment("stuck", deadline=3, unschedulable=True))
    result = await run(
        "apply", "--repo", str(tmp_path), "--dest-namespace", ns, "--name", "stuck",
        "--create-namespace", "--wait", "--timeout", "2m", kubeconfig=devcluster.kubeconfig,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "Degraded" in result.stderr


async def test_apply_timeout_is_exit_4(
    kube: KubeClient, devcluster: DevCluster, tmp_path: Path
) -> None:
    ns = unique("push-slow")
    (tmp_path / "web.yaml").write_text(deployment("slow", unschedulable=True))
    result = await run(
        "apply", "--repo", str(tmp_path), "--dest-namespace", ns, "--name", "slow",
        "--create-namespace", "--wait", "--timeout", "2s", kubeconfig=devcluster.kubeconfig,
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "timed out" in result.stderr
