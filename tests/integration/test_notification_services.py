"""Notifications sent for real through every service to loopback receivers.

The receivers (``tests.fixtures.receivers``) check each request against the
service's documented format and credentials; SMTP is aiosmtpd with STARTTLS
and AUTH. Delivery runs as the controller runs it: ``submit`` and go on.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from driftless.notifications.delivery import Delivery, RetryPolicy
from driftless.notifications.message import Notification, Target
from driftless.notifications.services import smtp, transport
from driftless.notifications.services.egress import Egress
from tests.fixtures.receivers import (
    USERNAME,
    HttpReceivers,
    Reply,
    SmtpReceiver,
    gitlab_project,
    receivers_running,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SHA = "89abcdef0123456789abcdef0123456789abcdef"
SECRET_PATH = "/hooks/T0001/B0001/s3cr3t-webhook-path"
TOKEN = "xoxb-s3cr3t-token"

N = Notification(
    trigger="on-sync-failed",
    app_namespace="team-a",
    app_name="guestbook",
    project="default",
    repo_url="https://127.0.0.1/acme/guestbook.git",
    revision=SHA,
    title="guestbook failed to sync",
    body="The Deployment guestbook was refused: <!channel> & more",
    status="failure",
    app_url="https://driftless.example.com/apps/team-a/guestbook",
    facts=(("Sync", "OutOfSync"), ("Health", "Degraded"), ("Revision", SHA)),
)
FAST = RetryPolicy(attempts=3, first_delay=0.05, max_delay=0.5)
# The receivers listen on 127.0.0.1: as a controller run with
# --notifications-allow-private-networks.
LOOPBACK = Egress(allow_private=True)


@dataclass
class Failures:
    calls: list[tuple[Notification, Target, str]] = field(default_factory=list)

    def __call__(self, n: Notification, t: Target, reason: str) -> None:
        self.calls.append((n, t, reason))


@pytest.fixture
def receivers() -> Iterator[HttpReceivers]:
    yield from receivers_running()


@pytest.fixture
def failures() -> Failures:
    return Failures()


@pytest_asyncio.fixture(loop_scope="session")
async def delivery(failures: Failures) -> AsyncIterator[Delivery]:
    sender = Delivery(failures, egress_policy=LOOPBACK, retry=FAST)
    yield sender
    await sender.close()


def _target(type_: str, name: str, **fields: object) -> Target:
    return replace(Target(type=type_, name=name, namespace="team-a"), **fields)  # type: ignore[arg-type]


def _sent(service_type: str) -> float:
    value = REGISTRY.get_sample_value(
        "driftless_notifications_sent_total", {"service_type": service_type}
    )
    return value or 0.0


def _failed(service_type: str) -> float:
    value = REGISTRY.get_sample_value(
        "driftless_notifications_failed_total", {"service_type": service_type}
    )
    return value or 0.0


async def test_slack_incoming_webhook(receivers: HttpReceivers, delivery: Delivery) -> None:
    before = _sent("slack")
    target = _target("slack", "alerts", secrets={"url": receivers.url("slack", SECRET_PATH)})
    assert delivery.submit(N, target)
    await delivery.idle()
    [got] = receivers.of("slack")
    assert got.problems == [] and got.status == 200 and got.path == SECRET_PATH
    assert got.json["blocks"][0]["text"]["text"] == N.title
    assert "&lt;!channel&gt; &amp; more" in got.json["blocks"][1]["text"]["text"]
    assert _sent("slack") == before + 1


async def test_slack_bot_token_and_its_ok_false(
    receivers: HttpReceivers, delivery: Delivery, failures: Failures
) -> None:
    receivers.tokens["slack"] = TOKEN
    target = _target(
        "slack",
        "bot",
        address=receivers.url("slack", "/api"),
        channel="#deploys",
        secrets={"token": TOKEN},
    )
    delivery.submit(N, target)
    await delivery.idle()
    [got] = receivers.of("slack")
    assert got.problems == [] and got.json["channel"] == "#deploys"
    assert got.headers["authorization"] == f"Bearer {TOKEN}"

    # Slack's 200 {"ok": false}: ratelimited is retried, channel_not_found is not.
    receivers.script("slack", Reply(200, {"ok": False, "error": "ratelimited"}))
    delivery.submit(N, target)
    await delivery.idle()
    assert [r.status for r in receivers.of("slack")] == [200, 200, 200]
    assert failures.calls == []
    receivers.script("slack", Reply(200, {"ok": False, "error": "channel_not_found"}))
    delivery.submit(N, target)
    await delivery.idle()
    assert len(receivers.of("slack")) == 4
    [(_, _, reason)] = failures.calls
    assert reason == "slack service team-a/bot: Slack answered channel_not_found"

    # A wrong token: Slack's invalid_auth, permanent, the token never in the reason.
    delivery.submit(N, replace(target, secrets={"token": "xoxb-wrong"}))
    await delivery.idle()
    assert failures.calls[-1][2] == "slack service team-a/bot: Slack answered invalid_auth"


async def test_teams_adaptive_card(receivers: HttpReceivers, delivery: Delivery) -> None:
    delivery.submit(N, _target("teams", "ops", secrets={"url": receivers.url("teams", "/wf/1")}))
    await delivery.idle()
    [got] = receivers.of("teams")
    assert got.problems == [] and got.status == 202
    card = got.json["attachments"][0]["content"]
    assert card["body"][0]["text"] == N.title and card["body"][0]["color"] == "Attention"


async def test_generic_webhook_signed(
    receivers: HttpReceivers, delivery: Delivery, failures: Failures
) -> None:
    receivers.hmac_key = "shared-hmac-key"
    target = _target(
        "webhook",
        "hook",
        secrets={"url": receivers.url("hook", "/x"), "hmacKey": "shared-hmac-key"},
    )
    delivery.submit(N, target)
    await delivery.idle()
    [got] = receivers.of("hook")
    assert got.problems == [] and got.status == 200  # the signature verified
    assert got.json["app"]["name"] == "guestbook" and got.json["revision"] == SHA

    delivery.submit(N, replace(target, secrets={"url": target.secrets["url"], "hmacKey": "bad"}))
    await delivery.idle()
    assert receivers.of("hook")[-1].status == 401
    [(_, _, reason)] = failures.calls
    assert reason == "webhook service team-a/hook: HTTP 401"


@pytest.mark.parametrize(
    ("forge", "auth_header", "auth", "state"),
    [
        ("github", "authorization", "Bearer ghp-s3cr3t", "failure"),
        ("gitlab", "private-token", "glpat-s3cr3t", "failed"),
        ("gitea", "authorization", "token gitea-s3cr3t", "failure"),
    ],
)
async def test_commit_status(
    receivers: HttpReceivers,
    delivery: Delivery,
    failures: Failures,
    forge: str,
    auth_header: str,
    auth: str,
    state: str,
) -> None:
    token = auth.rpartition(" ")[2]
    receivers.tokens[forge] = token
    target = _target(forge, "status", address=receivers.url(forge), secrets={"token": token})
    delivery.submit(replace(N, status="pending"), target)
    delivery.submit(N, target)
    await delivery.idle()
    got = receivers.of(forge)
    assert [r.problems for r in got] == [[], []] and [r.status for r in got] == [201, 201]
    assert got[0].headers[auth_header] == auth
    # In order: the pending status is never posted after the result.
    assert got[1].json["state"] == state
    assert got[0].json["state"] == ("running" if forge == "gitlab" else "pending")
    if forge == "gitlab":
        assert gitlab_project(got[0].path) == "acme/guestbook"
        assert got[0].json["name"] == "driftless/team-a/guestbook"
    else:
        assert (
            got[0].path
            == f"{'/api/v1' if forge == 'gitea' else ''}/repos/acme/guestbook/statuses/{SHA}"
        )
        assert got[0].json["context"] == "driftless/team-a/guestbook"
    assert failures.calls == []


async def test_commit_status_never_goes_to_another_forge(
    receivers: HttpReceivers, delivery: Delivery, failures: Failures
) -> None:
    """A GitHub service and an app on another host: no request, no token sent anywhere."""
    target = _target("github", "gh", address=receivers.url("github"), secrets={"token": "t"})
    delivery.submit(replace(N, repo_url="https://github.com/acme/guestbook.git"), target)
    delivery.submit(replace(N, revision="../../../../user/keys"), target)
    await delivery.idle()
    assert receivers.of("github") == []
    assert [reason for _, _, reason in failures.calls] == [
        "github service team-a/gh: the app's repository is on github.com,"
        " not on this service's host 127.0.0.1",
        "github service team-a/gh: the notification names no full commit id",
    ]


async def test_retries_then_success(
    receivers: HttpReceivers, delivery: Delivery, failures: Failures
) -> None:
    receivers.script("hook", Reply(500), Reply(429, headers=(("Retry-After", "0"),)))
    before = _sent("webhook")
    delivery.submit(N, _target("webhook", "flaky", address=receivers.url("hook", "/flaky")))
    await delivery.idle()
    assert [r.status for r in receivers.of("hook")] == [500, 429, 200]
    assert failures.calls == [] and _sent("webhook") == before + 1


async def test_permanent_failure_reported_once_without_the_secret(
    receivers: HttpReceivers,
    delivery: Delivery,
    failures: Failures,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    receivers.down("slack")
    before = _failed("slack")
    target = _target("slack", "down", secrets={"url": receivers.url("slack", SECRET_PATH)})
    delivery.submit(N, target)
    await delivery.idle()
    assert len(receivers.of("slack")) == FAST.attempts  # every try made, then given up
    [(n, t, reason)] = failures.calls
    assert (n, t) == (N, target)
    assert reason == "slack service team-a/down: HTTP 503"
    assert _failed("slack") == before + 1
    # Nothing logged holds the webhook URL's secret path (httpx's own request lines included).
    assert "s3cr3t" not in caplog.text
    assert "HTTP Request: POST http://127.0.0.1" in caplog.text

    # 4xx is permanent: tried once.
    receivers.up("slack")
    receivers.script("slack", Reply(404, b"no_service"))
    delivery.submit(N, target)
    await delivery.idle()
    assert len(receivers.of("slack")) == FAST.attempts + 1 and len(failures.calls) == 2


async def test_a_down_service_does_not_delay_another(
    receivers: HttpReceivers, failures: Failures
) -> None:
    receivers.down("teams")
    receivers.slow("teams", 0.3)
    delivery = Delivery(
        failures, egress_policy=LOOPBACK, retry=RetryPolicy(attempts=5, first_delay=1.0)
    )
    try:
        down = _target("teams", "down", secrets={"url": receivers.url("teams", "/down")})
        for _ in range(3):
            delivery.submit(N, down)
        await asyncio.sleep(0.1)  # the down service's lane is busy retrying
        start = time.monotonic()
        delivery.submit(N, _target("webhook", "fine", address=receivers.url("hook", "/fine")))
        while not receivers.of("hook"):
            await asyncio.sleep(0.01)
            assert time.monotonic() - start < 3.0, "the other service was held up"
        assert receivers.of("hook")[0].status == 200 and failures.calls == []
    finally:
        await delivery.close()


async def test_rate_limit_holds(receivers: HttpReceivers, failures: Failures) -> None:
    delivery = Delivery(failures, egress_policy=LOOPBACK, retry=FAST)
    start = time.monotonic()
    try:
        target = _target(
            "webhook", "paced", address=receivers.url("hook", "/p"), rate_per_minute=240
        )
        for i in range(30):  # 4 a second, a burst of 20
            delivery.submit(replace(N, title=f"m{i}"), target)
        await delivery.idle()
    finally:
        await delivery.close()
    got = receivers.of("hook")
    assert [r.json["title"] for r in got] == [f"m{i}" for i in range(30)]
    # By any moment t, at most the burst plus 4 a second have arrived.
    for count, record in enumerate(got, start=1):
        assert count <= 20 + 4 * (record.at - start) + 0.5, count
    assert 2.4 <= got[-1].at - start < 6.0


async def test_full_queue_drops_the_oldest(receivers: HttpReceivers, failures: Failures) -> None:
    delivery = Delivery(failures, egress_policy=LOOPBACK, retry=FAST, lane_capacity=3)
    dropped = REGISTRY.get_sample_value(
        "driftless_notifications_dropped_total", {"service_type": "webhook", "queue": "service"}
    )
    try:
        target = _target("webhook", "small", address=receivers.url("hook", "/s"))
        depth = REGISTRY.get_sample_value("driftless_notifications_queue_depth") or 0.0
        for i in range(10):
            assert delivery.submit(replace(N, title=f"m{i}"), target)
        assert delivery.depth == 3
        assert REGISTRY.get_sample_value("driftless_notifications_queue_depth") == depth + 3
        await delivery.idle()
        assert REGISTRY.get_sample_value("driftless_notifications_queue_depth") == depth
    finally:
        await delivery.close()
    assert [r.json["title"] for r in receivers.of("hook")] == ["m7", "m8", "m9"]
    after = REGISTRY.get_sample_value(
        "driftless_notifications_dropped_total", {"service_type": "webhook", "queue": "service"}
    )
    assert (after or 0) - (dropped or 0) == 7


async def test_no_redirect_to_another_host(
    receivers: HttpReceivers, delivery: Delivery, failures: Failures
) -> None:
    elsewhere = HttpReceivers().start()
    try:
        receivers.script("hook", Reply(307, headers=(("Location", elsewhere.url("hook", "/x")),)))
        delivery.submit(
            N, _target("webhook", "moved", secrets={"url": receivers.url("hook", "/m")})
        )
        await delivery.idle()
        assert elsewhere.records == []
    finally:
        elsewhere.stop()
    [(_, _, reason)] = failures.calls
    assert reason == "webhook service team-a/moved: HTTP 307 redirect to another host refused"
    # A redirect within the same origin is followed, the POST kept.
    receivers.script("hook", Reply(308, headers=(("Location", "/hook/moved-here"),)))
    delivery.submit(N, _target("webhook", "moved", secrets={"url": receivers.url("hook", "/m")}))
    await delivery.idle()
    assert receivers.of("hook")[-1].path == "/moved-here" and len(failures.calls) == 1


async def test_a_slow_or_garbled_service_is_bounded(
    receivers: HttpReceivers,
    delivery: Delivery,
    failures: Failures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport, "TOTAL_TIMEOUT", 0.3)
    receivers.slow("hook", 1.0)
    start = time.monotonic()
    delivery.submit(N, _target("webhook", "slow", address=receivers.url("hook", "/slow")))
    await delivery.idle()
    # Without the total timeout each try would take the server's full second (3.15 s in all).
    assert time.monotonic() - start < 2.6
    # Slack's bot API answering 8 MiB of garbage: read up to the cap, retried, then failed.
    receivers.tokens["slack"] = TOKEN
    garbage = Reply(200, b"x" * (8 << 20))
    receivers.script("slack", *[garbage] * FAST.attempts)
    bot = _target(
        "slack",
        "bot",
        address=receivers.url("slack", "/api"),
        channel="#c",
        secrets={"token": TOKEN},
    )
    delivery.submit(N, bot)
    await delivery.idle()
    assert [reason for _, _, reason in failures.calls] == [
        "webhook service team-a/slow: delivery failed: cannot connect",
        "slack service team-a/bot: Slack's answer is not JSON",
    ]


async def test_close_does_not_wait_for_a_stuck_service(
    receivers: HttpReceivers, failures: Failures
) -> None:
    receivers.slow("hook", 3.0)
    delivery = Delivery(failures, egress_policy=LOOPBACK, retry=FAST)
    delivery.submit(N, _target("webhook", "stuck", address=receivers.url("hook", "/stuck")))
    await asyncio.sleep(0.1)
    start = time.monotonic()
    await delivery.close(drain=0.2)
    assert time.monotonic() - start < 2.0  # the stuck request would take 3 s
    assert not delivery.submit(N, _target("webhook", "late", address=receivers.url("hook", "/l")))


async def test_https_services_trust_their_ca_or_skip_verification_when_told(
    tmp_path: Path, delivery: Delivery, failures: Failures
) -> None:
    secure = HttpReceivers(tls_dir=tmp_path / "pki").start()
    try:
        url = secure.url("hook", "/tls")
        assert url.startswith("https://") and secure.ca_pem
        delivery.submit(N, _target("webhook", "ca", secrets={"url": url, "ca.crt": secure.ca_pem}))
        delivery.submit(N, _target("webhook", "skip", secrets={"url": url}, insecure_skip_tls=True))
        delivery.submit(N, _target("webhook", "untrusted", secrets={"url": url}))
        delivery.submit(N, _target("webhook", "bad-ca", secrets={"url": url, "ca.crt": "junk"}))
        await delivery.idle()
        assert [(r.status, r.problems) for r in secure.of("hook")] == [(200, []), (200, [])]
    finally:
        secure.stop()
    assert sorted(reason for _, _, reason in failures.calls) == [
        "webhook service team-a/bad-ca: Secret key ca.crt is not a PEM certificate",
        "webhook service team-a/untrusted: the server's TLS certificate is not trusted",
    ]


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (
            _target("slack", "x", secrets={"url": "file:///s3cr3t"}),
            "slack service team-a/x: Secret key url is not an http(s) URL",
        ),
        (
            _target("slack", "x", secrets={"url": "https://hooks.example/s3cr3t\nX-Evil: 1"}),
            "slack service team-a/x: Secret key url is not an http(s) URL",
        ),
        (
            _target("teams", "x", secrets={"url": "not a url s3cr3t"}),
            "teams service team-a/x: Secret key url is not an http(s) URL",
        ),
        (_target("webhook", "x"), "webhook service team-a/x: Secret key url is not set"),
        (
            _target("slack", "x", channel="#c", secrets={"token": "xoxb-s3cr3t\r\nX-Evil: 1"}),
            "slack service team-a/x: Secret key token holds characters a header cannot carry",
        ),
        (
            _target("slack", "x", secrets={"token": "xoxb-s3cr3t"}),
            "slack service team-a/x: spec.channel is not set",
        ),
        (
            _target("github", "x", address="ftp://127.0.0.1/", secrets={"token": "s3cr3t"}),
            "github service team-a/x: spec.address is not an http(s) URL",
        ),
        (
            _target("gitea", "x", secrets={"token": "s3cr3t"}),
            "gitea service team-a/x: spec.address is not set",
        ),
        (_target("pager", "x"), "'pager' service team-a/x: unknown service type"),
        (
            _target(
                "smtp",
                "x",
                address="127.0.0.1:1",
                sender="a@b.c",
                recipients=("c@d.e",),
                secrets={"password": "s3cr3t"},
            ),
            "smtp service team-a/x: Secret keys username and password go together",
        ),
    ],
)
async def test_bad_configuration_fails_at_once_and_never_echoes_it(
    target: Target, reason: str, failures: Failures
) -> None:
    delivery = Delivery(failures, egress_policy=LOOPBACK, retry=FAST)
    try:
        delivery.submit(N, target)
        await delivery.idle()
    finally:
        await delivery.close()
    assert [r for _, _, r in failures.calls] == [reason]
    assert "s3cr3t" not in reason


# -- email ------------------------------------------------------------------------------


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpReceiver]:
    with SmtpReceiver(tmp_path / "pki") as server:
        yield server


def _mail_target(server: SmtpReceiver, **fields: object) -> Target:
    base = _target(
        "smtp",
        "mail",
        address=server.address,
        sender="driftless@example.com",
        recipients=("ops@example.com", "dev@example.com"),
        secrets={"username": USERNAME, "password": server.password, "ca.crt": server.ca_pem},
    )
    return replace(base, **fields)  # type: ignore[arg-type]


async def test_email_over_starttls_with_login(
    smtp_server: SmtpReceiver, delivery: Delivery, failures: Failures
) -> None:
    delivery.submit(N, _mail_target(smtp_server))
    await delivery.idle()
    assert failures.calls == []
    [mail] = smtp_server.mails
    assert mail.tls and mail.login == USERNAME
    assert mail.sender == "driftless@example.com"
    assert mail.recipients == ("ops@example.com", "dev@example.com")
    assert mail.message["Subject"] == N.title
    assert mail.message.get_content_type() == "text/plain"
    body = mail.message.get_content()
    assert "Health: Degraded" in body and N.app_url in body


async def test_email_over_implicit_tls_smtps(tmp_path: Path, failures: Failures) -> None:
    """``smtps://`` (port 465's way): TLS from the first byte, verified, then the login."""
    delivery = Delivery(failures, egress_policy=LOOPBACK, retry=FAST)
    try:
        with SmtpReceiver(tmp_path / "pki", implicit_tls=True) as server:
            good = _mail_target(server, address=f"smtps://{server.address}")
            delivery.submit(N, good)
            # startTLS: false does not matter: the connection is TLS already.
            delivery.submit(N, replace(good, name="nostarttls", start_tls=False))
            untrusted = {k: v for k, v in good.secrets.items() if k != "ca.crt"}
            delivery.submit(N, replace(good, name="untrusted", secrets=untrusted))
            await delivery.idle()
            mails = list(server.mails)
    finally:
        await delivery.close()
    assert len(mails) == 2
    assert all(m.tls and m.login == USERNAME for m in mails)
    assert [r for _, _, r in failures.calls] == [
        "smtp service team-a/untrusted: the server's TLS certificate is not trusted"
    ]


async def test_email_refusals(
    smtp_server: SmtpReceiver, delivery: Delivery, failures: Failures
) -> None:
    good = _mail_target(smtp_server)
    wrong = {**good.secrets, "password": "wrong-password"}
    untrusted = {k: v for k, v in good.secrets.items() if k != "ca.crt"}
    delivery.submit(N, replace(good, name="wrong", secrets=wrong))
    delivery.submit(N, replace(good, name="plain", start_tls=False))
    delivery.submit(N, replace(good, name="untrusted", secrets=untrusted))
    delivery.submit(N, replace(good, name="inject", recipients=("a@x.test\r\nBcc: b@evil.test",)))
    await delivery.idle()
    assert smtp_server.mails == []
    reasons = sorted(reason for _, _, reason in failures.calls)
    assert reasons == [
        "smtp service team-a/inject: spec.recipients must list plain addresses",
        "smtp service team-a/plain: refusing to send the login without TLS (startTLS is off)",
        "smtp service team-a/untrusted: the server's TLS certificate is not trusted",
        "smtp service team-a/wrong: SMTP 535",
    ]
    assert all(smtp_server.password not in r and "wrong-password" not in r for r in reasons)


# -- egress (SSRF) ----------------------------------------------------------------------


async def test_egress_refuses_loopback_link_local_and_private_by_default(
    receivers: HttpReceivers, smtp_server: SmtpReceiver, failures: Failures
) -> None:
    """A tenant's service cannot make the controller connect to itself, the cloud's
    metadata address or the cluster's private network; its Event cannot tell a
    refused address from a closed port."""
    home = Egress(allow_private=False, home="driftless")
    delivery = Delivery(failures, egress_policy=home, retry=RetryPolicy(attempts=1))
    hostile = {
        "loopback": receivers.url("hook", "/a"),
        "localhost": receivers.url("hook", "/b").replace("127.0.0.1", "localhost"),
        "mapped": receivers.url("hook", "/c").replace("127.0.0.1", "[::ffff:127.0.0.1]"),
        "private": "http://10.255.255.1:9/d",
        "carrier-nat": "http://100.64.0.1:9/e",
    }
    for name, url in hostile.items():
        delivery.submit(N, _target("webhook", name, secrets={"url": url}))
    delivery.submit(N, _mail_target(smtp_server, name="mail-loopback"))
    await delivery.idle()
    await delivery.close()
    assert receivers.of("hook") == [] and smtp_server.mails == []
    reasons = sorted(reason for _, _, reason in failures.calls)
    assert reasons == sorted(
        [f"webhook service team-a/{name}: delivery failed: cannot connect" for name in hostile]
        + ["smtp service team-a/mail-loopback: delivery failed: cannot connect"]
    )


async def test_egress_private_ranges_for_the_controllers_namespace_link_local_never(
    receivers: HttpReceivers, failures: Failures
) -> None:
    # With the flag loopback is allowed (the receivers answer); the metadata address never.
    delivery = Delivery(failures, egress_policy=LOOPBACK, retry=RetryPolicy(attempts=1))
    delivery.submit(N, _target("webhook", "ok", secrets={"url": receivers.url("hook", "/ok")}))
    for name, url in (
        ("metadata", "http://169.254.169.254/latest"),
        ("v6-link", "http://[fe80::1]/"),
    ):
        delivery.submit(N, _target("webhook", name, secrets={"url": url}))
    await delivery.idle()
    await delivery.close()
    assert [r.path for r in receivers.of("hook")] == ["/ok"]
    assert sorted(reason for _, _, reason in failures.calls) == [
        "webhook service team-a/metadata: delivery failed: cannot connect",
        "webhook service team-a/v6-link: delivery failed: cannot connect",
    ]


async def test_tokens_never_go_over_plain_http_to_another_host(
    receivers: HttpReceivers, failures: Failures
) -> None:
    delivery = Delivery(failures, egress_policy=LOOPBACK, retry=RetryPolicy(attempts=1))
    receivers.tokens["slack"] = TOKEN
    plain = {"token": TOKEN}
    delivery.submit(
        N,
        _target(
            "slack", "far", address="http://slack.example.test/api", channel="#c", secrets=plain
        ),
    )
    # Over loopback (a sidecar, a test) plain http is fine.
    delivery.submit(
        N,
        _target(
            "slack", "near", address=receivers.url("slack", "/api"), channel="#c", secrets=plain
        ),
    )
    await delivery.idle()
    await delivery.close()
    assert [reason for _, _, reason in failures.calls] == [
        "slack service team-a/far: refusing to send a token over plain http (use https)"
    ]
    assert len(receivers.of("slack")) == 1


class _DrippingServer:
    """Accepts connections and sends one byte of an SMTP greeting every 0.2 s, forever."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.closed_by_peer: list[float] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # stopped: the listener is closed
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            while not self._stop.is_set():
                try:
                    conn.sendall(b"2")
                except OSError:
                    self.closed_by_peer.append(time.monotonic())
                    return
                time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self.listener.close()


async def test_a_dripping_mail_server_is_cut_at_the_message_deadline_and_cannot_fill_the_pool(
    smtp_server: SmtpReceiver, failures: Failures, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp, "MESSAGE_DEADLINE", 2.0)
    # A pool of 3: without the per-namespace cap, 4 dripping services would hold it all.
    monkeypatch.setattr(smtp, "_POOL", ThreadPoolExecutor(3, thread_name_prefix="test-smtp"))
    dripping = _DrippingServer()
    delivery = Delivery(failures, egress_policy=LOOPBACK, retry=RetryPolicy(attempts=1))
    try:
        start = time.monotonic()
        for i in range(4):
            delivery.submit(
                N, _mail_target(smtp_server, name=f"drip-{i}", address=dripping.address)
            )
        other = replace(_mail_target(smtp_server, name="other"), namespace="team-b")
        delivery.submit(N, other)
        await _until(lambda: smtp_server.mails, timeout=1.5)  # team-b's mail is not held up
        await delivery.idle()
        elapsed = time.monotonic() - start
        # Each cut conversation's socket is closed: the server's next byte finds no peer.
        await _until(lambda: len(dripping.closed_by_peer) == 4, timeout=3.0)
    finally:
        await delivery.close()
        dripping.stop()
    # Two at a time for team-a, each cut at 2 s: about 4 s, not a thread per second of drip.
    assert 3.5 < elapsed < 8.0
    assert sorted(reason for _, _, reason in failures.calls) == [
        f"smtp service team-a/drip-{i}: delivery failed: cannot connect" for i in range(4)
    ]


async def _until(check: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
