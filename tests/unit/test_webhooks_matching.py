"""matching: which apps a push refreshes, whatever URL form each app wrote."""

from __future__ import annotations

from typing import Any

import pytest

from driftless.webhooks.forges import Push
from driftless.webhooks.matching import (
    Followed,
    folded,
    followed,
    follows,
    matched,
    refreshed,
    repo_key,
)

SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
# What the GitHub payload of a push to Octo-Org/Hello-World names (forges keeps the keys).
GITHUB_URLS = tuple(
    repo_key(url) or ""
    for url in (
        "https://github.com/Octo-Org/Hello-World.git",
        "git@github.com:Octo-Org/Hello-World.git",
        "https://github.com/Octo-Org/Hello-World",
    )
)


def app(url: Any, revision: Any = "HEAD", name: str = "a", **source: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "apps", "name": name},
        "spec": {"source": {"repoURL": url, "targetRevision": revision, **source}},
    }


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Octo-Org/Hello-World",
        "https://github.com/Octo-Org/Hello-World.git",
        "https://GitHub.COM/Octo-Org/Hello-World.git",
        "https://github.com:443/Octo-Org/Hello-World",
        "https://github.com/Octo-Org/Hello-World/",
        "git@github.com:Octo-Org/Hello-World.git",
        "git@github.com:Octo-Org/Hello-World",
        "ssh://git@github.com/Octo-Org/Hello-World.git",
        "ssh://git@github.com:22/Octo-Org/Hello-World",
        "https://someone@github.com/Octo-Org/Hello-World.git",
        # GitHub sends the owner's spelling; an app may write any case of the path.
        "https://github.com/octo-org/hello-world",
        "git@github.com:OCTO-ORG/hello-world.git",
    ],
)
def test_every_url_form_of_the_repository_is_refreshed(url: str) -> None:
    push = Push(GITHUB_URLS, "refs/heads/main", SHA, "main")
    entry = followed(app(url))
    assert entry is not None
    assert refreshed([push], [entry]) == [("apps", "a")]


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Octo-Org/Hello-World-2",
        "https://gitlab.com/Octo-Org/Hello-World",
        "http://github.com/Octo-Org/Hello-World",
        "https://github.com/Octo-Org",
        "git@github.com:Other/Hello-World.git",
        "https://github.com:8443/Octo-Org/Hello-World",
    ],
)
def test_other_repositories_are_not_refreshed(url: str) -> None:
    push = Push(GITHUB_URLS, "refs/heads/main", SHA, "main")
    entry = followed(app(url))
    assert entry is not None
    assert refreshed([push], [entry]) == []


@pytest.mark.parametrize(
    ("ref", "revision", "default", "expected"),
    [
        ("refs/heads/main", "main", "main", True),
        ("refs/heads/main", "refs/heads/main", "main", True),
        ("refs/heads/main", " main ", None, True),
        ("refs/heads/main", "develop", "main", False),
        ("refs/heads/main", "mai", "main", False),
        ("refs/heads/main", "HEAD", "main", True),
        ("refs/heads/main", "", "main", True),
        ("refs/heads/feature", "HEAD", "main", False),
        ("refs/heads/feature", "HEAD", None, True),  # no default named: every HEAD app
        ("refs/heads/feature/x", "feature/x", "main", True),
        ("refs/heads/main", SHA, "main", False),  # a pinned commit never moves
        ("refs/heads/" + SHA, SHA, "main", False),
        ("refs/heads/main", "refs/tags/main", "main", False),
        ("refs/tags/v1.2.3", "v1.2.3", "main", True),
        ("refs/tags/v1.2.3", "refs/tags/v1.2.3", "main", True),
        ("refs/tags/v1.2.3", "v1.2.4", "main", False),
        ("refs/tags/v1.2.3", "1.2.3", "main", True),
        ("refs/tags/1.2.3", "v1.2.3", "main", True),
        ("refs/tags/v1.2.3", "~1.2", "main", True),
        ("refs/tags/v2.0.0", ">=1.0 <2", "main", True),  # any tag push re-reads a range
        ("refs/tags/v1.2.3", "HEAD", "main", False),
        ("refs/tags/v1.2.3", "HEAD", None, False),
        ("refs/tags/v1.2.3", "main", "main", False),
        ("refs/tags/v1.2.3", "refs/heads/v1.2.3", "main", False),
        ("refs/notes/commits", "HEAD", None, False),
    ],
)
def test_target_revisions(ref: str, revision: str, default: str | None, expected: bool) -> None:
    assert follows(ref, revision, default) is expected


def test_a_push_of_several_refs_refreshes_each_app_once_in_the_given_order() -> None:
    pushes = [
        Push(GITHUB_URLS, "refs/heads/main", SHA, "main"),
        Push(GITHUB_URLS, "refs/tags/v1.0.0", SHA, "main"),
    ]
    apps = [
        Followed(("apps", "c"), GITHUB_URLS[0], "~1.0"),
        Followed(("apps", "b"), GITHUB_URLS[0], "HEAD"),
        Followed(("apps", "b"), GITHUB_URLS[0], "HEAD"),
        Followed(("apps", "d"), GITHUB_URLS[0], "develop"),
        Followed(("other", "b"), GITHUB_URLS[0], "main"),
    ]
    assert refreshed(pushes, apps) == [("apps", "c"), ("apps", "b"), ("other", "b")]


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"metadata": [], "spec": {}},
        {"metadata": {"namespace": "apps", "name": "a"}, "spec": "x"},
        {"metadata": {"namespace": "apps", "name": "a"}, "spec": {"source": []}},
        {"metadata": {"namespace": 1, "name": "a"}, "spec": {"source": {"repoURL": "https://h/r"}}},
        app(7),
        app(["https://github.com/Octo-Org/Hello-World"]),
        app("https://github.com/Octo-Org/Hello-World", revision=3),
        app("not a url at all"),
        app("ext::sh -c id"),
        app("https://charts.example.com", revision="1.x", chart="nginx"),  # a Helm repository
    ],
)
def test_malformed_or_non_git_apps_follow_nothing(obj: dict[str, Any]) -> None:
    assert followed(obj) is None


def test_default_target_revision_is_head() -> None:
    obj = app("https://github.com/Octo-Org/Hello-World")
    del obj["spec"]["source"]["targetRevision"]
    assert followed(obj) == Followed(
        ("apps", "a"), "https://github.com/Octo-Org/Hello-World", "HEAD"
    )


def test_a_repository_url_with_credentials_in_the_app_still_matches() -> None:
    entry = followed(app("https://user:pw@github.com/Octo-Org/Hello-World.git"))
    assert entry is not None and "pw" not in entry.repo
    assert refreshed([Push(GITHUB_URLS, "refs/heads/main", SHA, "main")], [entry])


def test_a_path_in_another_case_is_one_repository_for_coalescing_too() -> None:
    upper = followed(app("https://github.com/Octo-Org/Hello-World", name="u"))
    lower = followed(app("git@github.com:octo-org/hello-world", name="l"))
    assert upper is not None and lower is not None
    push = Push(GITHUB_URLS, "refs/heads/main", SHA, "main")
    assert matched([push], [upper, lower]) == [upper, lower]
    assert folded(upper.repo) == folded(repo_key("https://GITHUB.com/octo-org/HELLO-world") or "")


# A Bitbucket Server 5.x payload names only the project key and the slug.
BB_PUSH = Push((), "refs/heads/main", SHA, None, ("PROJ/My-Repo",))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bitbucket.example.com/scm/proj/my-repo.git", True),
        ("https://bitbucket.example.com/scm/PROJ/My-Repo", True),
        ("ssh://git@bitbucket.example.com:7999/proj/my-repo.git", True),
        ("git@bitbucket.example.com:PROJ/my-repo.git", True),
        ("https://bitbucket.example.com/scm/proj/my-repo-2.git", False),
        ("https://bitbucket.example.com/scm/other/my-repo.git", False),
        ("https://bitbucket.example.com/scm/xproj/my-repo.git", False),  # a whole component
        ("https://bitbucket.example.com/my-repo", False),
    ],
)
def test_bitbucket_server_project_key_and_slug_match_the_path_end(url: str, expected: bool) -> None:
    entry = followed(app(url, revision="main"))
    assert entry is not None
    assert (refreshed([BB_PUSH], [entry]) == [("apps", "a")]) is expected


def test_a_push_without_its_refs_refreshes_every_app_of_the_repository_but_pinned_ones() -> None:
    push = Push(GITHUB_URLS, None, None, None)
    apps = [
        Followed(("apps", "main"), GITHUB_URLS[0], "main"),
        Followed(("apps", "tag"), GITHUB_URLS[0], "v1.2.3"),
        Followed(("apps", "range"), GITHUB_URLS[1], "~1.2"),
        Followed(("apps", "pinned"), GITHUB_URLS[0], SHA),
        Followed(("apps", "elsewhere"), "https://github.com/other/repo", "main"),
    ]
    assert refreshed([push], apps) == [("apps", "main"), ("apps", "tag"), ("apps", "range")]
