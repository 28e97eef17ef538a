"""Mapping a user's ``targetRevision`` onto the refs a remote advertises (pure).

Contract:

* ``parse_ls_remote`` reads the output of ``git ls-remote --symref`` into
  ``RemoteRefs``; an annotated tag maps to the commit it points at (the
  ``^{}`` "peeled" line), never to the tag object.
* ``match_revision`` answers from the advertised refs alone, so the common
  case (a branch or tag whose commit we already have) costs one ``ls-remote``
  and no fetch. Empty, ``None`` and ``HEAD`` mean the remote's default branch.
  A name is looked up the way ``git rev-parse`` does it: a full ``refs/...``
  name as is, then ``refs/tags/<name>``, then ``refs/heads/<name>``.
* A revision that matches no ref but looks like a commit id (4 to 64 hex
  digits) has to be looked up in the objects themselves; ``looks_like_sha``
  says when to try that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")
_FULL_SHA_LENGTHS = (40, 64)  # SHA-1 and SHA-256 repositories
_PEELED = "^{}"
# Characters git refuses in ref names, plus whitespace; also catches option
# injection (a leading "-") before any git command sees the revision.
_BAD_REVISION = re.compile(r"(^-)|[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")


@dataclass(frozen=True)
class RemoteRefs:
    """What a remote advertises.

    ``refs`` maps full ref names to commit ids (annotated tags already
    peeled); ``head`` is the commit of ``HEAD`` and ``head_target`` the branch
    ``HEAD`` points at (``None`` for a detached HEAD or an empty repository).
    """

    refs: Mapping[str, str] = field(default_factory=dict)
    head: str | None = None
    head_target: str | None = None


@dataclass(frozen=True)
class RefMatch:
    """A revision resolved through an advertised ref."""

    sha: str
    ref: str | None  # the ref it came from, to re-read after a fetch; None: detached HEAD


def parse_ls_remote(output: str) -> RemoteRefs:
    """Parse ``git ls-remote --symref`` output."""
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    head: str | None = None
    head_target: str | None = None
    for line in output.splitlines():
        value, sep, name = line.partition("\t")
        if not sep:
            continue
        if value.startswith("ref: "):
            if name == "HEAD":
                head_target = value.removeprefix("ref: ").strip()
            continue
        sha = value.strip().lower()
        if name == "HEAD":
            head = sha
        elif name.endswith(_PEELED):
            peeled[name.removesuffix(_PEELED)] = sha
        else:
            refs[name] = sha
    refs.update((name, sha) for name, sha in peeled.items() if name in refs)
    return RemoteRefs(refs=refs, head=head, head_target=head_target)


def is_default_revision(revision: str | None) -> bool:
    """True for the spellings of "the remote's default branch"."""
    return revision is None or revision.strip() in ("", "HEAD")


def check_revision(revision: str) -> str | None:
    """Why ``revision`` cannot be a git revision, or ``None`` when it can."""
    if _BAD_REVISION.search(revision) or revision.endswith((".", "/", ".lock")):
        return "it is not a valid branch, tag or commit name"
    return None


def match_revision(remote: RemoteRefs, revision: str | None) -> RefMatch | None:
    """The commit an advertised ref gives ``revision``, or ``None`` if no ref matches."""
    if revision is None or is_default_revision(revision):
        if remote.head is None:
            return None
        return RefMatch(sha=remote.head, ref=remote.head_target)
    name = revision.strip()
    for candidate in _ref_candidates(name):
        sha = remote.refs.get(candidate)
        if sha is not None:
            return RefMatch(sha=sha, ref=candidate)
    return None


def looks_like_sha(revision: str | None) -> bool:
    """Could ``revision`` be a full or abbreviated commit id?"""
    return revision is not None and bool(_HEX.match(revision.strip()))


def is_full_sha(revision: str) -> bool:
    """Is ``revision`` a complete commit id (not an abbreviation)?"""
    return looks_like_sha(revision) and len(revision.strip()) in _FULL_SHA_LENGTHS


def _ref_candidates(name: str) -> list[str]:
    """Full ref names ``name`` can stand for, in ``git rev-parse`` order."""
    if name.startswith("refs/"):
        return [name]
    return [f"refs/tags/{name}", f"refs/heads/{name}"]
