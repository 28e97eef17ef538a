"""The render cache: keys, private copies, LRU eviction by count and bytes."""

from __future__ import annotations

from pathlib import Path

from driftless.core.models import ApplicationSource
from driftless.core.resources import Manifest
from driftless.render.cache import RenderCache, RenderKey, approximate_size
from driftless.render.context import KubeTarget, RenderTools
from driftless.render.detect import Renderer
from driftless.render.pipeline import cache_key


def key(content: str = "c1", **overrides: object) -> RenderKey:
    fields: dict[str, object] = {
        "content": content,
        "path": "app",
        "renderer": "helm",
        "options": {"a": 1},
        "tools": ["helm:1"],
        "kube_version": "v1.36.0",
        "api_versions": ["v1", "apps/v1"],
    }
    fields.update(overrides)
    return RenderKey.build(**fields)  # type: ignore[arg-type]


def manifests(name: str = "a", size: int = 0) -> list[Manifest]:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if size:
        obj["data"] = {"x": "y" * size}
    return [Manifest(obj=obj, source_file="f.yaml", line=1)]


def test_key_is_canonical() -> None:
    assert key(options={"a": 1, "b": [1, 2]}) == key(options={"b": [1, 2], "a": 1})
    assert key(api_versions=["apps/v1", "v1"]) == key(api_versions=["v1", "apps/v1"])


def test_key_depends_on_every_input() -> None:
    base = key()
    assert base != key(content="c2")
    assert base != key(path="other")
    assert base != key(renderer="kustomize")
    assert base != key(options={"a": 2})
    assert base != key(tools=["helm:2"])
    assert base != key(kube_version="v1.37.0")
    assert base != key(api_versions=["v1"])


def test_hit_returns_a_private_copy() -> None:
    cache = RenderCache()
    stored = manifests()
    cache.put(key(), stored)
    stored[0].obj["metadata"]["name"] = "changed after put"
    first = cache.get(key())
    assert first is not None and first[0].obj["metadata"]["name"] == "a"
    first[0].obj["metadata"]["labels"] = {"mutated": "yes"}
    second = cache.get(key())
    assert second is not None and "labels" not in second[0].obj["metadata"]
    assert cache.stats.hits == 2


def test_miss() -> None:
    cache = RenderCache()
    assert cache.get(key()) is None
    assert cache.stats.misses == 1


def test_lru_eviction_by_count() -> None:
    cache = RenderCache(max_entries=2)
    cache.put(key("1"), manifests())
    cache.put(key("2"), manifests())
    assert cache.get(key("1")) is not None  # 1 is now the most recent
    cache.put(key("3"), manifests())
    assert key("2") not in cache
    assert key("1") in cache and key("3") in cache
    assert cache.stats.evictions == 1


def test_eviction_by_bytes() -> None:
    one = approximate_size(manifests(size=1000))
    cache = RenderCache(max_bytes=2 * one + 10)
    for name in "abc":
        cache.put(key(name), manifests(size=1000))
    assert len(cache) == 2
    assert key("a") not in cache
    assert cache.size_bytes <= cache.max_bytes


def test_render_larger_than_the_budget_is_not_stored() -> None:
    cache = RenderCache(max_bytes=100)
    cache.put(key(), manifests(size=1000))
    assert len(cache) == 0 and cache.size_bytes == 0


def test_put_replaces_and_accounts_bytes() -> None:
    cache = RenderCache()
    cache.put(key(), manifests(size=100))
    cache.put(key(), manifests(size=10))
    assert cache.size_bytes == approximate_size(manifests(size=10))


def test_pipeline_key_ignores_what_a_renderer_does_not_read(tmp_path: Path) -> None:
    source = ApplicationSource.model_validate({"repoURL": "https://x/r.git", "path": "app"})
    tools = RenderTools(kustomize="/bin/true", helm="/bin/false", chart_cache=tmp_path)

    def for_(renderer: Renderer, app: str, kube: str) -> RenderKey:
        return cache_key(
            source,
            renderer,
            content="sha",
            path="app",
            app_name=app,
            namespace="ns",
            kube=KubeTarget(kube),
            tools=tools,
        )

    # a plain directory renders the same for every app and cluster ...
    assert for_(Renderer.DIRECTORY, "a", "v1.30.0") == for_(Renderer.DIRECTORY, "b", "v1.31.0")
    # ... a chart depends on the release name and the cluster version
    assert for_(Renderer.HELM, "a", "v1.30.0") != for_(Renderer.HELM, "b", "v1.30.0")
    assert for_(Renderer.HELM, "a", "v1.30.0") != for_(Renderer.HELM, "a", "v1.31.0")
