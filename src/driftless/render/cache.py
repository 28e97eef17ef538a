"""An in-memory cache of renders, so an unchanged commit is never rendered twice.

Contract:

* A ``RenderKey`` holds everything a render's output depends on: the content
  identity (repository URL + commit, or chart repository + chart + version + the
  fingerprint of the credential that read it, ``FetchedChart.identity``, so a
  private chart's render is never served to an app without that credential),
  the app path in it, the renderer and its options (including release name
  and namespace), the tool fingerprints, and the destination's Kubernetes
  version and API versions. Equal keys ⇒ equal output; ``RenderKey.build`` makes the
  options canonical (sorted JSON), so equal specs give equal keys. The options
  are the whole ``spec.source`` but its URL and revision (values, parameters,
  plugin env, decryption settings...), so two apps share an entry only when
  nothing of either app's settings could make their renders differ. The
  renderer version is ``RENDER_VERSION`` plus the tools' fingerprints: a
  driftless upgrade that renders differently never reads an old entry.
* ``RenderCache.get`` returns a fresh copy of the stored manifests and
  ``put`` stores a copy: callers mutate manifests freely (namespace
  defaulting, tracking annotations) without corrupting the cache. Entries
  are kept serialized (pickle, made and read by this process only: never
  bytes from outside), which holds a render in several times less memory
  than its objects and copies it back faster than a deep copy; a hit returns
  objects equal, type for type, to the ones stored.
* Bounded by entry count and by bytes (the serialized size); the least
  recently used entries are evicted first. One render larger than the whole
  byte budget is not stored. The defaults hold a 1,000-app monorepo (one
  entry per app path) several times over in a few MiB.
* Failed renders are not cached (a transient failure must be retried; a
  stalling one is cheap to reproduce and its input must change anyway).
* What is cached is what the renderer produced: SOPS-encrypted documents
  stay encrypted (``pipeline.decryption`` decrypts after the cache, each
  pass), so no decrypted Secret is kept here.
* Not thread-safe: use it from the event loop only (renders run in threads
  but the cache is consulted before and filled after).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftless.core.resources import Manifest

DEFAULT_MAX_ENTRIES = 4096
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# Bump when a driftless change makes the same input render differently.
RENDER_VERSION = "1"


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
            tools="|".join((f"driftless-render:{RENDER_VERSION}", *tools)),
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
        self._entries: OrderedDict[RenderKey, bytes] = OrderedDict()
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
        return _thaw(entry)

    def put(self, key: RenderKey, manifests: Sequence[Manifest]) -> None:
        """Store a private copy of ``manifests`` under ``key``, evicting as needed."""
        self.discard(key)
        if self.max_entries <= 0:
            return
        frozen = _freeze(manifests)
        if len(frozen) > self.max_bytes:
            return
        self._entries[key] = frozen
        self._bytes += len(frozen)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted)
            self.stats.evictions += 1

    def discard(self, key: RenderKey) -> None:
        """Forget ``key`` if stored."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


def stored_size(manifests: Sequence[Manifest]) -> int:
    """The bytes ``manifests`` take in the cache."""
    return len(_freeze(manifests))


def _freeze(manifests: Sequence[Manifest]) -> bytes:
    rows = [(m.obj, m.source_file, m.line, m.extra) for m in manifests]
    return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


def _thaw(frozen: bytes) -> list[Manifest]:
    # Our own bytes, made by ``_freeze`` in this process: never input from outside.
    rows = pickle.loads(frozen)
    return [Manifest(obj=o, source_file=f, line=n, extra=x) for o, f, n, x in rows]
