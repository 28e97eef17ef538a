"""The render entry point without external tools: dispatch, checks, cache, refusals."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from driftless.core.errors import DriftlessError, RenderError
from driftless.core.models import ApplicationSource
from driftless.render import KubeTarget, RenderCache, RenderTools, render

KUBE = KubeTarget("v1.36.0")
# Tools that do not exist: these renders must never need them.
NO_TOOLS = RenderTools(kustomize="/nonexistent/kustomize", helm="/nonexistent/helm")


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))


def source(path: str, **options: Any) -> ApplicationSource:
    return ApplicationSource.model_validate({"repoURL": "https://x/r.git", "path": path, **options})


async def names(tree: Path, src: ApplicationSource, cache: RenderCache | None = None) -> list[str]:
    manifests = await render(
        src,
        tree,
        tree / src.path,
        revision="abc",
        app_name="app",
        namespace="ns",
        kube=KUBE,
        tools=NO_TOOLS,
        cache=cache,
    )
    return [m.obj["metadata"]["name"] for m in manifests]


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"


async def test_plain_directory(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/a.yaml": CM.format("a"), "app/sub/b.yaml": CM.format("b")})
    assert await names(tmp_path, source("app")) == ["a"]
    assert await names(tmp_path, source("app", directory={"recurse": True})) == ["a", "b"]


async def test_jsonnet_detected_and_directory_options_apply(tmp_path: Path) -> None:
    cm = "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: '%s'}}"
    write_tree(tmp_path, {"app/a.jsonnet": cm % "a", "app/sub/b.jsonnet": cm % "b"})
    assert await names(tmp_path, source("app")) == ["a"]
    recursive = source("app", jsonnet={}, directory={"recurse": True})
    assert await names(tmp_path, recursive) == ["a", "b"]


async def test_cache_serves_an_unchanged_commit(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/a.yaml": CM.format("a")})
    cache = RenderCache()
    assert await names(tmp_path, source("app"), cache) == ["a"]
    (tmp_path / "app/a.yaml").write_text(CM.format("changed-without-a-new-commit"))
    assert await names(tmp_path, source("app"), cache) == ["a"]
    assert cache.stats.hits == 1


async def test_missing_tool_is_an_operator_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/kustomization.yaml": "resources: []\n"})
    with pytest.raises(DriftlessError, match="kustomize executable was not found"):
        await names(tmp_path, source("app"))


async def test_conflicting_options(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/a.yaml": CM.format("a")})
    with pytest.raises(RenderError, match="both kustomize and helm"):
        await names(tmp_path, source("app", helm={}, kustomize={}))


def test_kube_target_from_discovery() -> None:
    target = KubeTarget.build(
        "v1.36.0", [("apps/v1", "Deployment"), ("v1", "ConfigMap"), ("apps/v1", "StatefulSet")]
    )
    assert target.api_versions == (
        "apps/v1",
        "apps/v1/Deployment",
        "apps/v1/StatefulSet",
        "v1",
        "v1/ConfigMap",
    )
