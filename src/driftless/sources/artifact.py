"""The result of fetching a source, and finding an app's path inside it.

Contract:

* An ``Artifact`` is the tree of exactly one commit (``revision``, a full
  commit id) of ``repo_url``, materialized at ``path``. It is shared by every
  app that asks for that commit, so callers treat it as read-only.
* ``resolve_app_path`` turns an app's ``spec.source.path`` into a directory
  inside the artifact. It never returns a path outside the tree: ``..``
  escapes, absolute paths and symlinks that point out of the tree are a
  ``SourceError``, because a manifest path in git must not be able to read
  the controller's own files.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from driftless.core.errors import SourceError
from driftless.sources.urls import redact


@dataclass(frozen=True)
class Artifact:
    """The tree of one commit of one repository, on local disk."""

    repo_url: str
    revision: str
    path: Path


def resolve_app_path(artifact: Artifact, path: str | None) -> Path:
    """The directory ``path`` names inside ``artifact``; empty or ``"."`` is the root.

    Raises ``SourceError`` when the path escapes the repository, does not
    exist at this revision, or is not a directory.
    """
    relative = _lexical_relative(path)
    shown = path or "."
    root = artifact.path.resolve()
    candidate = root.joinpath(relative) if relative else root
    # resolve() follows every symlink on the way, so a link anywhere in the
    # path that leaves the tree is caught here, even a dangling one.
    target = candidate.resolve()
    if not target.is_relative_to(root):
        raise SourceError(f"path {shown!r} escapes the repository")
    if not target.exists():
        raise SourceError(
            f"path {shown!r} not found in {redact(artifact.repo_url)} at {artifact.revision[:12]}"
        )
    if not target.is_dir():
        raise SourceError(
            f"path {shown!r} in {redact(artifact.repo_url)} at {artifact.revision[:12]}"
            " is not a directory"
        )
    return target


def _lexical_relative(path: str | None) -> str:
    """``path`` normalized as a relative POSIX path ("" for the root).

    Rejects absolute paths and ``..`` that climbs above the root before any
    file system access, so the message does not depend on what exists.
    """
    raw = (path or "").strip()
    if raw in ("", "."):
        return ""
    if raw.startswith("/") or "\x00" in raw:
        raise SourceError(f"path {raw!r} escapes the repository")
    normalized = posixpath.normpath(raw)
    if normalized == ".." or normalized.startswith("../"):
        raise SourceError(f"path {raw!r} escapes the repository")
    return "" if normalized == "." else normalized
