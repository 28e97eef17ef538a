"""One OpenID Connect login's values, and checking its ID token. Pure (no I/O).

``pkce()`` makes a code verifier and its S256 challenge (RFC 7636).
``PendingLogins`` remembers the logins a browser started (``state`` ->
nonce, verifier, a digest of the browser's flow cookie) for ``FLOW_SECONDS``;
``finish`` takes one out, so a ``state`` answers once: a replayed, unknown,
expired one, or one arriving with another browser's cookie, is ``None``.
At most ``MAX_PENDING`` are kept, and at most ``MAX_PENDING_PER_ADDRESS`` of
one client address: an address starting more pushes out its own oldest, so
an anonymous flood from one address cannot push out other people's logins
(behind a reverse proxy its address is everyone's: the global bound only).

``verify(token, key, ...)`` checks an ID token with PyJWT (never by hand):
the signature with ``key`` (from the provider's JWKS) under an asymmetric
algorithm only (``none`` and the HMAC family are refused: an HMAC "signed"
with a public key is a classic forgery), ``iss``, ``aud`` (and ``azp`` when
there are several audiences), ``exp``/``iat`` with ``LEEWAY_SECONDS`` of
clock skew, and ``nonce``. A refusal raises ``TokenRejectedError`` whose
``reason`` is one fixed phrase: never a claim, never the token.

A login the CLI started (``driftless login SERVER --sso``) carries a
``CliLogin`` (the loopback port the CLI listens on, and the CLI's own state).
Its callback makes no browser session: ``CliCodes.issue`` gives a one-time
code for what the login proved (user, groups), bound to the CLI's state and
good for ``CLI_CODE_SECONDS``; ``CliCodes.redeem`` takes it out once -- a
replayed, unknown, expired code, or one shown with another state, is refused
(and a code shown with the wrong state is spent all the same: no retries).
Only a digest of each code is kept.

``identity(claims, ...)`` reads the user (the configured claim, else ``sub``;
when that claim is ``email``, only with ``email_verified`` true: an address
the provider did not verify may be anyone's, so such a token is refused)
and the groups (a list of strings, or one string), sorted, within what a
session holds (``sessions.MAX_GROUPS``, ``MAX_GROUP_LENGTH``,
``MAX_GROUPS_TEXT``), and how many it left out: a user then has fewer rights,
never more, and the server logs the count.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jwt

from driftless.server.sessions import MAX_GROUP_LENGTH, MAX_GROUPS, MAX_GROUPS_TEXT

__all__ = [
    "ALGORITHMS",
    "CLI_CODE_SECONDS",
    "CLI_STATE",
    "FLOW_SECONDS",
    "MAX_PENDING_PER_ADDRESS",
    "CliCodes",
    "CliLogin",
    "Grant",
    "Pending",
    "PendingLogins",
    "TokenRejectedError",
    "identity",
    "pkce",
    "verify",
]

#: Asymmetric JWS algorithms only (what providers sign ID tokens with).
ALGORITHMS: Final = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "EdDSA",
)
LEEWAY_SECONDS: Final = 60
FLOW_SECONDS: Final = 600.0
MAX_PENDING: Final = 1000
MAX_PENDING_PER_ADDRESS: Final = 100  # a tenth: behind a proxy, many users share one
CLI_CODE_SECONDS: Final = 60.0
#: The CLI's state: URL-safe, long enough to be unguessable, short enough to bound.
CLI_STATE: Final = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_MAX_TOKEN = 16 * 1024


class TokenRejectedError(Exception):
    """An ID token (or a login's answer) that must not log anyone in; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce() -> tuple[str, str]:
    """A fresh code verifier (86 characters) and its S256 code challenge."""
    verifier = secrets.token_urlsafe(64)
    return verifier, _b64url(hashlib.sha256(verifier.encode()).digest())


@dataclass(frozen=True)
class CliLogin:
    """The CLI's half of a login: where it listens (a loopback port) and its state."""

    port: int
    state: str


@dataclass(frozen=True)
class Pending:
    """A login a browser started: what its answer must match."""

    nonce: str
    verifier: str
    browser: str  # SHA-256 of the flow cookie's value
    started: float
    cli: CliLogin | None = None
    address: str = ""  # the client's, which started it


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class PendingLogins:
    """The logins started and not finished yet (in memory, at most ``MAX_PENDING``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pending: dict[str, Pending] = {}

    def start(self, cli: CliLogin | None = None, *, address: str = "") -> tuple[str, str, str, str]:
        """A new login (``cli``: the CLI's) from the client ``address``:
        ``(state, nonce, code_challenge, browser_cookie)``."""
        now = self._clock()
        for state in [s for s, p in self._pending.items() if now - p.started > FLOW_SECONDS]:
            del self._pending[state]
        # Dicts keep insertion order: oldest first.
        mine = [s for s, p in self._pending.items() if p.address == address]
        for state in mine[: max(0, len(mine) - MAX_PENDING_PER_ADDRESS + 1)]:
            del self._pending[state]
        while len(self._pending) >= MAX_PENDING:
            del self._pending[next(iter(self._pending))]
        state, nonce, browser = (secrets.token_urlsafe(32) for _ in range(3))
        verifier, challenge = pkce()
        self._pending[state] = Pending(nonce, verifier, _digest(browser), now, cli, address)
        return state, nonce, challenge, browser

    def finish(self, state: str | None, browser: str | None) -> Pending:
        """Pop the login of ``state``: ``TokenRejectedError`` unless live and this browser's."""
        if not state or not browser:
            raise TokenRejectedError("the login's state or its cookie is missing")
        pending = self._pending.pop(state, None)
        if pending is None:
            raise TokenRejectedError("unknown, replayed or expired login state")
        if self._clock() - pending.started > FLOW_SECONDS:
            raise TokenRejectedError("unknown, replayed or expired login state")
        if not hmac.compare_digest(pending.browser, _digest(browser)):
            raise TokenRejectedError("the login was started by another browser")
        return pending

    def __len__(self) -> int:
        return len(self._pending)


@dataclass(frozen=True)
class Grant:
    """What a CLI login's one-time code stands for."""

    user: str
    groups: tuple[str, ...]
    state: str  # the CLI's
    issued: float


class CliCodes:
    """The one-time codes of CLI logins not redeemed yet (in memory, at most ``MAX_PENDING``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._grants: dict[str, Grant] = {}  # SHA-256 of the code -> grant

    def issue(self, user: str, groups: tuple[str, ...], state: str) -> str:
        """A fresh code for ``user`` and ``groups``, redeemable once with ``state``."""
        now = self._clock()
        for key in [k for k, g in self._grants.items() if now - g.issued > CLI_CODE_SECONDS]:
            del self._grants[key]
        while len(self._grants) >= MAX_PENDING:  # oldest first
            del self._grants[next(iter(self._grants))]
        code = secrets.token_urlsafe(32)
        self._grants[_digest(code)] = Grant(user, groups, state, now)
        return code

    def redeem(self, code: str, state: str) -> Grant:
        """Take the code's grant out: ``TokenRejectedError`` unless live and ``state``'s."""
        grant = self._grants.pop(_digest(code), None)
        if grant is None or self._clock() - grant.issued > CLI_CODE_SECONDS:
            raise TokenRejectedError("unknown, replayed or expired CLI login code")
        if not hmac.compare_digest(grant.state.encode(), state.encode()):
            raise TokenRejectedError("the CLI login code is another login's")
        return grant

    def __len__(self) -> int:
        return len(self._grants)


def verify(
    token: str, key: Any, *, issuer: str, client_id: str, nonce: str, leeway: float = LEEWAY_SECONDS
) -> dict[str, Any]:
    """The claims of a valid ID token (see the module docstring), or ``TokenRejectedError``.

    ``key``: a ``jwt.PyJWK`` or a public key object of the provider.
    """
    if len(token) > _MAX_TOKEN:
        raise TokenRejectedError("the ID token is too large")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenRejectedError("the ID token is malformed") from None
    if header.get("alg") not in ALGORITHMS:
        raise TokenRejectedError("the ID token's signing algorithm is not accepted")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(ALGORITHMS),
            audience=client_id,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejectedError("the ID token has expired") from None
    except jwt.InvalidAudienceError:
        raise TokenRejectedError("the ID token is for another client (audience)") from None
    except jwt.InvalidIssuerError:
        raise TokenRejectedError("the ID token is from another issuer") from None
    except jwt.InvalidSignatureError:
        raise TokenRejectedError("the ID token's signature does not verify") from None
    except jwt.ImmatureSignatureError:
        raise TokenRejectedError("the ID token is not valid yet") from None
    except jwt.MissingRequiredClaimError:
        raise TokenRejectedError("the ID token lacks a required claim") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise TokenRejectedError("the ID token does not verify") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise TokenRejectedError("the ID token is for another client (azp)")
    found = claims.get("nonce")
    if not isinstance(found, str) or not hmac.compare_digest(found, nonce):
        raise TokenRejectedError("the ID token's nonce is not this login's")
    return claims


def identity(
    claims: Mapping[str, Any], *, username_claim: str, groups_claim: str
) -> tuple[str, tuple[str, ...], int]:
    """The user name, groups and the count of groups left out (see the module docstring).

    ``TokenRejectedError`` when the user is named by an ``email`` the provider
    has not verified (``email_verified`` not ``true``).
    """
    if username_claim == "email" and claims.get("email_verified") is not True:
        raise TokenRejectedError("the provider has not verified the user's email (email_verified)")
    name = claims.get(username_claim)
    user = name if isinstance(name, str) and name else str(claims["sub"])
    raw = claims.get(groups_claim, [])
    listed = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    named = sorted({g for g in listed if isinstance(g, str) and g})
    kept: list[str] = []
    text = 0
    for group in named:
        fits = len(group) <= MAX_GROUP_LENGTH and text + len(group) <= MAX_GROUPS_TEXT
        if fits and len(kept) < MAX_GROUPS:
            kept.append(group)
            text += len(group)
    return user, tuple(kept), len(named) - len(kept)
