"""Issue 3's "done when": one GitOps repository with a Kustomize base and
dev/staging/prod overlays (one app each), a Helm chart with values per
environment, a Jsonnet app and a plain directory, all synced by the
controller to the embedded control plane through the real renderers."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftless.controller.manager import Controller
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import application, create_app, ready, unique, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "render"
PLAIN = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: '1'\n"


def repository_files() -> dict[str, str]:
    files: dict[str, str] = {}
    for path in FIXTURES.rglob("*"):
        if path.is_file():
            files[str(path.relative_to(FIXTURES))] = path.read_text()
    files["plain/cm.yaml"] = PLAIN
    return files


async def test_every_renderer_syncs_through_the_controller(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo(repository_files())
    suffix = unique("e2e")
    apps: dict[str, dict[str, object]] = {}
    for env in ("dev", "staging", "prod"):
        app = application(f"{suffix}-{env}", repo.url, path=f"kustomize/overlays/{env}")
        app["spec"]["destination"]["namespace"] = f"web-{env}"  # the overlay's own namespace
        apps[env] = app
    for env in ("dev", "prod"):
        app = application(f"{suffix}-helm-{env}", repo.url, path="helm/demo")
        app["spec"]["destination"]["namespace"] = f"{suffix}-helm-{env}"
        # The chart's CRD is cluster-scoped: one environment owns it, as two apps
        # managing the same object would keep taking it from each other.
        app["spec"]["source"]["helm"] = {
            "releaseName": "demo",
            "valueFiles": [f"values-{env}.yaml"],
            "skipCrds": env == "dev",
        }
        apps[f"helm-{env}"] = app
    jsonnet = application(f"{suffix}-jsonnet", repo.url, path="jsonnet/app")
    jsonnet["spec"]["source"]["jsonnet"] = {
        "tlas": [{"name": "name", "value": "api"}],
        "extVars": [{"name": "env", "value": "staging"}],
        "libs": ["jsonnet/lib"],
    }
    apps["jsonnet"] = jsonnet
    apps["plain"] = application(f"{suffix}-plain", repo.url, path="plain")
    for app in apps.values():
        await create_app(kube, app)
    for app in apps.values():
        await wait_for(kube, app["metadata"]["name"], ready, timeout=120)  # type: ignore[index]

    prod = await kube.get("apps/v1", "Deployment", "prod-web", "web-prod")
    assert prod is not None
    assert prod["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.0.3")
    assert prod["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert await kube.get("apps/v1", "Deployment", "dev-web", "web-dev") is not None
    helm_prod = await kube.get("apps/v1", "Deployment", "demo-demo", f"{suffix}-helm-prod")
    helm_dev = await kube.get("apps/v1", "Deployment", "demo-demo", f"{suffix}-helm-dev")
    assert helm_prod is not None and helm_dev is not None
    assert helm_prod["spec"]["replicas"] == 3
    assert helm_prod["spec"]["replicas"] != helm_dev["spec"]["replicas"]
    api = await kube.get("v1", "ConfigMap", "api-settings", f"{suffix}-jsonnet")
    assert api is not None and api["data"]["environment"] == "staging"
    assert await kube.get("v1", "ConfigMap", "plain", f"{suffix}-plain") is not None
