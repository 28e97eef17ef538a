"""The render cache: keys, private copies, LRU eviction by count and bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftless.core.errors import DriftlessError
from driftless.core.models import ApplicationSource
from driftless.core.resources import Manifest
from driftless.render.cache import RenderCache, RenderKey, stored_size
from driftless.render.context import KubeTarget, RenderTools
from driftless.render.detect import Renderer
from driftless.render.pipeline import cache_key, render


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
    one = stored_size(manifests(size=1000))
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
    assert cache.size_bytes == stored_size(manifests(size=10))


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


# -- the cache through the render entry point (real files, no external tool) ---------------

KUBE = KubeTarget("v1.36.0")
NO_TOOLS = RenderTools(kustomize="/nonexistent/kustomize", helm="/nonexistent/helm")
ODD_TYPES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: odd
  labels: {tier: web}
data:
  text: "007"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  paused: false
  minReadySeconds: 0
  progressDeadlineSeconds: 600
  template:
    metadata: {annotations: {ratio: "0.5", empty: null}}
    spec: {containers: [{name: c, image: nginx, args: [a, "1", "2.5"]}]}
"""
GREETING = "function(who) {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'hi'},"
GREETING += " data: {who: who}}"


async def render_at(
    tree: Path, src: ApplicationSource, cache: RenderCache | None, *, app: str = "app"
) -> list[Manifest]:
    return await render(
        src, tree, tree / src.path, revision="c" * 40, app_name=app, namespace="ns",
        kube=KUBE, tools=NO_TOOLS, cache=cache,
    )  # fmt: skip


def as_rows(manifests: list[Manifest]) -> list[tuple[object, ...]]:
    return [(m.obj, m.source_file, m.line, m.extra) for m in manifests]


async def test_a_cached_render_equals_a_fresh_one_type_for_type(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "all.yaml").write_text(ODD_TYPES)
    src = ApplicationSource.model_validate({"repoURL": "https://x/r.git", "path": "app"})
    cache = RenderCache()
    first = await render_at(tmp_path, src, cache)
    hit = await render_at(tmp_path, src, cache)
    fresh = await render_at(tmp_path, src, None)
    assert cache.stats.hits == 1
    assert as_rows(hit) == as_rows(fresh) == as_rows(first)
    spec = hit[1].obj["spec"]
    assert type(spec["replicas"]) is int and spec["paused"] is False
    assert spec["template"]["metadata"]["annotations"]["empty"] is None
    assert hit[0].obj["data"]["text"] == "007"


async def test_one_apps_arguments_never_reach_another_apps_cached_render(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.jsonnet").write_text(GREETING)
    cache = RenderCache()

    def for_(who: str) -> ApplicationSource:
        return ApplicationSource.model_validate(
            {"repoURL": "https://x/r.git", "path": "app",
             "jsonnet": {"tlas": [{"name": "who", "value": who}]}}
        )  # fmt: skip

    alice = await render_at(tmp_path, for_("alice"), cache, app="a")
    bob = await render_at(tmp_path, for_("bob"), cache, app="b")
    again = await render_at(tmp_path, for_("alice"), cache, app="a2")
    assert [m.obj["data"]["who"] for m in (*alice, *bob, *again)] == ["alice", "bob", "alice"]
    assert cache.stats.hits == 1 and len(cache) == 2


def test_every_source_setting_is_in_the_key(tmp_path: Path) -> None:
    tools = RenderTools(kustomize="/bin/true", helm="/bin/false", chart_cache=tmp_path)
    base: dict[str, object] = {"repoURL": "https://x/r.git", "path": "app"}

    def for_(renderer: Renderer, **extra: object) -> RenderKey:
        src = ApplicationSource.model_validate({**base, **extra})
        return cache_key(
            src, renderer, content="sha", path="app", app_name="a", namespace="ns",
            kube=KUBE, tools=tools,
        )  # fmt: skip

    helm = for_(Renderer.HELM)
    assert helm != for_(Renderer.HELM, helm={"values": "replicas: 2"})
    assert helm != for_(Renderer.HELM, helm={"parameters": [{"name": "a", "value": "1"}]})
    assert helm != for_(Renderer.HELM, helm={"valueFiles": ["prod.yaml"]})
    directory = for_(Renderer.DIRECTORY)
    decrypting = {"decryption": {"provider": "sops", "secretRef": {"name": "keys"}}}
    assert directory != for_(Renderer.DIRECTORY, **decrypting)
    assert directory != for_(Renderer.DIRECTORY, directory={"recurse": True})
    assert for_(Renderer.KUSTOMIZE) != for_(Renderer.KUSTOMIZE, kustomize={"namePrefix": "p-"})


async def test_the_same_commit_of_two_repositories_is_two_entries(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "all.yaml").write_text(ODD_TYPES)
    cache = RenderCache()
    for url in ("https://x/one.git", "https://x/two.git"):
        src = ApplicationSource.model_validate({"repoURL": url, "path": "app"})
        await render_at(tmp_path, src, cache)
    assert len(cache) == 2 and cache.stats.hits == 0


async def test_a_failed_render_is_not_cached(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "bad.yaml").write_text("kind: [unclosed\n")
    src = ApplicationSource.model_validate({"repoURL": "https://x/r.git", "path": "app"})
    cache = RenderCache()
    for _ in range(2):
        with pytest.raises(DriftlessError):
            await render_at(tmp_path, src, cache)
    assert len(cache) == 0 and cache.stats.hits == 0


def test_a_monorepo_of_a_thousand_apps_fits_the_default_bounds() -> None:
    cache = RenderCache()
    for i in range(1000):
        objs = [manifests(f"cm-{i}-{j}", size=100)[0] for j in range(10)]
        cache.put(key(f"app-{i}"), objs)
    assert len(cache) == 1000 and cache.stats.evictions == 0
    assert cache.size_bytes < 8 * 1024 * 1024
