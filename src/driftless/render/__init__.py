"""Rendering: an application's source → checked Kubernetes manifests.

Public surface (everything else is private to the package)::

    render(source, tree, app_dir, *, revision, app_name, namespace, kube, tools, cache)
    RenderTools   where kustomize/helm are, chart cache, time limits
    KubeTarget    destination version and API versions (Helm's .Capabilities)
    RenderCache   bounded LRU of renders keyed by commit, path, options, tools, cluster
    Renderer      the detected renderer (directory, kustomize, helm, jsonnet)

Modules, one concept each: ``detect`` (which renderer), ``directory``,
``kustomize`` (+ ``kustomize_paths``, the repository fence), ``helm``
(+ ``helm_hooks``, ``chart_repo``, ``chart_http``, ``chart_versions``,
``chart_deps``: a chart's dependencies from chart repositories;
``lookup_proxy``/``lookup_server``: the read-only proxy Helm ``lookup`` reads
the destination through, when an app and its Project opt in),
``jsonnet``, ``cache``, ``exec`` (the only place that starts a process),
``scratch`` (private copies of trees), ``manifests``/``yaml_docs`` (checks and
bounded parsing shared by all renderers), ``pipeline`` (the entry point).
Isolation: ``server`` (the render server: one forked, limited child per
render), ``worker`` (what that child does), ``wire`` (requests and replies on
its socket), ``isolation`` (the controller's side: ``RenderServerClient``,
``LocalRenderServer``).
"""

from driftless.render.cache import RenderCache, RenderKey
from driftless.render.context import KubeTarget, RenderTools
from driftless.render.detect import Renderer
from driftless.render.pipeline import render

__all__ = ["KubeTarget", "RenderCache", "RenderKey", "RenderTools", "Renderer", "render"]
