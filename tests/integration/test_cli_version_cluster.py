"""``driftless version``, ``completion`` and ``cluster add|list|rm`` against the dev cluster."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftless.cli.version import CONTROLLER_CONFIGMAP
from driftless.core.models import API_VERSION
from driftless.core.project import PROJECT_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube import clusters
from driftless.kube.client import KubeClient
from tests.integration.cli_driver import entry_point, invoke, run_subprocess
from tests.integration.helpers import APPS_NAMESPACE, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

K8S_VERSION = "v1.36.3"


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def unreachable(devcluster: DevCluster, tmp_path: Path) -> Path:
    config = yaml.safe_load(devcluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    return write_kubeconfig(tmp_path / "unreachable.yaml", config)


# -- version -------------------------------------------------------------------------


async def test_version_reports_client_cluster_and_controller(
    devcluster: DevCluster, kube: KubeClient
) -> None:
    kc = devcluster.kubeconfig
    result = await run_subprocess(kc, "version", "-n", "default")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        f"Kubernetes Version: {K8S_VERSION}",
        "Controller Version: not found",
    ]
    assert result.stdout.startswith("Client Version: ")

    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONTROLLER_CONFIGMAP, "namespace": "kube-public"},
        "data": {"version": "9.8.7"},
    }
    await kube.apply(cm, field_manager="test")
    as_json = await invoke(kc, "version", "-o", "json", "-n", "kube-public")
    assert json.loads(as_json.stdout)["controller"] == "9.8.7"
    assert json.loads(as_json.stdout)["server"] == K8S_VERSION
    await kube.delete("v1", "ConfigMap", CONTROLLER_CONFIGMAP, "kube-public")

    client_only = await invoke(kc, "version", "--client", "-o", "yaml")
    assert set(yaml.safe_load(client_only.stdout)) == {"client"}


async def test_unreachable_cluster_is_one_clear_line(
    devcluster: DevCluster, tmp_path: Path
) -> None:
    kc = unreachable(devcluster, tmp_path)
    version = await run_subprocess(kc, "version")
    assert version.returncode == 1
    assert version.stdout.startswith("Client Version: ")
    assert version.stderr.startswith("Error: cannot reach the API server at https://127.0.0.1:1")
    for args in (("project", "list"), ("cluster", "list"), ("app", "set", "x", "--path", "p")):
        result = await run_subprocess(kc, *args)
        assert result.returncode == 1, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("Error: cannot reach the API server"), result.stderr


# -- completion ----------------------------------------------------------------------


async def test_completion_scripts(devcluster: DevCluster) -> None:
    for shell in ("bash", "zsh", "fish"):
        result = await run_subprocess(devcluster.kubeconfig, "completion", shell)
        assert result.returncode == 0, result.stderr
        assert "_DRIFTLESS_COMPLETE" in result.stdout


# -- clusters ------------------------------------------------------------------------


async def test_cluster_add_list_rm(
    devcluster: DevCluster, kube: KubeClient, tmp_path: Path
) -> None:
    kc = devcluster.kubeconfig
    config = yaml.safe_load(kc.read_text())
    context = config["current-context"]
    key_b64 = config["users"][0]["user"]["client-key-data"]
    key_pem_lines = [
        line for line in base64.b64decode(key_b64).decode().splitlines() if "-----" not in line
    ]

    added = await run_subprocess(
        kc, "cluster", "add", context, "--kubeconfig", str(kc), "--name", "dev"
    )
    assert added.returncode == 0, added.stderr
    assert (
        added.stdout.strip() == f"cluster dev ({devcluster.server}, Kubernetes {K8S_VERSION}) added"
    )

    secrets = await kube.list(
        "v1", "Secret", APPS_NAMESPACE, label_selector=clusters.CLUSTER_SECRET_SELECTOR
    )
    secret = next(
        s for s in secrets if s["metadata"]["name"] == clusters.secret_name_for(devcluster.server)
    )
    connection = clusters.connection_from_secret(secret)
    assert (connection.name, connection.server, connection.auth_type) == (
        "dev", devcluster.server, "client-certificate",
    )  # fmt: skip
    # What was stored is enough to reach the cluster: what the controller will do.
    remote = await clusters.connect(connection)
    try:
        assert (await remote.version())["gitVersion"] == K8S_VERSION
    finally:
        await remote.close()

    for output in ("table", "wide", "json", "yaml", "name"):
        listed = await invoke(kc, "cluster", "list", "-o", output)
        assert listed.exit_code == 0, listed.output
        assert key_b64 not in listed.output
        assert not any(line in listed.output for line in key_pem_lines)
        assert "keyData" not in listed.output and "certData" not in listed.output
    table = (await invoke(kc, "cluster", "list")).stdout.splitlines()
    assert table[0].split() == ["NAME", "SERVER", "AUTH"]
    assert table[1].split() == ["in-cluster", "https://kubernetes.default.svc", "service-account"]
    assert ["dev", devcluster.server, "client-certificate"] in [r.split() for r in table]

    again = await invoke(kc, "cluster", "add", context, "--name", "dev")
    assert again.exit_code == 1
    assert again.output.strip() == (
        f"Error: cluster {devcluster.server} is already registered; use --upsert to replace it"
    )
    renamed = await invoke(
        kc, "cluster", "add", context, "--name", "dev2", "--upsert", "--skip-check"
    )
    assert renamed.exit_code == 0, renamed.output
    assert renamed.stdout.strip() == f"cluster dev2 ({devcluster.server}) updated"

    builtin = await invoke(kc, "cluster", "rm", "in-cluster")
    assert builtin.exit_code == 1 and "built in" in builtin.output
    removed = await run_subprocess(kc, "cluster", "rm", devcluster.server)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == f"cluster dev2 ({devcluster.server}) removed"
    missing = await invoke(kc, "cluster", "rm", "dev2")
    assert missing.exit_code == 1
    assert (
        missing.output.strip()
        == f"Error: no cluster named or at 'dev2' in namespace {APPS_NAMESPACE}"
    )
    assert "dev2" not in (await invoke(kc, "cluster", "list")).stdout


async def test_cluster_add_refuses_what_the_controller_cannot_use(
    devcluster: DevCluster, kube: KubeClient, tmp_path: Path
) -> None:
    config = yaml.safe_load(devcluster.kubeconfig.read_text())
    context = config["current-context"]
    config["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws",
                 "args": ["eks", "get-token"]}
    }  # fmt: skip
    exec_kc = write_kubeconfig(tmp_path / "exec.yaml", config)
    refused = await invoke(
        devcluster.kubeconfig, "cluster", "add", context, "--kubeconfig", str(exec_kc)
    )
    assert refused.exit_code == 1
    assert refused.output.strip().startswith(
        f"Error: context {context} authenticates with an exec plugin (aws), which the controller"
        " cannot run"
    )
    unknown = await invoke(devcluster.kubeconfig, "cluster", "add", "nope")
    assert unknown.exit_code == 1
    assert (
        unknown.output.strip() == f"Error: kubeconfig has no context 'nope' (contexts: {context})"
    )

    down = unreachable(devcluster, tmp_path)
    unreachable_target = await invoke(
        devcluster.kubeconfig,
        "cluster",
        "add",
        context,
        "--kubeconfig",
        str(down),
        "--name",
        "down",
    )
    assert unreachable_target.exit_code == 1
    assert "cannot use cluster down at https://127.0.0.1:1" in unreachable_target.output
    assert "--skip-check" in unreachable_target.output


async def test_completion_offers_names_from_the_cluster(
    devcluster: DevCluster, kube: KubeClient
) -> None:
    name = unique("complete-me")
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": PROJECT_KIND,
            "metadata": {"name": name, "namespace": APPS_NAMESPACE},
            "spec": {},
        },
        field_manager="test",
    )
    words = f"driftless --kubeconfig {devcluster.kubeconfig} project get complete-"
    env = {**os.environ, "_DRIFTLESS_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": "5"}  # fmt: skip
    result = await asyncio.to_thread(
        subprocess.run,
        [entry_point()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"plain,{name}" in result.stdout.splitlines()
    assert all(line.split(",", 1)[1].startswith("complete-") for line in result.stdout.splitlines())
    await kube.delete(API_VERSION, PROJECT_KIND, name, APPS_NAMESPACE)

    # An unreachable cluster completes nothing, quietly.
    env["COMP_WORDS"] = "driftless --kubeconfig /does/not/exist project get x"
    quiet = await asyncio.to_thread(
        subprocess.run, [entry_point()], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert (quiet.returncode, quiet.stdout.strip(), quiet.stderr) == (0, "", "")
