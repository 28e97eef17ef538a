"""forges.read: each forge's headers and payload as its documentation shows them; hostile ones."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from driftless.webhooks import forges
from driftless.webhooks.forges import Ignored, Ping, Push

SECRET = b"It's a Secret to Everybody"
AFTER = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
BEFORE = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
ZERO = "0" * 40
NOW = 1_764_800_000.0

# -- payloads as the forges document them (trimmed of the commit lists' bulk) --------------

GITHUB_PUSH: dict[str, Any] = {
    "ref": "refs/heads/main",
    "before": BEFORE,
    "after": AFTER,
    "created": False,
    "deleted": False,
    "forced": False,
    "base_ref": None,
    "compare": f"https://github.com/Octo-Org/Hello-World/compare/{BEFORE[:12]}...{AFTER[:12]}",
    "commits": [{"id": AFTER, "message": "Update README.md", "distinct": True}],
    "head_commit": {"id": AFTER, "message": "Update README.md"},
    "repository": {
        "id": 1296269,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "name": "Hello-World",
        "full_name": "Octo-Org/Hello-World",
        "private": False,
        "owner": {"name": "Octo-Org", "login": "Octo-Org", "id": 1},
        "html_url": "https://github.com/Octo-Org/Hello-World",
        "url": "https://github.com/Octo-Org/Hello-World",
        "git_url": "git://github.com/Octo-Org/Hello-World.git",
        "ssh_url": "git@github.com:Octo-Org/Hello-World.git",
        "clone_url": "https://github.com/Octo-Org/Hello-World.git",
        "svn_url": "https://github.com/Octo-Org/Hello-World",
        "default_branch": "main",
        "master_branch": "main",
    },
    "pusher": {"name": "octocat", "email": "octocat@github.com"},
    "sender": {"login": "octocat", "id": 1},
}
GITHUB_PING: dict[str, Any] = {
    "zen": "Design for failure.",
    "hook_id": 109948940,
    "hook": {"type": "Repository", "id": 109948940, "events": ["push"], "active": True},
    "repository": GITHUB_PUSH["repository"],
}
GITLAB_PUSH: dict[str, Any] = {
    "object_kind": "push",
    "event_name": "push",
    "before": BEFORE,
    "after": AFTER,
    "ref": "refs/heads/main",
    "ref_protected": True,
    "checkout_sha": AFTER,
    "user_id": 4,
    "user_name": "John Smith",
    "user_username": "jsmith",
    "project_id": 15,
    "project": {
        "id": 15,
        "name": "Diaspora",
        "web_url": "https://gitlab.example.com/mike/diaspora",
        "git_ssh_url": "git@gitlab.example.com:mike/diaspora.git",
        "git_http_url": "https://gitlab.example.com/mike/diaspora.git",
        "namespace": "Mike",
        "visibility_level": 0,
        "path_with_namespace": "mike/diaspora",
        "default_branch": "main",
        "homepage": "https://gitlab.example.com/mike/diaspora",
        "url": "git@gitlab.example.com:mike/diaspora.git",
        "ssh_url": "git@gitlab.example.com:mike/diaspora.git",
        "http_url": "https://gitlab.example.com/mike/diaspora.git",
    },
    "repository": {
        "name": "Diaspora",
        "url": "git@gitlab.example.com:mike/diaspora.git",
        "homepage": "https://gitlab.example.com/mike/diaspora",
        "git_http_url": "https://gitlab.example.com/mike/diaspora.git",
        "git_ssh_url": "git@gitlab.example.com:mike/diaspora.git",
        "visibility_level": 0,
    },
    "commits": [],
    "total_commits_count": 1,
}
GITLAB_TAG = {
    **GITLAB_PUSH,
    "object_kind": "tag_push",
    "event_name": "tag_push",
    "ref": "refs/tags/v1.0.0",
}
GITEA_PUSH: dict[str, Any] = {
    "ref": "refs/heads/develop",
    "before": BEFORE,
    "after": AFTER,
    "compare_url": f"https://gitea.example.com/gitea/webhooks/compare/{BEFORE}...{AFTER}",
    "commits": [{"id": AFTER, "message": "Webhooks Yay!", "url": "..."}],
    "total_commits": 1,
    "repository": {
        "id": 140,
        "owner": {"id": 1, "login": "gitea", "full_name": "Gitea"},
        "name": "webhooks",
        "full_name": "gitea/webhooks",
        "private": False,
        "html_url": "https://gitea.example.com/gitea/webhooks",
        "ssh_url": "git@gitea.example.com:gitea/webhooks.git",
        "clone_url": "https://gitea.example.com/gitea/webhooks.git",
        "default_branch": "main",
    },
    "pusher": {"id": 1, "login": "gitea"},
    "sender": {"id": 1, "login": "gitea"},
}
BITBUCKET_PUSH: dict[str, Any] = {
    "actor": {"type": "user", "display_name": "Emma", "uuid": "{d301aafa-d676-4ee0-88be}"},
    "repository": {
        "type": "repository",
        "name": "repo_name",
        "full_name": "team_name/repo_name",
        "uuid": "{dadf7b92-1c1a-4f6e-9e5b-f81e9f8c0e4c}",
        "links": {
            "self": {"href": "https://api.bitbucket.org/2.0/repositories/team_name/repo_name"},
            "html": {"href": "https://bitbucket.org/team_name/repo_name"},
            "avatar": {"href": "https://bytebucket.org/ravatar/%7Bdadf7b92%7D"},
        },
        "scm": "git",
        "is_private": True,
        "mainbranch": {"type": "branch", "name": "main"},
    },
    "push": {
        "changes": [
            {
                "new": {
                    "type": "branch",
                    "name": "main",
                    "target": {"type": "commit", "hash": AFTER, "message": "fix"},
                },
                "old": {"type": "branch", "name": "main", "target": {"hash": BEFORE}},
                "created": False,
                "closed": False,
                "forced": False,
                "truncated": False,
                "commits": [{"hash": AFTER, "type": "commit"}],
            },
            {
                "new": None,
                "old": {"type": "tag", "name": "v0.9.0", "target": {"hash": BEFORE}},
                "created": False,
                "closed": True,
                "forced": False,
            },
        ]
    },
}
BITBUCKET_SERVER_PUSH: dict[str, Any] = {
    "eventKey": "repo:refs_changed",
    "date": "2017-09-19T09:58:11+1000",
    "actor": {"name": "admin", "emailAddress": "admin@example.com", "id": 1, "slug": "admin"},
    "repository": {
        "slug": "repository",
        "id": 84,
        "name": "repository",
        "scmId": "git",
        "state": "AVAILABLE",
        "forkable": True,
        "project": {"key": "PROJ", "id": 84, "name": "project", "public": False},
        "public": False,
        "links": {
            "clone": [
                {"href": "ssh://git@bitbucket.example.com:7999/proj/repository.git", "name": "ssh"},
                {"href": "https://bitbucket.example.com/scm/proj/repository.git", "name": "http"},
            ],
            "self": [
                {"href": "https://bitbucket.example.com/projects/PROJ/repos/repository/browse"}
            ],
        },
    },
    "changes": [
        {
            "ref": {"id": "refs/heads/master", "displayId": "master", "type": "BRANCH"},
            "refId": "refs/heads/master",
            "fromHash": BEFORE,
            "toHash": AFTER,
            "type": "UPDATE",
        }
    ],
}


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def hub(raw: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()


def github(raw: bytes, event: str = "push") -> dict[str, str]:
    return {
        "x-github-event": event,
        "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "x-hub-signature-256": hub(raw),
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/044aadd",
    }


def generic_headers(raw: bytes, stamp: int = int(NOW), secret: bytes = SECRET) -> dict[str, str]:
    mac = hmac.new(secret, str(stamp).encode() + b"." + raw, hashlib.sha256).hexdigest()
    return {"x-driftless-timestamp": str(stamp), "x-driftless-signature": f"sha256={mac}"}


def read(provider: str, headers: dict[str, str], raw: bytes, **kw: Any) -> forges.Delivery:
    return forges.read(provider, headers, raw, SECRET, now=NOW, **kw)


GITHUB_URLS = ("https://github.com/Octo-Org/Hello-World", "git://github.com/Octo-Org/Hello-World")
GITHUB_SSH = "ssh://github.com/Octo-Org/Hello-World"


# -- what each forge's push becomes ---------------------------------------------------------


def test_github_push_names_every_url_form_the_ref_and_the_default_branch() -> None:
    raw = body(GITHUB_PUSH)
    (push,) = read("github", github(raw), raw)  # type: ignore[misc]
    assert push.ref == "refs/heads/main" and push.after == AFTER
    assert push.default_branch == "main"
    assert set(push.repo_urls) == {*GITHUB_URLS, GITHUB_SSH}


def test_github_form_encoded_payload_is_read_signed_as_sent() -> None:
    raw = urlencode({"payload": json.dumps(GITHUB_PUSH)}).encode()
    headers = {**github(raw), "content-type": "application/x-www-form-urlencoded"}
    (push,) = read("github", headers, raw)  # type: ignore[misc]
    assert push.ref == "refs/heads/main"


def test_github_ping_and_other_events() -> None:
    raw = body(GITHUB_PING)
    assert read("github", github(raw, "ping"), raw) == Ping()
    assert read("github", github(raw, "pull_request"), raw) == Ignored("pull_request")


def test_github_branch_deletion_has_no_after() -> None:
    raw = body({**GITHUB_PUSH, "deleted": True, "after": ZERO})
    (push,) = read("github", github(raw), raw)  # type: ignore[misc]
    assert push.after is None


@pytest.mark.parametrize(
    ("event", "payload", "ref"),
    [
        ("Push Hook", GITLAB_PUSH, "refs/heads/main"),
        ("Tag Push Hook", GITLAB_TAG, "refs/tags/v1.0.0"),
    ],
)
def test_gitlab_push_and_tag_push(event: str, payload: dict[str, Any], ref: str) -> None:
    headers = {"x-gitlab-event": event, "x-gitlab-token": SECRET.decode()}
    (push,) = read("gitlab", headers, body(payload))  # type: ignore[misc]
    assert push.ref == ref and push.default_branch == "main"
    assert set(push.repo_urls) == {
        "https://gitlab.example.com/mike/diaspora",
        "ssh://gitlab.example.com/mike/diaspora",
    }


def test_gitlab_other_events_are_ignored() -> None:
    headers = {"x-gitlab-event": "Merge Request Hook", "x-gitlab-token": SECRET.decode()}
    assert read("gitlab", headers, b"{}") == Ignored("Merge Request Hook")


@pytest.mark.parametrize("provider", ["gitea", "forgejo"])
@pytest.mark.parametrize(
    ("event_header", "signature_header"),
    [("x-gitea-event", "x-gitea-signature"), ("x-forgejo-event", "x-forgejo-signature")],
)
def test_gitea_and_forgejo_push(provider: str, event_header: str, signature_header: str) -> None:
    raw = body(GITEA_PUSH)
    headers = {event_header: "push", signature_header: hub(raw).removeprefix("sha256=")}
    (push,) = read(provider, headers, raw)  # type: ignore[misc]
    assert push.ref == "refs/heads/develop" and push.default_branch == "main"
    assert set(push.repo_urls) == {
        "https://gitea.example.com/gitea/webhooks",
        "ssh://gitea.example.com/gitea/webhooks",
    }


def test_bitbucket_cloud_push_reads_every_change_and_makes_the_clone_urls() -> None:
    raw = body(BITBUCKET_PUSH)
    pushes = read("bitbucket", {"x-event-key": "repo:push", "x-hub-signature": hub(raw)}, raw)
    assert isinstance(pushes, tuple)
    assert [(p.ref, p.after) for p in pushes] == [
        ("refs/heads/main", AFTER),
        ("refs/tags/v0.9.0", None),  # deleted: "new" is null
    ]
    assert set(pushes[0].repo_urls) == {
        "https://bitbucket.org/team_name/repo_name",
        "ssh://bitbucket.org/team_name/repo_name",
    }
    assert pushes[0].default_branch == "main"


def test_bitbucket_server_refs_changed_and_ping() -> None:
    raw = body(BITBUCKET_SERVER_PUSH)
    headers = {"x-event-key": "repo:refs_changed", "x-hub-signature": hub(raw)}
    (push,) = read("bitbucket-server", headers, raw)  # type: ignore[misc]
    assert push.ref == "refs/heads/master" and push.after == AFTER
    assert set(push.repo_urls) == {
        "ssh://bitbucket.example.com:7999/proj/repository",
        "https://bitbucket.example.com/scm/proj/repository",
    }
    ping = body({"test": True})
    ping_headers = {"x-event-key": "diagnostics:ping", "x-hub-signature": hub(ping)}
    assert read("bitbucket-server", ping_headers, ping) == Ping()


# Bitbucket Server 5.x (and Atlassian's own examples): no ``repository.links``.
BITBUCKET_SERVER_5_PUSH: dict[str, Any] = {
    **BITBUCKET_SERVER_PUSH,
    "repository": {
        "slug": "My-Repo",
        "id": 84,
        "name": "My Repo",
        "project": {"key": "PROJ", "id": 84, "name": "project"},
    },
}


def test_bitbucket_server_without_links_names_project_key_and_slug() -> None:
    raw = body(BITBUCKET_SERVER_5_PUSH)
    headers = {"x-event-key": "repo:refs_changed", "x-hub-signature": hub(raw)}
    (push,) = read("bitbucket-server", headers, raw)  # type: ignore[misc]
    assert push == Push((), "refs/heads/master", AFTER, None, ("PROJ/My-Repo",))


@pytest.mark.parametrize(
    "change",
    [{"refLimitExceeded": True}, {"changes": []}, {"changes": None}],
)
def test_bitbucket_server_without_the_refs_moved_refreshes_every_ref(
    change: dict[str, Any],
) -> None:
    raw = body({**BITBUCKET_SERVER_PUSH, **change})
    headers = {"x-event-key": "repo:refs_changed", "x-hub-signature": hub(raw)}
    (push,) = read("bitbucket-server", headers, raw)  # type: ignore[misc]
    assert push.ref is None and push.after is None
    assert "https://bitbucket.example.com/scm/proj/repository" in push.repo_urls


def test_generic_ref_and_revision() -> None:
    raw = body({"repoURL": "git@example.com:team/app.git", "ref": "refs/tags/v2.0.0"})
    (push,) = read("generic", generic_headers(raw), raw)  # type: ignore[misc]
    assert push == Push(("ssh://example.com/team/app",), "refs/tags/v2.0.0", None, None)
    raw = body({"repoURL": "https://example.com/team/app", "revision": "main"})
    pushes = read("generic", generic_headers(raw), raw)
    assert isinstance(pushes, tuple)
    assert [p.ref for p in pushes] == ["refs/heads/main", "refs/tags/main"]


# -- signatures --------------------------------------------------------------------------


def _github_with(signature: str | None) -> dict[str, str]:
    headers = github(body(GITHUB_PUSH))
    del headers["x-hub-signature-256"]
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return headers


RAW = body(GITHUB_PUSH)


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        (None, "missing X-Hub-Signature-256"),
        (hub(RAW, b"another secret"), "does not match"),
        (hub(RAW + b" "), "does not match"),  # signed another body
        ("sha1=" + hmac.new(SECRET, RAW, hashlib.sha1).hexdigest(), "must be sha256="),
        ("sha512=" + hmac.new(SECRET, RAW, hashlib.sha512).hexdigest(), "must be sha256="),
        (hub(RAW).removeprefix("sha256="), "must be sha256="),
        ("sha256=", "does not match"),
        ("sha256=" + "z" * 64, "does not match"),
        (hub(RAW)[:-2], "does not match"),
    ],
)
def test_github_bad_signatures_are_401(signature: str | None, why: str) -> None:
    with pytest.raises(forges.SignatureError, match=why) as caught:
        read("github", _github_with(signature), RAW)
    assert caught.value.status == 401
    assert SECRET.decode() not in str(caught.value)
    assert hub(RAW).removeprefix("sha256=") not in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "headers"),
    [
        ("gitlab", {"x-gitlab-event": "Push Hook"}),
        ("gitlab", {"x-gitlab-event": "Push Hook", "x-gitlab-token": "wrong"}),
        ("gitlab", {"x-gitlab-event": "Push Hook", "x-gitlab-token": SECRET.decode() + "x"}),
        ("bitbucket", {"x-event-key": "repo:push"}),  # Cloud without a signature
        ("bitbucket-server", {"x-event-key": "repo:refs_changed", "x-hub-signature": "sha256=00"}),
        ("gitea", {"x-gitea-event": "push"}),
        ("gitea", {"x-gitea-event": "push", "x-gitea-signature": "sha256=" + "0" * 64}),
        ("generic", {}),
    ],
)
def test_unsigned_or_wrongly_signed_deliveries_are_401(
    provider: str, headers: dict[str, str]
) -> None:
    with pytest.raises(forges.SignatureError):
        read(provider, headers, body(GITLAB_PUSH))


def test_signature_is_checked_before_the_payload_is_read() -> None:
    with pytest.raises(forges.SignatureError):
        read("github", _github_with("sha256=" + "0" * 64), b"{not json")


@pytest.mark.parametrize("skew", [-301, 301, 10_000_000])
def test_generic_stale_or_future_timestamp_is_refused(skew: int) -> None:
    raw = body({"repoURL": "https://example.com/a/b", "ref": "refs/heads/main"})
    with pytest.raises(forges.SignatureError, match="clock"):
        read("generic", generic_headers(raw, int(NOW) + skew), raw)


@pytest.mark.parametrize("stamp", ["", "abc", "1e9", "-5", "١٢٣", "9" * 40])
def test_generic_malformed_timestamp_is_refused(stamp: str) -> None:
    raw = body({"repoURL": "https://example.com/a/b", "ref": "refs/heads/main"})
    headers = {**generic_headers(raw), "x-driftless-timestamp": stamp}
    with pytest.raises(forges.SignatureError):
        read("generic", headers, raw)


def test_generic_replay_is_refused_and_a_new_delivery_is_not() -> None:
    raw = body({"repoURL": "https://example.com/a/b", "ref": "refs/heads/main"})
    guard = forges.ReplayGuard()
    read("generic", generic_headers(raw), raw, replays=guard)
    with pytest.raises(forges.SignatureError, match="replay"):
        read("generic", generic_headers(raw), raw, replays=guard)
    read("generic", generic_headers(raw, int(NOW) + 1), raw, replays=guard)  # a new stamp


def test_replay_guard_is_bounded() -> None:
    guard = forges.ReplayGuard(limit=3)
    for n in range(10):
        assert guard.first_use(str(n), NOW)
    assert len(guard._seen) <= 3


def test_generic_timestamp_is_part_of_what_is_signed() -> None:
    raw = body({"repoURL": "https://example.com/a/b", "ref": "refs/heads/main"})
    headers = {**generic_headers(raw), "x-driftless-timestamp": str(int(NOW) + 5)}
    with pytest.raises(forges.SignatureError, match="does not match"):
        read("generic", headers, raw)


# -- malformed payloads (correctly signed: a forge's bug or a leaked secret) -----------------


def _signed_github(raw: bytes) -> forges.Delivery:
    return read("github", github(raw), raw)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"{not json", "not a JSON object"),
        (b"\xff\xfe", "not a JSON object"),
        (b"", "not a JSON object"),
        (b"[1, 2]", "not an object"),
        (b'"push"', "not an object"),
        (b"null", "not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "not a JSON object"),  # deeper than json recurses
        (b'{"ref": 1' + b"0" * 5000 + b"}", "not a JSON object"),  # an int past int's digit limit
        (body({**GITHUB_PUSH, "ref": 42}), "ref is not a string"),
        (body({**GITHUB_PUSH, "ref": ["refs/heads/main"]}), "ref is not a string"),
        (body({**GITHUB_PUSH, "ref": "x" * 5000}), "ref is not a string"),
        (body({**GITHUB_PUSH, "ref": "main"}), "not a branch or tag ref"),
        (body({**GITHUB_PUSH, "ref": None}), "ref is missing"),
        (
            body({**GITHUB_PUSH, "repository": "Octo-Org/Hello-World"}),
            "repository is not an object",
        ),
        (body({**GITHUB_PUSH, "repository": {"clone_url": 7}}), "clone_url is not a string"),
        (body({**GITHUB_PUSH, "repository": {}}), "no repository URL"),
        (
            body({**GITHUB_PUSH, "repository": {"clone_url": "ext::sh -c touch% /tmp/pwned"}}),
            "no repository URL",
        ),
        (body({**GITHUB_PUSH, "repository": {"clone_url": "file:///etc"}}), "no repository URL"),
    ],
)
def test_malformed_github_payloads_are_400(raw: bytes, why: str) -> None:
    with pytest.raises(forges.MalformedError, match=why) as caught:
        _signed_github(raw)
    assert caught.value.status == 400


def test_a_repository_url_with_credentials_matches_without_them_and_is_never_repeated() -> None:
    repo = {"clone_url": "https://x-token:ghp_supersecret@github.com/Octo-Org/Hello-World.git"}
    (push,) = _signed_github(body({**GITHUB_PUSH, "repository": repo}))  # type: ignore[misc]
    assert push.repo_urls == ("https://github.com/Octo-Org/Hello-World",)
    bad = {"clone_url": "https://u:ghp_supersecret@", "ssh_url": 5}
    with pytest.raises(forges.MalformedError) as caught:
        _signed_github(body({**GITHUB_PUSH, "repository": bad}))
    assert "supersecret" not in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "headers", "payload", "why"),
    [
        ("gitlab", {"x-gitlab-event": "Push Hook"}, {**GITLAB_PUSH, "project": []}, "project"),
        ("gitlab", {"x-gitlab-event": "Push Hook"}, {**GITLAB_PUSH, "ref": {}}, "ref"),
        ("bitbucket", {"x-event-key": "repo:push"}, {**BITBUCKET_PUSH, "push": {}}, "changes"),
        (
            "bitbucket",
            {"x-event-key": "repo:push"},
            {**BITBUCKET_PUSH, "push": {"changes": ["main"]}},
            r"changes\[0\]",
        ),
        (
            "bitbucket-server",
            {"x-event-key": "repo:refs_changed"},
            {**BITBUCKET_SERVER_PUSH, "repository": {"links": {"clone": "https://x/y"}}},
            "clone",
        ),
        (
            "bitbucket-server",
            {"x-event-key": "repo:refs_changed"},
            {**BITBUCKET_SERVER_PUSH, "repository": {"slug": "repository"}},
            "names no repository",
        ),
        (
            "bitbucket-server",
            {"x-event-key": "repo:refs_changed"},
            {**BITBUCKET_SERVER_PUSH, "repository": {"slug": "../x", "project": {"key": "P"}}},
            "not a Bitbucket name",
        ),
        (
            "bitbucket-server",
            {"x-event-key": "repo:refs_changed"},
            {**BITBUCKET_SERVER_PUSH, "repository": {"slug": "a\nb", "project": {"key": "P"}}},
            "not a Bitbucket name",
        ),
        ("generic", {}, {"ref": "refs/heads/main"}, "repoURL"),
        ("generic", {}, {"repoURL": "https://example.com/a/b"}, '"ref"'),
        ("generic", {}, {"repoURL": "https://example.com/a/b", "revision": "refs/x"}, '"ref"'),
    ],
)
def test_malformed_payloads_of_other_forges_are_400(
    provider: str, headers: dict[str, str], payload: dict[str, Any], why: str
) -> None:
    raw = body(payload)
    signed = {
        "gitlab": {"x-gitlab-token": SECRET.decode()},
        "bitbucket": {"x-hub-signature": hub(raw)},
        "bitbucket-server": {"x-hub-signature": hub(raw)},
        "generic": generic_headers(raw),
    }[provider]
    with pytest.raises(forges.MalformedError, match=why):
        read(provider, {**headers, **signed}, raw)


def test_missing_event_header_is_400() -> None:
    raw = body(GITHUB_PUSH)
    headers = github(raw)
    del headers["x-github-event"]
    with pytest.raises(forges.MalformedError, match="X-Github-Event"):
        read("github", headers, raw)


def test_unknown_provider() -> None:
    assert forges.canonical_provider("forgejo") == "gitea"
    assert forges.canonical_provider("svn") is None
    with pytest.raises(forges.MalformedError, match="unknown provider"):
        read("svn", {}, b"{}")
