"""The one entry point of ``driftless.render``: an app's source → checked manifests.

Contract of ``render(source, tree, app_dir, ...)``:

* Git sources: ``tree`` is the checked-out commit (read-only, shared), and
  ``app_dir`` the app's directory inside it (already resolved and checked by
  ``sources.resolve_app_path``); ``revision`` is the commit id. The renderer
  is picked by ``detect`` (explicit options, then the files in ``app_dir``).
* Chart-repository sources (``spec.source.chart`` set): ``tree`` and
  ``app_dir`` are ``None``; the chart is resolved from ``repoURL`` and
  ``targetRevision`` (a version or a semver range) and cached on disk by
  ``chart_repo``.
* ``app_name`` is Helm's default release name and ``namespace`` (the
  destination namespace) Helm's default release namespace; ``kube`` is what
  ``.Capabilities`` reports.
* With a ``cache``, a render whose ``RenderKey`` was seen is served from it
  (a copy); git renders are cached only when ``revision`` is given, and keyed
  by the repository URL and ``revision`` — except a plain-directory render
  given ``subtree`` (the git tree id of ``app_dir``, see
  ``sources.subtrees``): it reads nothing outside ``app_dir``, so it is keyed
  by that id, and survives a commit that changes other folders only.
  Chart-repository renders are keyed by the resolved chart version, so a
  range that starts matching a newer release renders again. ``fresh=True``
  (a hard refresh) never reads the cache: it renders, and stores the new
  render in place of the old one.
* Helm charts' dependencies from chart repositories (``Chart.yaml`` or
  ``requirements.yaml``) are fetched here too (``chart_deps``), each
  repository first passed to ``check_repository`` (the Project's rule; none:
  every repository is allowed, for callers acting with their own rights);
  the render is keyed by the charts fetched as well.
* Every result is checked the same way whatever the renderer: objects with
  apiVersion, kind and metadata.name, no duplicates.
* Where the render runs: this function resolves everything that needs the
  network or credentials (the git tree is already checked out; charts are
  fetched here, into the chart cache) and keeps the render cache; the
  render of the fetched tree itself is a ``RenderRequest`` sent to
  ``tools.isolation`` (the render server: a killable child process with hard
  limits, see ``driftless.render.server``). The controller and the CLI always
  set it (``driftless.cli.tools``); without it ``render_request`` runs in
  this process, which is for unit tests of pure logic.
* Raises ``RenderError`` (the input is wrong: file and line where known; the
  render crashed or went over its memory, object or output limit),
  ``SourceError`` (chart or version not in the chart repository),
  ``SourceUnavailableError`` (chart repository unreachable), ``TransientError``
  (a tool or the render timed out, the render server is unreachable),
  ``DriftlessError`` (a tool is missing or cannot start).
* Helm lookup (``spec.source.helm.lookup``, ``render.lookup_proxy``): the
  render gets a token of the lookup proxy of the current context
  (``lookup_server.granting``, set by whoever planned the app against its
  cluster and Project) for its lifetime (revoked when the render ends,
  expiring ``time_limit`` plus a grace period after helm's first lookup, so
  time queued for a render slot does not count); without one it is a
  ``RenderError``. Such renders are never cached (they read live state).
  ``lookup_server`` is imported by the first lookup render only: the render
  server imports this module, and must not carry the proxy's aiohttp server
  and kube client into every fork.
* Every render run (not a cache hit) is timed and its failures counted by
  renderer (``render.metrics``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

import _jsonnet  # type: ignore[import-untyped]

from driftless.core.errors import DriftlessError, RenderError
from driftless.core.models import ApplicationSource
from driftless.core.resources import Manifest
from driftless.render import chart_deps, chart_repo, detect
from driftless.render import manifests as checks
from driftless.render import metrics as render_metrics
from driftless.render.cache import RenderCache, RenderKey
from driftless.render.context import KubeTarget, RenderTools
from driftless.render.detect import Renderer
from driftless.render.directory import render_directory
from driftless.render.helm import Release, render_helm
from driftless.render.jsonnet import render_jsonnet
from driftless.render.kustomize import render_kustomize
from driftless.render.wire import RenderRequest

# Renderers that need no external tool and no event loop.
FILE_RENDERERS = frozenset({Renderer.DIRECTORY, Renderer.JSONNET})
# A lookup token's life past the render's time limit (kubeconfig writing, helm start).
LOOKUP_GRACE_SECONDS = 30.0


async def render(
    source: ApplicationSource,
    tree: Path | None,
    app_dir: Path | None,
    *,
    revision: str | None,
    app_name: str,
    namespace: str,
    kube: KubeTarget,
    tools: RenderTools,
    cache: RenderCache | None = None,
    fresh: bool = False,
    check_repository: chart_deps.RepositoryCheck | None = None,
    subtree: str | None = None,
) -> list[Manifest]:
    """Render an app's source (see the module contract)."""
    if source.chart:
        return await _render_repository_chart(
            source, app_name=app_name, namespace=namespace, kube=kube, tools=tools, cache=cache,
            fresh=fresh, check_repository=check_repository,
        )  # fmt: skip
    if tree is None or app_dir is None:
        raise DriftlessError("internal error: a git source needs its tree and app directory")
    names = await asyncio.to_thread(os.listdir, app_dir)
    renderer = detect.detect(source, names)
    path = app_dir.resolve().relative_to(tree.resolve()).as_posix()
    prepared = None
    if renderer is Renderer.HELM:
        prepared = await chart_deps.prepare(
            app_dir, path, tools, check_repository, root=tree, fresh=fresh
        )
    key = None
    if cache is not None and revision is not None and not looks_up(source):
        # The URL too: a commit id names content, but one app's repository must
        # never be read through another's entry.
        content = f"{source.repo_url} {revision}"
        if subtree is not None and renderer is Renderer.DIRECTORY:
            content = f"{source.repo_url} tree:{subtree}"
        key = cache_key(
            source,
            renderer,
            content=content + (f" {prepared.identity}" if prepared else ""),
            path=path,
            app_name=app_name,
            namespace=namespace,
            kube=kube,
            tools=tools,
        )
        cached = None if fresh else cache.get(key)
        if cached is not None:
            return cached
    request = RenderRequest(
        renderer, source, tree, app_dir, app_name, namespace, kube, tools.time_limit,
        dependencies=prepared.charts if prepared else None,
    )  # fmt: skip
    rendered = await _run(request, tools)
    if cache is not None and key is not None:
        cache.put(key, rendered)
    return rendered


def looks_up(source: ApplicationSource) -> bool:
    """Whether the app lets its chart's templates ``lookup`` live objects."""
    return source.helm is not None and source.helm.lookup


async def _run(request: RenderRequest, tools: RenderTools) -> list[Manifest]:
    """The render of ``request``, with a lookup grant for its lifetime when it asks."""
    if request.renderer is not Renderer.HELM or not looks_up(request.source):
        return await _run_isolated(request, tools)
    # Imported here: the lookup proxy's server (aiohttp.web, the kube client) would
    # otherwise load into the render server too, and every fork of it copies the
    # page tables of that memory. Only a lookup render in the planning process needs it.
    from driftless.render import lookup_server

    granter = lookup_server.current()
    if granter is None:
        raise RenderError(
            "spec.source.helm.lookup: this render cannot reach the app's destination cluster;"
            " Helm lookup works where the app is planned against it (the controller, app diff)"
        )
    # Counted from helm's first lookup (``lookup_server.Grant``), not from now: the
    # render may still wait for a render server slot. Helm runs within the time
    # limit, so the token outlives its render by the grace period at most.
    lifetime = request.time_limit + LOOKUP_GRACE_SECONDS
    async with granter.proxy.grant(granter.scope, lifetime) as grant:
        try:
            return await _run_isolated(dataclasses.replace(request, lookup=grant.access), tools)
        except DriftlessError as exc:
            raise grant.explain(exc) from None


async def _run_isolated(request: RenderRequest, tools: RenderTools) -> list[Manifest]:
    """The render of ``request``: in the render server when ``tools`` has one."""
    with render_metrics.measured(request.renderer.value):
        if tools.isolation is not None:
            rendered = await tools.isolation.render(request)
        else:
            rendered = await render_request(request, tools)
        checks.reject_duplicates(rendered)
    return rendered


def cache_key(
    source: ApplicationSource,
    renderer: Renderer,
    *,
    content: str,
    path: str,
    app_name: str,
    namespace: str,
    kube: KubeTarget,
    tools: RenderTools,
) -> RenderKey:
    """The cache key of one render: only what that renderer's output depends on."""
    options: dict[str, Any] = {
        "source": source.model_dump(mode="json", exclude={"repo_url", "target_revision"})
    }
    tool_ids: list[str] = []
    kube_version = ""
    api_versions: tuple[str, ...] = ()
    if renderer is Renderer.HELM:
        options.update(app=app_name, namespace=namespace)
        tool_ids.append(tools.fingerprint("helm"))
        kube_version, api_versions = kube.version, kube.api_versions
    elif renderer is Renderer.KUSTOMIZE:
        tool_ids.append(tools.fingerprint("kustomize"))
    elif renderer is Renderer.JSONNET:
        tool_ids.append(f"jsonnet:{_jsonnet.version}")
    return RenderKey.build(
        content=content,
        path=path,
        renderer=renderer.value,
        options=options,
        tools=tool_ids,
        kube_version=kube_version,
        api_versions=api_versions,
    )


async def render_request(request: RenderRequest, tools: RenderTools) -> list[Manifest]:
    """Render ``request`` in this process (the render server's children call this).

    Blocking work (file reading, Jsonnet, parsing) runs in worker threads.
    """
    source, tree, app_dir = request.source, request.tree, request.app_dir
    if request.renderer in FILE_RENDERERS:
        return await asyncio.to_thread(render_files, request)
    if request.renderer is Renderer.KUSTOMIZE:
        return await render_kustomize(
            tree,
            app_dir,
            source.kustomize,
            kustomize=tools.executable("kustomize"),
            time_limit=request.time_limit,
            scratch_dir=tools.scratch_dir,
        )
    if request.renderer is Renderer.HELM:
        helm = source.helm
        release = Release(
            name=(helm.release_name if helm else None) or request.app_name,
            namespace=(helm.namespace if helm else None) or request.namespace,
        )
        return await render_helm(
            app_dir,
            tree,
            helm,
            release=release,
            kube=request.kube,
            helm=tools.executable("helm"),
            time_limit=request.time_limit,
            scratch_dir=tools.scratch_dir,
            display=request.display,
            dependencies=request.dependencies,
            lookup=request.lookup,
        )
    raise DriftlessError(f"internal error: unknown renderer {request.renderer.value}")


def render_files(request: RenderRequest) -> list[Manifest]:
    """A directory or Jsonnet render (blocking, no tools: the render server runs
    these without an event loop)."""
    source, directory = request.source, request.source.directory
    recurse = bool(directory and directory.recurse)
    include = directory.include if directory else None
    exclude = directory.exclude if directory else None
    tree, app_dir = request.tree, request.app_dir
    if request.renderer is Renderer.JSONNET:
        return render_jsonnet(
            tree, app_dir, source.jsonnet, recurse=recurse, include=include, exclude=exclude
        )
    if request.renderer is Renderer.DIRECTORY:
        return render_directory(tree, app_dir, recurse=recurse, include=include, exclude=exclude)
    raise DriftlessError(f"internal error: {request.renderer.value} is not a file renderer")


async def _render_repository_chart(
    source: ApplicationSource,
    *,
    app_name: str,
    namespace: str,
    kube: KubeTarget,
    tools: RenderTools,
    cache: RenderCache | None,
    fresh: bool,
    check_repository: chart_deps.RepositoryCheck | None,
) -> list[Manifest]:
    assert source.chart is not None
    detect.explicit(source)  # refuses kustomize/jsonnet/directory options beside a chart
    credentials = None
    if tools.chart_credentials is not None:
        credentials = await tools.chart_credentials(source.repo_url)
    fetched = await chart_repo.fetch_chart(
        source.repo_url,
        source.chart,
        source.target_revision,
        cache_root=tools.chart_cache,
        plain_http_registries=tools.plain_http_registries,
        timeout=tools.download_limit,
        credentials=credentials,
    )
    display = f"{source.chart}@{fetched.version}"
    prepared = await chart_deps.prepare(fetched.path, display, tools, check_repository, fresh=fresh)
    key = None
    if cache is not None and not looks_up(source):
        key = cache_key(
            source,
            Renderer.HELM,
            content=f"{fetched.identity} {prepared.identity}" if prepared else fetched.identity,
            path=".",
            app_name=app_name,
            namespace=namespace,
            kube=kube,
            tools=tools,
        )
        cached = None if fresh else cache.get(key)
        if cached is not None:
            return cached
    request = RenderRequest(
        Renderer.HELM,
        source,
        fetched.path,
        fetched.path,
        app_name,
        namespace,
        kube,
        tools.time_limit,
        display=display,
        dependencies=prepared.charts if prepared else None,
    )
    rendered = await _run(request, tools)
    if cache is not None and key is not None:
        cache.put(key, rendered)
    return rendered
