"""Sessions kept in a Secret: only digests at rest, shared by replicas and restarts, ended by
logout, expiry and a new password, bounded, and a flood of forged cookies costs one read a
second. The Secret is a stand-in here (``test_server_auth.py`` uses a real one)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import cast

import pytest

from driftless.kube.errors import KubeUnavailableError
from driftless.server import sessions
from driftless.server.sessions import (
    Session,
    Sessions,
    SessionSecret,
    decode,
    digest,
    encode,
    evictions,
    fingerprint,
    table_of,
)

OLD, NEW = fingerprint("$scrypt$old"), fingerprint("$scrypt$new")


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Store:
    """The Secret's data (digest -> encoded value) and the admin's password fingerprint."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.password: str | None = OLD
        self.reads = 0
        self.down = False

    async def read(self) -> tuple[dict[str, Session], str | None]:
        self.reads += 1
        await asyncio.sleep(0.01)
        if self.down:
            raise KubeUnavailableError(503, "the API server is down")
        return table_of({"data": dict(self.data)}), self.password

    async def write(self, changes: dict[str, Session | None]) -> None:
        for key, value in changes.items():
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = encode(value)


def replica(store: Store, clock: Clock, ttl: float = 3600) -> Sessions:
    return Sessions(ttl, clock=clock, store=cast(SessionSecret, store))


def test_only_a_digest_of_the_id_is_stored() -> None:
    assert digest("abc") == hashlib.sha256(b"abc").hexdigest()


async def test_the_secret_never_holds_a_session_id() -> None:
    store, clock = Store(), Clock()
    one = replica(store, clock)
    session_id = await one.login("admin", OLD)
    assert list(store.data) == [digest(session_id)]
    stored = json.dumps(store.data) + base64.b64decode(next(iter(store.data.values()))).decode()
    assert session_id not in stored


def test_a_session_survives_encoding() -> None:
    session = Session("admin", 1.5, 3601.5, OLD)
    assert decode(encode(session)) == session


@pytest.mark.parametrize(
    "value",
    [None, 7, "", "not base64!", base64.b64encode(b"not json").decode(),
     base64.b64encode(b"[1, 2]").decode(),
     base64.b64encode(b'{"user": "admin"}').decode(),
     base64.b64encode(b'{"user": "", "created": 1, "expires": 2, "password": ""}').decode(),
     base64.b64encode(b'{"user": "a", "created": true, "expires": 2, "password": ""}').decode(),
     base64.b64encode(b'{"user": "a", "created": "1", "expires": 2, "password": ""}').decode(),
     base64.b64encode(b'{"user": "a", "created": 1, "expires": 2, "password": 5}').decode(),
     "QQ==" * 1000],
)  # fmt: skip
def test_a_malformed_value_is_no_session(value: object) -> None:
    assert decode(value) is None


def test_a_secret_s_malformed_entries_are_left_out() -> None:
    good = encode(Session("admin", 1, 2, OLD))
    secret = {"data": {digest("x"): good, "not-a-digest": good, digest("y"): "garbage",
                       digest("z").upper(): good}}  # fmt: skip
    assert list(table_of(secret)) == [digest("x")]
    assert table_of(None) == {} and table_of({"data": ["x"]}) == {} and table_of({}) == {}


def test_evictions_drop_the_expired_the_other_password_s_then_the_oldest() -> None:
    table = {
        "expired": Session("admin", 1, 10, OLD),
        "old-password": Session("admin", 2, 100, NEW),
        "oldest": Session("admin", 3, 100, OLD),
        "middle": Session("admin", 4, 100, OLD),
        "newest": Session("admin", 5, 100, OLD),
    }
    dropped = evictions(table, now=10, password=OLD, cap=2)
    assert dropped == ["expired", "old-password", "oldest"]
    assert evictions(table, now=0, password=OLD, cap=10) == ["old-password"]


async def test_a_restarted_server_or_another_replica_knows_the_session() -> None:
    store, clock = Store(), Clock()
    first = replica(store, clock)
    session_id = await first.login("admin", OLD)
    assert first.user(session_id) == "admin"
    restarted = replica(store, clock)  # nothing in memory yet
    assert restarted.user(session_id) is None
    await restarted.ensure(session_id)  # the guard does this for an id it does not know
    assert restarted.user(session_id) == "admin"


async def test_logout_on_one_replica_ends_the_session_on_the_other() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, clock), replica(store, clock)
    session_id = await a.login("admin", OLD)
    await b.ensure(session_id)
    await a.logout(session_id)
    assert a.user(session_id) is None
    assert digest(session_id) not in store.data
    await b.refresh()  # what b's run() does every REFRESH_SECONDS
    assert b.user(session_id) is None
    await a.logout(session_id)  # twice, or an unknown id: harmless
    await a.logout("forged")


async def test_sessions_expire_on_every_replica() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, clock, ttl=60), replica(store, clock, ttl=60)
    session_id = await a.login("admin", OLD)
    await b.refresh()
    clock.now += 60
    assert a.user(session_id) is None and b.user(session_id) is None


async def test_a_new_password_logs_out_everyone_everywhere() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, clock), replica(store, clock)
    first, second = await a.login("admin", OLD), await a.login("admin", OLD)
    await b.refresh()
    assert b.user(first) == "admin"
    store.password = NEW  # a new hash in Secret driftless-admin
    await b.refresh()
    assert b.user(first) is None and b.user(second) is None
    # A login under the new password ends the old sessions here at once, and drops them.
    third = await a.login("admin", NEW)
    assert a.user(first) is None and a.user(third) == "admin"
    assert set(store.data) == {digest(third)}
    store.password = None  # the account removed: nobody is logged in
    await a.refresh()
    assert a.user(third) is None


async def test_live_sessions_are_bounded_oldest_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 3)
    store, clock = Store(), Clock()
    a = replica(store, clock)
    ids = []
    for _ in range(5):
        ids.append(await a.login("admin", OLD))
        clock.now += 1
    assert len(store.data) == 3 and len(a) == 3
    assert set(store.data) == {digest(i) for i in ids[2:]}
    assert a.user(ids[0]) is None and a.user(ids[4]) == "admin"


async def test_one_user_logging_in_again_and_again_pushes_out_only_their_own_oldest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 30)
    store, clock = Store(), Clock()
    a = replica(store, clock)
    others = [await a.login("admin", OLD)]
    for user in ("alice", "bob"):
        others.append(await a.login(user, None, method=sessions.OIDC))
    clock.now += 1
    flood = []
    for _ in range(100):  # any single sign-on account, in a loop
        flood.append(await a.login("mallory", None, method=sessions.OIDC))
        clock.now += 1
    assert [a.user(i) for i in others] == ["admin", "alice", "bob"]
    assert [a.user(i) for i in flood[-sessions.MAX_USER_SESSIONS :]] == ["mallory"] * 10
    assert all(a.user(i) is None for i in flood[: -sessions.MAX_USER_SESSIONS])
    assert len(store.data) == len(a) == 3 + sessions.MAX_USER_SESSIONS
    # The same name by another login method is another user.
    assert evictions(
        {"local": Session("mallory", 1, 100, OLD), **{
            f"sso{n}": Session("mallory", 2 + n, 100, "", method=sessions.OIDC) for n in range(3)
        }},
        now=0, password=OLD, cap=100, user_cap=2,
    ) == ["sso0"]  # fmt: skip


async def test_forged_cookies_cost_at_most_one_read_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sessions, "MISS_READ_SECONDS", 0.5)
    store, clock = Store(), Clock()
    a = replica(store, clock)
    await a.refresh()
    reads = store.reads
    # Not shaped like an id: refused without a read.
    for forged in ["", "guess", "x" * 5000, "a;b", "\x00" * 43]:
        await a.ensure(forged)
    assert store.reads == reads
    # Well-formed but unknown: 100 at once share one read (which started after they came).
    forged_ids = [f"{i:043d}" for i in range(100)]
    await asyncio.gather(*(a.ensure(i) for i in forged_ids))
    assert store.reads == reads + 1
    # More unknown ids right after: at most one more read, no sooner than MISS_READ_SECONDS.
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(a.ensure(i) for i in forged_ids))
    assert store.reads == reads + 2
    assert loop.time() - started >= 0.4


async def test_beyond_max_waiting_an_unknown_id_is_refused_without_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sessions, "MAX_WAITING", 5)
    monkeypatch.setattr(sessions, "MISS_READ_SECONDS", 60)
    store, clock = Store(), Clock()
    a = replica(store, clock)
    await a.refresh()
    waiting = [asyncio.create_task(a.ensure(f"{i:043d}")) for i in range(5)]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in waiting)  # they wait for the next read
    await asyncio.wait_for(a.ensure("z" * 43), 1)  # the sixth does not
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_an_unreadable_secret_keeps_the_last_sessions() -> None:
    store, clock = Store(), Clock()
    a = replica(store, clock)
    session_id = await a.login("admin", OLD)
    store.down = True
    await a.refresh()
    assert a.user(session_id) == "admin"


async def test_without_a_store_sessions_live_in_this_process() -> None:
    clock = Clock()
    alone = Sessions(60, clock=clock)
    session_id = await alone.login("admin", OLD)
    assert alone.user(session_id) == "admin"
    await alone.ensure("y" * 43)
    await alone.refresh()
    await alone.logout(session_id)
    assert alone.user(session_id) is None
