"""Which directories of a commit are named by their own git tree id (pure).

A monorepo's commit usually changes a few apps' folders; the others keep
their git *tree id*, which names a directory's whole content (every file's
name, mode and bytes, recursively). Keyed by it instead of by the commit, an
unchanged folder's render survives a commit elsewhere in the repository.

Contract:

* ``SubtreeIndex.parse(listing)`` reads the output of ``git ls-tree -r -t -z
  --full-tree <commit>``; malformed entries are skipped.
* ``index.tree_of(path)`` is the tree id of the directory ``path`` (POSIX,
  relative to the repository root, as ``resolve_app_path`` found it) when
  its content is exactly its files: ``None`` when ``path`` is not a directory
  of the commit, when it is the root (``ls-tree`` does not list it), or when
  anything beneath it is a symlink (whose target may lie outside it, so the
  id would not cover what a render reads) or a submodule (never checked out).
* The caller still decides whether a render reads only that directory (a
  plain directory does; a kustomize ``../base``, a Jsonnet import or a chart's
  ``file://`` dependency read elsewhere, so those keep the commit).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

_SYMLINK_MODE = "120000"


@dataclass(frozen=True)
class SubtreeIndex:
    """Directory → tree id, and the directories holding a symlink or submodule beneath."""

    trees: dict[str, str] = field(default_factory=dict)
    unsafe: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, listing: bytes) -> SubtreeIndex:
        trees: dict[str, str] = {}
        unsafe: set[str] = set()
        for entry in listing.split(b"\0"):
            meta, tab, raw_path = entry.partition(b"\t")
            parts = meta.split()
            if not tab or len(parts) != 3:
                continue
            mode, kind, object_id = (p.decode("ascii", "replace") for p in parts)
            path = raw_path.decode("utf-8", "surrogateescape")
            if kind == "tree":
                trees[path] = object_id
            elif kind == "commit" or mode == _SYMLINK_MODE:
                unsafe.update(_ancestors(path))
        return cls(trees, frozenset(unsafe))

    def tree_of(self, path: str) -> str | None:
        """The tree id standing for everything under ``path``, or ``None`` (see the contract)."""
        if path in ("", ".") or path in self.unsafe:
            return None
        return self.trees.get(path)


def _ancestors(path: str) -> list[str]:
    """Every directory containing ``path`` (not the root)."""
    found = []
    parent = posixpath.dirname(path)
    while parent:
        found.append(parent)
        parent = posixpath.dirname(parent)
    return found
