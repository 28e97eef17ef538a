"""Project API tokens: signed JWTs bound to one project role, their keys and records. Pure.

A pipeline calls the API with ``Authorization: Bearer <token>``; the token is
issued by ``driftless project token create PROJECT ROLE`` (``cli.project_token``)
and checked by the server (``server.tokens``). Both sides share this module
(the CLI may not import the server), and the I/O is ``pipeline.token_store``.

Token (a JWT, RFC 7519), ES256 (ECDSA P-256) only:

* header ``{"alg": "ES256", "typ": "JWT", "kid": <signing key id>}``;
* claims ``sub`` = ``proj:<project>:<role>`` (Argo CD's convention), ``iss`` =
  ``issuer(namespace)`` (``driftless:<controller namespace>``: one install's
  tokens are not another's), ``aud`` = ``"driftless"``, ``jti`` (the token id
  of its record), ``iat``, and ``exp`` when an expiry was asked for.

An asymmetric algorithm, and only it, is accepted: a token whose header says
``none``, ``HS256`` (the "alg confusion" attack, where the public key would be
used as an HMAC secret) or anything else is refused before its signature is
looked at, and PyJWT is told the one algorithm too.

The table (``TokenTable``), kept in Secret ``deployment.TOKENS_SECRET`` of
the controller's namespace (never the tokens themselves):

* ``keys``: the signing keys, the newest (``retired is None``) signs; a key
  replaced by ``rotate`` keeps verifying until ``verify_until`` (the grace
  period), then is dropped. A grace of 0 drops it at once, which refuses every
  token it signed: the "revoke everything" rotation.
* ``records``: one per issued token (id, project, role, issued, expires,
  revoked, key). Verification needs the token's record, unrevoked, naming the
  same project and role, so a token whose record is gone is refused too (an
  allow list, not only a deny list).

Verification (``verify``) checks, in order: size and shape, header algorithm,
key id known and still valid, signature, audience, issuer, the required
claims, ``exp`` and ``iat`` against ``now`` with ``LEEWAY_SECONDS``, the record.
Every refusal is a ``TokenRefusedError`` whose message is a short reason safe
to log (never the token, never a claim value an attacker chose).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from driftless.core.errors import DriftlessError

__all__ = [
    "ALGORITHM",
    "AUDIENCE",
    "DEFAULT_GRACE_SECONDS",
    "LEEWAY_SECONDS",
    "MAX_RECORDS",
    "MAX_TOKEN",
    "SigningKey",
    "TokenError",
    "TokenRecord",
    "TokenRefusedError",
    "TokenTable",
    "data_of",
    "issue",
    "issuer",
    "new_key",
    "parse_subject",
    "revoke",
    "rotate",
    "subject",
    "table_of",
    "verify",
]

ALGORITHM: Final = "ES256"
AUDIENCE: Final = "driftless"
LEEWAY_SECONDS: Final = 5
MAX_TOKEN: Final = 4096  # a real token is ~400 bytes; anything longer is not ours
MAX_RECORDS: Final = 500
DEFAULT_GRACE_SECONDS: Final = 24 * 3600
KEYS_KEY: Final = "keys.json"
RECORDS_KEY: Final = "tokens.json"
_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_ROLE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_REQUIRED: Final = ["iss", "aud", "sub", "jti", "iat"]


class TokenError(DriftlessError):
    """A token operation the table refuses (unknown id, duplicate id, a bad name)."""


class TokenRefusedError(DriftlessError):
    """A token that must not authenticate; the message is the reason, safe to log."""


@dataclass(frozen=True)
class SigningKey:
    """One ES256 key: its PKCS#8 PEM, when made, and until when it verifies once retired."""

    kid: str
    private_pem: str
    created: int
    retired: int | None = None
    verify_until: int | None = None

    def valid_at(self, now: float) -> bool:
        return self.verify_until is None or now <= self.verify_until


@dataclass(frozen=True)
class TokenRecord:
    """What is kept of an issued token (never the token): who it is for and until when."""

    id: str
    project: str
    role: str
    issued: int
    kid: str
    expires: int | None = None
    revoked: bool = False

    def expired_at(self, now: float) -> bool:
        return self.expires is not None and now > self.expires + LEEWAY_SECONDS


@dataclass(frozen=True)
class TokenTable:
    keys: tuple[SigningKey, ...] = ()
    records: tuple[TokenRecord, ...] = field(default_factory=tuple)

    @property
    def signer(self) -> SigningKey | None:
        """The key that signs new tokens (the one not retired), if any."""
        return next((k for k in self.keys if k.retired is None), None)

    def record(self, token_id: str) -> TokenRecord | None:
        return next((r for r in self.records if r.id == token_id), None)


def issuer(namespace: str) -> str:
    """The ``iss`` of the tokens of the install in ``namespace``."""
    return f"driftless:{namespace}"


def subject(project: str, role: str) -> str:
    return f"proj:{project}:{role}"


def parse_subject(text: str) -> tuple[str, str] | None:
    """``(project, role)`` of ``proj:<project>:<role>``, or ``None``."""
    kind, _, rest = text.partition(":")
    project, _, role = rest.partition(":")
    if kind != "proj" or not _NAME.match(project) or not _ROLE.match(role):
        return None
    return project, role


def check_names(project: str, role: str) -> None:
    """``TokenError`` unless ``project`` is a Kubernetes name and ``role`` a role name."""
    if not _NAME.match(project):
        raise TokenError(f"invalid project name {project!r}")
    if not _ROLE.match(role):
        raise TokenError(f"invalid role name {role!r}: letters, digits, '-', '_', '.'")


def check_id(token_id: str) -> None:
    if not _ID.match(token_id):
        raise TokenError(
            f"invalid token id {token_id!r}: lowercase letters, digits and '-', at most 63"
        )


def new_key(now: int) -> SigningKey:
    """A fresh P-256 key (pure but for the randomness)."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return SigningKey(kid=secrets.token_hex(8), private_pem=pem, created=now)


def issue(
    table: TokenTable,
    *,
    namespace: str,
    project: str,
    role: str,
    now: int,
    expires_in: int | None,
    token_id: str | None = None,
) -> tuple[TokenTable, str, TokenRecord]:
    """Issue a token: the new table (key made on first use, record added), the token, its record.

    Records of tokens that can no longer authenticate (expired, or their key
    dropped) are forgotten first, and revoked ones when ``MAX_RECORDS`` are
    kept; ``TokenError`` for a duplicate id or past ``MAX_RECORDS`` live records.
    """
    check_names(project, role)
    token_id = token_id if token_id is not None else secrets.token_hex(8)
    check_id(token_id)
    if expires_in is not None and expires_in <= 0:
        raise TokenError("--expires-in must be positive")
    table = _pruned(table, now)
    if table.record(token_id) is not None:
        raise TokenError(f"a token with id {token_id!r} exists; pick another --id")
    if len(table.records) >= MAX_RECORDS:  # revoked records are only shown: they go first
        table = replace(table, records=tuple(r for r in table.records if not r.revoked))
    if len(table.records) >= MAX_RECORDS:
        raise TokenError(f"{MAX_RECORDS} tokens exist; revoke some first")
    key = table.signer
    if key is None:
        key = new_key(now)
        table = replace(table, keys=(*table.keys, key))
    expires = now + expires_in if expires_in is not None else None
    claims: dict[str, Any] = {
        "sub": subject(project, role),
        "iss": issuer(namespace),
        "aud": AUDIENCE,
        "jti": token_id,
        "iat": now,
    }
    if expires is not None:
        claims["exp"] = expires
    token = jwt.encode(claims, key.private_pem, algorithm=ALGORITHM, headers={"kid": key.kid})
    record = TokenRecord(token_id, project, role, now, key.kid, expires)
    return replace(table, records=(*table.records, record)), token, record


def revoke(table: TokenTable, token_id: str) -> TokenTable:
    """The table with that token revoked (kept, shown as revoked); ``TokenError`` if unknown."""
    found = table.record(token_id)
    if found is None:
        raise TokenError(f"no token with id {token_id!r}")
    kept = tuple(replace(r, revoked=True) if r.id == token_id else r for r in table.records)
    return replace(table, records=kept)


def rotate(table: TokenTable, *, now: int, grace: int) -> TokenTable:
    """A new signing key; the old one verifies ``grace`` more seconds (0: not at all).

    Keys past their grace are dropped, and the records of their tokens with them.
    """
    if grace < 0:
        raise TokenError("--grace must not be negative")
    # Every earlier key verifies ``grace`` more at most (one already retired may have less).
    old = tuple(
        replace(
            k,
            retired=now if k.retired is None else k.retired,
            verify_until=min(
                now + grace, k.verify_until if k.verify_until is not None else now + grace
            ),
        )
        for k in table.keys
    )
    return _pruned(replace(table, keys=(*old, new_key(now))), now, strict=grace == 0)


def _pruned(table: TokenTable, now: float, *, strict: bool = False) -> TokenTable:
    """Without keys past their grace (``strict``: also those retired now) and dead records."""
    keys = tuple(
        k
        for k in table.keys
        if k.valid_at(now) and not (strict and k.verify_until is not None and k.verify_until <= now)
    )
    kids = {k.kid for k in keys}
    records = tuple(r for r in table.records if r.kid in kids and not r.expired_at(now))
    return TokenTable(keys, records)


def verify(token: str, table: TokenTable, *, namespace: str, now: float) -> TokenRecord:
    """The record of a token that authenticates now; ``TokenRefusedError`` (a reason) otherwise."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise TokenRefusedError("malformed token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRefusedError("malformed token") from None
    if header.get("alg") != ALGORITHM:
        raise TokenRefusedError("algorithm not accepted")
    kid = header.get("kid")
    key = next((k for k in table.keys if k.kid == kid), None) if isinstance(kid, str) else None
    if key is None or not key.valid_at(now):
        raise TokenRefusedError("unknown or retired signing key")
    try:
        claims = jwt.decode(
            token,
            _public_key(key.private_pem),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=issuer(namespace),
            # Times are checked below against the injected clock.
            options={
                "require": _REQUIRED,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenRefusedError("bad signature") from None
    except jwt.InvalidAudienceError:
        raise TokenRefusedError("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise TokenRefusedError("wrong issuer") from None
    except jwt.MissingRequiredClaimError:
        raise TokenRefusedError("a required claim is missing") from None
    except jwt.PyJWTError:
        raise TokenRefusedError("malformed token") from None
    return _record_of(claims, table, now)


def _record_of(claims: Mapping[str, Any], table: TokenTable, now: float) -> TokenRecord:
    iat, exp = claims.get("iat"), claims.get("exp")
    if (
        not isinstance(iat, int | float)
        or not _number(iat)
        or (exp is not None and not _number(exp))
    ):
        raise TokenRefusedError("malformed time claims")
    if exp is not None and now > exp + LEEWAY_SECONDS:
        raise TokenRefusedError("expired")
    if iat > now + LEEWAY_SECONDS:
        raise TokenRefusedError("issued in the future")
    token_id, sub = claims.get("jti"), claims.get("sub")
    record = table.record(token_id) if isinstance(token_id, str) else None
    if record is None:
        raise TokenRefusedError("unknown token")
    if record.revoked:
        raise TokenRefusedError("revoked")
    if sub != subject(record.project, record.role) or exp != record.expires:
        raise TokenRefusedError("claims do not match the token's record")
    if record.expired_at(now):
        raise TokenRefusedError("expired")
    return record


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _public_key(private_pem: str) -> ec.EllipticCurvePublicKey:
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise TokenRefusedError("unknown or retired signing key")
    return private.public_key()


# -- the Secret's data -----------------------------------------------------------------


def table_of(data: Mapping[str, str] | None) -> TokenTable:
    """The table in a Secret's ``data`` (base64 values); entries that do not parse are skipped."""
    data = data or {}
    keys = tuple(k for k in (_key(e) for e in _entries(data, KEYS_KEY)) if k is not None)
    records = tuple(r for r in (_rec(e) for e in _entries(data, RECORDS_KEY)) if r is not None)
    return TokenTable(keys, records)


def data_of(table: TokenTable) -> dict[str, str]:
    """The Secret ``data`` holding ``table`` (inverse of ``table_of``)."""
    keys = [
        _compact(
            {
                "kid": k.kid,
                "privateKey": k.private_pem,
                "created": k.created,
                "retired": k.retired,
                "verifyUntil": k.verify_until,
            }
        )
        for k in table.keys
    ]
    records = [
        _compact(
            {
                "id": r.id,
                "project": r.project,
                "role": r.role,
                "issued": r.issued,
                "expires": r.expires,
                "revoked": r.revoked or None,
                "kid": r.kid,
            }
        )
        for r in table.records
    ]
    return {KEYS_KEY: _b64json(keys), RECORDS_KEY: _b64json(records)}


def _compact(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v is not None}


def _b64json(value: object) -> str:
    return base64.b64encode(json.dumps(value, sort_keys=True).encode()).decode()


def _entries(data: Mapping[str, str], key: str) -> list[dict[str, Any]]:
    raw = data.get(key)
    if not isinstance(raw, str):
        return []
    try:
        value = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return []
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _key(entry: dict[str, Any]) -> SigningKey | None:
    kid, pem, created = entry.get("kid"), entry.get("privateKey"), _int(entry.get("created"))
    if not isinstance(kid, str) or not isinstance(pem, str) or created is None:
        return None
    return SigningKey(kid, pem, created, _int(entry.get("retired")), _int(entry.get("verifyUntil")))


def _rec(entry: dict[str, Any]) -> TokenRecord | None:
    fields = [entry.get(k) for k in ("id", "project", "role", "kid")]
    issued = _int(entry.get("issued"))
    if not all(isinstance(f, str) for f in fields) or issued is None:
        return None
    token_id, project, role, kid = (str(f) for f in fields)
    return TokenRecord(
        token_id,
        project,
        role,
        issued,
        kid,
        _int(entry.get("expires")),
        entry.get("revoked") is True,
    )
