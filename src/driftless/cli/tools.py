"""Renderer tools for processes started from the CLI.

The binaries ``driftless devcluster build`` caches (kustomize, helm) are used
when present, so a checkout works without installing them; otherwise they
are looked up on ``PATH`` (the controller's container image ships them).

Every render goes to a render server (``driftless.render.server``): the one
listening on ``render_socket`` when given (the renderer container of the
controller's pod), otherwise one started as a child of this process on first
use. Rendering in-process is for unit tests of pure logic only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from driftless.devcluster import binaries, versions
from driftless.render import RenderTools
from driftless.render.isolation import RenderServerClient, isolated


def local_tools() -> RenderTools:
    """Tool paths only: what a render server itself renders with."""
    kustomize = binaries.binary_path(versions.KUSTOMIZE)
    helm = binaries.binary_path(versions.HELM)
    return RenderTools(
        kustomize=str(kustomize) if kustomize.is_file() else "kustomize",
        helm=str(helm) if helm.is_file() else "helm",
    )


def render_tools(render_socket: Path | None = None) -> RenderTools:
    """Tools whose renders run in a render server (see the module docstring)."""
    tools = local_tools()
    if render_socket is not None:
        return dataclasses.replace(tools, isolation=RenderServerClient(render_socket))
    return isolated(tools)
