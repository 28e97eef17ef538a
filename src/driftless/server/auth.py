"""Local login: the ``admin`` account, its password hash, and server-side sessions.

The account (like Argo CD's): at its first start the server makes a random
initial password, stores only its scrypt hash in Secret ``driftless-admin``
(key ``password-hash``) of the controller's namespace, and the password
itself in Secret ``driftless-initial-admin`` (key ``password``) for the
administrator to read once (``kubectl get secret ...``) and delete. An
installed server may not create Secrets: ``install --with-server`` makes
both empty and the server patches them (``AdminAccount.ensure``). A hash
put in ``driftless-admin`` by hand replaces the password: the Secret is read
at every login.

Hash string (``hash_password``/``verify_password``, pure): scrypt with its
parameters in the string, ``$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<key>``
(unpadded base64; a 32-byte key). Parameters read from a Secret are bounded, so a hostile
hash cannot make a login take the server's memory or minutes of CPU; a
malformed one verifies nothing.

Sessions (``sessions.Sessions``): a random opaque id (256 bits) in cookie
``driftless_session`` (HttpOnly, SameSite=Strict, Path=/; when browsers come
over HTTPS -- TLS of the server's own or ``--secure-cookies`` behind an
ingress -- ``Secure`` and named ``__Host-driftless_session``), mapped to the
user and an expiry in Secret ``driftless-sessions`` (by the id's SHA-256
only), so a restart or another replica keeps them. Logging out forgets the
id, so the old cookie is refused from then on; so is an expired one, and
every session made under an earlier password. At most
``sessions.MAX_SESSIONS`` live; the oldest go first.

Routes (``router``): ``POST /api/v1/session`` ``{"username", "password"}``
-> 200 ``{"user"}`` and the cookie, or 401 (same message for a wrong user and
a wrong password), 429 with ``Retry-After`` after ``throttle.LIMIT`` failures
of the client's address in a minute or ``throttle.USER_LIMIT`` of the account
from anywhere (``throttle.LoginThrottle``: its trusted addresses), each attempt
in the audit trail (``server.audit``), 503 when too many logins already wait
for the hash (``MAX_WAITING``); the admin Secret is read inside that bound;
``GET /api/v1/session`` -> ``{"user", "groups", "method", "methods"}`` or
401; ``GET /api/v1/auth/methods`` (public) -> ``{"methods"}``: how one may log
in, ``"local"`` (this account; off with ``--no-local-admin``, then the password
login is 404) and ``"oidc"`` (single sign-on, ``server.oidc``);
``DELETE /api/v1/session`` -> 204, cookie cleared (a single sign-on session:
200 ``{"endSessionUrl"}``, the provider's logout page, when it has one).
``guard(auth)`` is the dependency every other ``/api/v1`` route has: 401
without a live session (with auth off -- ``--insecure-no-auth`` -- everyone
is ``admin``); a request with ``Authorization: Bearer <project API token>``
is that token's project role instead (``server.tokens``: subject
``proj:<project>:<role>``, method ``token``; an invalid token is 401, never
a fallback to the cookie); it leaves ``request.state.principal``, a ``Principal`` (who,
their groups, how they logged in), for authorization. The hash, the password
and session ids are never in a response body or a log.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPBearer
from pydantic import BaseModel, Field

from driftless.core import deployment
from driftless.kube.client import (
    KubeClient,
    KubeConflictError,
    KubeInvalidError,
    KubeNotFoundError,
)
from driftless.server import settings, tokens
from driftless.server.audit import Audit
from driftless.server.errors import NotFoundError, UnauthorizedError, UnavailableError
from driftless.server.sessions import LOCAL, OIDC, Sessions, SessionSecret, fingerprint
from driftless.server.throttle import LoginThrottle

__all__ = [
    "ADMIN_SECRET",
    "ADMIN_USER",
    "COOKIE",
    "INITIAL_SECRET",
    "AdminAccount",
    "Auth",
    "Principal",
    "Sessions",
    "for_server",
    "guard",
    "hash_password",
    "router",
    "set_session_cookie",
    "verify_password",
]

log = logging.getLogger(__name__)

ADMIN_USER = "admin"
ADMIN_SECRET = deployment.ADMIN_SECRET
HASH_KEY = "password-hash"
INITIAL_SECRET = deployment.INITIAL_ADMIN_SECRET
INITIAL_KEY = "password"
COOKIE = settings.COOKIE
VERIFYING = 2  # scrypt is CPU and memory: bound concurrent logins
MAX_WAITING = 8  # beyond, a login is refused at once (503) rather than queued
WRONG = "wrong username or password"
NO_SESSION = "not logged in (or the session ended): log in again"

# scrypt: N=2^14, r=8 (16 MiB, tens of ms): the interactive-login figures of
# the scrypt paper; bounds for what a Secret may ask.
LOG2_N, BLOCK_SIZE, PARALLEL = 14, 8, 1
_BOUNDS = {"ln": (10, 20), "r": (1, 16), "p": (1, 4)}
_HASH = re.compile(
    r"^\$scrypt\$ln=(?P<ln>\d{1,2}),r=(?P<r>\d{1,2}),p=(?P<p>\d)"
    r"\$(?P<salt>[A-Za-z0-9+/]{11,88})\$(?P<key>[A-Za-z0-9+/]{43})$"
)
_MAX_PASSWORD = 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, ln: int, r: int, p: int, length: int) -> bytes:
    n = 1 << ln
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * n * r * p
    )


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The hash string of ``password`` (a fresh random salt unless given). Pure but for the salt."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = _scrypt(password, salt, LOG2_N, BLOCK_SIZE, PARALLEL, 32)
    return f"$scrypt$ln={LOG2_N},r={BLOCK_SIZE},p={PARALLEL}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` has the hash ``encoded``; ``False`` for a malformed hash."""
    match = _HASH.match(encoded.strip())
    if match is None or len(password) > _MAX_PASSWORD:
        return False
    params = {k: int(match.group(k)) for k in _BOUNDS}
    if any(not lo <= params[k] <= hi for k, (lo, hi) in _BOUNDS.items()):
        return False
    try:
        salt, expected = _unb64(match.group("salt")), _unb64(match.group("key"))
        actual = _scrypt(password, salt, params["ln"], params["r"], params["p"], len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


class AdminAccount:
    """The ``admin`` account's Secrets in the controller's namespace."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self._verifying = asyncio.Semaphore(VERIFYING)
        self._queued = 0

    async def ensure(self) -> bool:
        """Make the account with a random initial password unless it exists; ``True`` if made.

        ``install --with-server`` makes the Secrets empty (the server may
        not create Secrets): an admin Secret without ``password-hash`` is no
        account, and the hash is patched in, guarded by the Secret's
        ``resourceVersion`` (of two servers, one writes it). A missing Secret
        is created (a server run with an administrator's kubeconfig). Raises
        the client's errors (a missing namespace: ``KubeNotFoundError``).
        """
        secret = await self.client.get("v1", "Secret", ADMIN_SECRET, self.namespace)
        data = (secret or {}).get("data") or {}
        if HASH_KEY in data:
            return False  # an account (even a malformed hash put by hand is never overwritten)
        password = secrets.token_urlsafe(18)
        hashed = await asyncio.to_thread(hash_password, password)
        try:
            if secret is None:
                await self.client.create(_secret(self.namespace, ADMIN_SECRET, HASH_KEY, hashed))
            else:
                version = secret["metadata"]["resourceVersion"]
                guarded = [
                    {"op": "test", "path": "/metadata/resourceVersion", "value": version},
                    {"op": "add", "path": "/data", "value": {**data, HASH_KEY: _b64text(hashed)}},
                ]
                await self.client.json_patch(
                    "v1", "Secret", ADMIN_SECRET, guarded, namespace=self.namespace
                )
        except (KubeConflictError, KubeInvalidError):
            return False  # another server made it first
        # An old initial password is overwritten, or it would not log in.
        initial = {"data": {INITIAL_KEY: _b64text(password)}}
        try:
            await self.client.merge_patch(
                "v1", "Secret", INITIAL_SECRET, initial, namespace=self.namespace
            )
        except KubeNotFoundError:
            await self.client.create(_secret(self.namespace, INITIAL_SECRET, INITIAL_KEY, password))
        log.info(
            "created the admin account; its initial password is in Secret %s/%s",
            self.namespace,
            INITIAL_SECRET,
        )
        return True

    async def verify(self, username: str, password: str) -> bool:
        """Whether the credentials are the admin's (see ``check``)."""
        return await self.check(username, password) is not None

    async def check(self, username: str, password: str) -> str | None:
        """The password hash the credentials verified against, or ``None`` when they are wrong.

        At most ``VERIFYING`` logins read the Secret and hash at once; with
        ``MAX_WAITING`` more already queued, ``UnavailableError`` (503).
        """
        if username != ADMIN_USER or not password:
            return None
        if self._queued >= VERIFYING + MAX_WAITING:
            raise UnavailableError("too many logins at once; try again in a few seconds")
        self._queued += 1
        try:
            async with self._verifying:
                hashed = await self._hash()
                if hashed is None:
                    return None
                right = await asyncio.to_thread(verify_password, password, hashed)
                return hashed if right else None
        finally:
            self._queued -= 1

    async def password_hash(self) -> str | None:
        """The current hash in the admin Secret (``None``: no account)."""
        return await self._hash()

    async def _hash(self) -> str | None:
        secret = await self.client.get("v1", "Secret", ADMIN_SECRET, self.namespace)
        if secret is None:
            return None
        value = (secret.get("data") or {}).get(HASH_KEY)
        if not isinstance(value, str):
            return None
        try:
            return base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            return None


def _secret(namespace: str, name: str, key: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "driftless"},
        },
        "type": "Opaque",
        "data": {key: _b64text(value)},
    }


def _b64text(value: str) -> str:
    """A Secret data value: base64 of ``value``'s UTF-8."""
    return base64.b64encode(value.encode()).decode()


@dataclass(frozen=True)
class Principal:
    """Who a request is: the user, their groups (single sign-on), how they logged in.

    ``method``: ``sessions.LOCAL``, ``sessions.OIDC``, ``tokens.METHOD`` (an API token;
    ``token`` is then its record id, for the audit trail), or ``"none"`` (auth off).
    """

    subject: str
    groups: tuple[str, ...]
    method: str
    token: str = ""


@dataclass
class Auth:
    """What login needs: on or off, the account, the sessions, the cookie's Secure flag.

    ``local``: the ``admin`` account logs in; ``end_session``: the single
    sign-on provider's logout URL, when single sign-on is set up.
    """

    enabled: bool
    account: AdminAccount
    sessions: Sessions
    secure_cookies: bool
    throttle: LoginThrottle = field(default_factory=lambda: LoginThrottle({ADMIN_USER}))
    local: bool = True
    end_session: Callable[[], Awaitable[str | None]] | None = None
    # Project API tokens (``Authorization: Bearer``); ``None``: every bearer is refused.
    tokens: tokens.BearerTokens | None = None
    audit: Audit = field(default_factory=lambda: Audit(None, ""))

    @property
    def methods(self) -> list[str]:
        """How one may log in: ``local`` and/or ``oidc``."""
        return [m for m, on in (("local", self.local), ("oidc", self.end_session)) if on]

    @property
    def cookie(self) -> str:
        """The session cookie's name: ``__Host-`` prefixed when it is ``Secure``."""
        return settings.SECURE_COOKIE if self.secure_cookies else settings.COOKIE

    async def run(self) -> None:
        """Keep the sessions current with their Secret until cancelled (nothing with auth off)."""
        if self.enabled:
            runs = [self.sessions.run()] + ([self.tokens.run()] if self.tokens else [])
            await asyncio.gather(*runs)


def for_server(
    config: settings.ServerSettings,
    client: KubeClient,
    projects: Callable[[], list[dict[str, Any]]] = list,
    app_of: Callable[[str, str], dict[str, Any] | None] = lambda namespace, name: None,
) -> Auth:
    """The login of a server: the admin account and the sessions in its namespace's Secrets,
    the API tokens (whose roles ``projects`` -- the Projects now -- must still declare),
    the audit trail (``app_of``: an Application from the cache, whose uid its Events name)."""
    account = AdminAccount(client, config.controller_namespace)
    # Without the local account no password session is good, whatever its Secret says.
    hashed = account.password_hash if config.local_admin else _no_account
    store = SessionSecret(client, config.controller_namespace, hashed)
    return Auth(
        enabled=config.auth,
        account=account,
        sessions=Sessions(config.session_seconds, store=store if config.auth else None),
        secure_cookies=config.secure_cookies,
        local=config.local_admin,
        tokens=tokens.BearerTokens(client, config.controller_namespace, projects),
        audit=Audit(client, config.controller_namespace, app_of=app_of),
    )


async def _no_account() -> str | None:
    return None


def set_session_cookie(auth: Auth, response: Response, session_id: str) -> None:
    """Give the browser its session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS)."""
    response.set_cookie(
        auth.cookie,
        session_id,
        max_age=int(auth.sessions.ttl),
        path="/",
        httponly=True,
        samesite="strict",
        secure=auth.secure_cookies,
    )


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=253)
    password: str = Field(min_length=1, max_length=_MAX_PASSWORD)


class SessionUser(BaseModel):
    user: str


class SessionInfo(BaseModel):
    user: str
    groups: list[str]
    method: str
    methods: list[str]


class LoginMethods(BaseModel):
    methods: list[str]


class LoggedOut(BaseModel):
    endSessionUrl: str  # noqa: N815 -- the API's JSON is camelCase


def _session_id(request: Request) -> str | None:
    if hasattr(request.state, "session_id"):
        return cast(str | None, request.state.session_id)
    return request.cookies.get(COOKIE)


# The session id of the request's cookie as ``guard`` (which knows the
# cookie's name) read it; where no guard ran, the plain-named cookie's.
SessionCookie = Annotated[str | None, Depends(_session_id)]
_401: dict[int | str, dict[str, Any]] = {401: {"description": "Not logged in."}}
_LOGIN: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong username or password."},
    429: {"description": "Too many failed logins from this address (see Retry-After)."},
    503: {"description": "Too many logins at once."},
}


class TooManyError(UnavailableError):
    """429: this address failed to log in too often (``Retry-After`` says how long to wait)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, status=429, retry_after=retry_after)


def guard(auth: Auth) -> Callable[..., str]:
    """The dependency of protected routes: the session's user, or 401."""

    # Declared as a security scheme so the OpenAPI document says which
    # operations need the cookie (and, from that, lists their 401).
    cookie = APIKeyCookie(
        name=auth.cookie, auto_error=False, description="The session cookie set by POST /session."
    )
    # The other way in (either one): documented here, checked in ``current_user``.
    bearer = HTTPBearer(
        scheme_name="ApiToken",
        auto_error=False,
        description="A project API token (driftless project token create PROJECT ROLE).",
    )

    async def fresh(
        session: str | None = Depends(cookie), _token: object = Depends(bearer)
    ) -> str | None:
        # An id made a moment ago by another replica: re-read the sessions (bounded).
        await auth.sessions.ensure(session)
        return session

    # A default, not ``Annotated``: a local name is not seen by FastAPI's string annotations.
    from_cookie = Depends(fresh)

    def current_user(request: Request, session: str | None = from_cookie) -> str:
        request.state.session_id = session
        bearer = request.headers.get("authorization")
        if not auth.enabled:
            principal = Principal(ADMIN_USER, (), "none")
        elif bearer is not None:  # a pipeline's token; never mixed with the cookie
            if auth.tokens is None:
                raise UnauthorizedError(tokens.REFUSED)
            subject, method, token_id = auth.tokens.principal(bearer)
            principal = Principal(subject, (), method, token_id)
        else:
            found = auth.sessions.session(session)
            if found is None:
                raise UnauthorizedError(NO_SESSION)
            principal = Principal(found.user, found.groups, found.method)
        request.state.user = principal.subject
        request.state.principal = principal
        return principal.subject

    return current_user


def router(auth: Auth) -> APIRouter:
    routes = APIRouter(tags=["session"])
    current_user = guard(auth)

    @routes.post("/session", response_model=SessionUser, responses=_LOGIN)
    async def login(credentials: Credentials, request: Request, response: Response) -> Any:
        """Log in; sets the session cookie."""
        if not auth.enabled:
            return {"user": ADMIN_USER}
        if not auth.local:
            raise NotFoundError("password login is turned off: log in with single sign-on")
        address = request.client.host if request.client is not None else ""
        user = credentials.username
        wait = auth.throttle.retry_after(address, user)
        if wait is not None:
            auth.audit.login(user, LOCAL, address, ok=False, why="throttled")
            raise TooManyError(f"too many failed logins; try again in {wait} s", retry_after=wait)
        hashed = await auth.account.check(user, credentials.password)
        if hashed is None:
            auth.throttle.failed(address, user)
            auth.audit.login(user, LOCAL, address, ok=False, why="wrong username or password")
            raise UnauthorizedError(WRONG)
        auth.throttle.succeeded(address, user)
        auth.audit.login(user, LOCAL, address, ok=True)
        session_id = await auth.sessions.login(credentials.username, fingerprint(hashed))
        set_session_cookie(auth, response, session_id)
        return {"user": credentials.username}

    @routes.get("/session", response_model=SessionInfo, responses=_401)
    async def whoami(request: Request) -> Any:
        """Who is logged in, their groups, how, and how one may log in."""
        session = request.cookies.get(auth.cookie)
        await auth.sessions.ensure(session)
        current_user(request, session)
        principal: Principal = request.state.principal
        return {
            "user": principal.subject,
            "groups": list(principal.groups),
            "method": principal.method,
            "methods": auth.methods,
        }

    @routes.get("/auth/methods", response_model=LoginMethods)
    async def methods() -> Any:
        """How one may log in (no session needed): ``local`` and/or ``oidc``."""
        return {"methods": auth.methods}

    @routes.delete(
        "/session",
        status_code=204,
        response_model=None,
        responses={200: {"model": LoggedOut, "description": "Also log out at the provider."}},
    )
    async def logout(request: Request) -> Response:
        """End the session: its cookie is refused from now on."""
        session_id = request.cookies.get(auth.cookie)
        ended = auth.sessions.session(session_id)
        await auth.sessions.logout(session_id)
        response = Response(status_code=204)
        if ended is not None and ended.method == OIDC and auth.end_session is not None:
            url = await auth.end_session()
            if url is not None:
                response = JSONResponse({"endSessionUrl": url})
        response.delete_cookie(
            auth.cookie, path="/", httponly=True, samesite="strict", secure=auth.secure_cookies
        )
        return response

    return routes
