"""Checked manifests from a tool's output, which has no lines worth naming (pure).

``kustomize build`` and ``helm template`` print a new YAML stream, and a
Jsonnet file evaluates to a JSON value: a line number in those means nothing
to a person looking at git. ``to_manifests(documents, file)`` runs the shared
checks of ``render.manifests`` and returns manifests located at ``file`` only
(``line`` ``None``); a ``RenderError`` from the checks is re-raised without
its line too.
"""

from __future__ import annotations

from collections.abc import Iterable

from driftless.core.errors import RenderError
from driftless.core.resources import Manifest
from driftless.render import manifests as checks
from driftless.render.yaml_docs import Document


def to_manifests(documents: Iterable[Document], file: str) -> list[Manifest]:
    """``render.manifests.to_manifests`` without line numbers."""
    try:
        rendered = checks.to_manifests(documents, file)
    except RenderError as exc:
        located = f"{exc.file}:{exc.line}: " if exc.line is not None else f"{exc.file}: "
        raise RenderError(exc.message.removeprefix(located), file=exc.file) from None
    for manifest in rendered:
        manifest.line = None
    return rendered
