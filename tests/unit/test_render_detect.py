"""Renderer detection: explicit options first, then the files of the app directory."""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.errors import RenderError
from driftless.core.models import ApplicationSource
from driftless.render.detect import Renderer, detect


def source(**options: Any) -> ApplicationSource:
    return ApplicationSource.model_validate({"repoURL": "https://git.example.com/r.git", **options})


CASES = {
    # name: (spec options, files in the app dir, expected)
    "plain yaml": ({}, ["a.yaml", "b.yml"], Renderer.DIRECTORY),
    "empty dir": ({}, [], Renderer.DIRECTORY),
    "kustomization.yaml": ({}, ["kustomization.yaml", "a.yaml"], Renderer.KUSTOMIZE),
    "kustomization.yml": ({}, ["kustomization.yml"], Renderer.KUSTOMIZE),
    "Kustomization": ({}, ["Kustomization"], Renderer.KUSTOMIZE),
    "Chart.yaml": ({}, ["Chart.yaml", "values.yaml", "templates"], Renderer.HELM),
    "jsonnet": ({}, ["main.jsonnet", "lib.libsonnet"], Renderer.JSONNET),
    "libsonnet alone is not an app": ({}, ["lib.libsonnet"], Renderer.DIRECTORY),
    "hidden jsonnet ignored": ({}, [".x.jsonnet"], Renderer.DIRECTORY),
    "kustomize wins over chart": ({}, ["Chart.yaml", "kustomization.yaml"], Renderer.KUSTOMIZE),
    "chart wins over jsonnet": ({}, ["Chart.yaml", "x.jsonnet"], Renderer.HELM),
    "chart.yaml is case-sensitive": ({}, ["chart.yaml"], Renderer.DIRECTORY),
    "explicit directory beats kustomization": (
        {"directory": {}},
        ["kustomization.yaml"],
        Renderer.DIRECTORY,
    ),
    "explicit helm": ({"helm": {}}, ["a.yaml"], Renderer.HELM),
    "explicit kustomize": ({"kustomize": {}}, ["Chart.yaml"], Renderer.KUSTOMIZE),
    "explicit jsonnet": ({"jsonnet": {}}, ["kustomization.yaml"], Renderer.JSONNET),
    "jsonnet with directory options": (
        {"jsonnet": {}, "directory": {"recurse": True}},
        [],
        Renderer.JSONNET,
    ),
    "chart repository": ({"chart": "nginx"}, [], Renderer.HELM),
    "chart repository with helm options": ({"chart": "nginx", "helm": {}}, [], Renderer.HELM),
}


@pytest.mark.parametrize("options,files,expected", CASES.values(), ids=CASES.keys())
def test_detect(options: dict[str, Any], files: list[str], expected: Renderer) -> None:
    assert detect(source(**options), files) is expected


CONFLICTS = {
    "helm and kustomize": ({"helm": {}, "kustomize": {}}, "both kustomize and helm"),
    "directory and helm": ({"directory": {}, "helm": {}}, "both directory and helm"),
    "chart and kustomize": ({"chart": "x", "kustomize": {}}, "chart is set"),
    "chart and directory": ({"chart": "x", "directory": {}}, "chart is set"),
}


@pytest.mark.parametrize("options,message", CONFLICTS.values(), ids=CONFLICTS.keys())
def test_conflicting_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=message):
        detect(source(**options), [])
