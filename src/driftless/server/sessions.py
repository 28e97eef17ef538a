"""Login sessions, kept in a Secret: they survive a restart and every replica shares them.

A session id is 256 random bits (``secrets.token_urlsafe(32)``) that only
the browser's cookie holds. At rest there is only its SHA-256
(``digest``): Secret ``driftless-sessions`` of the server's namespace has one
data key per session, the hex digest, whose value is ``encode(Session)``:
the user, when it was made and expires (Unix seconds, so every replica and
a restarted process agree), and ``password``, a fingerprint of the password
hash the login verified; a single sign-on session (``method`` ``"oidc"``)
also holds the user's groups (at most ``MAX_GROUPS`` names of at most
``MAX_GROUP_LENGTH``, ``MAX_GROUPS_TEXT`` characters in all: 1,000 sessions
must fit the Secret's 1 MiB) and no password: a new
admin password does not end it, only logout, expiry or the Secret's removal.

``Sessions`` is the table every request reads, in memory (so a request, an
event stream's liveness check, never waits for the API server):

* ``user(id)``: the session's user, or ``None`` when unknown, expired, or
  made under another password than the current one (``session(id)``: the
  whole live ``Session``, groups and method included) -- so changing the
  admin's password (a new hash in Secret ``driftless-admin``) logs out every
  session at once, on every replica.
* ``login(user, password)`` adds a session and writes it (a JSON merge patch
  of its one key, so two replicas' writes never conflict); ``logout(id)``
  removes it and writes that. Each write also drops the expired sessions,
  those of an older password, a user's oldest beyond ``MAX_USER_SESSIONS``
  (so one user, say any single sign-on account, logging in again and again
  cannot push everyone else out), then the oldest beyond ``MAX_SESSIONS`` (a
  Secret holds at most 1 MiB; 1,000 sessions are ~170 KiB).
* ``run()`` re-reads the Secret and the admin's hash every
  ``REFRESH_SECONDS``: another replica's logout, a new password, or the
  Secret deleted by hand (everyone logged out) reach this one within that.
* ``ensure(id)``: an id this replica does not know may have been made by
  another replica a moment ago; it re-reads the Secret then, at most once
  per ``MISS_READ_SECONDS`` whatever the number of unknown ids (a flood of
  forged cookies costs one read a second), with at most ``MAX_WAITING``
  requests waiting for it (the rest are refused at once). A cookie that is
  not shaped like an id is refused without a read.

Reads and writes of the Secret are serialised, so a read never undoes a
write of this process. Without a store (``store=None``: tests, and
``--insecure-no-auth``) the table lives in this process only.

``digest``, ``fingerprint``, ``encode``, ``decode``, ``table_of`` and
``evictions`` are pure.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from driftless.core.deployment import SESSIONS_SECRET
from driftless.kube.client import KubeApiError, KubeClient, KubeConflictError, KubeNotFoundError

__all__ = [
    "LOCAL",
    "MAX_GROUPS",
    "MAX_GROUPS_TEXT",
    "MAX_GROUP_LENGTH",
    "MAX_SESSIONS",
    "MAX_USER_SESSIONS",
    "OIDC",
    "Session",
    "SessionSecret",
    "Sessions",
    "decode",
    "digest",
    "encode",
    "evictions",
    "fingerprint",
    "table_of",
]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
MAX_SESSIONS = 1000
MAX_USER_SESSIONS = 10  # of one user (and login method): their browsers and CLIs
REFRESH_SECONDS = 2.0
MISS_READ_SECONDS = 1.0
MAX_WAITING = 64
MAX_GROUPS = 32
MAX_GROUP_LENGTH = 128
MAX_GROUPS_TEXT = 384
LOCAL = "local"
OIDC = "oidc"
_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_MAX_VALUE = 2048


@dataclass(frozen=True)
class Session:
    user: str
    created: float
    expires: float
    password: str  # ``fingerprint`` of the hash the login verified
    groups: tuple[str, ...] = ()
    method: str = LOCAL  # how the user logged in: ``LOCAL`` or ``OIDC``

    def valid_under(self, password: str | None) -> bool:
        """Whether the session is still good with the admin's current password fingerprint."""
        return self.method == OIDC or self.password == password


def digest(session_id: str) -> str:
    """What is stored of a session id: its SHA-256, hex."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def fingerprint(password_hash: str) -> str:
    """A short digest of the admin's password hash: sessions remember which password made them."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def encode(session: Session) -> str:
    """The Secret data value (base64 of JSON) of ``session``."""
    body = {
        "user": session.user,
        "created": round(session.created, 3),
        "expires": round(session.expires, 3),
        "password": session.password,
    }
    if session.method != LOCAL:
        body["method"] = session.method
        body["groups"] = list(session.groups)
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def decode(value: object) -> Session | None:
    """The session a Secret data value holds, or ``None`` when malformed (never raises)."""
    if not isinstance(value, str) or len(value) > _MAX_VALUE:
        return None
    try:
        body = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    user, created, expires, password = (
        body.get("user"),
        body.get("created"),
        body.get("expires"),
        body.get("password"),
    )
    if not (isinstance(user, str) and user and isinstance(password, str)):
        return None
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in (created, expires)):
        return None
    method, groups = body.get("method", LOCAL), body.get("groups", [])
    if method not in (LOCAL, OIDC) or not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        return None
    if not all(isinstance(g, str) and 0 < len(g) <= MAX_GROUP_LENGTH for g in groups):
        return None
    if sum(len(g) for g in groups) > MAX_GROUPS_TEXT:
        return None
    return Session(
        user,
        float(created),  # type: ignore[arg-type]
        float(expires),  # type: ignore[arg-type]
        password,
        groups=tuple(groups),
        method=method,
    )


def table_of(secret: JSON | None) -> dict[str, Session]:
    """The sessions of a Secret (digest -> session); malformed entries are left out."""
    data = (secret or {}).get("data") or {}
    if not isinstance(data, dict):
        return {}
    table = {}
    for key, value in data.items():
        session = decode(value)
        if isinstance(key, str) and _DIGEST.match(key) and session is not None:
            table[key] = session
    return table


def evictions(
    table: Mapping[str, Session],
    *,
    now: float,
    password: str | None,
    cap: int,
    user_cap: int = MAX_USER_SESSIONS,
) -> list[str]:
    """The digests to drop: expired, made under another password, a user's (same name and
    method) oldest beyond ``user_cap``, then the oldest beyond ``cap``."""
    dead = {k for k, s in table.items() if s.expires <= now or not s.valid_under(password)}
    live = sorted((s.created, k) for k, s in table.items() if k not in dead)
    per_user: dict[tuple[str, str], list[str]] = {}
    for _, key in live:
        per_user.setdefault((table[key].user, table[key].method), []).append(key)
    crowded = {k for keys in per_user.values() for k in keys[: max(0, len(keys) - user_cap)]}
    kept = [k for _, k in live if k not in crowded]
    return [
        *(k for k in table if k in dead),
        *(k for _, k in live if k in crowded),
        *kept[: max(0, len(kept) - cap)],
    ]


class SessionSecret:
    """Secret ``driftless-sessions`` of ``namespace``, and the admin's current password hash."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        password_hash: Callable[[], Awaitable[str | None]],
    ) -> None:
        self.client = client
        self.namespace = namespace
        self._password_hash = password_hash

    async def read(self) -> tuple[dict[str, Session], str | None]:
        """The stored sessions and the current password's fingerprint (``None``: no account)."""
        secret = await self.client.get("v1", "Secret", SESSIONS_SECRET, self.namespace)
        hashed = await self._password_hash()
        return table_of(secret), (fingerprint(hashed) if hashed is not None else None)

    async def write(self, changes: Mapping[str, Session | None]) -> None:
        """Set (a session) or delete (``None``) these keys (a merge patch); make the Secret
        if it is missing and this identity may (an installed server may not create Secrets:
        ``install --with-server`` makes it, empty, and makes it again if it was deleted)."""
        data = {key: (encode(s) if s is not None else None) for key, s in changes.items()}
        try:
            await self._patch(data)
        except KubeNotFoundError:
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": SESSIONS_SECRET,
                    "namespace": self.namespace,
                    "labels": {"app.kubernetes.io/part-of": "driftless"},
                },
                "type": "Opaque",
                "data": {k: v for k, v in data.items() if v is not None},
            }
            try:
                await self.client.create(secret)
            except KubeConflictError:  # another replica made it meanwhile
                await self._patch(data)

    async def _patch(self, data: Mapping[str, str | None]) -> None:
        await self.client.merge_patch(
            "v1", "Secret", SESSIONS_SECRET, {"data": dict(data)}, namespace=self.namespace
        )


class Sessions:
    """The session table (see the module docstring); ``store=None`` keeps it in memory only."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
        store: SessionSecret | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self.store = store
        self._monotonic = monotonic
        self._live: dict[str, Session] = {}
        # Fingerprint of the password sessions must have been made under; ``None``
        # (the store read no admin account) ends every session.
        self._password: str | None = "" if store is None else None
        self._lock = asyncio.Lock()
        self._read_at = -float("inf")  # monotonic start of the last read of the store
        self._waiting = 0
        self._problem = ""

    # -- in memory (no I/O) ----------------------------------------------

    def create(
        self,
        user: str,
        password: str | None = None,
        *,
        groups: tuple[str, ...] = (),
        method: str = LOCAL,
    ) -> str:
        """A new session in memory only (``login`` also stores it); returns its id."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        if password is not None:
            self._password = password
        fingerprint_ = "" if method == OIDC else (self._password or "")
        made = Session(user, now, now + self.ttl, fingerprint_, groups=groups, method=method)
        self._live[digest(session_id)] = made
        dropped = evictions(
            self._live,
            now=now,
            password=self._password,
            cap=MAX_SESSIONS,
            user_cap=MAX_USER_SESSIONS,
        )
        for key in dropped:
            del self._live[key]
        return session_id

    def user(self, session_id: str | None) -> str | None:
        """The user of a live session, or ``None``."""
        session = self.session(session_id)
        return session.user if session is not None else None

    def session(self, session_id: str | None) -> Session | None:
        """The live session of ``session_id`` (user, groups, method), or ``None``."""
        if not session_id or not _ID.match(session_id):
            return None
        session = self._live.get(digest(session_id))
        if session is None or not session.valid_under(self._password):
            return None
        if session.expires <= self.clock():
            return None
        return session

    def end(self, session_id: str | None) -> str | None:
        """Forget a session in memory (``logout`` also stores that); returns its digest if known."""
        if not session_id or not _ID.match(session_id):
            return None
        key = digest(session_id)
        return key if self._live.pop(key, None) is not None else None

    def __len__(self) -> int:
        now = self.clock()
        return sum(
            1 for s in self._live.values() if s.expires > now and s.valid_under(self._password)
        )

    # -- with the store ----------------------------------------------------

    async def login(
        self, user: str, password: str | None, *, groups: tuple[str, ...] = (), method: str = LOCAL
    ) -> str:
        """A new session of ``user``, stored: a local one made under ``password`` (a
        ``fingerprint``), or a single sign-on one (``password`` ``None``) with ``groups``."""
        async with self._lock:
            before = dict(self._live)
            session_id = self.create(user, password, groups=groups, method=method)
            key = digest(session_id)
            if self.store is not None:
                changes: dict[str, Session | None] = {
                    k: None for k in before if k not in self._live
                }
                changes[key] = self._live[key]
                await self.store.write(changes)
            return session_id

    async def logout(self, session_id: str | None) -> None:
        """End a session here and in the store (an unknown id is harmless)."""
        async with self._lock:
            key = self.end(session_id)
            if key is not None and self.store is not None:
                await self.store.write({key: None})

    async def ensure(self, session_id: str | None) -> None:
        """Re-read the store if ``session_id`` is well formed but unknown here (see above)."""
        if self.store is None or not session_id or not _ID.match(session_id):
            return
        if digest(session_id) in self._live or self._waiting >= MAX_WAITING:
            return
        arrived = self._monotonic()
        self._waiting += 1
        try:
            async with self._lock:
                if self._read_at >= arrived:
                    return  # a read that started after this request came has answered it
                delay = self._read_at + MISS_READ_SECONDS - self._monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._read()
        finally:
            self._waiting -= 1

    async def run(self) -> None:
        """``refresh`` every ``REFRESH_SECONDS`` until cancelled."""
        if self.store is None:
            return
        while True:
            await self.refresh()
            await asyncio.sleep(REFRESH_SECONDS)

    async def refresh(self) -> None:
        """Read the store now: the sessions and the password every replica sees."""
        if self.store is not None:
            async with self._lock:
                await self._read()

    async def _read(self) -> None:
        assert self.store is not None
        self._read_at = self._monotonic()
        try:
            self._live, self._password = await self.store.read()
        except KubeApiError as exc:  # keep the last table; say so once per kind of failure
            problem = f"cannot read the sessions: {type(exc).__name__}"
            if problem != self._problem:
                log.warning("%s (HTTP %s); using the last ones read", problem, exc.status)
            self._problem = problem
        else:
            self._problem = ""
