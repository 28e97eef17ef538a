"""GitCache single-flight: N apps on one repository cost one ls-remote and one fetch per poll;
a failure reaches every waiter once; a cancelled app does not cancel the others' resolve; a
forget (push, refresh) is never answered by an ls-remote asked before it."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from driftless.core.errors import DriftlessError, SourceError, SourceUnavailableError
from driftless.sources import refs
from driftless.sources.git import GitAuth, GitCache, GitLimits
from tests.fixtures.git import MakeGitRepo

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm}}\ndata: {{value: '{value}'}}\n"
APPS = 40


async def test_concurrent_resolves_share_one_ls_remote_and_one_fetch(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({f"apps/a{i}/cm.yaml": CM.format(value="1") for i in range(APPS)})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    shas = await asyncio.gather(*(cache.resolve(repo.url, "main") for _ in range(APPS)))
    assert set(shas) == {repo.head()}
    assert (cache.stats.ls_remotes, cache.stats.fetches) == (1, 1)

    # The next poll after a push: again one ls-remote and one fetch for all of them.
    second = repo.commit({"apps/a0/cm.yaml": CM.format(value="2")})
    shas = await asyncio.gather(*(cache.resolve(repo.url, "main") for _ in range(APPS)))
    assert set(shas) == {second}
    assert (cache.stats.ls_remotes, cache.stats.fetches) == (2, 2)


async def test_concurrent_checkouts_write_the_tree_once(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({f"apps/a{i}/cm.yaml": CM.format(value="1") for i in range(APPS)})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    artifacts = await asyncio.gather(*(cache.checkout(repo.url, "main") for _ in range(APPS)))
    assert {a.path for a in artifacts} == {tmp_path / "cache" / "trees" / repo.head()}
    assert cache.stats.checkouts == 1
    assert (artifacts[0].path / "apps/a7/cm.yaml").read_text() == CM.format(value="1")


async def test_a_known_commit_costs_no_git_command_but_the_ls_remote(
    tmp_path: Path, make_git_repo: MakeGitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(value="1")})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    await cache.checkout(repo.url, "main")
    calls: list[list[str]] = []
    import driftless.sources.git as git_module

    real = git_module.run_git

    async def counting(args: list[str], **kwargs: object) -> bytes:
        calls.append(args)
        return await real(args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(git_module, "run_git", counting)
    for _ in range(5):
        await cache.checkout(repo.url, "main")
    assert [args[0] for args in calls] == ["ls-remote"] * 5


async def test_an_unreachable_repository_fails_every_waiter_with_one_ls_remote(
    tmp_path: Path,
) -> None:
    cache = GitCache(tmp_path / "cache", limits=GitLimits(fetch_timeout=10))
    url = "http://127.0.0.1:9/nobody-listens.git"
    results = await asyncio.gather(
        *(cache.resolve(url, "main") for _ in range(APPS)), return_exceptions=True
    )
    assert all(isinstance(r, SourceUnavailableError) for r in results)
    assert cache.stats.ls_remotes == 1


async def test_a_failed_ls_remote_is_remembered_for_the_revision_cache_time(
    tmp_path: Path,
) -> None:
    cache = GitCache(tmp_path / "cache", revision_ttl=3600, limits=GitLimits(fetch_timeout=10))
    url = "http://127.0.0.1:9/nobody-listens.git"
    for _ in range(3):
        with pytest.raises(SourceUnavailableError, match="cannot reach repository"):
            await cache.resolve(url, "main")
    assert cache.stats.ls_remotes == 1
    cache.forget_refs(url)  # a refresh tries again at once
    with pytest.raises(SourceUnavailableError):
        await cache.resolve(url, "main")
    assert cache.stats.ls_remotes == 2


async def test_a_failed_fetch_is_shared_by_everyone_holding_the_same_answer(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"big.bin": os.urandom(2_000_000)})  # incompressible
    cache = GitCache(
        tmp_path / "cache",
        allow_local=True,
        revision_ttl=3600,
        limits=GitLimits(max_repo_bytes=100_000),
    )
    for _ in range(3):
        with pytest.raises(SourceError, match="too large"):
            await cache.resolve(repo.url, "main")
    assert (cache.stats.ls_remotes, cache.stats.fetches) == (1, 1)


async def test_cancelling_one_app_does_not_cancel_the_others_resolve(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(value="1")})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    started = asyncio.Event()
    asked = cache._ls_remote

    async def slow(url: str, auth: GitAuth) -> refs.RemoteRefs:
        started.set()
        await asyncio.sleep(0.2)
        return await asked(url, auth)

    cache._ls_remote = slow  # type: ignore[method-assign]
    doomed = asyncio.create_task(cache.resolve(repo.url, "main"))
    await started.wait()
    survivor = asyncio.create_task(cache.resolve(repo.url, "main"))
    await asyncio.sleep(0.05)
    doomed.cancel()
    assert await survivor == repo.head()
    assert doomed.cancelled()
    assert cache.stats.ls_remotes == 1


async def test_a_resolve_after_forget_never_joins_an_ls_remote_asked_before(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(value="1")})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    first = repo.head()
    release = asyncio.Event()
    asked = cache._ls_remote

    async def answers_then_waits(url: str, auth: GitAuth) -> refs.RemoteRefs:
        answer = await asked(url, auth)
        await release.wait()  # git answered before the push; the answer is late
        return answer

    cache._ls_remote = answers_then_waits  # type: ignore[method-assign]
    early = asyncio.create_task(cache.resolve(repo.url, "main"))
    await asyncio.sleep(0.3)
    second = repo.commit({"cm.yaml": CM.format(value="2")})
    cache.forget_refs(repo.url)  # the webhook of that push
    late = asyncio.create_task(cache.resolve(repo.url, "main"))
    await asyncio.sleep(0.3)
    release.set()
    # (the early one may see the push too: its fetch brings what the ref points at now)
    assert await early in (first, second)
    assert await late == second
    assert cache.stats.ls_remotes == 2


async def test_a_fresh_resolve_does_not_take_an_answer_asked_before_it(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(value="1")})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    release = asyncio.Event()
    asked = cache._ls_remote
    calls = 0

    async def first_one_late(url: str, auth: GitAuth) -> refs.RemoteRefs:
        nonlocal calls
        calls += 1
        answer = await asked(url, auth)
        if calls == 1:
            await release.wait()
        return answer

    cache._ls_remote = first_one_late  # type: ignore[method-assign]
    early = asyncio.create_task(cache.resolve(repo.url, "main"))
    await asyncio.sleep(0.3)
    second = repo.commit({"cm.yaml": CM.format(value="2")})
    assert await cache.resolve(repo.url, "main", fresh=True) == second
    release.set()
    await early


async def test_apps_refreshed_together_share_one_ls_remote(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(value="1")})
    cache = GitCache(tmp_path / "cache", allow_local=True, revision_ttl=3600)
    await cache.resolve(repo.url, "main")
    second = repo.commit({"cm.yaml": CM.format(value="2")})
    seen = time.monotonic()  # the controller sees every app's refresh annotation now

    async def refreshed_pass() -> str:
        cache.forget_refs(repo.url, since=seen)
        return await cache.resolve(repo.url, "main")

    assert set(await asyncio.gather(*(refreshed_pass() for _ in range(APPS)))) == {second}
    assert cache.stats.ls_remotes == 2
    # One after another too: the answer asked after the request satisfies it.
    for _ in range(3):
        assert await refreshed_pass() == second
    assert cache.stats.ls_remotes == 2
    # A request seen after that answer asks again.
    third = repo.commit({"cm.yaml": CM.format(value="3")})
    cache.forget_refs(repo.url, since=time.monotonic())
    assert await cache.resolve(repo.url, "main") == third
    assert cache.stats.ls_remotes == 3


async def test_a_cache_directory_removed_under_the_controller_recovers_at_the_next_pass(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    import shutil

    repo = make_git_repo({"cm.yaml": CM.format(value="1")})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    await cache.checkout(repo.url, "main")
    shutil.rmtree(tmp_path / "cache")
    with pytest.raises(DriftlessError):
        await cache.checkout(repo.url, "main")  # the memo trusted a clone that is gone
    artifact = await cache.checkout(repo.url, "main")
    assert (artifact.path / "cm.yaml").read_text() == CM.format(value="1")
