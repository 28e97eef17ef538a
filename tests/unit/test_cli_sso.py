"""``driftless login --sso``: the one-time codes, the CLI's answer check, and the whole loop.

The loop runs the server's routes in uvicorn against the hostile stand-in
provider of ``test_server_oidc_callback`` (its token endpoint signs what the
case asks), the CLI's real loopback listener (``sso.browser_login``), and an
HTTP client in the browser's place that follows the redirects by hand, so
each hop can be checked: the callback sends no cookie to the browser, the
code goes to 127.0.0.1 only, and a code works once, with its own state only.
"""

from __future__ import annotations

import asyncio
import re
import webbrowser
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from click.testing import CliRunner

from driftless.cli.main import cli
from driftless.cli.remote import sso
from driftless.cli.remote.client import Remote, Session
from driftless.server import oidc, oidc_tokens
from driftless.server.app import create_app
from driftless.server.sessions import Sessions
from driftless.server.settings import OidcSettings, ServerSettings
from tests.fixtures.server_http import idle_state, running
from tests.unit.test_server_oidc_callback import CLIENT, HostileProvider, _signed, provider

__all__ = ["provider"]  # the fixture, imported

STATE = "s" * 43


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_code_is_redeemed_once_with_its_state_within_its_minute() -> None:
    clock = Clock()
    codes = oidc_tokens.CliCodes(clock)
    code = codes.issue("alice", ("team-a",), STATE)
    assert len(code) >= 43 and code not in repr(codes.__dict__)  # only a digest is kept
    grant = codes.redeem(code, STATE)
    assert (grant.user, grant.groups) == ("alice", ("team-a",))
    with pytest.raises(oidc_tokens.TokenRejectedError, match="replayed"):
        codes.redeem(code, STATE)

    other = codes.issue("alice", (), STATE)
    with pytest.raises(oidc_tokens.TokenRejectedError, match="another login"):
        codes.redeem(other, "t" * 43)
    with pytest.raises(oidc_tokens.TokenRejectedError):  # spent by the wrong try
        codes.redeem(other, STATE)

    late = codes.issue("alice", (), STATE)
    clock.now += oidc_tokens.CLI_CODE_SECONDS + 1
    with pytest.raises(oidc_tokens.TokenRejectedError, match="expired"):
        codes.redeem(late, STATE)
    assert len(codes) == 0


def test_codes_are_bounded() -> None:
    codes = oidc_tokens.CliCodes(Clock())
    first = codes.issue("a", (), STATE)
    for _ in range(oidc_tokens.MAX_PENDING):
        codes.issue("a", (), STATE)
    assert len(codes) == oidc_tokens.MAX_PENDING
    with pytest.raises(oidc_tokens.TokenRejectedError):
        codes.redeem(first, STATE)


def test_the_cli_believes_only_an_answer_with_its_state() -> None:
    assert sso.read_answer({"code": "c", "state": STATE}, STATE) == "c"
    with pytest.raises(sso.SsoLoginError, match="wrong state"):
        sso.read_answer({"code": "c", "state": "x" * 43}, STATE)
    with pytest.raises(sso.SsoLoginError, match="wrong state"):
        sso.read_answer({"error": "access_denied"}, STATE)
    with pytest.raises(sso.SsoLoginError, match=r"denied the login \(access_denied\)"):
        sso.read_answer({"error": "access_denied", "state": STATE}, STATE)
    with pytest.raises(sso.SsoLoginError, match="no login code"):
        sso.read_answer({"state": STATE}, STATE)
    with pytest.raises(sso.SsoLoginError) as caught:
        sso.read_answer({"error": "\x1b[31mred", "state": STATE}, STATE)
    assert "\x1b" not in caught.value.message
    url = sso.login_url("https://d.example", 4242, STATE)
    assert url == f"https://d.example/api/v1/auth/oidc/login?cli_port=4242&cli_state={STATE}"


@pytest_asyncio.fixture
async def server(provider: HostileProvider, tmp_path: Path) -> AsyncIterator[str]:
    config = OidcSettings(issuer=provider.issuer, client_id=CLIENT, client_secret_ref="s")
    settings = ServerSettings(static_dir=tmp_path, oidc=config)
    state = idle_state(settings)
    state.auth.sessions = Sessions(3600)  # in memory: no API server here
    state.sso = oidc.SingleSignOn(config, "secret", "http://127.0.0.1:1/cb")
    state.auth.end_session = state.sso.end_session_url  # as ``serve`` does: "oidc" is offered
    provider.token = lambda nonce: _signed()(provider.issuer, nonce)
    async with running(create_app(settings, state)) as url:
        yield url


def _browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _browse(
    http: aiohttp.ClientSession, start: str, provider: HostileProvider, answer: str
) -> str:
    """The browser's way from the CLI's URL to the CLI's callback: where the server sent it."""
    async with http.get(start, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        query = parse_qs(urlsplit(resp.headers["Location"]).query)
    provider.nonce = query["nonce"][0]
    server = start.split("/api/", 1)[0]
    callback = f"{server}/api/v1/auth/oidc/callback?{answer}&state={query['state'][0]}"
    async with http.get(callback, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()
        assert "driftless_session" not in resp.headers.getall("Set-Cookie", [""])[0]
        return resp.headers["Location"]


async def _cli(
    server: str, timeout: float = 30, open_browser: bool = False
) -> tuple[asyncio.Task[Session], str, Remote]:
    """Start the CLI's login; returns it, the URL it shows, and its client."""
    shown: asyncio.Queue[str] = asyncio.Queue()
    remote = Remote(server)
    task = asyncio.create_task(
        sso.browser_login(remote, timeout=timeout, open_browser=open_browser, say=shown.put_nowait)
    )
    said = await asyncio.wait_for(shown.get(), 10)
    match = re.search(r"(http://\S+)", said)
    assert match is not None, said
    return task, match.group(1), remote


async def test_the_whole_loop_logs_in_and_a_code_works_once(
    server: str, provider: HostileProvider
) -> None:
    task, start, remote = await _cli(server)
    try:
        async with _browser() as http:
            to_cli = await _browse(http, start, provider, "code=c0de")
            parts = urlsplit(to_cli)
            assert (parts.scheme, parts.hostname, parts.path) == ("http", "127.0.0.1", "/callback")
            cli_state = parse_qs(urlsplit(start).query)["cli_state"][0]
            given = parse_qs(parts.query)
            assert given["state"] == [cli_state] and given["code"][0]
            async with http.get(to_cli) as page:
                assert "you can close this tab" in await page.text()
        session = await asyncio.wait_for(task, 10)
        assert session.user == "alice@example.test" and session.cookie == "driftless_session"
        headers = {"Cookie": f"{session.cookie}={session.value}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server}/api/v1/session", headers=headers) as who:
                assert (await who.json())["groups"] == ["team-a"]
            # The code again (replayed), or with another state: 401, nothing made.
            exchange = f"{server}/api/v1/auth/cli/exchange"
            body = {"code": given["code"][0], "state": cli_state}
            async with http.post(exchange, json=body) as again:
                assert again.status == 401 and "Set-Cookie" not in again.headers
                assert "used, expired" in (await again.json())["error"]["message"]
    finally:
        await remote.close()


async def test_an_answer_with_another_state_is_400_and_the_login_goes_on(
    server: str, provider: HostileProvider
) -> None:
    task, start, remote = await _cli(server)
    try:
        port = parse_qs(urlsplit(start).query)["cli_port"][0]
        async with aiohttp.ClientSession() as http:
            for knock in ["code=forged&state=" + "x" * 43, "error=access_denied", ""]:
                async with http.get(f"http://127.0.0.1:{port}/callback?{knock}") as page:
                    assert page.status == 400 and "Not this login" in await page.text()
        assert not task.done()
        async with _browser() as http:
            to_cli = await _browse(http, start, provider, "code=c0de")
            async with http.get(to_cli) as page:
                assert page.status == 200
        assert (await asyncio.wait_for(task, 10)).user == "alice@example.test"
    finally:
        await remote.close()


async def test_a_cli_login_makes_the_provider_ask_for_the_password(server: str) -> None:
    """``prompt=login``: no silent login hands a code to a loopback port someone else chose."""
    async with _browser() as http:
        cli = sso.login_url(server, 4242, STATE)
        for url, prompt in [(cli, ["login"]), (f"{server}/api/v1/auth/oidc/login", None)]:
            async with http.get(url, allow_redirects=False) as resp:
                assert resp.status == 302
                assert parse_qs(urlsplit(resp.headers["Location"]).query).get("prompt") == prompt


async def test_the_browser_is_opened_at_the_url_it_shows(
    server: str, provider: HostileProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def open_browser(url: str) -> bool:  # webbrowser.open, called from its thread
        loop.call_soon_threadsafe(opened.put_nowait, url)
        return True

    monkeypatch.setattr(webbrowser, "open", open_browser)
    task, start, remote = await _cli(server, open_browser=True)
    try:
        assert await asyncio.wait_for(opened.get(), 10) == start
        async with _browser() as http:
            to_cli = await _browse(http, start, provider, "code=c0de")
            async with http.get(to_cli) as page:
                assert page.status == 200
        assert (await asyncio.wait_for(task, 10)).user == "alice@example.test"
    finally:
        await remote.close()


async def test_a_code_for_another_state_is_refused_by_the_server(
    server: str, provider: HostileProvider
) -> None:
    task, start, remote = await _cli(server)
    try:
        async with _browser() as http:
            to_cli = await _browse(http, start, provider, "code=c0de")
            code = parse_qs(urlsplit(to_cli).query)["code"][0]
            async with http.post(
                f"{server}/api/v1/auth/cli/exchange", json={"code": code, "state": "z" * 43}
            ) as resp:
                assert resp.status == 401
            # The CLI, given that (now spent) code with its own state, says the server refused.
            async with http.get(to_cli) as page:
                assert "Login failed" in await page.text()
        with pytest.raises(sso.SsoLoginError, match="refused the login"):
            await asyncio.wait_for(task, 10)
    finally:
        await remote.close()


async def test_the_provider_s_refusal_reaches_the_cli(
    server: str, provider: HostileProvider
) -> None:
    task, start, remote = await _cli(server)
    try:
        async with _browser() as http:
            to_cli = await _browse(http, start, provider, "error=access_denied")
            assert parse_qs(urlsplit(to_cli).query)["error"] == ["access_denied"]
            async with http.get(to_cli) as page:
                assert "Login failed" in await page.text()
        with pytest.raises(sso.SsoLoginError, match="denied the login"):
            await asyncio.wait_for(task, 10)
    finally:
        await remote.close()


async def test_no_answer_times_out_with_a_message(server: str) -> None:
    task, _, remote = await _cli(server, timeout=0.5)
    try:
        with pytest.raises(sso.SsoLoginError, match=r"within 0\.5 s"):
            await asyncio.wait_for(task, 10)
    finally:
        await remote.close()


@pytest.mark.parametrize(
    "query",
    [
        "cli_port=abc&cli_state=" + STATE,
        "cli_port=0&cli_state=" + STATE,
        "cli_port=65536&cli_state=" + STATE,
        "cli_port=80@evil.example&cli_state=" + STATE,
        "cli_port=4242",
        "cli_state=" + STATE,
        "cli_port=4242&cli_state=short",
        "cli_port=4242&cli_state=" + "s" * 129,
        "cli_port=4242&cli_state=" + "s/evil" * 4,
    ],
)
async def test_a_bad_cli_port_or_state_is_422(server: str, query: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server}/api/v1/auth/oidc/login?{query}", allow_redirects=False) as resp,
    ):
        assert resp.status == 422, query
        assert "Location" not in resp.headers


async def test_a_malformed_exchange_is_422_and_an_unknown_code_401(server: str) -> None:
    exchange = f"{server}/api/v1/auth/cli/exchange"
    async with aiohttp.ClientSession() as http:
        for body in (
            {},
            {"code": "x"},
            {"code": "x", "state": "short"},
            {"code": "", "state": STATE},
        ):
            async with http.post(exchange, json=body) as resp:
                assert resp.status == 422, body
        async with http.post(exchange, json={"code": "made-up", "state": STATE}) as resp:
            assert resp.status == 401


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--sso", "--token"], "contradict"),
        (["--sso", "--password-stdin"], "contradict"),
        (["--no-browser"], "--no-browser goes with --sso"),
        (["--sso", "--timeout", "0"], "--timeout"),
        (["--sso", "--timeout", "soon"], "--timeout"),
    ],
)
def test_login_sso_usage_errors_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "DRIFTLESS_AUTH_TOKEN": ""}
    result = CliRunner().invoke(cli, ["login", "http://127.0.0.1:1", *args], env=env)
    assert result.exit_code == 2 and says in result.stderr, result.output
    assert not (tmp_path / "driftless").exists()


async def test_a_server_without_single_sign_on_is_said_at_once(tmp_path: Path) -> None:
    settings = ServerSettings(static_dir=tmp_path)
    async with running(create_app(settings, idle_state(settings))) as url:
        remote = Remote(url)
        try:
            with pytest.raises(sso.SsoLoginError, match="has no single sign-on"):
                await sso.browser_login(remote, timeout=30, open_browser=False, say=print)
        finally:
            await remote.close()
