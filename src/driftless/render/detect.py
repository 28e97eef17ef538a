"""Which renderer an application's source needs (pure).

Contract of ``detect(source, file_names)``:

* Explicit options win: ``chart`` set means a Helm chart from a chart
  repository; otherwise exactly one of ``directory`` / ``kustomize`` / ``helm``
  / ``jsonnet`` set names the renderer. The one allowed pair is ``jsonnet``
  with ``directory``: the directory options (recurse, include, exclude) then
  select the Jsonnet files. Any other two, or a non-Helm option together with
  ``chart``, is a ``RenderError`` — guessing which one the user meant would
  silently ignore half of their spec.
* Otherwise the files directly in the app directory decide, in this order:
  a kustomization (``kustomization.yaml``, ``kustomization.yml`` or
  ``Kustomization``, the names ``kustomize build`` accepts) → Kustomize;
  ``Chart.yaml`` → Helm; any ``*.jsonnet`` → Jsonnet; else a plain directory.
  Kustomize comes first because a kustomization may sit beside a vendored
  chart it inflates or beside plain YAML it lists, never the other way round.
* ``file_names`` are the names of the entries of the app directory (not
  paths); reading the directory is the caller's job, so this stays pure.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from driftless.core.errors import RenderError
from driftless.core.models import ApplicationSource

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"
JSONNET_SUFFIX = ".jsonnet"


class Renderer(StrEnum):
    """The renderers driftless has."""

    DIRECTORY = "directory"
    KUSTOMIZE = "kustomize"
    HELM = "helm"
    JSONNET = "jsonnet"


def explicit(source: ApplicationSource) -> Renderer | None:
    """The renderer the spec names, ``None`` when it names none."""
    chosen = [
        kind
        for kind, options in (
            (Renderer.DIRECTORY, source.directory),
            (Renderer.KUSTOMIZE, source.kustomize),
            (Renderer.HELM, source.helm),
            (Renderer.JSONNET, source.jsonnet),
        )
        if options is not None
    ]
    if source.chart:
        others = [k for k in chosen if k is not Renderer.HELM]
        if others:
            raise RenderError(
                f"spec.source.chart is set (a Helm chart) together with {others[0].value}"
                " options; remove one of them"
            )
        return Renderer.HELM
    if chosen == [Renderer.DIRECTORY, Renderer.JSONNET]:
        return Renderer.JSONNET
    if len(chosen) > 1:
        names = " and ".join(k.value for k in chosen)
        raise RenderError(f"spec.source sets both {names} options; set only one")
    return chosen[0] if chosen else None


def from_files(file_names: Collection[str]) -> Renderer:
    """The renderer the files of the app directory call for."""
    names = set(file_names)
    if any(name in names for name in KUSTOMIZATION_NAMES):
        return Renderer.KUSTOMIZE
    if CHART_FILE in names:
        return Renderer.HELM
    if any(name.endswith(JSONNET_SUFFIX) and not name.startswith(".") for name in names):
        return Renderer.JSONNET
    return Renderer.DIRECTORY


def detect(source: ApplicationSource, file_names: Collection[str]) -> Renderer:
    """Explicit options first, then the files of the app directory."""
    return explicit(source) or from_files(file_names)
