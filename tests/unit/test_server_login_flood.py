"""A login flood: failed attempts of one address wait (429), a queue of logins is bounded (503),
and the admin Secret is read only inside that bound. The account's Secret is a stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import aiohttp
import pytest
import pytest_asyncio
from fastapi import FastAPI

from driftless.kube.client import KubeClient
from driftless.server import auth, errors, throttle
from driftless.server.auth import AdminAccount, Auth, Sessions
from tests.fixtures.server_http import running

PASSWORD = "right horse battery"
HASH = auth.hash_password(PASSWORD)


class Account(AdminAccount):
    """The admin Secret holds ``HASH``; ``gate`` (when set) holds every read until opened."""

    def __init__(self) -> None:
        super().__init__(cast(KubeClient, None), "driftless")
        self.reading = 0
        self.most_reading = 0
        self.gate: asyncio.Event | None = None

    async def _hash(self) -> str | None:
        self.reading += 1
        self.most_reading = max(self.most_reading, self.reading)
        try:
            if self.gate is not None:
                await self.gate.wait()
            return HASH
        finally:
            self.reading -= 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_counts_failures_in_the_window() -> None:
    clock = Clock()
    gate = throttle.Throttle(clock=clock)
    for _ in range(throttle.LIMIT - 1):
        gate.failed("10.0.0.1")
    assert gate.retry_after("10.0.0.1") is None
    clock.now += 10
    gate.failed("10.0.0.1")
    assert gate.retry_after("10.0.0.1") == 50  # the first failure leaves the window in 50 s
    assert gate.retry_after("10.0.0.2") is None  # per address
    clock.now += 50
    assert gate.retry_after("10.0.0.1") is None


def test_throttle_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "MAX_ADDRESSES", 3)
    gate = throttle.Throttle(clock=Clock())
    for index in range(10):
        for _ in range(throttle.LIMIT + 3):
            gate.failed(f"10.0.0.{index}")
    assert len(gate) == 3
    assert gate.retry_after("10.0.0.9") is not None and gate.retry_after("10.0.0.0") is None


@pytest_asyncio.fixture
async def base() -> AsyncIterator[str]:
    login = Auth(enabled=True, account=Account(), sessions=Sessions(60), secure_cookies=False)
    app = FastAPI()
    errors.install(app)
    app.include_router(auth.router(login), prefix="/api/v1")
    async with running(app) as url:
        yield url


async def test_failed_logins_of_an_address_must_wait(base: str) -> None:
    url = f"{base}/api/v1/session"
    wrong = {"username": "admin", "password": "guess"}
    async with aiohttp.ClientSession() as http:
        for _ in range(throttle.LIMIT):
            async with http.post(url, json=wrong) as resp:
                assert resp.status == 401
        # even the right password waits now: a guesser learns nothing more
        async with http.post(url, json={"username": "admin", "password": PASSWORD}) as resp:
            assert resp.status == 429
            assert 1 <= int(resp.headers["Retry-After"]) <= 60
            body = await resp.json()
    assert "too many failed logins" in body["error"]["message"]


async def test_a_login_queue_is_bounded_and_reads_the_secret_inside_it() -> None:
    account = Account()
    account.gate = asyncio.Event()
    queued = [
        asyncio.create_task(account.verify("admin", PASSWORD))
        for _ in range(auth.VERIFYING + auth.MAX_WAITING)
    ]
    for _ in range(1000):  # let every task reach the semaphore
        await asyncio.sleep(0)
    assert account.reading == auth.VERIFYING
    with pytest.raises(errors.UnavailableError, match="too many logins"):
        await account.verify("admin", PASSWORD)
    account.gate.set()
    assert all(await asyncio.gather(*queued))
    assert account.most_reading == auth.VERIFYING
    assert await account.verify("admin", PASSWORD)  # the queue drained: served again
