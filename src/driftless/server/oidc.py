"""Single sign-on: OpenID Connect's authorization code flow with PKCE, to a server session.

``SingleSignOn`` is one configured provider (``settings.OidcSettings``) with
its client secret, read once at start from a Secret of the controller's
namespace (``load``). It finds the provider's endpoints by discovery
(``/.well-known/openid-configuration``, re-read at a login's start when
older than ``START_DISCOVERY_SECONDS`` -- so a provider that went away is
noticed there, before the browser is sent to it, while a flood of login
starts costs the provider one read every few seconds -- and at most
``DISCOVERY_SECONDS`` old otherwise; the issuer it names must be
the configured one) and its signing keys with
PyJWT's JWKS client, which re-reads the JWKS when a token names a key it does
not know yet (key rotation).

Routes (``router``), public like the password login:

* ``GET /api/v1/auth/oidc/login``: a new login (``oidc_tokens.PendingLogins``:
  ``state``, ``nonce``, PKCE S256) and 302 to the provider's authorization
  endpoint, with the flow cookie ``FLOW_COOKIE`` (HttpOnly, SameSite=Lax so the
  provider's redirect back carries it, path ``/api/v1/auth/oidc``, 10 min)
  binding the login to this browser. A provider that does not answer: 303 to
  ``/login?sso=unavailable``, where the login page says so.
* ``GET /api/v1/auth/oidc/callback``: the provider's answer. The ``state`` must
  be a live login of this browser (once only); the code is exchanged at the
  token endpoint (client_secret_basic, with the PKCE verifier); the ID token is
  verified (``oidc_tokens.verify``). Then a session (``sessions.OIDC``, with
  the user's groups) and its cookie, as a password login makes, and 303 to
  ``/``. Any refusal is 401 with a fixed message; only the reason is logged
  (never a code, token or claim). A provider that does not answer meanwhile:
  303 to ``/login?sso=unavailable``.

The CLI's login (``driftless login SERVER --sso``):

* ``GET /api/v1/auth/oidc/login?cli_port=P&cli_state=S`` starts a login as
  above that remembers the CLI's loopback port (a number, 1-65535: the
  redirect goes to ``http://127.0.0.1:P/callback`` and nowhere else, so no
  open redirect) and state (``oidc_tokens.CLI_STATE``); one without the
  other, a port that is not a number or out of range, a malformed state: 422.
  It asks the provider for ``prompt=login``: the user types their password
  (no silent login with the provider's own session), so a link to such a
  login with a port an attacker listens on cannot hand them a code unseen.
* Its callback sets no cookie in the browser: it redirects (303) to
  ``http://127.0.0.1:P/callback?code=C&state=S``, ``C`` a one-time code
  (``oidc_tokens.CliCodes``). A login the provider or the ID token refuses,
  or a provider that does not answer, goes there too with
  ``error=<code>&state=S`` (the provider's error code, when it is one of
  RFC 6749's, else ``login_refused`` or ``provider_unavailable``), so the
  CLI can say so; an answer that matches no live login is the 401 above.
* ``POST /api/v1/auth/cli/exchange {"code", "state"}`` (public): the code,
  once, within ``oidc_tokens.CLI_CODE_SECONDS``, with the state it was issued
  for, makes the session and sets its cookie, as ``POST /session`` does; any
  other code is 401. The session id thus never appears in a URL.

The callback's query (the code, the state) never reaches a log: ``load``
puts ``RedactCallback`` on uvicorn's access log.

Sessions already made never call the provider again: an unreachable provider
only stops new logins. Logout (``auth``) also gives the provider's
``end_session_endpoint`` when it has one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

import aiohttp
import jwt
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from driftless.kube.client import KubeClient
from driftless.server import oidc_tokens, sessions
from driftless.server.auth import Auth, SessionUser, set_session_cookie
from driftless.server.errors import InvalidError, UnauthorizedError
from driftless.server.settings import (
    OIDC_CALLBACK_PATH,
    OidcSettings,
    ServerSettings,
    SettingsError,
)

__all__ = [
    "FLOW_COOKIE",
    "ProviderUnavailableError",
    "RedactCallback",
    "SingleSignOn",
    "load",
    "router",
]

log = logging.getLogger(__name__)

FLOW_COOKIE = "driftless_oidc_flow"
FLOW_PATH = "/api/v1/auth/oidc"
DISCOVERY_SECONDS = 300.0
START_DISCOVERY_SECONDS = 10.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
UNAVAILABLE_PAGE = "/login?sso=unavailable"
REFUSED = "single sign-on refused; log in again"
CODE_REFUSED = "the login code is unknown, used, expired or another login's; log in again"
# RFC 6749 4.1.2.1's error codes: passed on to the CLI as they are; anything else is not.
PROVIDER_ERRORS = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
    }
)
_MAX_BODY = 256 * 1024


class ProviderUnavailableError(Exception):
    """The provider did not answer, or not as OpenID Connect says (a message for the log)."""


@dataclass
class SingleSignOn:
    """One provider, the client's credentials there, and the logins under way."""

    config: OidcSettings
    client_secret: str = field(repr=False)
    redirect_url: str
    pending: oidc_tokens.PendingLogins = field(default_factory=oidc_tokens.PendingLogins)
    codes: oidc_tokens.CliCodes = field(default_factory=oidc_tokens.CliCodes)
    _discovery: dict[str, Any] | None = field(default=None, repr=False)
    _discovered_at: float = -float("inf")
    _jwks: jwt.PyJWKClient | None = field(default=None, repr=False)
    _reading: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _failed: tuple[float, str] = (-float("inf"), "")

    async def discovery(self, *, max_age: float = DISCOVERY_SECONDS) -> dict[str, Any]:
        """The provider's metadata, read at most ``max_age`` seconds ago.

        ``ProviderUnavailableError`` when it does not answer as OpenID Connect says.
        One read at a time: requests that arrived while a read ran take its answer
        (or its failure), so a flood of login starts is one request to the provider
        at a time, not one each.
        """
        arrived = time.monotonic()
        async with self._reading:
            if self._discovery is not None and self._discovered_at >= arrived:
                return self._discovery
            if self._failed[0] >= arrived:
                raise ProviderUnavailableError(self._failed[1])
            age = time.monotonic() - self._discovered_at
            if self._discovery is not None and age < max_age:
                return self._discovery
            try:
                return await self._read_discovery()
            except ProviderUnavailableError as exc:
                self._failed = (time.monotonic(), str(exc))
                raise

    async def _read_discovery(self) -> dict[str, Any]:
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        found = await _get_json(url)
        if found.get("issuer") != self.config.issuer:
            raise ProviderUnavailableError("the provider's discovery names another issuer")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(key), str):
                raise ProviderUnavailableError(f"the provider's discovery has no {key}")
        if self._jwks is None or self._jwks.uri != found["jwks_uri"]:
            # No cooldown between re-reads for an unknown key id: ID tokens reach this
            # server only from the token endpoint, over its own connection, so a key id
            # is the provider's (a rotation to honour at once), never an attacker's flood.
            self._jwks = jwt.PyJWKClient(
                found["jwks_uri"], cache_keys=True, lifespan=300, timeout=5, cooldown_duration=0
            )
        self._discovery, self._discovered_at = found, time.monotonic()
        return found

    async def authorization_url(
        self, state: str, nonce: str, challenge: str, *, prompt_login: bool = False
    ) -> str:
        """Where the browser goes to log in at the provider (discovery at most
        ``START_DISCOVERY_SECONDS`` old)."""
        meta = await self.discovery(max_age=START_DISCOVERY_SECONDS)
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.redirect_url,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if prompt_login:
            query["prompt"] = "login"
        return f"{meta['authorization_endpoint']}?{urlencode(query)}"

    async def end_session_url(self) -> str | None:
        """The provider's logout page for this client, if it has one (``None`` when unreachable)."""
        try:
            meta = await self.discovery()
        except ProviderUnavailableError:
            return None
        endpoint = meta.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        return f"{endpoint}?{urlencode({'client_id': self.config.client_id})}"

    async def exchange(self, code: str, verifier: str) -> str:
        """The ID token given for ``code``; ``TokenRejectedError`` when the provider refuses."""
        meta = await self.discovery()
        credentials = f"{_form(self.config.client_id)}:{_form(self.client_secret)}"
        headers = {
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
            "Accept": "application/json",
        }
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_url,
            "code_verifier": verifier,
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
                http.post(meta["token_endpoint"], data=body, headers=headers) as resp,
            ):
                status = resp.status
                answer = await resp.content.read(_MAX_BODY)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailableError(f"token endpoint: {type(exc).__name__}") from None
        if status >= 500:
            raise ProviderUnavailableError(f"token endpoint answered HTTP {status}")
        if status != 200:
            raise oidc_tokens.TokenRejectedError(f"the provider refused the code (HTTP {status})")
        try:
            token = _json_object(answer).get("id_token")
        except ValueError:
            raise ProviderUnavailableError("token endpoint answered no JSON object") from None
        if not isinstance(token, str):
            raise oidc_tokens.TokenRejectedError("the provider gave no ID token")
        return token

    async def verify(self, token: str, nonce: str) -> dict[str, Any]:
        """The claims of ``token`` (see ``oidc_tokens.verify``), its key from the JWKS."""
        await self.discovery()
        assert self._jwks is not None
        try:
            key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError:
            raise ProviderUnavailableError("the provider's JWKS does not answer") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError):
            raise oidc_tokens.TokenRejectedError(
                "the ID token's key is not the provider's"
            ) from None
        return oidc_tokens.verify(
            token, key, issuer=self.config.issuer, client_id=self.config.client_id, nonce=nonce
        )


def _form(value: str) -> str:
    # RFC 6749 2.3.1: the client id and secret are form-urlencoded inside Basic.
    return urlencode({"": value})[1:]


def _json_object(data: bytes) -> dict[str, Any]:
    found = json.loads(data)
    if not isinstance(found, dict):
        raise ValueError("not an object")
    return found


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with (
            aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
            http.get(url, headers={"Accept": "application/json"}) as resp,
        ):
            if resp.status != 200:
                raise ProviderUnavailableError(f"{url} answered HTTP {resp.status}")
            return _json_object(await resp.content.read(_MAX_BODY))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ProviderUnavailableError(f"{url}: {type(exc).__name__}") from None
    except ValueError:
        raise ProviderUnavailableError(f"{url} answered no JSON object") from None


class RedactCallback(logging.Filter):
    """Cut the query off the callback's line in uvicorn's access log (it holds the code)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            if path.startswith(OIDC_CALLBACK_PATH + "?"):
                record.args = (*args[:2], OIDC_CALLBACK_PATH + "?(redacted)", *args[3:])
        return True


def _redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactCallback) for f in access.filters):
        access.addFilter(RedactCallback())


async def load(settings: ServerSettings, client: KubeClient) -> SingleSignOn | None:
    """The server's single sign-on, its client secret read from its Secret (``None``: not set).

    ``SettingsError`` when the Secret or its key is missing.
    """
    config = settings.oidc
    if config is None:
        return None
    name, key = config.secret_name_and_key
    secret = await client.get("v1", "Secret", name, settings.controller_namespace)
    value = ((secret or {}).get("data") or {}).get(key)
    if not isinstance(value, str):
        raise SettingsError(
            f"the OIDC client secret: Secret {settings.controller_namespace}/{name}"
            f" has no key {key!r}"
        )
    redirect = config.redirect_url or settings.url() + OIDC_CALLBACK_PATH
    _redact_access_log()
    return SingleSignOn(config, base64.b64decode(value).decode(), redirect)


class CliExchange(BaseModel):
    code: str = Field(min_length=1, max_length=256)
    state: str = Field(pattern=oidc_tokens.CLI_STATE.pattern)


def _end_flow(auth: Auth, response: Response) -> None:
    response.delete_cookie(
        FLOW_COOKIE, path=FLOW_PATH, httponly=True, samesite="lax", secure=auth.secure_cookies
    )


def _to_cli(
    auth: Auth, cli: oidc_tokens.CliLogin, *, code: str = "", error: str = ""
) -> RedirectResponse:
    """303 to the CLI's loopback listener: the code, or an error code (``login_refused``)."""
    answer = {"code": code} if code else {"error": error or "login_refused"}
    query = urlencode({**answer, "state": cli.state})
    response = RedirectResponse(f"http://127.0.0.1:{cli.port}/callback?{query}", status_code=303)
    _end_flow(auth, response)
    return response


def router(auth: Auth, sso: SingleSignOn) -> APIRouter:
    """The single sign-on routes (see the module docstring)."""
    routes = APIRouter(tags=["session"])

    @routes.get("/auth/oidc/login", status_code=302, response_class=RedirectResponse)
    async def start(
        request: Request,
        cli_port: Annotated[
            int | None, Query(ge=1, le=65535, description="The CLI's loopback port.")
        ] = None,
        cli_state: Annotated[
            str | None,
            Query(pattern=oidc_tokens.CLI_STATE.pattern, description="The CLI's state."),
        ] = None,
    ) -> RedirectResponse:
        """Start a login at the provider (for the CLI: with its port and state)."""
        if (cli_port is None) != (cli_state is None):
            raise InvalidError("query: cli_port and cli_state go together")
        cli = None
        if cli_port is not None and cli_state is not None:
            cli = oidc_tokens.CliLogin(cli_port, cli_state)
        address = request.client.host if request.client is not None else ""
        state, nonce, challenge, browser = sso.pending.start(cli, address=address)
        try:
            url = await sso.authorization_url(state, nonce, challenge, prompt_login=cli is not None)
        except ProviderUnavailableError as exc:
            log.warning("single sign-on: the provider does not answer: %s", exc)
            return RedirectResponse(UNAVAILABLE_PAGE, status_code=303)
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            FLOW_COOKIE,
            browser,
            max_age=int(oidc_tokens.FLOW_SECONDS),
            path=FLOW_PATH,
            httponly=True,
            samesite="lax",
            secure=auth.secure_cookies,
        )
        return response

    @routes.get(
        "/auth/oidc/callback",
        status_code=303,
        response_class=RedirectResponse,
        responses={401: {"description": "The provider's answer does not log anyone in."}},
    )
    async def callback(request: Request) -> RedirectResponse:
        """The provider's answer: a session and 303 to the UI (or the CLI), or 401."""
        query = request.query_params
        address = request.client.host if request.client is not None else ""
        pending: oidc_tokens.Pending | None = None
        try:
            pending = sso.pending.finish(query.get("state"), request.cookies.get(FLOW_COOKIE))
            if "error" in query or not query.get("code"):
                raise oidc_tokens.TokenRejectedError("the provider answered no code")
            token = await sso.exchange(query["code"], pending.verifier)
            claims = await sso.verify(token, pending.nonce)
            user, groups, left_out = oidc_tokens.identity(
                claims,
                username_claim=sso.config.username_claim,
                groups_claim=sso.config.groups_claim,
            )
        except oidc_tokens.TokenRejectedError as exc:
            log.warning("single sign-on refused: %s", exc.reason)
            auth.audit.login("", sessions.OIDC, address, ok=False, why=exc.reason)
            if pending is not None and pending.cli is not None:
                said = query.get("error", "")
                return _to_cli(auth, pending.cli, error=said if said in PROVIDER_ERRORS else "")
            raise UnauthorizedError(REFUSED) from None
        except ProviderUnavailableError as exc:
            log.warning("single sign-on: the provider does not answer: %s", exc)
            if pending is not None and pending.cli is not None:
                return _to_cli(auth, pending.cli, error="provider_unavailable")
            return RedirectResponse(UNAVAILABLE_PAGE, status_code=303)
        if left_out:
            log.warning("single sign-on: %s has %d groups too many to keep", user, left_out)
        if pending.cli is not None:
            # The CLI's login: no cookie here; a one-time code the CLI exchanges.
            log.info("single sign-on: %s authenticated for the CLI", user)
            code = sso.codes.issue(user, groups, pending.cli.state)
            return _to_cli(auth, pending.cli, code=code)
        session_id = await auth.sessions.login(user, None, groups=groups, method=sessions.OIDC)
        log.info("single sign-on: %s logged in (%d groups)", user, len(groups))
        auth.audit.login(user, sessions.OIDC, address, ok=True)
        response = RedirectResponse("/", status_code=303)
        set_session_cookie(auth, response, session_id)
        _end_flow(auth, response)
        return response

    @routes.post(
        "/auth/cli/exchange",
        response_model=SessionUser,
        responses={401: {"description": "The code logs no one in."}},
    )
    async def exchange(body: CliExchange, request: Request, response: Response) -> Any:
        """The CLI's one-time code for its session; sets the session cookie."""
        address = request.client.host if request.client is not None else ""
        try:
            grant = sso.codes.redeem(body.code, body.state)
        except oidc_tokens.TokenRejectedError as exc:
            log.warning("single sign-on refused: %s", exc.reason)
            auth.audit.login("", sessions.OIDC, address, ok=False, why=exc.reason)
            raise UnauthorizedError(CODE_REFUSED) from None
        session_id = await auth.sessions.login(
            grant.user, None, groups=grant.groups, method=sessions.OIDC
        )
        log.info(
            "single sign-on: %s logged in with the CLI (%d groups)", grant.user, len(grant.groups)
        )
        auth.audit.login(grant.user, sessions.OIDC, address, ok=True)
        set_session_cookie(auth, response, session_id)
        return {"user": grant.user}

    return routes
