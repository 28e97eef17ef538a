"""``driftless install --namespaced`` on the embedded cluster: what the controller may do.

The install is applied for real (so the API server validates every object,
the projected token volume included), then ``kubectl auth can-i`` asks the
API server's own authorizer, as the controller's ServiceAccount, what that
identity may touch. Uninstall removes the namespaced RBAC again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.devcluster import binaries
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.kube.errors import KubeForbiddenError
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    condition,
    configmap_manifest,
    deployment_manifest,
    ready,
    unique,
)
from tests.integration.server_inprocess import serving

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

RBAC = "rbac.authorization.k8s.io/v1"


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


async def driftless(cluster: DevCluster, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "driftless.cli.main", "--kubeconfig", str(cluster.kubeconfig)]
    return await asyncio.to_thread(run, [*argv, *args])


async def can_i(cluster: DevCluster, identity: str, *args: str) -> bool:
    kubectl = str(binaries.tool("kubectl"))
    argv = [kubectl, "--kubeconfig", str(cluster.kubeconfig), "auth", "can-i", *args]
    result = await asyncio.to_thread(run, [*argv, f"--as={identity}"])
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


async def test_namespaced_install_confines_the_controller_to_its_namespace(
    devcluster: DevCluster, kube: KubeClient
) -> None:
    namespace = unique("single-tenant")
    installed = await driftless(
        devcluster, "install", "--namespaced", "--with-server", "--namespace", namespace
    )
    assert installed.returncode == 0, installed.stderr
    assert "role/driftless-controller applied" in installed.stdout
    deployment = await kube.get("apps/v1", "Deployment", "driftless-controller", namespace)
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False

    me = f"system:serviceaccount:{namespace}:driftless-controller"
    # Everything in its own namespace ...
    for verb, resource in [
        ("create", "configmaps"),
        ("delete", "deployments.apps"),
        ("patch", "applications.driftless.dev"),
        ("list", "secrets"),
    ]:
        assert await can_i(devcluster, me, verb, resource, "-n", namespace), (verb, resource)
    # ... and nothing elsewhere: other namespaces, all namespaces, cluster-scoped kinds.
    for args in [
        ("create", "configmaps", "-n", "default"),
        ("get", "secrets", "-n", "kube-system"),
        ("list", "configmaps", "--all-namespaces"),
        ("create", "namespaces"),
        ("create", "clusterrolebindings"),
        ("create", "customresourcedefinitions.apiextensions.k8s.io"),
        ("get", "nodes"),
        ("escalate", "roles", "-n", "default"),
    ]:
        assert not await can_i(devcluster, me, *args), args

    # The server of a namespaced install: its namespace only, read-only but for Applications.
    server = f"system:serviceaccount:{namespace}:driftless-server"
    for args in [
        ("list", "applications.driftless.dev", "-n", namespace),
        ("patch", "applications.driftless.dev", "-n", namespace),
        ("watch", "pods", "-n", namespace),
        ("list", "events", "-n", namespace),
        ("patch", "secrets/driftless-sessions", "-n", namespace),
    ]:
        assert await can_i(devcluster, server, *args), args
    for args in [
        ("list", "applications.driftless.dev", "--all-namespaces"),
        ("list", "pods", "-n", "default"),
        ("patch", "deployments.apps", "-n", namespace),
        ("delete", "secrets", "-n", namespace),
        ("create", "secrets", "-n", namespace),
        ("get", "secrets", "-n", "kube-system"),
        ("list", "namespaces"),
    ]:
        assert not await can_i(devcluster, server, *args), args

    removed = await driftless(devcluster, "uninstall", "--namespace", namespace)
    assert removed.returncode == 0, removed.stderr
    assert await kube.get(RBAC, "RoleBinding", "driftless-server-view", namespace) is None
    assert await kube.get(RBAC, "Role", "driftless-controller", namespace) is None
    assert await kube.get(RBAC, "RoleBinding", "driftless-controller", namespace) is None
    assert not await can_i(devcluster, me, "create", "configmaps", "-n", namespace)


def service_account_kubeconfig(cluster: DevCluster, token: str, path: Path) -> Path:
    """The admin kubeconfig's cluster, with the ServiceAccount's token as the user."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    cluster_entry = admin["clusters"][0]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster_entry],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": cluster_entry["name"], "user": "sa"}}],
        "current-context": "sa",
    }
    path.write_text(yaml.safe_dump(config))
    return path


async def test_a_namespaced_controller_syncs_its_namespace_and_nothing_else(
    devcluster: DevCluster, kube: KubeClient, make_git_repo: MakeGitRepo, tmp_path: Path
) -> None:
    """The controller runs with the namespaced install's token, as the pod would."""
    namespace = unique("tenant")
    installed = await driftless(devcluster, "install", "--namespaced", "--namespace", namespace)
    assert installed.returncode == 0, installed.stderr
    kubectl = str(binaries.tool("kubectl"))
    token = await asyncio.to_thread(
        run,
        [kubectl, "--kubeconfig", str(devcluster.kubeconfig), "create", "token",
         "driftless-controller", "-n", namespace, "--duration", "1h"],
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    config = service_account_kubeconfig(devcluster, token.stdout.strip(), tmp_path / "sa.yaml")
    argv = [
        sys.executable, "-m", "driftless.cli.main", "--kubeconfig", str(config), "controller",
        "--namespace", namespace, "--scope", "namespace", "--allow-local-repositories",
        "--cache-dir", str(tmp_path / "cache"), "--interval", "1h",
    ]  # fmt: skip
    controller = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)  # noqa: ASYNC220
    try:
        repo = make_git_repo({"cm.yaml": CM})
        inside, outside = unique("inside"), unique("outside")
        for name, destination in ((inside, namespace), (outside, "default")):
            app = application(name, repo.url, namespace=destination, create_namespace=False)
            app["metadata"]["namespace"] = namespace
            await kube.apply(app, field_manager="test")
        found = await wait_in(kube, namespace, inside, ready, "the app in its namespace")
        assert found is not None
        assert await kube.get("v1", "ConfigMap", "scoped", namespace) is not None
        refused = await wait_in(kube, namespace, outside, not_ready, "the app outside refused")
        message = str((condition(refused, "Ready") or {}).get("message"))
        assert "default" in message, message
        assert await kube.get("v1", "ConfigMap", "scoped", "default") is None
    finally:
        controller.terminate()
        _, stderr = await asyncio.to_thread(controller.communicate, timeout=120)
    # SIGTERM is how a pod is stopped: a clean exit, not a crash.
    assert controller.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    await driftless(devcluster, "uninstall", "--namespace", namespace)


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scoped\ndata:\n  a: b\n"


def not_ready(app: dict[str, Any]) -> bool:
    found = condition(app, "Ready")
    return found is not None and found["status"] == "False"


async def wait_in(
    kube: KubeClient, namespace: str, name: str, check: Any, what: str, timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    app: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        app = await kube.get(API_VERSION, APPLICATION_KIND, name, namespace)
        if app is not None and check(app):
            return app
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {app and app.get('status')}")


async def test_the_server_s_own_rbac_lets_it_serve_and_refuses_the_rest(
    devcluster: DevCluster,
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    tmp_path: Path,
) -> None:
    """``install --with-server``: what the server's ServiceAccount may do, asked two ways.

    The API server's authorizer is asked as that identity (``kubectl auth
    can-i --as``), then the server runs in this process with a token of the
    ServiceAccount (as its pod would) and does its work: caches listed, the
    admin account made, a login, an app read and refreshed, its tree read
    down to the Pods (a Secret the app manages is not readable: said as partial).
    """
    namespace = unique("with-server")
    installed = await driftless(devcluster, "install", "--with-server", "--namespace", namespace)
    assert installed.returncode == 0, installed.stderr
    for line in ["serviceaccount/driftless-server applied", "service/driftless-server applied",
                 "deployment/driftless-server applied",
                 f"clusterrolebinding/driftless-server-view-{namespace} applied"]:  # fmt: skip
        assert line in installed.stdout, installed.stdout
    me = f"system:serviceaccount:{namespace}:driftless-server"
    try:
        allowed = [
            ("list", "applications.driftless.dev", "--all-namespaces"),
            ("patch", "applications.driftless.dev", "-n", "default"),
            ("create", "applications.driftless.dev", "-n", namespace),
            ("delete", "applications.driftless.dev", "-n", namespace),
            ("watch", "projects.driftless.dev", "-n", namespace),
            ("list", "pods", "--all-namespaces"),
            ("watch", "replicasets.apps", "-n", "default"),
            ("list", "endpointslices.discovery.k8s.io", "-n", "default"),
            ("list", "controllerrevisions.apps", "-n", "default"),
            ("list", "jobs.batch", "-n", "default"),
            ("list", "events", "--all-namespaces"),
            ("list", "secrets", "-n", namespace),
            ("patch", "secrets/driftless-sessions", "-n", namespace),
            ("update", "secrets/driftless-initial-admin", "-n", namespace),
        ]
        for args in allowed:
            assert await can_i(devcluster, me, *args), args
        refused = [
            ("create", "clusterrolebindings"),
            ("get", "secrets", "-n", "kube-system"),
            ("list", "secrets", "--all-namespaces"),
            ("get", "secrets", "-n", "default"),
            ("delete", "secrets", "-n", namespace),
            # A created service-account-token Secret would be filled with any token.
            ("create", "secrets", "-n", namespace),
            ("patch", "secrets/driftless-other", "-n", namespace),
            ("update", "secrets/driftless-admin-copy", "-n", namespace),
            ("patch", "deployments.apps", "-n", "default"),
            ("delete", "pods", "-n", "default"),
            ("create", "configmaps", "-n", namespace),
            ("patch", "projects.driftless.dev", "-n", namespace),
            ("create", "namespaces"),
            ("escalate", "roles", "-n", namespace),
            ("bind", "clusterroles"),
            ("impersonate", "serviceaccounts", "-n", namespace),
            ("create", "serviceaccounts/token", "-n", namespace),
        ]
        for args in refused:
            assert not await can_i(devcluster, me, *args), args
        repo = make_git_repo({"web.yaml": deployment_manifest(), "secret.yaml": SECRET})
        await _serve_as_the_server(devcluster, kube, namespace, repo.url, tmp_path)
    finally:
        removed = await driftless(devcluster, "uninstall", "--namespace", namespace)
    assert removed.returncode == 0, removed.stderr
    for kind, name in [("ServiceAccount", "driftless-server"), ("Service", "driftless-server")]:
        assert await kube.get("v1", kind, name, namespace) is None
    assert await kube.get(RBAC, "ClusterRoleBinding", f"driftless-server-view-{namespace}") is None
    assert not await can_i(devcluster, me, "list", "pods", "-n", "default")


async def _serve_as_the_server(
    devcluster: DevCluster, kube: KubeClient, namespace: str, repo_url: str, tmp_path: Path
) -> None:
    kubectl = str(binaries.tool("kubectl"))
    token = await asyncio.to_thread(
        run,
        [kubectl, "--kubeconfig", str(devcluster.kubeconfig), "create", "token",
         "driftless-server", "-n", namespace, "--duration", "1h"],
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    config = service_account_kubeconfig(devcluster, token.stdout.strip(), tmp_path / "sa.yaml")
    name = unique("served")
    await kube.apply(application(name, repo_url), field_manager="test")  # synced by the controller
    await wait_in(kube, APPS_NAMESPACE, name, ready, "the app synced")
    server = await KubeClient.from_kubeconfig(str(config))
    try:
        # The server's own client cannot do what its RBAC refuses.
        with pytest.raises(KubeForbiddenError):
            await server.get("v1", "Secret", "anything", "kube-system")
        with pytest.raises(KubeForbiddenError):
            await server.create(
                {"apiVersion": RBAC, "kind": "ClusterRoleBinding",
                 "metadata": {"name": unique("escalate")},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                             "name": "cluster-admin"},
                 "subjects": [{"kind": "ServiceAccount", "name": "driftless-server",
                               "namespace": namespace}]}
            )  # fmt: skip
        with pytest.raises(KubeForbiddenError):  # Kubernetes would put the controller's token in
            await server.create(
                {"apiVersion": "v1", "kind": "Secret",
                 "type": "kubernetes.io/service-account-token",
                 "metadata": {"name": unique("stolen"), "namespace": namespace, "annotations": {
                     "kubernetes.io/service-account.name": "driftless-controller"}}}
            )  # fmt: skip
        # The install made the server's Secrets empty; it writes the account into them.
        admin = await kube.get("v1", "Secret", "driftless-admin", namespace)
        assert admin is not None and not admin.get("data"), admin
        async with serving(server, controller_namespace=namespace) as served:
            http = await served.login()
            base = f"{served.url}/api/v1/applications/{APPS_NAMESPACE}/{name}"
            async with http:
                async with http.get(f"{served.url}/api/v1/applications?search={name}") as r:
                    assert r.status == 200, await r.text()
                    assert [a["name"] for a in (await r.json())["items"]] == [name]
                async with http.post(f"{base}/refresh") as resp:
                    assert resp.status == 202, await resp.text()  # a patch of the Application
                tree = await _until_pods(http, f"{base}/tree")
                # Workloads are readable; the Secret the app manages is not, and it says so.
                assert {"Deployment", "ReplicaSet", "Pod"} <= {n["kind"] for n in tree["nodes"]}
                assert "may not list Secret" in str(tree.get("partial")), tree.get("partial")
                async with http.get(f"{base}/events") as resp:
                    assert resp.status == 200, await resp.text()
                async with http.get(f"{served.url}/api/v1/repositories") as resp:
                    assert resp.status == 200, await resp.text()
                async with http.delete(f"{served.url}/api/v1/session") as resp:
                    assert resp.status == 204  # the sessions Secret written both ways
        # Its own Secrets, written with its own token: the account and the sessions.
        for secret in ("driftless-admin", "driftless-initial-admin", "driftless-sessions"):
            assert await kube.get("v1", "Secret", secret, namespace) is not None, secret
    finally:
        await server.close()
        await kube.delete(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)


async def test_the_least_privilege_server_diffs_client_side_exactly_the_drifted_field(
    devcluster: DevCluster,
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
    tmp_path: Path,
) -> None:
    """The server on its ``install --with-server`` token may not dry-run (Kubernetes
    authorizes a dry run like the write): its diff is predicted client-side, says
    so, shows an out-of-band change exactly, and never a Secret it may not read."""
    namespace = unique("diff-rbac")
    installed = await driftless(devcluster, "install", "--with-server", "--namespace", namespace)
    assert installed.returncode == 0, installed.stderr
    me = f"system:serviceaccount:{namespace}:driftless-server"
    try:
        # What an admin does when the server's namespace is not the controller's: its
        # Projects let the apps of the controller's namespace use them.
        await kube.merge_patch(
            API_VERSION, PROJECT_KIND, "default", {"spec": {"sourceNamespaces": [APPS_NAMESPACE]}},
            namespace=namespace,
        )  # fmt: skip
        name = unique("rbac-diff")
        files = {
            "web.yaml": deployment_manifest(),
            "cm.yaml": configmap_manifest("settings", {"color": "blue"}),
            "secret.yaml": SECRET,
        }
        url = git_http_server.publish(make_git_repo(files).path, f"{name}.git")
        await kube.apply(application(name, url), field_manager="test")
        await wait_in(kube, APPS_NAMESPACE, name, ready, "the app synced")
        assert not await can_i(devcluster, me, "patch", "configmaps", "-n", name)
        token = await _server_token(devcluster, namespace)
        config = service_account_kubeconfig(devcluster, token, tmp_path / "sa.yaml")
        server = await KubeClient.from_kubeconfig(str(config))
        texts: list[str] = []
        try:
            async with serving(server, controller_namespace=namespace) as served:
                http = await served.login()
                diff = f"{served.url}/api/v1/applications/{APPS_NAMESPACE}/{name}/diff"
                async with http:
                    synced = await _diff_until(
                        http, diff, texts, lambda r: r["kind"] == "ConfigMap"
                    )
                    by_kind = {r["kind"]: r for r in synced["resources"]}
                    assert {r["predicted"] for r in synced["resources"]} == {"client-side"}
                    # Predicted from the live objects: the API server's defaults are no change.
                    for kind in ("Namespace", "Deployment", "ConfigMap"):
                        assert by_kind[kind]["status"] == "unchanged", by_kind[kind]
                    secret = by_kind["Secret"]
                    assert (secret["status"], secret["diff"]) == ("unreadable", "")
                    assert (
                        secret["message"] == f"this server may not read Secret {name}/served-secret"
                    )

                    await kube.merge_patch(
                        "v1", "ConfigMap", "settings", {"data": {"color": "red"}}, namespace=name
                    )
                    drifted = await _diff_until(
                        http, diff, texts,
                        lambda r: r["kind"] == "ConfigMap" and r["status"] == "changed",
                    )  # fmt: skip
                    changes = {r["kind"]: r for r in drifted["resources"]
                               if r["status"] != "unchanged"}  # fmt: skip
                    assert {k: r["status"] for k, r in changes.items()} == {
                        "ConfigMap": "changed", "Secret": "unreadable"
                    }  # fmt: skip
                    settings = changes["ConfigMap"]
                    assert [
                        line for line in settings["diff"].splitlines()
                        if line[:1] in "+-" and not line.startswith(("+++", "---"))
                    ] == ["-  color: red", "+  color: blue"]  # fmt: skip
                    assert settings["predicted"] == "client-side"
        finally:
            await server.close()
            await kube.delete(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
        encoded = base64.b64encode(b"not-for-the-server").decode()
        for text in texts:
            assert "not-for-the-server" not in text and encoded not in text
        # Nothing was written to the app's objects by the server (it could not).
        live = await kube.get("v1", "ConfigMap", "settings", name)
        assert live is not None and live["data"]["color"] == "red"
    finally:
        await driftless(devcluster, "uninstall", "--namespace", namespace)


async def _server_token(devcluster: DevCluster, namespace: str) -> str:
    kubectl = str(binaries.tool("kubectl"))
    token = await asyncio.to_thread(
        run,
        [kubectl, "--kubeconfig", str(devcluster.kubeconfig), "create", "token",
         "driftless-server", "-n", namespace, "--duration", "1h"],
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    return token.stdout.strip()


async def _diff_until(
    http: aiohttp.ClientSession, url: str, texts: list[str], check: Any
) -> dict[str, Any]:
    """The diff once one of its resources passes ``check``; every answer kept in ``texts``."""
    deadline = time.monotonic() + 90
    while True:
        async with http.get(url) as resp:
            text = await resp.text()
        texts.append(text)
        assert resp.status == 200, text
        body: dict[str, Any] = json.loads(text)
        if any(check(r) for r in body["resources"]):
            return body
        assert time.monotonic() < deadline, f"timed out: {body}"
        await asyncio.sleep(0.5)


async def _until_pods(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        async with http.get(url) as resp:
            assert resp.status == 200, await resp.text()
            tree: dict[str, Any] = await resp.json()
        if any(n["kind"] == "Pod" for n in tree["nodes"]):
            return tree
        assert time.monotonic() < deadline, f"no Pod in the tree: {tree}"
        await asyncio.sleep(0.5)


SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: served-secret
stringData:
  password: not-for-the-server
"""
