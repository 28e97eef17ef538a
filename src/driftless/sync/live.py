"""Where the live side of a comparison comes from, and remembered verdicts.

``LiveReader`` answers from the shared watch cache when it covers the kind
(no request at all), otherwise with a GET; ``fresh=True`` always GETs, for
reads right after our own writes, which the cache may not have seen yet.

``VerdictCache`` remembers, per object, the dry-run verdict for one (desired
body, live fingerprint) pair. The fingerprint is a digest of the live object
without its status and bookkeeping (``live_fingerprint``), so a controller
updating status — a Deployment rolling out — does not invalidate it, while
any change to spec, metadata or field ownership does. While neither side
changes the verdict cannot change either, so a reconcile of an unchanged app
sends no dry-run: a no-op reconcile costs memory lookups instead of requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from driftless.core.resources import ResourceRef
from driftless.kube.cache import WatchCache
from driftless.kube.client import KubeClient, UnknownKindError

JSON = dict[str, Any]


class LiveReader:
    def __init__(self, client: KubeClient, cache: WatchCache | None, *, fresh: bool = False):
        self.client = client
        self.cache = cache
        self.fresh = fresh

    async def watch(self, kinds: set[tuple[str, str]]) -> None:
        """Make sure every kind an app renders is watched, even before any of its
        objects exist (the first sync creates them; drift must be seen afterwards)."""
        if self.cache is None:
            return
        cache = self.cache

        async def ensure(api_version: str, kind: str) -> None:
            # Not served yet (its CRD comes with this sync): polled instead.
            with contextlib.suppress(UnknownKindError, TimeoutError):
                await cache.ensure(api_version, kind)

        # The kinds' first lists run together: each is a round trip before any compare.
        missing = [key for key in sorted(kinds) if not cache.synced(*key)]
        outcomes = await asyncio.gather(*(ensure(*key) for key in missing), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def get(self, api_version: str, kind: str, name: str, namespace: str) -> JSON | None:
        if self.cache is not None and not self.fresh:
            if not self.cache.synced(api_version, kind):
                try:
                    await self.cache.ensure(api_version, kind)
                except (UnknownKindError, TimeoutError):
                    return await self.client.get(api_version, kind, name, namespace or None)
            return self.cache.get(api_version, kind, namespace, name)
        return await self.client.get(api_version, kind, name, namespace or None)


@dataclass(frozen=True)
class Verdict:
    body_hash: str
    live_version: str
    in_sync: bool
    predicted: JSON


def body_hash(body: JSON) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


_BOOKKEEPING = ("resourceVersion", "generation", "managedFields")


def live_fingerprint(live: JSON) -> str:
    """Digest of what a dry-run apply depends on: everything but status and bookkeeping.

    Field ownership matters (it decides what an apply may change), so the
    managers and their field sets are kept, without their timestamps.
    """
    meta = live.get("metadata") or {}
    owners = [
        (m.get("manager"), m.get("operation"), m.get("subresource"), m.get("fieldsV1"))
        for m in meta.get("managedFields") or []
        if m.get("subresource") != "status"
    ]
    view = {
        **{k: v for k, v in live.items() if k not in ("status", "metadata")},
        "metadata": {k: v for k, v in meta.items() if k not in _BOOKKEEPING},
        "owners": owners,
    }
    return hashlib.sha256(json.dumps(view, sort_keys=True, default=str).encode()).hexdigest()


class VerdictCache:
    """Bounded LRU of dry-run verdicts keyed by object."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[ResourceRef, Verdict] = OrderedDict()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def lookup(self, ref: ResourceRef, digest: str, live_version: str) -> Verdict | None:
        verdict = self._entries.get(ref)
        if verdict is None or verdict.body_hash != digest or verdict.live_version != live_version:
            self.misses += 1
            return None
        self._entries.move_to_end(ref)
        self.hits += 1
        return verdict

    def store(self, ref: ResourceRef, verdict: Verdict) -> None:
        self._entries[ref] = verdict
        self._entries.move_to_end(ref)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
