"""Discovery of a provider: one read at a time whatever the number of logins, checked issuer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from driftless.server import oidc
from driftless.server.oidc import ProviderUnavailableError, SingleSignOn
from driftless.server.settings import OidcSettings


class FakeDiscovery:
    """A loopback HTTP server answering discovery slowly, counting reads."""

    def __init__(self) -> None:
        self.reads = 0
        self.issuer = ""
        self.answer_issuer: str | None = None

    async def handle(self, _: web.Request) -> web.Response:
        self.reads += 1
        await asyncio.sleep(0.2)
        issuer = self.answer_issuer or self.issuer
        body: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}auth",
            "token_endpoint": f"{issuer}token",
            "jwks_uri": f"{issuer}keys",
        }
        return web.json_response(body)


@pytest_asyncio.fixture
async def discovery() -> AsyncIterator[FakeDiscovery]:
    fake = FakeDiscovery()
    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.issuer = f"http://127.0.0.1:{port}/"
    try:
        yield fake
    finally:
        await runner.cleanup()


def _sso(issuer: str) -> SingleSignOn:
    config = OidcSettings(issuer=issuer, client_id="driftless", client_secret_ref="s")
    return SingleSignOn(config, "secret", "http://127.0.0.1:1/cb")


async def test_a_flood_of_login_starts_reads_discovery_once(discovery: FakeDiscovery) -> None:
    sso = _sso(discovery.issuer)
    urls = await asyncio.gather(*(sso.authorization_url(f"s{i}", "n", "c") for i in range(50)))
    assert all(u.startswith(f"{discovery.issuer}auth?response_type=code") for u in urls)
    assert discovery.reads <= 2  # one read, plus one for requests that came after it began
    await sso.discovery()
    assert discovery.reads <= 2  # cached for everything but a login's start


async def test_login_starts_one_after_another_reuse_a_read_under_ten_seconds_old(
    discovery: FakeDiscovery,
) -> None:
    sso = _sso(discovery.issuer)
    for i in range(20):  # an anonymous flood of GET /auth/oidc/login, one at a time
        await sso.authorization_url(f"s{i}", "n", "c")
    assert discovery.reads == 1
    sso._discovered_at -= oidc.START_DISCOVERY_SECONDS  # ten seconds on
    await sso.authorization_url("later", "n", "c")
    assert discovery.reads == 2  # a provider gone is noticed within that


async def test_discovery_naming_another_issuer_is_refused(discovery: FakeDiscovery) -> None:
    discovery.answer_issuer = "https://evil.example.test/"
    sso = _sso(discovery.issuer)
    with pytest.raises(ProviderUnavailableError, match="another issuer"):
        await sso.discovery()


async def test_an_unreachable_provider_is_unavailable_not_an_error() -> None:
    sso = _sso("http://127.0.0.1:9/")  # the discard port: nothing listens
    with pytest.raises(ProviderUnavailableError):
        await sso.authorization_url("s", "n", "c")
    assert await sso.end_session_url() is None
