"""Renderers: from an app and a revision to (the revision rendered, its manifests).

The planner is given one ``Renderer``; it never fetches or renders itself.

* ``GitRenderer`` — the controller's and ``app diff``'s: a chart from a
  Helm/OCI repository (no git; the chart version is the revision), or the
  app's git repository checked out at the revision, rendered at its path.
  Renders are memoized in a ``RenderCache`` (keyed by everything a render
  reads, see ``driftless.render.cache``); a plain directory by the git tree
  id of the app's folder (``GitCache.subtree``), so in a monorepo a commit
  re-renders only the folders it changed. ``fresh=True`` (a hard refresh)
  asks the repository for its refs now (never the git cache's revision
  cache) and renders again instead of reading the render cache.
  Git work is shared by every app on a repository (``GitCache``: one
  ``ls-remote`` and one fetch per poll, one checkout per commit, read-only).
* ``LocalRenderer`` — push mode's and ``diff --local``'s: a directory on
  disk rendered as it is (uncommitted edits count); the revision is ``local``.

Contract: ``render`` raises only ``DriftlessError`` subclasses (``SourceError``
from git, ``RenderError`` from the tools); Helm's ``.Capabilities`` come from
the ``KubeTarget`` the caller passes (the destination's, or an offline one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from driftless.core.models import Application
from driftless.core.resources import Manifest
from driftless.render import KubeTarget, RenderCache, RenderTools, render
from driftless.sources.artifact import resolve_app_path
from driftless.sources.git import GitCache

LOCAL_REVISION = "local"


class Rendered(NamedTuple):
    """The revision rendered (commit, ``chart@version`` or ``local``) and its manifests."""

    revision: str
    manifests: list[Manifest]


class Renderer(Protocol):
    async def render(
        self, app: Application, revision: str | None, kube: KubeTarget, *, fresh: bool = False
    ) -> Rendered:
        """Fetch and render ``app`` at ``revision`` (default: its targetRevision).

        ``fresh``: bypass whatever the renderer caches (a hard refresh).
        """
        ...


@dataclass
class GitRenderer:
    """The app's source (git repository or chart repository) at a revision."""

    git: GitCache
    tools: RenderTools = field(default_factory=RenderTools)
    cache: RenderCache | None = field(default_factory=RenderCache)

    async def render(
        self, app: Application, revision: str | None, kube: KubeTarget, *, fresh: bool = False
    ) -> Rendered:
        source = app.spec.source
        wanted = revision or source.target_revision
        namespace = app.spec.destination.namespace or ""
        if source.chart:
            chart_source = source.model_copy(update={"target_revision": wanted})
            manifests = await render(
                chart_source, None, None, revision=None, app_name=app.name,
                namespace=namespace, kube=kube, tools=self.tools, cache=self.cache, fresh=fresh,
            )  # fmt: skip
            return Rendered(f"{source.chart}@{wanted}", manifests)
        artifact = await self.git.checkout(source.repo_url, wanted, fresh=fresh)
        app_dir = resolve_app_path(artifact, source.path)
        subtree = None
        if self.cache is not None:
            folder = app_dir.relative_to(artifact.path.resolve()).as_posix()
            subtree = await self.git.subtree(source.repo_url, artifact.revision, folder)
        manifests = await render(
            source, artifact.path, app_dir, revision=artifact.revision, app_name=app.name,
            namespace=namespace, kube=kube, tools=self.tools, cache=self.cache, fresh=fresh,
            subtree=subtree,
        )  # fmt: skip
        return Rendered(artifact.revision, manifests)


@dataclass(frozen=True)
class LocalTree:
    """A directory rendered as it is on disk (no git): ``app_dir`` inside ``tree``.

    ``tree`` bounds what the render may read (a kustomize overlay's ``../base``).
    """

    tree: Path
    app_dir: Path


@dataclass
class LocalRenderer:
    """``tree`` as it is on disk, with the app's source options; never cached."""

    tree: LocalTree
    tools: RenderTools = field(default_factory=RenderTools)

    async def render(
        self, app: Application, revision: str | None, kube: KubeTarget, *, fresh: bool = False
    ) -> Rendered:
        manifests = await render(
            app.spec.source, self.tree.tree, self.tree.app_dir, revision=None,
            app_name=app.name, namespace=app.spec.destination.namespace or "", kube=kube,
            tools=self.tools,
        )  # fmt: skip
        return Rendered(LOCAL_REVISION, manifests)
