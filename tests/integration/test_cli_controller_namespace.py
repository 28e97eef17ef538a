"""`driftless app diff` plans against the controller's own namespace (review item 7).

A controller installed in another namespace than ``driftless`` reads Projects
only there and protects that namespace as a destination; `app diff` must use
the same home (``--controller-namespace`` / ``$DRIFTLESS_CONTROLLER_NAMESPACE``),
not the default one: otherwise it reads the wrong Projects and lets a tenant
preview a deploy into the controller's namespace that the controller refuses.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import pytest

from driftless.core.models import API_VERSION
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import application, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  v: '1'\n"


def diff_cli(
    cluster: DevCluster, name: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftless.cli.main", f"--kubeconfig={cluster.kubeconfig}",
         "app", "diff", name, *args],
        capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


async def _namespace(kube: KubeClient, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    await kube.apply(body, field_manager="test")


def _tenant_app(name: str, tenant: str, repo_url: str, project: str, dest: str) -> JSON:
    app = application(name, repo_url, namespace=dest, automated=False, create_namespace=False)
    app["metadata"]["namespace"] = tenant
    app["spec"]["project"] = project
    return app


async def test_app_diff_uses_the_controller_namespace_for_projects_and_protection(
    kube: KubeClient, devcluster: DevCluster, make_git_repo: MakeGitRepo
) -> None:
    home, tenant, project = unique("ops"), unique("team"), unique("proj")
    for namespace in (home, tenant):
        await _namespace(kube, namespace)
    spec = {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
        "sourceNamespaces": [tenant],
    }
    body = {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {"name": project, "namespace": home},
        "spec": spec,
    }
    await kube.apply(body, field_manager="test")
    repo = make_git_repo({"cm.yaml": CM})
    good, hostile = f"{tenant}-ok", f"{tenant}-home"
    await kube.apply(_tenant_app(good, tenant, repo.url, project, tenant), field_manager="test")
    # Hostile: a tenant's app aimed at the controller's own namespace.
    await kube.apply(_tenant_app(hostile, tenant, repo.url, project, home), field_manager="test")

    # The Project lives in the controller's namespace: found there, by flag or env.
    by_flag = await asyncio.to_thread(
        diff_cli, devcluster, good, "-n", tenant, "--controller-namespace", home
    )
    assert by_flag.returncode == 1, by_flag.stdout + by_flag.stderr
    assert "ConfigMap" in by_flag.stdout and "hello" in by_flag.stdout
    by_env = await asyncio.to_thread(
        diff_cli, devcluster, good, "-n", tenant, env={"DRIFTLESS_CONTROLLER_NAMESPACE": home}
    )
    assert by_env.returncode == 1, by_env.stdout + by_env.stderr
    assert "hello" in by_env.stdout

    # The controller's namespace is protected: no glob destination reaches it.
    refused = await asyncio.to_thread(
        diff_cli, devcluster, hostile, "-n", tenant, "--controller-namespace", home
    )
    assert refused.returncode != 0 and refused.stdout == "", refused.stdout + refused.stderr
    assert f"namespace {home} belongs to the driftless controller" in refused.stderr
    assert "Traceback" not in refused.stderr

    # Without it the CLI looks in the default namespace, where this Project is not.
    default = await asyncio.to_thread(diff_cli, devcluster, good, "-n", tenant)
    assert default.returncode != 0 and default.stdout == "", default.stdout + default.stderr
    assert f"project {project} does not exist in namespace driftless" in default.stderr
