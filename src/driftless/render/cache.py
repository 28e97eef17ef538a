"""An in-memory cache of renders, so an unchanged commit is never rendered twice.

Contract:

* A ``RenderKey`` holds everything a render's output depends on: the content
  identity (repository commit, or chart repository + chart + version + the
  fingerprint of the credential that read it, ``FetchedChart.identity``, so a
  private chart's render is never served to an app without that credential),
  the app path in it, the renderer and its options (including release name
  and namespace), the tool fingerprints, and the destination's Kubernetes
  version and API versions. Equal keys ⇒ equal output; ``RenderKey.build`` makes the
  options canonical (sorted JSON), so equal specs give equal keys.
* ``RenderCache.get`` returns a deep copy of the stored manifests and
  ``put`` stores a deep copy: callers mutate manifests freely (namespace
  defaulting, tracking annotations) without corrupting the cache.
* Bounded by entry count and by approximate size (the length of the objects'
  compact JSON); the least recently used entries are evicted first. One
  render larger than the whole byte budget is not stored.
* Failed renders are not cached (a transient failure must be retried; a
  stalling one is cheap to reproduce and its input must change anyway).
* Not thread-safe: use it from the event loop only (renders run in threads
  but the cache is consulted before and filled after).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftless.core.jsoncopy import deep_copy
from driftless.core.resources import Manifest

DEFAULT_MAX_ENTRIES = 256
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class RenderKey:
    """What a render's output depends on (see the module contract)."""

    content: str
    path: str
    renderer: str
    options: str
    tools: str
    kube: str

    @classmethod
    def build(
        cls,
        *,
        content: str,
        path: str,
        renderer: str,
        options: Mapping[str, Any],
        tools: Sequence[str],
        kube_version: str,
        api_versions: Sequence[str],
    ) -> RenderKey:
        """A key with the options and API versions in canonical form."""
        canonical = json.dumps(options, sort_keys=True, separators=(",", ":"), default=str)
        apis = hashlib.sha256("\n".join(sorted(api_versions)).encode()).hexdigest()[:16]
        return cls(
            content=content,
            path=path,
            renderer=renderer,
            options=canonical,
            tools="|".join(tools),
            kube=f"{kube_version}|{apis}",
        )


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class RenderCache:
    """LRU cache of render results, bounded by count and approximate bytes."""

    def __init__(
        self, *, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._entries: OrderedDict[RenderKey, tuple[list[Manifest], int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def size_bytes(self) -> int:
        """The approximate size of everything stored."""
        return self._bytes

    def get(self, key: RenderKey) -> list[Manifest] | None:
        """A private copy of the render stored under ``key``; ``None`` on a miss."""
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return deep_copy(entry[0])

    def put(self, key: RenderKey, manifests: Sequence[Manifest]) -> None:
        """Store a private copy of ``manifests`` under ``key``, evicting as needed."""
        size = approximate_size(manifests)
        self.discard(key)
        if size > self.max_bytes or self.max_entries <= 0:
            return
        self._entries[key] = (deep_copy(list(manifests)), size)
        self._bytes += size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted
            self.stats.evictions += 1

    def discard(self, key: RenderKey) -> None:
        """Forget ``key`` if stored."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


def approximate_size(manifests: Sequence[Manifest]) -> int:
    """Bytes of the objects as compact JSON: proportional to their memory, cheap to get."""
    return sum(len(json.dumps(m.obj, separators=(",", ":"), default=str)) + 64 for m in manifests)
