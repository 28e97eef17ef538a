"""What each notification service would send, built without sending (pure builders).

The format checks are the receivers' (``tests.fixtures.receivers``), the same
the integration tests apply to what really arrives.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import time
from dataclasses import replace

import httpx
import pytest

from driftless.notifications.message import Notification
from driftless.notifications.services import commit_status, slack, smtp, teams, webhook
from driftless.webhooks import forges
from tests.fixtures.receivers import (
    check_adaptive_card_message,
    check_commit_status,
    check_slack_blocks,
)

SHA = "0123456789abcdef0123456789abcdef01234567"

N = Notification(
    trigger="on-sync-succeeded",
    app_namespace="team-a",
    app_name="guestbook",
    project="default",
    repo_url="https://github.com/acme/guestbook.git",
    revision=SHA,
    title="guestbook synced",
    body="Synced to *main*.",
    status="success",
    app_url="https://driftless.example.com/apps/team-a/guestbook",
    facts=(("Sync", "Synced"), ("Health", "Healthy"), ("Revision", SHA)),
)
# A commit message an attacker wrote, rendered into the title and the body.
HOSTILE = replace(
    N,
    title="<!channel> deploy\r\nBcc: victim@example.com",
    body="<!here> click <https://evil.example|the docs> & <@U123>" + "x" * 5000,
    facts=tuple((f"k{i}<", "v&" * 1500) for i in range(15)),
)


def _texts(blocks: list[dict[str, object]]) -> list[str]:
    return [json.dumps(b) for b in blocks]


def test_slack_blocks_follow_block_kit() -> None:
    blocks = slack.blocks(N)
    assert check_slack_blocks(blocks) == []
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "guestbook synced", "emoji": True}
    assert {"type": "mrkdwn", "text": "*Health*\nHealthy"} in blocks[2]["fields"]
    assert SHA[:12] in blocks[3]["elements"][0]["text"]
    assert blocks[4]["elements"][0]["url"] == N.app_url


def test_slack_hostile_text_cannot_mention_or_link_and_stays_in_limits() -> None:
    blocks = slack.blocks(HOSTILE)
    assert check_slack_blocks(blocks) == []
    # Slack reads mentions and links in mrkdwn and in the fallback text; a
    # header is plain_text, shown as written (on one line).
    assert blocks[0]["text"]["text"] == "<!channel> deploy Bcc: victim@example.com"
    for text in [*_texts(blocks[1:]), slack.webhook_payload(HOSTILE)["text"]]:
        assert "<!" not in text and "<@" not in text and "<https" not in text
    body = blocks[1]["text"]["text"]
    assert body.startswith("&lt;!here&gt; click &lt;https://evil.example|the docs&gt; &amp; ")
    assert len(body) == 3000 and body.endswith("…")
    assert len(blocks[2]["fields"]) == 10


def test_slack_cut_never_leaves_half_an_entity() -> None:
    blocks = slack.blocks(replace(N, body="&" * 2999 + "&"))
    text = blocks[1]["text"]["text"]
    assert text.endswith("…") and text[:-1].replace("&amp;", "") == ""


def test_slack_without_link_or_body_or_title() -> None:
    blocks = slack.blocks(replace(N, app_url=None, body="", title="  ", facts=()))
    assert check_slack_blocks(blocks) == []
    assert [b["type"] for b in blocks] == ["header", "context"]
    assert blocks[0]["text"]["text"] == "team-a/guestbook: on-sync-succeeded"
    # A link that is not http(s) never becomes a button.
    assert "actions" not in {b["type"] for b in slack.blocks(replace(N, app_url="javascript:x"))}


def test_slack_bot_payload_names_the_channel() -> None:
    payload = slack.bot_payload(N, "#deploys")
    assert payload["channel"] == "#deploys" and payload["blocks"] == slack.blocks(N)


def test_teams_message_is_an_adaptive_card() -> None:
    message = teams.payload(N)
    assert check_adaptive_card_message(message) == []
    card = message["attachments"][0]["content"]
    assert card["version"] == "1.4"
    assert card["body"][0] == {
        "type": "TextBlock",
        "text": "guestbook synced",
        "size": "Large",
        "weight": "Bolder",
        "color": "Good",
        "wrap": True,
    }
    assert {"title": "Health", "value": "Healthy"} in card["body"][2]["facts"]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in driftless", "url": N.app_url}
    ]


def test_teams_hostile_or_empty_notification_stays_valid() -> None:
    assert check_adaptive_card_message(teams.payload(HOSTILE)) == []
    bare = teams.payload(replace(N, body="", facts=(), app_url="file:///etc/passwd"))
    assert check_adaptive_card_message(bare) == []
    assert "actions" not in bare["attachments"][0]["content"]
    failed = teams.card(replace(N, status="failure"))
    assert failed["body"][0]["color"] == "Attention"


def test_webhook_payload_and_signature() -> None:
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    payload = webhook.payload(N, now)
    assert payload["timestamp"] == "2026-01-02T03:04:05Z"
    assert payload["app"] == {
        "namespace": "team-a",
        "name": "guestbook",
        "project": "default",
        "repoURL": N.repo_url,
    }
    assert payload["facts"][0] == {"name": "Sync", "value": "Synced"}
    body = webhook.body(N, now)
    assert json.loads(body) == payload
    expected = hmac.new(b"k", b"1767323045." + body, hashlib.sha256).hexdigest()
    assert webhook.signature("k", "1767323045", body) == "sha256=" + expected


def test_webhook_signature_is_the_generic_receivers_scheme() -> None:
    """What driftless signs, driftless' own generic webhook receiver accepts."""
    body = b'{"repoURL": "https://example.com/o/r.git", "ref": "refs/heads/main"}'
    stamp = str(int(time.time()))
    headers = {
        "x-driftless-timestamp": stamp,
        "x-driftless-signature": webhook.signature("shared", stamp, body),
    }
    [push] = forges.read("generic", headers, body, b"shared")
    assert isinstance(push, forges.Push) and push.ref == "refs/heads/main"
    with pytest.raises(forges.SignatureError):
        forges.read("generic", headers, body, b"other")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail.example.com:25", smtp.Address("mail.example.com", 25)),
        ("mail.example.com", smtp.Address("mail.example.com", 587)),
        ("[::1]:2525", smtp.Address("::1", 2525)),
        # Implicit TLS: smtps:// (465 by default, any port) or port 465 itself.
        ("smtps://mail.example.com", smtp.Address("mail.example.com", 465, implicit_tls=True)),
        ("SMTPS://mail.example.com:2465", smtp.Address("mail.example.com", 2465, True)),
        ("smtps://[::1]", smtp.Address("::1", 465, implicit_tls=True)),
        ("mail.example.com:465", smtp.Address("mail.example.com", 465, implicit_tls=True)),
        ("smtps://", None),
        ("smtps://mail.example.com/x", None),
        ("smtp://mail.example.com:25", None),
        ("smtps://smtps://h", None),
        ("127.0.0.1:0", None),
        ("host:70000", None),
        ("host:x", None),
        ("-oProxyCommand=x:25", None),
        ("host :25", None),
        ("a:b:c", None),
        ("", None),
        (None, None),
    ],
)
def test_smtp_address(text: str | None, expected: smtp.Address | None) -> None:
    assert smtp.parse_address(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ops@example.com", "ops@example.com"),
        (" ops@example.com ", "ops@example.com"),
        ("ops@example.com\r\nBcc: x@evil.test", None),
        ("Ops <ops@example.com>", None),
        ("a@example.com, b@evil.test", None),
        ("no-at-sign", None),
        ("a@b@c", None),
        ("", None),
    ],
)
def test_smtp_mailbox(text: str, expected: str | None) -> None:
    assert smtp.mailbox(text) == expected


def test_smtp_message_has_a_subject_without_line_breaks() -> None:
    mail = smtp.message(HOSTILE, "driftless@example.com", ("ops@example.com",))
    assert mail["Subject"] == "<!channel> deploy Bcc: victim@example.com"
    assert mail["Bcc"] is None and mail["To"] == "ops@example.com"
    text = smtp.message(N, "d@example.com", ("a@example.com", "b@example.com")).get_content()
    assert "Health: Healthy" in text and N.app_url in text and f"Revision: {SHA}" in text


@pytest.mark.parametrize(
    ("url", "host", "segments"),
    [
        ("https://github.com/acme/guestbook.git", "github.com", ("acme", "guestbook")),
        ("git@github.com:acme/guestbook.git", "github.com", ("acme", "guestbook")),
        ("ssh://git@GitHub.com:22/acme/guestbook", "github.com", ("acme", "guestbook")),
        ("https://gitlab.com/group/sub/project", "gitlab.com", ("group", "sub", "project")),
        ("https://gitea.local:3000/o/r/", "gitea.local", ("o", "r")),
    ],
)
def test_commit_status_repo_from_any_url_form(url: str, host: str, segments: tuple[str]) -> None:
    assert commit_status.repo_of(url) == commit_status.Repo(host, segments)


@pytest.mark.parametrize(
    "url",
    ["/srv/git/repo", "file:///srv/repo", "https://github.com/only-owner", "not a url", ""],
)
def test_commit_status_refuses_repos_off_a_forge(url: str) -> None:
    with pytest.raises(commit_status.StatusError):
        commit_status.repo_of(url)


@pytest.mark.parametrize(
    ("forge", "status", "path", "state"),
    [
        ("github", "success", f"/repos/acme/guestbook/statuses/{SHA}", "success"),
        ("github", "pending", f"/repos/acme/guestbook/statuses/{SHA}", "pending"),
        ("gitea", "failure", f"/api/v1/repos/acme/guestbook/statuses/{SHA}", "failure"),
        ("gitlab", "pending", f"/api/v4/projects/acme%2Fguestbook/statuses/{SHA}", "running"),
        ("gitlab", "failure", f"/api/v4/projects/acme%2Fguestbook/statuses/{SHA}", "failed"),
    ],
)
def test_commit_status_request(forge: str, status: str, path: str, state: str) -> None:
    n = replace(N, status=status, title="x" * 300)
    request = commit_status.status_request(forge, n, commit_status.repo_of(N.repo_url))
    assert request.full_path == path
    assert check_commit_status(forge, request.full_path, request.body) == []
    assert request.body["state"] == state
    assert len(request.body["description"]) == 140
    key = "name" if forge == "gitlab" else "context"
    assert request.body[key] == "driftless/team-a/guestbook"
    assert request.body["target_url"] == N.app_url


def test_gitlab_subgroups_are_one_encoded_segment() -> None:
    repo = commit_status.repo_of("https://gitlab.com/group/sub/project.git")
    request = commit_status.status_request("gitlab", N, repo)
    assert request.full_path == f"/api/v4/projects/group%2Fsub%2Fproject/statuses/{SHA}"
    with pytest.raises(commit_status.StatusError):
        commit_status.status_request("github", N, repo)


@pytest.mark.parametrize(
    "revision", [None, "main", SHA[:12], "../../../user", SHA + "/../x", SHA.upper() + "g"]
)
def test_commit_status_needs_a_full_commit_id(revision: str | None) -> None:
    with pytest.raises(commit_status.StatusError):
        commit_status.status_request("github", replace(N, revision=revision), _repo())


@pytest.mark.parametrize(
    ("forge", "base", "url"),
    [
        (
            "gitea",
            "https://git.example.com",
            f"https://git.example.com/api/v1/repos/acme/guestbook/statuses/{SHA}",
        ),
        (
            "gitea",
            "https://git.example.com/api/v1/",
            f"https://git.example.com/api/v1/repos/acme/guestbook/statuses/{SHA}",
        ),
        (
            "gitea",
            "https://example.com/gitea",
            f"https://example.com/gitea/api/v1/repos/acme/guestbook/statuses/{SHA}",
        ),
        (
            "gitlab",
            "https://gitlab.com/api/v4",
            f"https://gitlab.com/api/v4/projects/acme%2Fguestbook/statuses/{SHA}",
        ),
        (
            "github",
            "https://ghe.example.com/api/v3",
            f"https://ghe.example.com/api/v3/repos/acme/guestbook/statuses/{SHA}",
        ),
    ],
)
def test_commit_status_url_from_a_host_or_an_api_root(forge: str, base: str, url: str) -> None:
    request = commit_status.status_request(forge, N, _repo())
    assert str(request.url(httpx.URL(base))) == url


def _repo() -> commit_status.Repo:
    return commit_status.repo_of(N.repo_url)


def test_teams_text_shows_markdown_and_card_functions_as_written() -> None:
    hostile = replace(
        N,
        app_name="web_app*1",
        title="**Approved** by [admin](https://evil.example)",
        body="- item\n1. first\n> quoted\n# heading\n`code` ~~gone~~ <https://evil.example>"
        "\n{{DATE(2017-02-14T06:00:00Z, SHORT)}} \\*",
        facts=(("Commit", "_fix_ [it](https://evil.example)"),),
    )
    card = teams.card(hostile)
    title, body, facts, context = card["body"]
    assert title["text"] == "\\*\\*Approved\\*\\* by \\[admin\\](https://evil.example)"
    assert body["text"] == (
        "\\- item\n1\\. first\n\\> quoted\n\\# heading\n\\`code\\` \\~\\~gone\\~\\~"
        " \\<https://evil.example>\n{\u200b{DATE(2017-02-14T06:00:00Z, SHORT)}} \\\\\\*"
    )
    assert facts["facts"] == [
        {"title": "Commit", "value": "\\_fix\\_ \\[it\\](https://evil.example)"}
    ]
    assert context["text"].startswith(f"{N.app_namespace}/web\\_app\\*1 · ")
    # Plain words, dashes and dots inside a line stay as they are.
    assert teams.escape("my-app v1.2 (ok)") == "my-app v1.2 (ok)"
