"""Hostile Helm input against the real API server, controller, helm and an auth-protected
chart repository.

* The API server refuses, at admission, option values that would be flags
  or files on helm's command line (the CRD carries the models' patterns).
* A release name the API server cannot check (the app's own name, used by
  default) is refused at the exec edge with a clear condition.
* A private chart one app fetched with credentials is not handed to another
  app without them: that app gets the repository's refusal.
"""

from __future__ import annotations

import base64
import functools
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftless.controller.manager import Controller
from driftless.devcluster import binaries
from driftless.kube.client import KubeApiError, KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    application,
    condition,
    create_app,
    ready,
    ready_false_with,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

USER, PASSWORD = "reader", "pr1vate-t0ken"
CHART_YAML = "apiVersion: v2\nname: secret-chart\nversion: 0.1.0\n"
TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: private-config
data:
  release: {{ .Release.Name }}
"""


def _message(app: dict[str, Any]) -> str:
    found = condition(app, "Ready")
    return str(found["message"]) if found else ""


# ------------------------------------------------------------------ admission


@pytest.mark.parametrize(
    ("field", "helm"),
    [
        ("releaseName", {"releaseName": "--post-renderer=/bin/sh"}),
        ("releaseName", {"releaseName": "-n"}),
        ("releaseName", {"releaseName": "x" * 54}),
        (
            "releaseName",
            {"releaseName": "--set-file=t=/var/run/secrets/kubernetes.io/serviceaccount/token"},
        ),
        ("namespace", {"namespace": "--kube-context=prod"}),
        ("valueFiles", {"valueFiles": ["/var/run/secrets/kubernetes.io/serviceaccount/token"]}),
        ("valueFiles", {"valueFiles": ["--post-renderer=/bin/sh"]}),
        ("name", {"parameters": [{"name": "--post-renderer", "value": "/bin/sh"}]}),
    ],
)
async def test_api_server_refuses_values_that_would_be_helm_flags(
    kube: KubeClient, field: str, helm: dict[str, Any]
) -> None:
    app = application(unique("hostile"), "https://git.example.com/charts.git")
    app["spec"]["source"]["helm"] = helm
    with pytest.raises(KubeApiError) as refused:
        await create_app(kube, app)
    assert refused.value.status == 422
    assert f"spec.source.helm.{field}" in refused.value.message or field in refused.value.message


@pytest.mark.parametrize(
    "kustomize",
    [
        {"namespace": "-n"},
        {"images": ["--load-restrictor=LoadRestrictionsNone"]},
        {"namePrefix": "--x"},
        {"commonLabels": {"app": "not a label value"}},
    ],
)
async def test_api_server_refuses_hostile_kustomize_overrides(
    kube: KubeClient, kustomize: dict[str, Any]
) -> None:
    app = application(unique("hostile"), "https://git.example.com/app.git")
    app["spec"]["source"]["kustomize"] = kustomize
    with pytest.raises(KubeApiError) as refused:
        await create_app(kube, app)
    assert refused.value.status == 422


async def test_api_server_accepts_ordinary_helm_options(kube: KubeClient) -> None:
    app = application(unique("ordinary"), "https://git.example.com/charts.git")
    app["spec"]["source"]["helm"] = {
        "releaseName": "shop.v2",
        "namespace": "team-a",
        "valueFiles": ["values-prod.yaml", "../shared/values.yaml"],
        "parameters": [{"name": "image.tag", "value": "--not-a-flag-here"}],
    }
    app["spec"]["source"]["chart"] = "team/shop"
    await kube.apply(app, field_manager="test", dry_run=True)


# ------------------------------------------------------- exec edge via the app


async def test_app_name_too_long_for_a_release_name_is_a_clear_condition(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"chart/Chart.yaml": CHART_YAML, "chart/templates/cm.yaml": TEMPLATE})
    name = unique("a" * 50)  # a fine Kubernetes name, too long for Helm (53)
    await create_app(kube, application(name, repo.url, path="chart", namespace="long-name"))
    found = await wait_for(kube, name, ready_false_with("RenderFailed"), timeout=120)
    assert "is not a valid Helm release name: longer than 53 characters" in _message(found)


# ----------------------------------------------------------- private charts


def _run(argv: list[str], home: Path) -> None:
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    subprocess.run(argv, check=True, env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def private_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Helm repository (``helm package`` + ``helm repo index``) behind Basic auth."""
    helm = str(binaries.tool("helm"))
    home = tmp_path_factory.mktemp("helm-home")
    chart = tmp_path_factory.mktemp("chart") / "secret-chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART_YAML)
    (chart / "templates/cm.yaml").write_text(TEMPLATE)
    served = tmp_path_factory.mktemp("served")
    _run([helm, "package", str(chart), "--destination", str(served)], home)
    _run([helm, "repo", "index", str(served)], home)
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Protected(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Protected, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _chart_app(name: str, repo_url: str) -> dict[str, Any]:
    app = application(name, repo_url, revision="0.1.0", namespace=name)
    app["spec"]["source"]["chart"] = "secret-chart"
    return app


async def test_private_chart_is_not_served_to_an_app_without_credentials(
    kube: KubeClient, controller: Controller, private_repository: str
) -> None:
    owner = unique("chart-owner")
    await create_app(kube, _chart_app(owner, f"http://{USER}:{PASSWORD}@{private_repository}/"))
    await wait_for(kube, owner, ready, timeout=120, what="the app with credentials to be Ready")
    live = await kube.get("v1", "ConfigMap", "private-config", owner)
    assert live is not None and live["data"] == {"release": owner}

    intruder = unique("chart-intruder")
    await create_app(kube, _chart_app(intruder, f"http://{private_repository}/"))
    found = await wait_for(
        kube,
        intruder,
        lambda app: "requires credentials" in _message(app),
        timeout=120,
        what="the app without credentials to be refused",
    )
    assert condition(found, "Ready")["status"] == "False"  # type: ignore[index]
    assert PASSWORD not in str(found)
    assert await kube.get("v1", "ConfigMap", "private-config", intruder) is None
