"""Semver ranges over real tags, and shallow clones, over file:// and smart HTTP (no Kubernetes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from driftless.core.errors import SourceError
from driftless.sources.git import GitCache
from tests.fixtures.git import GitRepo, MakeGitRepo, git
from tests.fixtures.git_http import GitHttpServer

pytestmark = pytest.mark.integration

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


@pytest.fixture
def cache(tmp_path: Path) -> GitCache:
    return GitCache(tmp_path / "cache", allow_local=True)


@pytest.fixture(params=["file", "http"])
def publish(request: pytest.FixtureRequest) -> Callable[[GitRepo], str]:
    if request.param == "file":
        return lambda repo: repo.url
    server: GitHttpServer = request.getfixturevalue("git_http_server")
    return lambda repo: server.publish(repo.path, f"rev-{repo.path.parent.name}-{repo.path.name}")


@pytest.fixture
def released(make_git_repo: MakeGitRepo) -> tuple[GitRepo, dict[str, str]]:
    """A repository with release tags, some with a ``v``, some annotated, some pre-releases."""
    repo = make_git_repo({"app/cm.yaml": CM.format(name="r0")})
    commits: dict[str, str] = {}
    for i, (tag, annotated) in enumerate(
        [
            ("v1.0.0", False),
            ("1.2.0", True),
            ("v1.2.5", False),
            ("v1.3.0", True),
            ("v2.0.0", False),
            ("v2.1.0-rc.1", False),
            ("not-a-version", False),
        ]
    ):
        commits[tag] = repo.commit({"app/cm.yaml": CM.format(name=f"r{i + 1}")}, tag)
        repo.tag(tag, annotated=annotated)
    return repo, commits


@pytest.mark.parametrize(
    ("revision", "tag"),
    [
        ("~1.2", "v1.2.5"),
        ("^1", "v1.3.0"),  # annotated: resolves to the commit, not the tag object
        (">=1.0 <2", "v1.3.0"),
        (">= 1.0, < 2", "v1.3.0"),  # Helm / Masterminds spelling
        ("1.x", "v1.3.0"),
        ("1.2.x", "v1.2.5"),
        ("*", "v2.0.0"),  # pre-releases excluded
        (">=2.1.0-0", "v2.1.0-rc.1"),  # ... unless the range names one
        ("1.2.0", "1.2.0"),  # an exact tag name
        ("v1.2.0", "1.2.0"),  # an exact version finds the tag without the v
        ("1.0.0", "v1.0.0"),  # ... and with it
    ],
)
async def test_semver_ranges_pick_the_highest_matching_tag(
    cache: GitCache,
    released: tuple[GitRepo, dict[str, str]],
    publish: Callable[[GitRepo], str],
    revision: str,
    tag: str,
) -> None:
    repo, commits = released
    assert await cache.resolve(publish(repo), revision) == commits[tag]


async def test_a_new_matching_tag_is_picked_up(
    cache: GitCache, released: tuple[GitRepo, dict[str, str]], publish: Callable[[GitRepo], str]
) -> None:
    repo, commits = released
    url = publish(repo)
    assert await cache.resolve(url, "~1.2") == commits["v1.2.5"]
    newer = repo.commit({"app/cm.yaml": CM.format(name="patch")}, "patch")
    repo.tag("v1.2.10")
    assert await cache.resolve(url, "~1.2") == newer
    artifact = await cache.checkout(url, "~1.2")
    assert artifact.revision == newer
    assert "patch" in (artifact.path / "app/cm.yaml").read_text()


async def test_an_existing_ref_named_like_a_range_wins(
    cache: GitCache, released: tuple[GitRepo, dict[str, str]], publish: Callable[[GitRepo], str]
) -> None:
    repo, commits = released
    repo.checkout(commits["v1.0.0"])
    repo.branch("1.x")
    repo.checkout("main")
    assert await cache.resolve(publish(repo), "1.x") == commits["v1.0.0"]


async def test_no_matching_tag_names_the_range_and_nearest_tags(
    cache: GitCache, released: tuple[GitRepo, dict[str, str]], publish: Callable[[GitRepo], str]
) -> None:
    repo, _ = released
    url = publish(repo)
    with pytest.raises(SourceError) as caught:
        await cache.resolve(url, "~2.1")
    message = str(caught.value)
    assert message.startswith(f"no tag of {url} matches the semver range '~2.1'; nearest tags: ")
    assert "v2.0.0" in message and "not-a-version" not in message
    assert "pre-releases such as v2.1.0-rc.1" in message
    assert cache.stats.fetches == 0  # decided from ls-remote alone


async def test_a_repository_without_version_tags_says_so(
    cache: GitCache, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"a.yaml": "x: 1\n"})
    with pytest.raises(SourceError, match="has no semver tags"):
        await cache.resolve(repo.url, "^1")


# -- shallow clones ----------------------------------------------------------------


async def test_a_branch_clone_is_shallow_yet_any_commit_can_be_named(
    cache: GitCache, make_git_repo: MakeGitRepo, publish: Callable[[GitRepo], str]
) -> None:
    repo = make_git_repo({"a.yaml": "v: 1\n"})
    first = repo.head()
    for i in range(2, 6):
        repo.commit({"a.yaml": f"v: {i}\n"})
    url = publish(repo)

    assert await cache.resolve(url, "main") == repo.head()
    (clone,) = [p for p in cache.root.iterdir() if p.name != "trees" and p.name[0] != "."]
    assert (clone / "shallow").is_file()
    assert git("--git-dir", str(clone), "rev-list", "--count", "--all", cwd=clone) == "1"

    # A later branch update stays shallow and costs one small fetch.
    newest = repo.commit({"a.yaml": "v: 6\n"})
    assert await cache.resolve(url, "main") == newest
    assert cache.stats.fetches == 2

    # An old commit by (short) id deepens the clone once.
    assert await cache.resolve(url, first[:10]) == first
    assert not (clone / "shallow").exists()
    artifact = await cache.checkout(url, first)
    assert (artifact.path / "a.yaml").read_text() == "v: 1\n"
