"""Pure parts of the git source: repository URLs and matching revisions to refs."""

from __future__ import annotations

import pytest

from driftless.core.errors import SourceError
from driftless.sources import refs
from driftless.sources.urls import check_repo_url, normalize_repo_url, redact, repo_cache_key

# -- URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("https://user:token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("fatal: 'http://x-access-token:abc@h:8080/r' failed", "fatal: 'http://h:8080/r' failed"),
        ("no url here", "no url here"),
        ("ssh://git@host/r and https://a@b/c", "ssh://host/r and https://b/c"),
    ],
)
def test_redact(text: str, redacted: str) -> None:
    assert redact(text) == redacted


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("HTTPS://GitHub.com/Org/Repo/", "https://github.com/Org/Repo"),
        ("https://user:pw@github.com/o/r.git", "https://github.com/o/r.git"),
        ("http://127.0.0.1:8080/r.git", "http://127.0.0.1:8080/r.git"),
        ("/srv/repos//app/", "file:///srv/repos/app"),
        ("file:///srv/repos/app", "file:///srv/repos/app"),
        ("git@github.com:org/repo.git", "ssh://github.com/org/repo.git"),
    ],
)
def test_normalize(url: str, normalized: str) -> None:
    assert normalize_repo_url(url) == normalized


def test_cache_key_is_shared_by_spellings_and_readable() -> None:
    key = repo_cache_key("https://GitHub.com/o/my-app.git/")
    assert key == repo_cache_key("https://token@github.com/o/my-app.git")
    assert key.startswith("my-app.git-")
    assert key != repo_cache_key("https://github.com/other/my-app.git")


@pytest.mark.parametrize(
    "url", ["", "  ", "-u", "ext::sh -c id", "fd::3", "ftp://h/r", "relative/dir", "a b:c"]
)
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(SourceError):
        check_repo_url(url)


# -- refs ----------------------------------------------------------------------------

A, B, C, T = "a" * 40, "b" * 40, "c" * 40, "f" * 40

LS_REMOTE = f"""\
ref: refs/heads/main\tHEAD
{A}\tHEAD
{B}\trefs/heads/feature
{A}\trefs/heads/main
{C}\trefs/heads/v1
{T}\trefs/tags/v1
{B}\trefs/tags/v1^{{}}
{C}\trefs/tags/light
"""


def test_parse_ls_remote_peels_annotated_tags() -> None:
    remote = refs.parse_ls_remote(LS_REMOTE)
    assert remote.head == A
    assert remote.head_target == "refs/heads/main"
    assert remote.refs["refs/tags/v1"] == B
    assert remote.refs["refs/tags/light"] == C


@pytest.mark.parametrize(
    ("revision", "sha", "ref"),
    [
        (None, A, "refs/heads/main"),
        ("", A, "refs/heads/main"),
        (" HEAD ", A, "refs/heads/main"),
        ("main", A, "refs/heads/main"),
        ("feature", B, "refs/heads/feature"),
        ("v1", B, "refs/tags/v1"),  # a tag wins over a branch of that name, as in git
        ("refs/heads/v1", C, "refs/heads/v1"),
        ("light", C, "refs/tags/light"),
    ],
)
def test_match_revision(revision: str | None, sha: str, ref: str) -> None:
    assert refs.match_revision(refs.parse_ls_remote(LS_REMOTE), revision) == refs.RefMatch(sha, ref)


@pytest.mark.parametrize("revision", ["nope", "aaaaaaa", "refs/heads/nope", "tags/v1"])
def test_no_match(revision: str) -> None:
    assert refs.match_revision(refs.parse_ls_remote(LS_REMOTE), revision) is None


def test_empty_repository_has_no_head() -> None:
    assert refs.match_revision(refs.parse_ls_remote(""), None) is None


def test_detached_head() -> None:
    remote = refs.parse_ls_remote(f"{A}\tHEAD\n")
    assert refs.match_revision(remote, "HEAD") == refs.RefMatch(A, None)


@pytest.mark.parametrize(
    ("revision", "like_sha", "full"),
    [
        ("abc1", True, False),
        ("abc", False, False),
        ("ABCDEF0123", True, False),
        ("a" * 40, True, True),
        ("a" * 64, True, True),
        ("a" * 41, True, False),
        ("main", False, False),
    ],
)
def test_sha_shapes(revision: str, like_sha: bool, full: bool) -> None:
    assert refs.looks_like_sha(revision) is like_sha
    assert refs.is_full_sha(revision) is full


@pytest.mark.parametrize(
    ("revision", "valid"),
    [
        ("main", True),
        ("release/1.2", True),
        ("v1.0.0", True),
        ("-x", False),
        ("a..b", False),
        ("main~1", False),
        ("main^", False),
        ("a b", False),
        ("x:y", False),
        ("@{-1}", False),
        ("branch.lock", False),
        ("dir/", False),
    ],
)
def test_check_revision(revision: str, valid: bool) -> None:
    assert (refs.check_revision(revision) is None) is valid
