"""Renderer tools for processes started from the CLI.

The binaries ``driftless devcluster build`` caches (kustomize, helm) are used
when present, so a checkout works without installing them; otherwise they
are looked up on ``PATH`` (the controller's container image ships them).
"""

from __future__ import annotations

from driftless.devcluster import binaries, versions
from driftless.render import RenderTools


def render_tools() -> RenderTools:
    kustomize = binaries.binary_path(versions.KUSTOMIZE)
    helm = binaries.binary_path(versions.HELM)
    return RenderTools(
        kustomize=str(kustomize) if kustomize.is_file() else "kustomize",
        helm=str(helm) if helm.is_file() else "helm",
    )
