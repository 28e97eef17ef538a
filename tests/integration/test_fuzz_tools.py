"""Fuzz: kustomizations and Helm charts through ``driftless.render.render`` and the real tools.

Property, as for the directory renderer (``tests/unit/test_fuzz_render.py``):
manifests or a ``DriftlessError`` with a message; never another exception, a
crash or a hang past the render's time limit. Inputs are hostile kustomization
fields (paths out of the repository, remote resources, plugins, Helm
inflation, generators reading local files, patches made of broken YAML) and
charts whose Chart.yaml, values, inline values, ``--set`` parameters and
templates (``tpl``, ``.Files``, recursion, ``fail``, huge ranges) are drawn
by Hypothesis. The pinned kustomize and helm of ``driftless devcluster
build`` run for real, in a crash-isolated worker.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given

from driftless.devcluster import binaries, versions
from tests.fixtures import fuzz_strategies as fs
from tests.fixtures.fuzz_settings import fuzz_settings
from tests.fixtures.render_worker import JSON, RenderWorker, describe, violation

pytestmark = pytest.mark.integration

KUSTOMIZE_SOURCE = {"repoURL": "https://git.example.com/fuzz.git", "path": "app/overlay"}
HELM_SOURCE = {"repoURL": "https://git.example.com/fuzz.git", "path": "chart"}
CHART = {
    "chart/Chart.yaml": fs.text_file("apiVersion: v2\nname: fuzz\nversion: 0.1.0\n"),
    "chart/values.yaml": fs.text_file("raw: x\n"),
}


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RenderWorker]:
    # Build (or find) the pinned tools before the first case's deadline starts.
    binaries.ensure(versions.KUSTOMIZE)
    binaries.ensure(versions.HELM)
    instance = RenderWorker(tmp_path_factory.mktemp("fuzz-tools"))
    yield instance
    instance.stop()


def check(worker: RenderWorker, case: tuple[fs.Files, JSON]) -> None:
    files, source = case
    reply = worker.render({"files": files, "source": source})
    problem = violation(reply)
    assert problem is None, f"{problem}\n{describe(files, source)}"


def _kustomization(text: str) -> tuple[fs.Files, JSON]:
    files = dict(fs.BASE_RESOURCES)
    files["app/overlay/kustomization.yaml"] = fs.text_file(text)
    return files, KUSTOMIZE_SOURCE


def _chart(template: str, values: str = "raw: x\n") -> tuple[fs.Files, JSON]:
    files = {**CHART, "chart/values.yaml": fs.text_file(values)}
    files["chart/templates/t.yaml"] = fs.text_file(template)
    return files, HELM_SOURCE


@fuzz_settings(bounded=60)
@given(case=fs.kustomize_trees())
@example(case=_kustomization("resources: [../../outside.yaml]\n"))
@example(case=_kustomization("resources: [https://127.0.0.1:1/x.yaml]\n"))
@example(case=_kustomization("configMapGenerator: [{name: x, files: [/etc/passwd]}]\n"))
@example(case=_kustomization("generators: [../../outside.yaml]\n"))
@example(case=_kustomization("resources: [" + "x" * 300 + "]\n"))  # longer than NAME_MAX
@example(case=_kustomization("x: " + "[" * 50_000 + "]" * 50_000 + "\n"))
def test_kustomize_render_returns_manifests_or_a_driftless_error(
    worker: RenderWorker, case: tuple[fs.Files, JSON]
) -> None:
    check(worker, case)


def _helm_options(**helm: Any) -> tuple[fs.Files, JSON]:
    files, _ = _chart("{{ toYaml .Values }}")
    return files, {**HELM_SOURCE, "helm": helm}


@fuzz_settings(bounded=40)
@given(case=fs.helm_trees())
@example(case=_helm_options(parameters=[{"name": "raw", "value": "\udfff\udbff x"}]))
@example(case=_helm_options(parameters=[{"name": "raw", "value": "a\x00b"}]))
@example(case=_helm_options(values="raw: \udfff\n"))
@example(case=_helm_options(values="raw: a\x00b\n"))
@example(case=_helm_options(valueFiles=["a\x00b.yaml"]))
@example(case=({**_chart("x: 1\n")[0], "chart/loop.yaml": fs.symlink("loop.yaml")}, HELM_SOURCE))
@example(
    case=(
        {**_chart("x: 1\n")[0], "chart/v.yaml": fs.symlink("y" * 300)},
        {**HELM_SOURCE, "helm": {"valueFiles": ["v.yaml"]}},
    )
)
@example(case=({**_chart("x: 1\n")[0], "chart/templates/s/l": fs.symlink("l")}, HELM_SOURCE))
@example(case=_chart('{{ define "l" }}{{ include "l" . }}{{ end }}{{ include "l" . }}'))
@example(case=_chart("{{ range until 100000000 }}x{{ end }}"))
@example(case=_chart('{{ .Files.Get "../secret.txt" }}'))
@example(case=_chart("{{ .Values.raw }}", "raw: " + "[" * 50_000 + "]" * 50_000 + "\n"))
@example(case=_chart("{{ .Values.raw }}", fs.alias_bomb_text()))
@example(case=_chart("{{ toYaml .Values }}", fs.alias_bomb_text()))
@example(case=_chart("{{ .Values.raw }}", "raw: |\n" + textwrap.indent(fs.alias_bomb_text(), "  ")))
def test_helm_render_returns_manifests_or_a_driftless_error(
    worker: RenderWorker, case: tuple[fs.Files, JSON]
) -> None:
    check(worker, case)


def _repository(urls: list[str], archive: bytes | None = None) -> tuple[fs.Files, JSON, fs.Files]:
    archive = fs.chart_archive() if archive is None else archive
    index = fs.dump({"apiVersion": "v1", "entries": {"fuzz": [{"version": "0.1.0", "urls": urls}]}})
    source = {"repoURL": "{repo}", "chart": "fuzz", "targetRevision": "0.1.0"}
    served = {"index.yaml": fs.text_file(index), "fuzz-0.1.0.tgz": fs.bytes_file(archive)}
    return {}, source, served


def check_repository(worker: RenderWorker, case: tuple[fs.Files, JSON, fs.Files]) -> JSON:
    files, source, served = case
    reply = worker.render({"files": files, "source": source, "served": served})
    problem = violation(reply)
    assert problem is None, f"{problem}\n{describe({**files, **served}, source)}"
    return reply


@fuzz_settings(bounded=60)
@given(case=fs.chart_repository_cases())
@example(case=_repository(["fuzz-\u0130.tgz"]))  # not ASCII: urllib cannot send it
@example(case=_repository(["a b\x01.tgz"]))  # control characters in the request line
@example(case=_repository(["file:///etc/passwd"]))
@example(case=_repository(["fuzz-0.1.0.tgz"], fs.chart_archive([fs.HOSTILE_MEMBERS[0]])))
@example(case=_repository(["fuzz-0.1.0.tgz"], fs.chart_archive([fs.HOSTILE_MEMBERS[-1]])))
def test_chart_repository_render_returns_manifests_or_a_driftless_error(
    worker: RenderWorker, case: tuple[fs.Files, JSON, fs.Files]
) -> None:
    check_repository(worker, case)


def test_a_well_formed_chart_repository_renders(worker: RenderWorker) -> None:
    """The harness serves a real repository: the happy path renders the chart."""
    reply = check_repository(worker, _repository(["fuzz-0.1.0.tgz"]))
    assert reply["outcome"] == "ok" and reply["count"] == 1, reply
