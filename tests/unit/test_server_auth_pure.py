"""The admin password hash and the session store, as tables (no server, no cluster)."""

from __future__ import annotations

import time

import pytest

from driftless.server import sessions as sessions_module
from driftless.server.auth import Sessions, hash_password, verify_password


def test_a_password_verifies_against_its_hash_only() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$scrypt$ln=14,r=8,p=1$")
    assert "correct horse" not in hashed
    assert verify_password("correct horse", hashed)
    assert not verify_password("correct hors", hashed)
    assert not verify_password("", hashed)
    assert hash_password("correct horse") != hashed  # a fresh salt each time


GOOD = hash_password("pw", salt=b"0123456789abcdef")


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "pw",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        GOOD.replace("ln=14", "ln=30"),  # 16 GiB: refused, not attempted
        GOOD.replace("ln=14", "ln=1"),
        GOOD.replace("r=8", "r=99"),
        GOOD.replace("p=1", "p=9"),
        GOOD[:-4],  # a cut key no longer matches
        GOOD + "$extra",
        GOOD.replace("$scrypt$", "$scrypt$$"),
        "$scrypt$ln=14,r=8,p=1$!!!!!!!!!!!!!!!!$" + "A" * 43,
    ],
)
def test_a_malformed_or_hostile_hash_verifies_nothing_quickly(encoded: str) -> None:
    started = time.monotonic()
    assert not verify_password("pw", encoded)
    assert time.monotonic() - started < 5


def test_the_good_hash_of_the_table_verifies() -> None:
    assert verify_password("pw", GOOD)
    assert verify_password("pw", GOOD + "\n")  # a Secret written with a trailing newline


def test_a_huge_password_is_refused_without_hashing() -> None:
    assert not verify_password("x" * 10_000, GOOD)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_live_until_expiry_or_logout() -> None:
    clock = Clock()
    sessions = Sessions(60, clock=clock)
    first, second = sessions.create("admin"), sessions.create("admin")
    assert first != second and len(first) >= 40
    assert sessions.user(first) == "admin"
    sessions.end(first)
    assert sessions.user(first) is None
    assert sessions.user(second) == "admin"
    clock.now += 60
    assert sessions.user(second) is None
    assert len(sessions) == 0


@pytest.mark.parametrize("session_id", [None, "", "guess", "x" * 5000])
def test_unknown_ids_are_nobody(session_id: str | None) -> None:
    sessions = Sessions(60)
    sessions.create("admin")
    assert sessions.user(session_id) is None
    sessions.end(session_id)  # ending an unknown session is harmless
    assert len(sessions) == 1


def test_the_store_is_bounded_oldest_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions_module, "MAX_SESSIONS", 3)
    sessions = Sessions(60)
    ids = [sessions.create("admin") for _ in range(4)]
    assert len(sessions) == 3
    assert sessions.user(ids[0]) is None
    assert all(sessions.user(i) == "admin" for i in ids[1:])
