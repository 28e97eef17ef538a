"""The git source against real repositories, over file:// and smart HTTP (no Kubernetes)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driftless.core.errors import SourceError, SourceUnavailableError
from driftless.sources.git import Artifact, GitCache, resolve_app_path
from tests.fixtures.git import GitRepo, MakeGitRepo, git
from tests.fixtures.git_http import GitHttpServer

pytestmark = pytest.mark.integration

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"

Remote = tuple[GitRepo, str]


@pytest.fixture
def cache(tmp_path: Path) -> GitCache:
    return GitCache(tmp_path / "cache", allow_local=True)


@pytest.fixture(params=["file", "http"])
def publish(request: pytest.FixtureRequest) -> Callable[[GitRepo], str]:
    """How a test's repository is reached: its file:// URL or the HTTP server."""
    if request.param == "file":
        return lambda repo: repo.url
    server: GitHttpServer = request.getfixturevalue("git_http_server")
    return lambda repo: server.publish(repo.path, f"{repo.path.parent.name}-{repo.path.name}")


@pytest.fixture
def remote(make_git_repo: MakeGitRepo, publish: Callable[[GitRepo], str]) -> Remote:
    repo = make_git_repo({"app/cm.yaml": CM.format(name="one")})
    return repo, publish(repo)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    yield port


# -- resolving every kind of revision ------------------------------------------


async def test_resolves_every_kind_of_revision(cache: GitCache, remote: Remote) -> None:
    repo, url = remote
    first = repo.head()
    repo.tag("v1.0.0", annotated=True)
    repo.tag("light")
    repo.branch("feature", checkout=True)
    feature = repo.commit({"app/extra.yaml": CM.format(name="two")}, "feature work")
    repo.checkout("main")
    second = repo.commit({"app/cm.yaml": CM.format(name="one-v2")}, "second")

    expected = {
        None: second,
        "": second,
        "HEAD": second,
        "main": second,
        "refs/heads/main": second,
        "feature": feature,
        "v1.0.0": first,  # the commit, not the annotated tag object
        "refs/tags/v1.0.0": first,
        "light": first,
        first: first,
        first[:7]: first,
        feature[:10].upper(): feature,
    }
    for revision, sha in expected.items():
        assert await cache.resolve(url, revision) == sha, revision


async def test_annotated_tag_never_yields_the_tag_object(cache: GitCache, remote: Remote) -> None:
    repo, url = remote
    tag_object = repo.tag("release", annotated=True)
    assert tag_object != repo.head()
    assert await cache.resolve(url, "release") == repo.head()


async def test_default_branch_is_whatever_head_points_to(
    cache: GitCache, make_git_repo: MakeGitRepo, publish: Callable[[GitRepo], str]
) -> None:
    repo = make_git_repo({"a.yaml": "x: 1\n"}, branch="trunk")
    assert await cache.resolve(publish(repo), None) == repo.head()


# -- fetching only what is new -------------------------------------------------


async def test_fetches_only_when_the_commit_is_new(cache: GitCache, remote: Remote) -> None:
    repo, url = remote
    assert await cache.resolve(url, "main") == repo.head()
    assert cache.stats.fetches == 1

    # Nothing changed: ls-remote answers, no fetch.
    assert await cache.resolve(url, "main") == repo.head()
    assert await cache.resolve(url, repo.head()) == repo.head()
    assert cache.stats.fetches == 1

    new = repo.commit({"app/cm.yaml": CM.format(name="changed")}, "change")
    assert await cache.resolve(url, "main") == new
    assert cache.stats.fetches == 2
    assert await cache.resolve(url, "main") == new
    assert cache.stats.fetches == 2


async def test_rewritten_history_is_followed(cache: GitCache, remote: Remote) -> None:
    repo, url = remote
    before = await cache.resolve(url, "main")
    git("commit", "--quiet", "--amend", "-m", "rewritten", cwd=repo.path)
    after = repo.head()
    assert after != before
    assert await cache.resolve(url, "main") == after


async def test_concurrent_resolves_of_one_repo_cost_one_fetch(
    cache: GitCache, remote: Remote
) -> None:
    repo, url = remote
    results = await asyncio.gather(*(cache.resolve(url, "main") for _ in range(12)))
    assert set(results) == {repo.head()}
    assert cache.stats.fetches == 1


async def test_spellings_of_one_url_share_one_clone(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"a.yaml": "x: 1\n"})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    await cache.resolve(repo.url, None)
    await cache.resolve(str(repo.path.resolve()) + "/", None)
    assert cache.stats.fetches == 1
    clones = [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(("trees", "."))]
    assert len(clones) == 1


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize("revision", ["no-such-branch", "v9.9.9", "refs/heads/nope"])
async def test_unknown_revision_is_a_source_error(
    cache: GitCache, remote: Remote, revision: str
) -> None:
    _, url = remote
    with pytest.raises(SourceError) as caught:
        await cache.resolve(url, revision)
    assert not isinstance(caught.value, SourceUnavailableError)
    assert f"revision {revision!r} not found in {url}" in str(caught.value)


@pytest.mark.parametrize("revision", ["deadbeefdeadbeef", "0" * 40])
async def test_unknown_commit_is_a_source_error(
    cache: GitCache, remote: Remote, revision: str
) -> None:
    _, url = remote
    with pytest.raises(SourceError, match="no branch, tag or commit of that name"):
        await cache.resolve(url, revision)


@pytest.mark.parametrize("revision", ["--upload-pack=touch /tmp/x", "a..b", "main~1", "x y"])
async def test_malformed_revision_is_refused_before_git_runs(
    cache: GitCache, remote: Remote, revision: str
) -> None:
    _, url = remote
    with pytest.raises(SourceError, match="not a valid branch, tag or commit name"):
        await cache.resolve(url, revision)
    assert cache.stats.ls_remotes == 0


@pytest.mark.parametrize(
    "url", ["ext::sh -c touch% /tmp/pwned", "relative/path", "-oProxyCommand=x", "ftp://h/r"]
)
async def test_unsupported_urls_are_refused(cache: GitCache, url: str) -> None:
    with pytest.raises(SourceError):
        await cache.resolve(url, None)
    assert cache.stats.ls_remotes == 0


async def test_closed_port_is_unavailable_and_credentials_are_not_shown(
    cache: GitCache, closed_port: int
) -> None:
    url = f"http://user@127.0.0.1:{closed_port}/x.git"
    with pytest.raises(SourceUnavailableError) as caught:
        await cache.resolve(url, "main")
    message = str(caught.value)
    assert f"cannot reach repository http://127.0.0.1:{closed_port}/x.git" in message
    assert "user" not in message
    # A password in repoURL is refused before git runs (it would be in git's argv),
    # and the refusal does not show it.
    with pytest.raises(SourceError) as refused:
        await cache.resolve(f"http://user:s3cret@127.0.0.1:{closed_port}/x.git", "main")
    assert "s3cret" not in str(refused.value)
    assert "repository Secret" in str(refused.value)


async def test_missing_repositories_are_unavailable(
    cache: GitCache, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    with pytest.raises(SourceUnavailableError, match="not found"):
        await cache.resolve(f"{git_http_server.base_url}/does-not-exist.git", None)
    with pytest.raises(SourceUnavailableError, match="does not appear to be a git repository"):
        await cache.resolve((tmp_path / "nothing-here").as_uri(), None)


async def test_empty_repository_has_no_default_branch(
    cache: GitCache, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo()
    with pytest.raises(SourceError, match="has no default branch"):
        await cache.resolve(repo.url, None)


async def test_a_server_that_hangs_times_out(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # accepts (by the kernel) but never answers
        port = sock.getsockname()[1]
        cache = GitCache(tmp_path / "cache", timeout=1.5, allow_local=True)
        with pytest.raises(SourceUnavailableError, match=r"timed out after 1.5s"):
            await cache.resolve(f"http://127.0.0.1:{port}/x.git", None)


async def test_cancelling_a_resolve_leaves_no_git_process(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        cache = GitCache(tmp_path / "cache", allow_local=True)
        task = asyncio.create_task(cache.resolve(f"http://127.0.0.1:{port}/x.git", None))
        # git has connected (the server sees it) and now waits for an answer.
        sock.settimeout(120)
        connection, _ = await asyncio.to_thread(sock.accept)
        with connection:  # open, silent, until git is gone
            assert _processes_mentioning(f"127.0.0.1:{port}"), "git is connected but not found"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert _processes_mentioning(f"127.0.0.1:{port}") == []


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue
    return pids


async def test_lock_files_left_by_a_killed_git_are_cleared(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"a.yaml": "x: 1\n"})
    await GitCache(tmp_path / "cache", allow_local=True).resolve(repo.url, "main")
    (clone,) = [p for p in (tmp_path / "cache").iterdir() if p.name.startswith("repo")]
    (clone / "refs" / "heads" / "main.lock").write_text("")
    new = repo.commit({"a.yaml": "x: 2\n"}, "change")
    # A new process (a new cache object) on the same root recovers.
    assert await GitCache(tmp_path / "cache", allow_local=True).resolve(repo.url, "main") == new


# -- checkout ------------------------------------------------------------------


async def test_checkout_materializes_the_tree_of_the_commit(
    cache: GitCache, remote: Remote
) -> None:
    repo, url = remote
    first = repo.head()
    repo.commit({"app/new.yaml": CM.format(name="new")}, "add", delete=["app/cm.yaml"])

    old = await cache.checkout(url, first)
    new = await cache.checkout(url, "main")
    assert old.revision == first
    assert old.path.name == first
    assert sorted(p.name for p in (old.path / "app").iterdir()) == ["cm.yaml"]
    assert sorted(p.name for p in (new.path / "app").iterdir()) == ["new.yaml"]
    assert not (new.path / ".git").exists()
    assert new.repo_url == url


async def test_checkout_reuses_trees_and_keeps_only_the_newest(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"a.yaml": "x: 0\n"})
    cache = GitCache(tmp_path / "cache", keep_trees=2, allow_local=True)
    trees = tmp_path / "cache" / "trees"
    shas = [repo.head()] + [repo.commit({"a.yaml": f"x: {i}\n"}, f"c{i}") for i in range(1, 4)]

    artifacts = [await cache.checkout(repo.url, sha) for sha in shas[:3]]
    # Trees used within the last minutes are in use by some render: all kept.
    assert sorted(p.name for p in trees.iterdir()) == sorted(shas[:3])
    assert await cache.checkout(repo.url, shas[2]) == artifacts[2]
    assert cache.stats.checkouts == 3

    # An hour later, the next checkout keeps only the two most recently used.
    now = time.time()
    for age, sha in zip((3600, 3000, 2400), shas[:3], strict=True):
        os.utime(trees / sha, (now - age, now - age))
    await cache.checkout(repo.url, shas[3])
    assert cache.stats.checkouts == 4
    assert sorted(p.name for p in trees.iterdir()) == sorted(shas[2:])


async def test_concurrent_checkouts_of_one_commit_write_one_tree(
    cache: GitCache, remote: Remote
) -> None:
    _, url = remote
    artifacts = await asyncio.gather(*(cache.checkout(url, "main") for _ in range(8)))
    assert len(set(artifacts)) == 1
    assert cache.stats.checkouts == 1
    assert cache.stats.fetches == 1


# -- the app's path inside the tree ------------------------------------------------


@pytest.fixture
async def tree(cache: GitCache, make_git_repo: MakeGitRepo, tmp_path: Path) -> Artifact:
    (tmp_path / "outside").mkdir()
    repo = make_git_repo({"apps/web/cm.yaml": CM.format(name="web"), "README.md": "hi\n"})
    repo.commit(
        symlinks={
            "apps/link-out": str(tmp_path / "outside"),
            "apps/link-up": "../..",
            "apps/link-in": "web",
        },
        message="links",
    )
    return await cache.checkout(repo.url, "main")


@pytest.mark.parametrize(
    ("path", "relative"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("apps/web", "apps/web"),
        ("./apps//web/", "apps/web"),
        ("apps/../apps/web", "apps/web"),
        ("apps/link-in", "apps/web"),
    ],
)
def test_app_path_inside_the_tree(tree: Artifact, path: str | None, relative: str) -> None:
    assert resolve_app_path(tree, path) == (tree.path / relative).resolve()


@pytest.mark.parametrize(
    "path", ["..", "../other", "apps/../../x", "/etc", "apps/link-out", "apps/link-up/x"]
)
def test_app_path_escaping_the_tree_is_refused(tree: Artifact, path: str) -> None:
    with pytest.raises(SourceError, match=r"escapes the repository"):
        resolve_app_path(tree, path)


def test_missing_app_path_names_repo_and_revision(tree: Artifact) -> None:
    with pytest.raises(SourceError) as caught:
        resolve_app_path(tree, "apps/nope")
    assert str(caught.value) == (
        f"path 'apps/nope' not found in {tree.repo_url} at {tree.revision[:12]}"
    )


def test_app_path_must_be_a_directory(tree: Artifact) -> None:
    with pytest.raises(SourceError, match="is not a directory"):
        resolve_app_path(tree, "README.md")
