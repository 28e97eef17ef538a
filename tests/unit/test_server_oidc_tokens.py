"""ID token checks and login state, against keys made here: each hostile case is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from driftless.devcluster import gobuild, versions
from driftless.server import sessions
from driftless.server.oidc_tokens import (
    MAX_PENDING,
    MAX_PENDING_PER_ADDRESS,
    PendingLogins,
    TokenRejectedError,
    identity,
    pkce,
    verify,
)

ISSUER = "https://id.example.test/"
CLIENT = "driftless"
NONCE = "n-0S6_WzA2Mj"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        "email": "alice@example.test",
        "email_verified": True,
        "groups": ["team-a"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: Any = KEY, alg: str = "RS256", **changes: Any) -> str:
    return jwt.encode(_claims(**changes), key, algorithm=alg, headers={"kid": "k1"})


def _check(token: str, key: Any = None) -> dict[str, Any]:
    return verify(token, key or KEY.public_key(), issuer=ISSUER, client_id=CLIENT, nonce=NONCE)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_token_gives_its_claims() -> None:
    claims = _check(_token())
    assert (claims["sub"], claims["groups"]) == ("alice", ["team-a"])
    assert _check(_token(aud=[CLIENT, "other"], azp=CLIENT))["sub"] == "alice"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: _token(key=OTHER_KEY), "signature does not verify"),
        (lambda: _token(exp=int(time.time()) - 3600), "has expired"),
        (lambda: _token(aud="someone-else"), "another client (audience)"),
        (lambda: _token(aud=[CLIENT, "other"]), "another client (azp)"),
        (lambda: _token(iss="https://evil.example.test/"), "another issuer"),
        (lambda: _token(nonce="another-login"), "nonce is not this login's"),
        (lambda: _token(nonce=None), "nonce is not this login's"),
        (lambda: _token(exp=None), "lacks a required claim"),
        (lambda: _token(iat=int(time.time()) + 3600), "not valid yet"),
        (lambda: _b64({"alg": "none"}) + "." + _b64(_claims()) + ".", "algorithm"),
        # HMAC "signed" with the public key's PEM: the classic confusion forgery.
        (lambda: _token(key=b"x" * 64, alg="HS256"), "algorithm"),
        (lambda: "not.a.token", "malformed"),
        (lambda: _token()[:-4] + "AAAA", "signature does not verify"),
    ],
)
def test_hostile_tokens_are_refused_with_a_fixed_reason(token: Any, reason: str) -> None:
    made = token()
    with pytest.raises(TokenRejectedError) as caught:
        _check(made)
    assert reason in caught.value.reason
    assert made not in caught.value.reason and "alice" not in caught.value.reason


def test_a_rotated_key_verifies_with_the_jwk_of_its_kid() -> None:
    jwk = jwt.PyJWK.from_dict(
        json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(OTHER_KEY.public_key())) | {"alg": "RS256"}
    )
    assert _check(_token(key=OTHER_KEY), key=jwk)["sub"] == "alice"
    with pytest.raises(TokenRejectedError):
        _check(_token(), key=jwk)


def test_identity_reads_the_user_and_bounded_groups() -> None:
    def read(claims: dict[str, Any], user: str = "email") -> tuple[str, tuple[str, ...], int]:
        return identity(claims, username_claim=user, groups_claim="groups")

    assert read(_claims()) == ("alice@example.test", ("team-a",), 0)
    assert read(_claims(email=None))[0] == "alice"
    assert read(_claims(groups="ops"))[1] == ("ops",)
    assert identity(_claims(), username_claim="sub", groups_claim="roles")[1:] == ((), 0)
    many = [f"g{i:03}" for i in range(100)] + ["x" * 500, 7]
    _, groups, left_out = read(_claims(groups=many), "sub")
    assert len(groups) == sessions.MAX_GROUPS and all(len(g) == 4 for g in groups)
    assert left_out == 101 - sessions.MAX_GROUPS
    long_names = [f"{i:02}" + "y" * 100 for i in range(10)]
    _, groups, left_out = read(_claims(groups=long_names), "sub")
    assert sum(map(len, groups)) <= sessions.MAX_GROUPS_TEXT and len(groups) + left_out == 10
    session = sessions.Session("u" * 253, 1.0, 2.0, "", groups=groups, method=sessions.OIDC)
    assert sessions.decode(sessions.encode(session)) == session  # fits a stored value


@pytest.mark.parametrize("verified", [None, False, "true", 1])
def test_an_email_the_provider_did_not_verify_names_no_user(verified: object) -> None:
    with pytest.raises(TokenRejectedError) as refused:
        identity(_claims(email_verified=verified), username_claim="email", groups_claim="groups")
    assert "email_verified" in refused.value.reason
    assert "alice" not in refused.value.reason
    # Another username claim does not need it.
    claims = _claims(email_verified=verified)
    assert identity(claims, username_claim="sub", groups_claim="groups")[0] == "alice"


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    verifier, challenge = pkce()
    assert 43 <= len(verifier) <= 128
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_login_state_answers_once_for_its_browser_until_it_expires() -> None:
    now = [0.0]
    pending = PendingLogins(clock=lambda: now[0])
    state, nonce, _, browser = pending.start()
    with pytest.raises(TokenRejectedError, match="another browser"):
        pending.finish(state, "another-browser-cookie")
    state, nonce, _, browser = pending.start()
    assert pending.finish(state, browser).nonce == nonce
    with pytest.raises(TokenRejectedError, match="replayed"):
        pending.finish(state, browser)
    for missing in [(None, browser), (state, None), ("", "")]:
        with pytest.raises(TokenRejectedError, match="missing"):
            pending.finish(*missing)
    state, _, _, browser = pending.start()
    now[0] = 601.0
    with pytest.raises(TokenRejectedError, match="expired"):
        pending.finish(state, browser)


def test_a_flood_of_login_starts_from_one_address_pushes_out_only_its_own() -> None:
    pending = PendingLogins()
    real = [pending.start(address="192.0.2.1") for _ in range(3)]
    flood = [pending.start(address="198.51.100.9") for _ in range(2 * MAX_PENDING)]
    for state, nonce, _, browser in real:  # the real logins still finish
        assert pending.finish(state, browser).nonce == nonce
    assert len(pending) == MAX_PENDING_PER_ADDRESS
    state, nonce, _, browser = flood[-1]  # the flood's newest are its own
    assert pending.finish(state, browser).nonce == nonce
    state, _, _, browser = flood[-MAX_PENDING_PER_ADDRESS - 1]
    with pytest.raises(TokenRejectedError, match="expired"):
        pending.finish(state, browser)


def test_sso_sessions_carry_groups_and_survive_a_new_admin_password() -> None:
    table = sessions.Sessions(3600)
    local = table.create("admin", "fp-1")
    sso = table.create("alice@example.test", groups=("team-a",), method=sessions.OIDC)
    found = table.session(sso)
    assert found is not None and (found.groups, found.method) == (("team-a",), sessions.OIDC)
    table.create("admin", "fp-2")  # a new password: local sessions end, SSO ones do not
    assert table.user(local) is None and table.user(sso) == "alice@example.test"
    stored = sessions.decode(sessions.encode(found))
    assert stored is not None and (stored.user, stored.groups, stored.method) == (
        "alice@example.test",
        ("team-a",),
        sessions.OIDC,
    )
    assert sessions.decode(sessions.encode(sessions.Session("a", 1, 2, "p"))) == sessions.Session(
        "a", 1, 2, "p"
    )


def test_a_stored_session_with_hostile_groups_is_left_out() -> None:
    def stored(**extra: Any) -> str:
        body = {"user": "a", "created": 1, "expires": 2, "password": "", **extra}
        return base64.b64encode(json.dumps(body).encode()).decode()

    assert sessions.decode(stored(method="oidc", groups=["ok"])) is not None
    for hostile in [
        {"method": "root"},
        {"method": "oidc", "groups": "team-a"},
        {"method": "oidc", "groups": [1]},
        {"method": "oidc", "groups": ["g"] * (sessions.MAX_GROUPS + 1)},
        {"method": "oidc", "groups": ["z" * 100] * 4},  # beyond MAX_GROUPS_TEXT
    ]:
        assert sessions.decode(stored(**hostile)) is None


def test_the_provider_main_matches_its_pinned_digest() -> None:
    component = versions.OIDC_PROVIDER
    assert component.source is not None
    source = Path(gobuild.SOURCE_DIR / component.source).read_bytes()
    assert hashlib.sha256(source).hexdigest()[:12] == component.source_digest
    assert component.filename == f"oidc-provider-v3.52.0-{component.source_digest}"
