"""The audit trail (``server.audit``): its lines and Events hold who, what and the result, never
a secret; the Event budget; and the per-user login throttle (``server.throttle``)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, cast

import pytest

from driftless.kube.client import KubeClient
from driftless.server import audit, oidc_tokens, throttle
from driftless.server.audit import Audit

PASSWORD = "hunter2-correct-horse"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwcm9qOmE6YiJ9.c2lnbmF0dXJl"


class Events:
    """Stands in for the client's ``create`` (the integration test uses the real API)."""

    def __init__(self) -> None:
        self.made: list[dict[str, Any]] = []

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.made.append(obj)
        return obj


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == audit.__name__]


async def test_a_write_leaves_one_line_and_one_event_on_the_application(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=audit.__name__)
    events = Events()
    cached = {("apps", "web"): {"metadata": {"name": "web", "uid": "0b5e-uid"}}}
    trail = Audit(cast(KubeClient, events), "driftless", app_of=lambda n, a: cached.get((n, a)))
    trail.write("proj:team-a:ci", "token", "sync", "apps", "web", "accepted")
    trail.write("alice", "oidc", "delete", "apps", "web", "refused", "Conflict")
    await trail.drain()
    assert _lines(caplog) == [
        {
            "audit": "write",
            "user": "proj:team-a:ci",
            "method": "token",
            "action": "sync",
            "app": "apps/web",
            "result": "accepted",
        },
        {
            "audit": "write",
            "user": "alice",
            "method": "oidc",
            "action": "delete",
            "app": "apps/web",
            "result": "refused",
            "code": "Conflict",
        },
    ]
    first, second = events.made
    assert first["involvedObject"] == {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "name": "web",
        "namespace": "apps",
        "uid": "0b5e-uid",  # what `kubectl describe application` selects Events by
    }
    assert first["metadata"]["namespace"] == "apps"
    assert (first["type"], first["reason"]) == ("Normal", "Requested")
    assert first["message"] == "proj:team-a:ci (token): sync accepted"
    assert (second["type"], second["reason"]) == ("Warning", "RequestRefused")
    assert second["message"] == "alice (oidc): delete refused (Conflict)"
    assert first["reportingComponent"] == "driftless-server"


async def test_logins_land_on_the_sessions_secret_and_a_failure_hides_the_typed_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=audit.__name__)
    events = Events()
    trail = Audit(cast(KubeClient, events), "driftless")
    trail.login("admin", "local", "10.0.0.7", ok=True)
    # Someone typed the password into the user field.
    trail.login(PASSWORD, "local", "10.0.0.8", ok=False, why="wrong username or password")
    await trail.drain()
    ok, failed = events.made
    assert ok["involvedObject"]["kind"] == "Secret"
    assert ok["involvedObject"]["name"] == "driftless-sessions"
    assert ok["metadata"]["namespace"] == "driftless"
    assert (ok["reason"], ok["message"]) == ("LoggedIn", "admin (local) from 10.0.0.7")
    assert failed["reason"] == "LoginFailed" and failed["type"] == "Warning"
    assert PASSWORD not in json.dumps(failed)
    lines = _lines(caplog)
    assert lines[0] == {
        "audit": "login",
        "user": "admin",
        "method": "local",
        "address": "10.0.0.7",
        "result": "success",
    }
    assert lines[1]["result"] == "failure" and lines[1]["reason"] == "wrong username or password"


def test_lines_are_bounded_and_printable() -> None:
    line = audit.login_line("a\nb\x1b[31m" + "x" * 500, "local", "::1", "failure")
    assert "\n" not in line["user"] and "\x1b" not in line["user"]
    assert len(line["user"]) == audit.MAX_TEXT


async def test_no_secret_reaches_a_line_or_an_event(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    events = Events()
    trail = Audit(cast(KubeClient, events), "driftless")
    trail.write("proj:a:b", "token", "sync", "apps", "web", "accepted")
    trail.login("admin", "local", "127.0.0.1", ok=False, why="throttled")
    await trail.drain()
    said = caplog.text + json.dumps(events.made)
    for secret in (PASSWORD, TOKEN, "driftless_session="):
        assert secret not in said


async def test_events_are_budgeted_but_every_line_is_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=audit.__name__)
    clock = Clock()
    events = Events()
    trail = Audit(cast(KubeClient, events), "driftless", clock=clock)
    for _ in range(audit.EVENTS_PER_MINUTE + 30):
        trail.login("admin", "local", "10.0.0.1", ok=False)
        await asyncio.sleep(0)
    await trail.drain()
    assert len(events.made) == audit.EVENTS_PER_MINUTE
    assert len(_lines(caplog)) == audit.EVENTS_PER_MINUTE + 30
    clock.now += 61
    trail.login("admin", "local", "10.0.0.1", ok=True)
    await trail.drain()
    assert len(events.made) == audit.EVENTS_PER_MINUTE + 1


async def test_a_flood_of_failed_logins_leaves_the_writes_their_own_event_budget(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=audit.__name__)
    events = Events()
    trail = Audit(cast(KubeClient, events), "driftless", clock=Clock())
    for _ in range(audit.EVENTS_PER_MINUTE + 5):
        trail.login("nobody", "local", "10.6.6.6", ok=False, why="wrong username or password")
        await asyncio.sleep(0)
    trail.write("alice", "oidc", "sync", "apps", "web", "accepted")
    await trail.drain()
    reasons = [e["reason"] for e in events.made]
    assert reasons.count("LoginFailed") == audit.EVENTS_PER_MINUTE
    assert reasons.count("Requested") == 1


@pytest.mark.parametrize("make", ["throttled", "state", "no state", "cli code"])
async def test_attempts_naming_no_login_are_logged_but_never_events(
    make: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The reasons as the single sign-on flow gives them (``oidc_tokens``), not copies.
    attempts: dict[str, Callable[[], object]] = {
        "state": lambda: oidc_tokens.PendingLogins().finish("forged", "cookie"),
        "no state": lambda: oidc_tokens.PendingLogins().finish(None, None),
        "cli code": lambda: oidc_tokens.CliCodes().redeem("guessed", "state"),
    }
    why = "throttled"
    if make in attempts:
        with pytest.raises(oidc_tokens.TokenRejectedError) as caught:
            attempts[make]()
        why = caught.value.reason
    caplog.set_level(logging.INFO, logger=audit.__name__)
    events = Events()
    trail = Audit(cast(KubeClient, events), "driftless")
    trail.login("", "oidc", "10.6.6.6", ok=False, why=why)
    await trail.drain()
    assert events.made == []
    assert [line["reason"] for line in _lines(caplog)] == [why]


async def test_the_token_that_acted_is_in_the_line_and_the_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=audit.__name__)
    events = Events()
    trail = Audit(cast(KubeClient, events), "driftless")
    trail.write("proj:team-a:ci", "token", "sync", "apps", "web", "accepted", token="deploy-1")
    await trail.drain()
    assert _lines(caplog)[0]["token"] == "deploy-1"
    assert events.made[0]["message"] == "proj:team-a:ci (token deploy-1): sync accepted"


def test_without_a_client_only_lines_are_written(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=audit.__name__)
    Audit(None, "driftless").write("admin", "local", "sync", "a", "b", "accepted")
    assert len(_lines(caplog)) == 1


# -- the per-user login throttle ------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "addresses", "user", "asking", "waits"),
    [
        # One address: its own limit.
        (throttle.LIMIT, 1, "admin", "10.0.0.0", True),
        # Many addresses, each under its limit, together over the account's.
        (throttle.USER_LIMIT, throttle.USER_LIMIT, "admin", "10.9.9.9", True),
        (throttle.USER_LIMIT - 1, throttle.USER_LIMIT, "admin", "10.9.9.9", False),
        # A made-up user is not counted per user (only per address).
        (throttle.USER_LIMIT, throttle.USER_LIMIT, "nobody", "10.9.9.9", False),
        # The administrator's usual address logs in during the attack.
        (throttle.USER_LIMIT, throttle.USER_LIMIT, "admin", "192.168.1.5", False),
    ],
)
def test_login_throttle_table(
    failures: int, addresses: int, user: str, asking: str, waits: bool
) -> None:
    clock = Clock()
    gate = throttle.LoginThrottle({"admin"}, clock=clock)
    gate.succeeded("192.168.1.5", "admin")
    for index in range(failures):
        gate.failed(f"10.0.0.{index % addresses}", user)
    assert (gate.retry_after(asking, user) is not None) == waits


def test_the_account_limit_ends_with_its_window_and_trust_expires() -> None:
    clock = Clock()
    gate = throttle.LoginThrottle({"admin"}, clock=clock)
    gate.succeeded("192.168.1.5", "admin")
    for index in range(throttle.USER_LIMIT):
        gate.failed(f"10.0.0.{index}", "admin")
    assert gate.retry_after("10.9.9.9", "admin") == int(throttle.USER_WINDOW_SECONDS)
    clock.now += throttle.USER_WINDOW_SECONDS
    assert gate.retry_after("10.9.9.9", "admin") is None
    clock.now += throttle.TRUSTED_SECONDS
    for index in range(throttle.USER_LIMIT):
        gate.failed(f"10.0.0.{index}", "admin")
    assert gate.retry_after("192.168.1.5", "admin") is not None  # trusted no more
