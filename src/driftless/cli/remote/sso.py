"""``driftless login SERVER --sso``: single sign-on in the browser, for the CLI.

The server must offer single sign-on (``GET /api/v1/auth/methods``). The
CLI then listens on an ephemeral port of 127.0.0.1 (``listen``), opens the
browser (``webbrowser``; the URL is printed too, for a machine without one)
at the server's ``/api/v1/auth/oidc/login?cli_port=P&cli_state=S``
(``login_url``). After the provider's login the server redirects the browser
to ``http://127.0.0.1:P/callback`` with a one-time code and the state, or an
error code. The first answer there with this login's state decides
(``read_answer``, pure); one with another state (anything on this machine can
knock on the port) is answered 400 and the wait goes on. The code is exchanged with
``POST /api/v1/auth/cli/exchange`` for the session cookie (the session id
never travels in a URL); the browser gets a small page saying whether it
worked and that the tab can be closed. No answer within the timeout ends the
login with a message saying so. Every failure is a ``DriftlessError``
(exit code 1) and nothing is stored.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import secrets
import threading
import webbrowser
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from aiohttp import web

from driftless.cli.remote.client import Remote, ServerError, Session, shown
from driftless.core.errors import DriftlessError

__all__ = ["SsoLoginError", "answers_this_login", "browser_login", "login_url", "read_answer"]

CALLBACK = "/callback"
LOGIN_PATH = "/api/v1/auth/oidc/login"
METHODS_PATH = "/api/v1/auth/methods"
_REASONS = {
    "access_denied": "the identity provider denied the login (access_denied)",
    "provider_unavailable": "the identity provider does not answer the server",
    "login_refused": "the server refused the identity provider's answer",
}


class SsoLoginError(DriftlessError):
    """The browser login did not log in; the message says why (never a code or session)."""


def login_url(server: str, port: int, state: str) -> str:
    """Where the browser starts the CLI's login at ``server``. Pure."""
    return f"{server}{LOGIN_PATH}?{urlencode({'cli_port': port, 'cli_state': state})}"


def answers_this_login(query: Mapping[str, str], state: str) -> bool:
    """Whether a request to the callback carries this login's ``state``. Pure."""
    return hmac.compare_digest(query.get("state", "").encode(), state.encode())


def read_answer(query: Mapping[str, str], state: str) -> str:
    """The one-time code of the browser's answer, or ``SsoLoginError``. Pure.

    The state is checked first: an answer that is not this login's is never
    believed, not even its error.
    """
    if not answers_this_login(query, state):
        raise SsoLoginError(
            "the browser's answer is not this login's (wrong state): nothing stored"
        )
    error = query.get("error")
    if error is not None:
        reason = _REASONS.get(error, f"the login failed ({shown(error)[:64]})")
        raise SsoLoginError(f"single sign-on failed: {reason}; nothing stored")
    code = query.get("code", "")
    if not code:
        raise SsoLoginError("the browser's answer has no login code: nothing stored")
    return code


def _page(title: str, text: str, status: int = 200) -> web.Response:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></html>"
    )
    return web.Response(
        status=status,
        text=body,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def browser_login(
    remote: Remote,
    *,
    timeout: float,
    open_browser: bool,
    say: Callable[[str], None],
) -> Session:
    """Log in to ``remote`` through the browser (see the module docstring)."""
    # Asked first: a server without single sign-on would leave the browser on a 404
    # and the CLI waiting for its timeout.
    methods = await remote.call("GET", METHODS_PATH, authenticated=False)
    if not isinstance(methods, dict) or "oidc" not in (methods.get("methods") or []):
        raise SsoLoginError(f"{remote.url} has no single sign-on: log in with a password")
    state = secrets.token_urlsafe(32)
    done: asyncio.Future[Session] = asyncio.get_running_loop().create_future()

    async def callback(request: web.Request) -> web.Response:
        if done.done():
            return _page("Already answered", "This login is over: you can close this tab.")
        if not answers_this_login(request.query, state):
            # Not this login's answer (a stale tab, or another program knocking): it
            # neither ends nor decides the login.
            return _page("Not this login", "This is not the login driftless waits for.", 400)
        try:
            code = read_answer(request.query, state)
            try:
                session = await remote.exchange(code, state)
            except ServerError as exc:
                raise SsoLoginError(
                    f"{remote.url} refused the login: {exc.message}; nothing stored"
                ) from None
        except DriftlessError as exc:
            done.set_exception(exc)
            return _page("Login failed", f"{exc.message}. You can close this tab.")
        done.set_result(session)
        return _page("Logged in", "driftless is logged in: you can close this tab.")

    app = web.Application()
    app.router.add_get(CALLBACK, callback)
    # The page of the answer is sent before ``cleanup`` closes (it waits for it, briefly).
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        url = login_url(remote.url, port, state)
        if open_browser:
            say(f"Opening the browser to log in; if it does not open, visit:\n  {url}")
            # A daemon thread: a console browser may hold it until it quits, and neither
            # the wait for the answer nor the CLI's exit may wait for that.
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        else:
            say(
                "Open this URL in a browser on this machine to log in (it comes back to"
                f" 127.0.0.1:{port}; from elsewhere, forward that port first):\n  {url}"
            )
        try:
            return await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            raise SsoLoginError(
                f"no login came back from the browser within {timeout:g} s: nothing stored"
                " (run the login again; --timeout sets the wait)"
            ) from None
    finally:
        if not done.done():
            done.cancel()
        await runner.cleanup()
