"""The receiver over ASGI (no network, no cluster): answers, the body cap, coalescing, metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette

from driftless.webhooks.coalesce import Coalescer
from driftless.webhooks.matching import Followed, Key
from driftless.webhooks.receiver import Receiver, UnavailableError
from driftless.webhooks.secrets import WebhookSecrets, decode

SECRET = b"s3cret"
REPO = "https://git.example.com/team/app"
PUSH = {
    "ref": "refs/heads/main",
    "after": "a" * 40,
    "repository": {
        "clone_url": REPO + ".git",
        "ssh_url": "git@git.example.com:team/app.git",
        "html_url": REPO,
        "default_branch": "main",
    },
}


class Recorder:
    def __init__(self, apps: list[Followed], delay: float = 0.0) -> None:
        self._apps = apps
        self.rounds: list[tuple[list[Key], str]] = []
        self.delay = delay

    def apps(self) -> Iterable[Followed]:
        return self._apps

    async def refresh(self, keys: list[Key], repo: str) -> None:
        self.rounds.append((keys, repo))
        await asyncio.sleep(self.delay)


APPS = [
    Followed(("apps", "main"), REPO, "main"),
    Followed(("apps", "head"), REPO, "HEAD"),
    Followed(("apps", "dev"), REPO, "develop"),
    Followed(("apps", "other"), "https://git.example.com/team/other", "main"),
]


def github(raw: bytes, event: str = "push") -> dict[str, str]:
    mac = hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
    return {
        "x-github-event": event,
        "x-hub-signature-256": f"sha256={mac}",
        "content-type": "application/json",
    }


def counted(provider: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "driftless_webhook_requests_total", {"provider": provider, "outcome": outcome}
    )
    return value or 0.0


@pytest.fixture
async def served() -> AsyncIterator[tuple[httpx.AsyncClient, Recorder, Receiver]]:
    recorder = Recorder(APPS)
    secrets = WebhookSecrets.fixed({"github": SECRET})
    receiver = Receiver(secrets, recorder, max_body=64 * 1024)
    app = Starlette(routes=receiver.routes())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http, recorder, receiver
    await receiver.close()


async def test_a_push_refreshes_the_apps_following_it(served: Any) -> None:
    http, recorder, _ = served
    raw = json.dumps(PUSH).encode()
    before = counted("github", "refreshed")
    resp = await http.post("/api/v1/webhooks/github", content=raw, headers=github(raw))
    assert resp.status_code == 202 and resp.json() == {"refreshed": 2}
    await asyncio.sleep(0.05)
    assert recorder.rounds == [([("apps", "main"), ("apps", "head")], REPO)]
    assert counted("github", "refreshed") == before + 1


async def test_ping_and_ignored_events(served: Any) -> None:
    http, recorder, _ = served
    raw = b'{"zen": "Design for failure.", "hook_id": 1}'
    resp = await http.post("/api/v1/webhooks/github", content=raw, headers=github(raw, "ping"))
    assert resp.status_code == 200 and resp.json() == {"ping": "ok"}
    resp = await http.post("/api/v1/webhooks/github", content=raw, headers=github(raw, "issues"))
    assert resp.status_code == 200 and resp.json() == {"ignored": "issues"}
    assert recorder.rounds == []


@pytest.mark.parametrize(
    ("path", "status", "outcome", "says"),
    [
        ("/api/v1/webhooks/svn", 404, ("unknown", "unknown_provider"), "no webhook provider"),
        (
            "/api/v1/webhooks/gitlab",
            403,
            ("gitlab", "no_secret"),
            "no secret configured for gitlab",
        ),
        ("/api/v1/webhooks/generic", 403, ("generic", "no_secret"), "generic"),
    ],
)
async def test_refusals_before_the_signature(
    served: Any, path: str, status: int, outcome: tuple[str, str], says: str
) -> None:
    http, recorder, _ = served
    before = counted(*outcome)
    resp = await http.post(path, content=b"{}", headers={"x-gitlab-token": "anything"})
    assert resp.status_code == status
    assert says in resp.json()["error"]["message"]
    assert counted(*outcome) == before + 1
    assert recorder.rounds == []


async def test_bad_signature_is_401_and_refreshes_nothing(served: Any) -> None:
    http, recorder, _ = served
    raw = json.dumps(PUSH).encode()
    headers = {**github(raw), "x-hub-signature-256": "sha256=" + "0" * 64}
    before = counted("github", "unauthorized")
    resp = await http.post("/api/v1/webhooks/github", content=raw, headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "Unauthorized"
    assert counted("github", "unauthorized") == before + 1
    await asyncio.sleep(0.05)
    assert recorder.rounds == []


async def test_malformed_signed_payload_is_400(served: Any) -> None:
    http, recorder, _ = served
    raw = b"[" * 5000 + b"]" * 5000
    resp = await http.post("/api/v1/webhooks/github", content=raw, headers=github(raw))
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "Invalid"
    assert recorder.rounds == []


async def test_oversized_body_is_413_by_length_and_while_streaming(served: Any) -> None:
    http, recorder, _ = served
    raw = json.dumps({**PUSH, "pad": "x" * 70_000}).encode()
    resp = await http.post("/api/v1/webhooks/github", content=raw, headers=github(raw))
    assert resp.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(100):
            yield b" " * 1024

    headers = github(b"")
    resp = await http.post("/api/v1/webhooks/github", content=chunks(), headers=headers)
    assert resp.status_code == 413
    resp = await http.post(
        "/api/v1/webhooks/github", content=b"{}", headers={**headers, "content-length": "1e9"}
    )
    assert resp.status_code in (400, 413)
    assert recorder.rounds == []


async def test_only_post() -> None:
    receiver = Receiver(WebhookSecrets.fixed({}), Recorder([]))
    transport = httpx.ASGITransport(app=Starlette(routes=receiver.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/api/v1/webhooks/github")).status_code == 405


async def test_pushes_during_a_round_make_one_trailing_round() -> None:
    recorder = Recorder([], delay=0.2)
    coalescer = Coalescer(recorder.refresh)
    coalescer.submit(REPO, [("apps", "a")])
    await asyncio.sleep(0.01)
    for n in range(20):
        coalescer.submit(REPO, [("apps", "a"), ("apps", f"b{n % 2}")])
    coalescer.submit("https://elsewhere/x", [("apps", "x")])
    await asyncio.sleep(0.6)
    assert coalescer.rounds == 3
    assert sorted(recorder.rounds, key=lambda r: r[1]) == [
        ([("apps", "x")], "https://elsewhere/x"),
        ([("apps", "a")], REPO),
        ([("apps", "a"), ("apps", "b0"), ("apps", "b1")], REPO),
    ]
    assert not coalescer.busy(REPO)
    await coalescer.close()


async def test_a_failed_round_does_not_stop_the_next() -> None:
    calls: list[list[Key]] = []

    async def flaky(keys: list[Key], repo: str) -> None:
        calls.append(keys)
        if len(calls) == 1:
            await asyncio.sleep(0.05)
            raise RuntimeError("the API server is down")

    coalescer = Coalescer(flaky)
    coalescer.submit(REPO, [("apps", "a")])
    await asyncio.sleep(0.01)
    coalescer.submit(REPO, [("apps", "b")])
    await asyncio.sleep(0.1)
    assert calls == [[("apps", "a")], [("apps", "b")]]


def test_secret_decoding() -> None:
    secret = {
        "data": {
            "github": "czNjcmV0Cg==",  # "s3cret\n" (kubectl --from-file keeps the newline)
            "gitlab": "",
            "gitea": "not base64!",
            "generic": "ICAg",  # only spaces
        }
    }
    assert decode(secret) == {"github": b"s3cret"}
    assert decode(None) == {}
    assert decode({"data": ["x"]}) == {}


async def test_secrets_are_read_at_most_once_per_ttl() -> None:
    reads = 0

    async def read() -> dict[str, Any] | None:
        nonlocal reads
        reads += 1
        return {"data": {"github": "czNjcmV0"}}

    secrets = WebhookSecrets(read, ttl=60)
    for _ in range(50):
        assert await secrets.get("github") == b"s3cret"
        assert await secrets.get("gitlab") is None
    assert reads == 1


class Starting(Recorder):
    def apps(self) -> Iterable[Followed]:
        raise UnavailableError("the server is starting: Applications not listed yet")
        yield  # a generator, as the hosts' are


async def test_a_host_that_has_not_listed_its_apps_answers_503() -> None:
    starting = Starting([])
    receiver = Receiver(WebhookSecrets.fixed({"github": SECRET}), starting)
    transport = httpx.ASGITransport(app=Starlette(routes=receiver.routes()))
    raw = json.dumps(PUSH).encode()
    before = counted("github", "unavailable")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        resp = await http.post("/api/v1/webhooks/github", content=raw, headers=github(raw))
    assert resp.status_code == 503
    assert resp.json()["error"] == {
        "code": "Unavailable",
        "message": "the server is starting: Applications not listed yet",
    }
    assert counted("github", "unavailable") == before + 1
    assert starting.rounds == []
