"""The receiver over ASGI (no network, no cluster): answers, the body limits, coalescing,
metrics."""

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

from driftless.webhooks.coalesce import Coalescer, TokenBucket
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
        self.rounds: list[tuple[list[Key], list[str]]] = []
        self.delay = delay

    def apps(self) -> Iterable[Followed]:
        return self._apps

    async def refresh(self, keys: list[Key], urls: list[str]) -> None:
        self.rounds.append((keys, urls))
        await asyncio.sleep(self.delay)


SSH = "ssh://git.example.com/team/app"
PUSHED = [REPO, SSH]  # the keys of the payload's URL forms
APPS = [
    Followed(("apps", "main"), REPO, "main"),
    Followed(("apps", "head"), SSH, "HEAD"),
    Followed(("apps", "upper"), "https://git.example.com/Team/App", "main"),
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
    # The answer never says how many apps follow the repository (other tenants' business).
    assert resp.status_code == 202 and resp.json() == {"status": "accepted"}
    await asyncio.sleep(0.05)
    # One round per repository as the apps wrote it (any case of the path is one).
    assert sorted(recorder.rounds) == [
        ([("apps", "head")], PUSHED),
        ([("apps", "main"), ("apps", "upper")], PUSHED),
    ]
    assert counted("github", "refreshed") == before + 1


async def test_a_payload_url_never_decides_the_coalescing(served: Any) -> None:
    """A fresh random clone_url per delivery does not open a round per delivery."""
    http, recorder, _ = served
    recorder.delay = 0.2
    for n in range(20):
        repo = {**PUSH["repository"], "clone_url": f"https://evil.example/{n}/x.git"}
        raw = json.dumps({**PUSH, "repository": repo}).encode()
        resp = await http.post("/api/v1/webhooks/github", content=raw, headers=github(raw))
        assert resp.status_code == 202
        await asyncio.sleep(0.005)  # the rounds run meanwhile
    await asyncio.sleep(0.5)
    main_rounds = [keys for keys, _ in recorder.rounds if ("apps", "main") in keys]
    assert len(main_rounds) == 2, recorder.rounds  # the first push's round, one trailing


async def test_payload_text_cannot_forge_a_log_line(
    served: Any, caplog: pytest.LogCaptureFixture
) -> None:
    http, _, _ = served
    raw = json.dumps({**PUSH, "ref": "refs/heads/x\nERROR forged line"}).encode()
    with caplog.at_level("DEBUG", logger="driftless.webhooks"):
        resp = await http.post("/api/v1/webhooks/github", content=raw, headers=github(raw))
    assert resp.status_code == 202
    messages = [r.getMessage() for r in caplog.records]
    assert any("forged line" in m for m in messages)
    assert all("\n" not in m for m in messages)


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
    coalescer.submit(REPO, [("apps", "a")], [REPO])
    await asyncio.sleep(0.01)
    for n in range(20):
        coalescer.submit(REPO, [("apps", "a"), ("apps", f"b{n % 2}")], [f"{REPO}{n % 3}"])
    coalescer.submit("https://elsewhere/x", [("apps", "x")])
    await asyncio.sleep(0.6)
    assert coalescer.rounds == 3
    assert sorted(recorder.rounds) == [
        ([("apps", "a")], [REPO]),
        ([("apps", "a"), ("apps", "b0"), ("apps", "b1")], [f"{REPO}0", f"{REPO}1", f"{REPO}2"]),
        ([("apps", "x")], []),
    ]
    assert not coalescer.busy(REPO)
    await coalescer.close()


def test_the_token_bucket_paces_rounds_after_a_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]
    now[0] = 10.0  # refilled, never above the burst
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


async def test_rounds_of_many_repositories_wait_for_the_global_bucket() -> None:
    recorder = Recorder([])
    coalescer = Coalescer(recorder.refresh, bucket=TokenBucket(rate=10.0, burst=2))
    for n in range(5):
        coalescer.submit(f"https://git.example.com/r{n}", [("apps", f"a{n}")])
    await asyncio.sleep(0.05)
    assert len(recorder.rounds) == 2  # the burst; the others wait their token
    await asyncio.sleep(0.4)
    assert len(recorder.rounds) == 5
    await coalescer.close()


async def test_a_failed_round_does_not_stop_the_next() -> None:
    calls: list[list[Key]] = []

    async def flaky(keys: list[Key], urls: list[str]) -> None:
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


class Stalled:
    """An ASGI client that sends its headers, then (at most) one chunk and nothing more:
    a slow or hostile caller. ``reads`` counts how often the app asked for the body."""

    def __init__(self, path: str, headers: dict[str, str]) -> None:
        self.reads = 0
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            "client": ("203.0.113.9", 5555),
            "server": ("test", 80),
        }

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        if self.reads == 1:
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.Event().wait()  # never more
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            self.body += message.get("body", b"")

    async def run(self, app: Starlette) -> None:
        await app(self.scope, self.receive, self.send)


async def test_without_a_secret_the_body_is_never_read() -> None:
    receiver = Receiver(WebhookSecrets.fixed({"github": SECRET}), Recorder(APPS))
    app = Starlette(routes=receiver.routes())
    client = Stalled("/api/v1/webhooks/gitlab", {"content-length": str(50 * 1024 * 1024)})
    await asyncio.wait_for(client.run(app), 1)  # answered at once, not after a read deadline
    assert client.status == 403 and client.reads == 0
    assert b"no secret configured for gitlab" in client.body


async def test_a_stalled_body_is_408_after_the_read_deadline() -> None:
    receiver = Receiver(WebhookSecrets.fixed({"github": SECRET}), Recorder(APPS), read_timeout=0.1)
    client = Stalled("/api/v1/webhooks/github", github(b"{}"))
    before = counted("github", "timeout")
    await asyncio.wait_for(client.run(Starlette(routes=receiver.routes())), 2)
    assert client.status == 408 and json.loads(client.body)["error"]["code"] == "Timeout"
    assert counted("github", "timeout") == before + 1
    assert receiver.in_flight == 0  # the slot is given back


async def test_deliveries_in_flight_are_bounded_503_with_retry_after() -> None:
    recorder = Recorder(APPS)
    receiver = Receiver(WebhookSecrets.fixed({"github": SECRET}), recorder, max_in_flight=3)
    app = Starlette(routes=receiver.routes())
    stalled = [Stalled("/api/v1/webhooks/github", github(b"{}")) for _ in range(3)]
    tasks = [asyncio.create_task(client.run(app)) for client in stalled]
    await asyncio.sleep(0.05)
    assert receiver.in_flight == 3
    extra = Stalled("/api/v1/webhooks/github", github(b"{}"))
    before = counted("github", "busy")
    await asyncio.wait_for(extra.run(app), 1)
    assert extra.status == 503 and extra.headers["retry-after"] == "5" and extra.reads == 0
    assert counted("github", "busy") == before + 1
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert receiver.in_flight == 0
    # Slots free again: a real delivery goes through.
    transport = httpx.ASGITransport(app=app)
    raw = json.dumps(PUSH).encode()
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        resp = await http.post("/api/v1/webhooks/github", content=raw, headers=github(raw))
    assert resp.status_code == 202
    await receiver.close()


def test_the_default_body_cap_is_4_mib() -> None:
    assert Receiver(WebhookSecrets.fixed({}), Recorder([])).max_body == 4 * 1024 * 1024
