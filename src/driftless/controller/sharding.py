"""Which replica reconciles which app: virtual shards, rendezvous hashing, pins. Pure.

Several controller replicas split the apps between them in two steps:

1. every app belongs to one of ``shards`` virtual shards: by default the hash
   of ``namespace/name`` (stable across processes, releases and restarts:
   SHA-256, not Python's salted ``hash``); a label
   ``driftless.dev/shard: "<k>"`` on the Application pins it to shard ``k``
   instead (the pin wins; a pin that is not an integer in ``0..shards-1`` is
   ignored — the app is hashed, the caller may warn);
2. every shard belongs to one live member by rendezvous (highest random
   weight) hashing: the member with the highest ``weight(shard, member)``.
   Adding a member to N moves only the shards the newcomer now wins (about
   1/(N+1) of them), removing one moves only the shards it had; no other
   shard changes hands.

A pin names a shard, not a replica, on purpose: replicas of a Deployment get
new names on each restart, while a shard's exclusivity is guaranteed by its
Lease (``controller.shards``). ``shards=1`` puts every app in one shard: the
replicas then elect a leader instead of sharing the work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from driftless.core.replication import DEFAULT_SHARDS as DEFAULT_SHARDS
from driftless.core.replication import MAX_SHARDS as MAX_SHARDS
from driftless.core.wellknown import SHARD_LABEL as SHARD_LABEL


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def hashed_shard(namespace: str, name: str, shards: int) -> int:
    """The shard of an app by hashing alone."""
    return _digest(f"{namespace}/{name}") % shards


def pinned_shard(labels: Mapping[str, object] | None, shards: int) -> int | None:
    """The shard a well-formed pin names, else None (no pin, or one to ignore)."""
    value = (labels or {}).get(SHARD_LABEL)
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    if len(value) > 4:  # also bounds int() on hostile input
        return None
    shard = int(value)
    return shard if shard < shards else None


def shard_of(namespace: str, name: str, labels: Mapping[str, object] | None, shards: int) -> int:
    """The shard of an app: its pin if well formed, else its hash."""
    pinned = pinned_shard(labels, shards)
    return pinned if pinned is not None else hashed_shard(namespace, name, shards)


def weight(shard: int, member: str) -> int:
    """The rendezvous weight of ``member`` for ``shard``."""
    return _digest(f"{shard}\x00{member}")


def owner(shard: int, members: Iterable[str]) -> str | None:
    """The member that owns ``shard`` (None when there are no members)."""
    best: tuple[int, str] | None = None
    for member in members:
        candidate = (weight(shard, member), member)
        if best is None or candidate > best:
            best = candidate
    return best[1] if best is not None else None


def assignment(shards: int, members: Iterable[str]) -> dict[int, str]:
    """Every shard's owner (empty when there are no members)."""
    live = sorted(set(members))
    if not live:
        return {}
    return {k: owner_or_raise(k, live) for k in range(shards)}


def owned_by(member: str, shards: int, members: Iterable[str]) -> set[int]:
    """The shards ``member`` owns among ``members`` (it counts itself in)."""
    live = {*members, member}
    return {k for k, who in assignment(shards, live).items() if who == member}


def owner_or_raise(shard: int, members: Iterable[str]) -> str:
    found = owner(shard, members)
    if found is None:
        raise ValueError("no members")
    return found


def valid_shards(value: int) -> bool:
    """Is ``value`` a usable number of shards?"""
    return 1 <= value <= MAX_SHARDS
