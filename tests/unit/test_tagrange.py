"""Semver ranges over advertised tags (pure)."""

from __future__ import annotations

import pytest

from driftless.core.errors import SourceError
from driftless.sources import tagrange
from driftless.sources.refs import RemoteRefs

TAGS = [
    "v1.0.0",
    "1.2.0",
    "v1.2.5",
    "v1.3.0",
    "v2.0.0",
    "v2.1.0-rc.1",
    "2.1.0-beta.2",
    "v3.0.0+build.7",
    "release-4",
    "v5",
]
REMOTE = RemoteRefs(
    refs={
        **{f"refs/tags/{tag}": f"sha-{tag}" for tag in TAGS},
        "refs/heads/main": "sha-main",
        "refs/heads/v9.0.0": "sha-branch",  # branches never count as versions
    }
)


def pick(revision: str) -> str:
    parsed = tagrange.parse_range(revision)
    assert parsed is not None, revision
    match = tagrange.select(REMOTE, parsed, "https://h/x")
    assert match.ref is not None
    return match.ref.removeprefix("refs/tags/")


@pytest.mark.parametrize(
    ("revision", "tag"),
    [
        ("~1.2", "v1.2.5"),
        ("~1.2.0", "v1.2.5"),
        ("^1", "v1.3.0"),
        ("^1.2.1", "v1.3.0"),
        (">=1.0 <2", "v1.3.0"),
        (">=1.0, <2", "v1.3.0"),
        (">= 1.0 < 2", "v1.3.0"),
        ("1.x", "v1.3.0"),
        ("1.2.x", "v1.2.5"),
        ("1", "v1.3.0"),
        ("<1.2", "v1.0.0"),
        ("1.0.0 - 1.2.0", "1.2.0"),
        ("~1.2 || ^2", "v2.0.0"),
        ("^2", "v2.0.0"),  # v2.1.0-rc.1 and 2.1.0-beta.2 are pre-releases
        (">=2.1.0-0", "v3.0.0+build.7"),  # names a pre-release but a release is higher
        (">=2.1.0-0 <2.2", "v2.1.0-rc.1"),  # rc > beta
        ("~2.1.0-beta.0", "v2.1.0-rc.1"),
        ("*", "v3.0.0+build.7"),
        ("x", "v3.0.0+build.7"),
        ("3.0.0", "v3.0.0+build.7"),
        ("v1.2.0", "1.2.0"),
        ("=1.2.5", "v1.2.5"),
    ],
)
def test_highest_matching_tag(revision: str, tag: str) -> None:
    assert pick(revision) == tag


@pytest.mark.parametrize(
    "revision",
    [None, "", "HEAD", "main", "feature/x", "release-4", "latest", "abcd1234", "1234", "deadbeef"],
)
def test_not_ranges(revision: str | None) -> None:
    assert tagrange.parse_range(revision) is None


def test_equal_versions_prefer_the_first_name() -> None:
    remote = RemoteRefs(refs={"refs/tags/v1.0.0": "a", "refs/tags/1.0.0": "b"})
    parsed = tagrange.parse_range("^1")
    assert parsed is not None
    assert tagrange.select(remote, parsed, "https://h/x").ref == "refs/tags/1.0.0"


def test_no_match_lists_the_nearest_tags() -> None:
    parsed = tagrange.parse_range("~1.4")
    assert parsed is not None
    with pytest.raises(SourceError) as caught:
        tagrange.select(REMOTE, parsed, "https://user:secret@h/x")
    message = str(caught.value)
    assert message.startswith("no tag of https://h/x matches the semver range '~1.4'")
    nearest = message.split("nearest tags: ")[1].split(", ")
    # the releases just above and below 1.4.0, highest first; pre-releases left out
    assert nearest == ["v3.0.0+build.7", "v2.0.0", "v1.3.0", "v1.2.5", "1.2.0"]
    assert "secret" not in message


def test_no_match_explains_the_pre_release_rule() -> None:
    parsed = tagrange.parse_range("~2.1")
    assert parsed is not None
    with pytest.raises(SourceError, match=r"pre-releases such as v2\.1\.0-rc\.1 .* '>=2\.1\.0-0'"):
        tagrange.select(REMOTE, parsed, "https://h/x")


def test_an_exact_version_that_is_missing_reads_like_an_unknown_revision() -> None:
    parsed = tagrange.parse_range("v9.9.9")
    assert parsed is not None
    with pytest.raises(SourceError) as caught:
        tagrange.select(RemoteRefs(refs={}), parsed, "https://h/x")
    assert str(caught.value) == (
        "revision 'v9.9.9' not found in https://h/x: no branch or tag of that name"
    )
