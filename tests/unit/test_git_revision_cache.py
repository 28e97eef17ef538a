"""The git cache's revision cache: a repository's refs reused for ``revision_ttl``, never by a
fresh (hard-refresh) resolve; and a fresh render that never reads the render cache."""

from __future__ import annotations

from pathlib import Path

from driftless.core.models import ApplicationSource
from driftless.render.cache import RenderCache
from driftless.render.context import KubeTarget, RenderTools
from driftless.render.pipeline import render
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm}}\ndata: {{value: '{value}'}}\n"


async def test_refs_are_reused_within_the_ttl_and_a_fresh_resolve_asks_again(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"app/cm.yaml": CM.format(value="1")})
    first = repo.head()
    cache = GitCache(tmp_path / "cache", allow_local=True, revision_ttl=3600)
    assert await cache.resolve(repo.url, "main") == first
    second = repo.commit({"app/cm.yaml": CM.format(value="2")})

    # Within the TTL: the cached refs answer, the push is not seen, git is not asked.
    assert await cache.resolve(repo.url, "main") == first
    assert cache.stats.ls_remotes == 1
    # Fresh: the repository is asked now, and its answer renews the cache.
    assert await cache.resolve(repo.url, "main", fresh=True) == second
    assert cache.stats.ls_remotes == 2
    assert await cache.resolve(repo.url, "main") == second
    assert cache.stats.ls_remotes == 2


async def test_without_a_ttl_every_resolve_asks_the_repository(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"app/cm.yaml": CM.format(value="1")})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    await cache.resolve(repo.url, "main")
    second = repo.commit({"app/cm.yaml": CM.format(value="2")})
    assert await cache.resolve(repo.url, "main") == second
    assert cache.stats.ls_remotes == 2


async def test_a_fresh_render_never_reads_the_cache_and_replaces_its_entry(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "app").mkdir(parents=True)
    (tree / "app" / "cm.yaml").write_text(CM.format(value="1"))
    source = ApplicationSource(repo_url="https://example.invalid/r.git", path="app")
    cache = RenderCache()

    async def value(*, fresh: bool) -> str:
        manifests = await render(
            source, tree, tree / "app", revision="c" * 40, app_name="a", namespace="ns",
            kube=KubeTarget.build("v1.36.0", []), tools=RenderTools(), cache=cache, fresh=fresh,
        )  # fmt: skip
        return str(manifests[0].obj["data"]["value"])

    assert await value(fresh=False) == "1"
    # The same key with other content (what a normal pass cannot see): the cache answers.
    (tree / "app" / "cm.yaml").write_text(CM.format(value="2"))
    assert await value(fresh=False) == "1"
    assert cache.stats.hits == 1
    assert await value(fresh=True) == "2"
    assert cache.stats.hits == 1  # not read
    assert await value(fresh=False) == "2"  # and the new render took the old one's place
