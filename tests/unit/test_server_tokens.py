"""Project API tokens (``pipeline.tokens``, ``server.tokens``): issue, verify, revoke, rotate;
every hostile token; the server's bearer check."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import replace
from typing import cast

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from driftless.kube.client import KubeClient
from driftless.pipeline import tokens
from driftless.pipeline.tokens import TokenError, TokenRefusedError, TokenTable
from driftless.server import tokens as server_tokens
from driftless.server.errors import UnauthorizedError
from driftless.server.tokens import BearerTokens

NS = "driftless"
NOW = 1_800_000_000


def _issued(
    table: TokenTable | None = None, *, expires_in: int | None = 3600, token_id: str = "ci"
) -> tuple[TokenTable, str]:
    table, token, _ = tokens.issue(
        table or TokenTable(),
        namespace=NS,
        project="team-a",
        role="ci",
        now=NOW,
        expires_in=expires_in,
        token_id=token_id,
    )
    return table, token


def _refused(token: str, table: TokenTable, now: float = NOW + 1) -> str:
    with pytest.raises(TokenRefusedError) as caught:
        tokens.verify(token, table, namespace=NS, now=now)
    return caught.value.message


def _forged(table: TokenTable, claims: dict[str, object], **headers: str) -> str:
    key = table.keys[0]
    return jwt.encode(
        claims, key.private_pem, algorithm="ES256", headers={"kid": key.kid, **headers}
    )


def _claims(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sub": "proj:team-a:ci",
        "iss": tokens.issuer(NS),
        "aud": "driftless",
        "jti": "ci",
        "iat": NOW,
        "exp": NOW + 3600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_an_issued_token_verifies_to_its_record_and_carries_the_documented_claims() -> None:
    table, token = _issued()
    record = tokens.verify(token, table, namespace=NS, now=NOW + 10)
    assert (record.id, record.project, record.role, record.expires) == (
        "ci",
        "team-a",
        "ci",
        NOW + 3600,
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {
        "sub": "proj:team-a:ci",
        "iss": "driftless:driftless",
        "aud": "driftless",
        "jti": "ci",
        "iat": NOW,
        "exp": NOW + 3600,
    }
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == table.keys[0].kid
    assert tokens.parse_subject(claims["sub"]) == ("team-a", "ci")


def test_the_secret_holds_the_keys_and_records_but_never_the_token() -> None:
    table, token = _issued()
    data = tokens.data_of(table)
    stored = "".join(base64.b64decode(v).decode() for v in data.values())
    assert token not in stored and token.split(".")[2] not in stored
    assert tokens.table_of(data) == table


def test_a_token_without_expiry_has_no_exp_and_verifies_later() -> None:
    table, token = _issued(expires_in=None)
    assert "exp" not in jwt.decode(token, options={"verify_signature": False})
    assert tokens.verify(token, table, namespace=NS, now=NOW + 10 * 365 * 86400).id == "ci"


def test_expired_is_refused_past_a_few_seconds_of_leeway() -> None:
    table, token = _issued(expires_in=60)
    assert tokens.verify(token, table, namespace=NS, now=NOW + 60 + tokens.LEEWAY_SECONDS).id
    assert _refused(token, table, NOW + 61 + tokens.LEEWAY_SECONDS) == "expired"


def test_revoked_is_refused_and_listed_as_revoked() -> None:
    table, token = _issued()
    table = tokens.revoke(table, "ci")
    assert _refused(token, table) == "revoked"
    assert table.record("ci") is not None and table.record("ci").revoked  # type: ignore[union-attr]
    with pytest.raises(TokenError):
        tokens.revoke(table, "nope")


def test_a_token_whose_record_is_gone_is_refused() -> None:
    table, token = _issued()
    assert _refused(token, replace(table, records=())) == "unknown token"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        # alg=none: no signature at all.
        (lambda t: jwt.encode(_claims(), None, algorithm="none"), "algorithm not accepted"),
        (
            # Alg confusion: HS256 keyed with the public key's PEM.
            lambda t: _hs256_with_public_key(t),
            "algorithm not accepted",
        ),
        (lambda t: _other_key_same_kid(t), "bad signature"),
        (lambda t: _forged(t, _claims(aud="someone-else")), "wrong audience"),
        (lambda t: _forged(t, _claims(iss="driftless:other")), "wrong issuer"),
        (lambda t: _forged(t, _claims(jti=None)), "a required claim is missing"),
        (lambda t: _forged(t, _claims(iat=NOW + 3600)), "issued in the future"),
        (lambda t: _forged(t, _claims(exp=NOW - 3600)), "expired"),
        # A valid signature (the key leaked?) but a subject its record does not name.
        (
            lambda t: _forged(t, _claims(sub="proj:team-b:ci")),
            "claims do not match the token's record",
        ),
        (lambda t: _forged(t, _claims(exp=None)), "claims do not match the token's record"),
        (lambda t: _forged(t, _claims(), kid="unknown"), "unknown or retired signing key"),
        (lambda t: "x" * (tokens.MAX_TOKEN + 1), "malformed token"),
        (lambda t: "a.b.c", "malformed token"),
        (lambda t: "", "malformed token"),
        (lambda t: "not-a-jwt", "malformed token"),
        (lambda t: _tampered_payload(t), "bad signature"),
    ],
)
def test_hostile_tokens_are_refused_with_a_reason_only(make, reason: str) -> None:  # type: ignore[no-untyped-def]
    table, _ = _issued()
    token = make(table)
    message = _refused(token, table)
    assert message == reason
    assert token[:40] not in message or not token


def _hs256_with_public_key(table: TokenTable) -> str:
    private = serialization.load_pem_private_key(table.keys[0].private_pem.encode(), None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": table.keys[0].kid}
    segments = [_b64(json.dumps(header).encode()), _b64(json.dumps(_claims()).encode())]
    import hashlib
    import hmac

    signature = hmac.new(public_pem, ".".join(segments).encode(), hashlib.sha256).digest()
    return ".".join([*segments, _b64(signature)])


def _other_key_same_kid(table: TokenTable) -> str:
    other = tokens.new_key(NOW)
    return jwt.encode(
        _claims(), other.private_pem, algorithm="ES256", headers={"kid": table.keys[0].kid}
    )


def _tampered_payload(table: TokenTable) -> str:
    _, token = _issued(table, token_id="other")
    head, _, sig = token.split(".")
    return ".".join([head, _b64(json.dumps(_claims()).encode()), sig])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_rotation_keeps_old_tokens_valid_for_the_grace_then_refuses_them() -> None:
    table, old_token = _issued()
    table = tokens.rotate(table, now=NOW + 100, grace=600)
    assert tokens.verify(old_token, table, namespace=NS, now=NOW + 600).id == "ci"
    assert _refused(old_token, table, NOW + 701) == "unknown or retired signing key"
    table, new_token, _ = tokens.issue(
        table,
        namespace=NS,
        project="team-a",
        role="ci",
        now=NOW + 200,
        expires_in=None,
        token_id="new",
    )
    assert jwt.get_unverified_header(new_token)["kid"] == table.signer.kid  # type: ignore[union-attr]
    assert (
        jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    )
    # A later rotation forgets the key past its grace and its tokens' records.
    table = tokens.rotate(table, now=NOW + 800, grace=600)
    assert table.record("ci") is None and table.record("new") is not None
    assert len(table.keys) == 2


def test_rotation_with_no_grace_refuses_every_earlier_token_at_once() -> None:
    table, token = _issued()
    # Also one whose key is still in an earlier rotation's grace.
    table = tokens.rotate(table, now=NOW, grace=3600)
    table, second, _ = tokens.issue(
        table, namespace=NS, project="team-a", role="ci", now=NOW, expires_in=None, token_id="b"
    )
    assert tokens.verify(token, table, namespace=NS, now=NOW + 1).id == "ci"
    table = tokens.rotate(table, now=NOW + 1, grace=0)
    for earlier in (token, second):
        assert _refused(earlier, table, NOW + 1) == "unknown or retired signing key"
    assert table.records == () and len(table.keys) == 1


def test_issuing_refuses_bad_names_ids_and_duplicates() -> None:
    table, _ = _issued()
    with pytest.raises(TokenError, match="exists"):
        _issued(table)
    for project, role, token_id in [
        ("Team_A", "ci", "x"),
        ("team-a", "c i", "x"),
        ("team-a", "ci", "-x"),
        ("team-a", "ci", "X" * 3),
    ]:
        with pytest.raises(TokenError):
            tokens.issue(
                table,
                namespace=NS,
                project=project,
                role=role,
                now=NOW,
                expires_in=None,
                token_id=token_id,
            )
    with pytest.raises(TokenError, match="positive"):
        _issued(token_id="zero", expires_in=0)


def test_expired_records_are_forgotten_when_the_next_token_is_issued() -> None:
    table, _ = _issued(expires_in=10)
    table, _, _ = tokens.issue(
        table,
        namespace=NS,
        project="team-a",
        role="ci",
        now=NOW + 100,
        expires_in=None,
        token_id="b",
    )
    assert [r.id for r in table.records] == ["b"]


def test_a_malformed_secret_reads_as_what_parses() -> None:
    table, _ = _issued()
    data = tokens.data_of(table)
    data[tokens.RECORDS_KEY] = base64.b64encode(b'[{"id": 1}, "x", {"id": "a"}]').decode()
    assert tokens.table_of(data).records == ()
    assert tokens.table_of({tokens.KEYS_KEY: "!!!"}) == TokenTable()
    assert tokens.table_of(None) == TokenTable()


def test_no_log_line_carries_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    table, token = _issued()
    tokens.verify(token, table, namespace=NS, now=NOW)
    _refused(token, tokens.revoke(table, "ci"))
    assert token not in caplog.text


# -- the server's side (``server.tokens``) ---------------------------------------------


def _bearer(table: TokenTable, projects: list[dict[str, object]]) -> BearerTokens:
    bearer = BearerTokens(cast(KubeClient, None), NS, lambda: projects, clock=lambda: NOW + 1)
    bearer.update({"data": tokens.data_of(table)})
    return bearer


def _project(*roles: str) -> dict[str, object]:
    return {"metadata": {"name": "team-a"}, "spec": {"roles": [{"name": r} for r in roles]}}


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer {t}", "t"), ("bearer {t}", "t"), ("  Bearer   {t}  ", "t"), ("Basic {t}", None)],
)
def test_the_bearer_header_is_parsed_as_rfc_6750_says(header: str, token: str | None) -> None:
    assert server_tokens.bearer_token(header.format(t="t")) == token


def test_a_valid_token_is_the_project_role_principal() -> None:
    table, token = _issued()
    bearer = _bearer(table, [_project("ci")])
    assert bearer.principal(f"Bearer {token}") == ("proj:team-a:ci", "token", "ci")


@pytest.mark.parametrize(
    "case", ["role deleted", "project deleted", "secret deleted", "no scheme", "empty", "huge"]
)
def test_the_server_refuses_with_one_message_and_logs_only_the_reason(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    table, token = _issued()
    projects = {"role deleted": [_project("other")], "project deleted": []}.get(
        case, [_project("ci")]
    )
    bearer = _bearer(table, projects)
    if case == "secret deleted":
        bearer.update(None)
    header = {
        "no scheme": token,
        "empty": "Bearer ",
        "huge": "Bearer " + "a" * 100_000,
    }.get(case, f"Bearer {token}")
    with pytest.raises(UnauthorizedError) as caught:
        bearer.principal(header)
    assert caught.value.message == server_tokens.REFUSED
    assert token not in caplog.text and "aaaaaaaaaa" not in caplog.text
    assert "API token refused: " in caplog.text


def test_at_the_cap_revoked_records_make_room_and_live_ones_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tokens, "MAX_RECORDS", 3)
    table = TokenTable()
    for token_id in ("a", "b", "c"):
        table, _ = _issued(table, token_id=token_id, expires_in=None)
    with pytest.raises(TokenError, match="revoke some first"):
        _issued(table, token_id="d")
    table, _ = _issued(tokens.revoke(table, "b"), token_id="d")
    assert [r.id for r in table.records] == ["a", "c", "d"]
