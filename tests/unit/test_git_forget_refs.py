"""GitCache.forget_refs: a push (a webhook, a refresh) is never hidden by the revision cache."""

from __future__ import annotations

from pathlib import Path

from driftless.sources import refs
from driftless.sources.git import GitAuth, GitCache
from tests.fixtures.git import MakeGitRepo

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm}}\ndata: {{value: '{value}'}}\n"


async def test_forgetting_any_url_form_makes_the_next_resolve_ask(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(value="1")})
    cache = GitCache(tmp_path / "cache", allow_local=True, revision_ttl=3600)
    await cache.resolve(repo.url, "main")
    second = repo.commit({"cm.yaml": CM.format(value="2")})
    path = repo.url.removeprefix("file://")
    assert cache.forget_refs(path + "/") == 1  # the same repository, spelled otherwise
    assert await cache.resolve(repo.url, "main") == second
    assert cache.stats.ls_remotes == 2
    assert await cache.resolve(repo.url, "main") == second  # cached again
    assert cache.stats.ls_remotes == 2


async def test_an_ls_remote_in_flight_when_forgotten_is_not_cached(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(value="1")})
    cache = GitCache(tmp_path / "cache", allow_local=True, revision_ttl=3600)
    asked = cache._ls_remote

    async def pushed_meanwhile(url: str, auth: GitAuth) -> refs.RemoteRefs:
        answer = await asked(url, auth)
        cache.forget_refs(repo.url)  # the webhook arrives while git answers
        return answer

    cache._ls_remote = pushed_meanwhile  # type: ignore[method-assign]
    await cache.resolve(repo.url, "main")
    cache._ls_remote = asked  # type: ignore[method-assign]
    second = repo.commit({"cm.yaml": CM.format(value="2")})
    assert await cache.resolve(repo.url, "main") == second
    assert cache.stats.ls_remotes == 2


def test_forgetting_what_is_no_repository_url_is_harmless(tmp_path: Path) -> None:
    cache = GitCache(tmp_path / "cache")
    assert cache.forget_refs("ext::sh -c id") == 0
    assert cache.forget_refs("https://example.com/never/asked") == 0
