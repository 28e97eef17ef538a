"""Semver ranges over a repository's tags (pure).

A ``targetRevision`` such as ``~1.2``, ``^1``, ``>=1.0 <2``, ``1.x`` or
``1.2.3 - 1.4`` selects the highest tag whose version satisfies the range.

Contract:

* The grammar and semantics are npm's (``semantic_version.NpmSpec``): the
  range language people already write in ``package.json`` and in Helm, Argo
  CD and Flux version constraints, with the pre-release rule users expect.
  It is the library ``render.chart_versions`` uses for chart versions, so a
  range means the same thing for a chart and for a tag. Helm's
  (Masterminds) spellings are rewritten first, as there: a comma is AND and
  a space after an operator is dropped (``>= 1.0, < 2``).
* ``parse_range`` returns ``None`` for anything that is not a range, and for
  strings that look like a commit id (``1234abcd``), which stay commit ids.
  Callers look up exact ref names first, so a branch or tag literally named
  like a range (``1.x``) resolves to that ref.
* Tags count with or without a leading ``v`` (``v1.2.3`` and ``1.2.3``) and
  must be full ``MAJOR.MINOR.PATCH[-PRE][+BUILD]`` versions; other tags are
  ignored. Pre-releases match only when the range names a pre-release of the
  same ``MAJOR.MINOR.PATCH`` (``>=2.0.0-rc.0`` admits ``2.0.0-rc.1``).
* An exact version (``1.2.3``, ``v1.2.3``) is a range of one version: it
  finds the tag spelled with or without the ``v``. When no tag has it, the
  error reads like any unknown revision ("revision ... not found").
* ``select`` returns the highest matching tag; equal versions (``v1.0.0``
  and ``1.0.0``) are broken by tag name, so the answer never depends on the
  order git lists refs in. No match raises ``SourceError`` naming the range
  and the nearest tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import semantic_version  # type: ignore[import-untyped, unused-ignore]

from driftless.core.errors import SourceError
from driftless.sources import refs
from driftless.sources.urls import redact

__all__ = ["TagRange", "TagVersion", "parse_range", "select", "tag_versions"]

_TAG_PREFIX = "refs/tags/"
_NEAREST_SHOWN = 5
_OPERATOR_SPACE = re.compile(r"(>=|<=|>|<|=|~|\^)\s+")
_EXACT = re.compile(r"^[vV=]?\d+\.\d+\.\d+(-[0-9A-Za-z.\-]+)?(\+[0-9A-Za-z.\-]+)?$")
_FIRST_VERSION = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


@dataclass(frozen=True)
class TagRange:
    """A parsed semver range; ``text`` is what the user wrote."""

    text: str
    spec: semantic_version.NpmSpec

    @property
    def exact(self) -> bool:
        """Names one version rather than a range."""
        return bool(_EXACT.match(self.text))

    def admits(self, version: semantic_version.Version, *, any_prerelease: bool = False) -> bool:
        """``version`` is in the range (``any_prerelease``: ignoring the pre-release rule)."""
        if any_prerelease and version.prerelease:
            version = semantic_version.Version(
                major=version.major, minor=version.minor, patch=version.patch
            )
        return bool(version in self.spec)


@dataclass(frozen=True)
class TagVersion:
    """A tag that is a semver version."""

    ref: str
    sha: str
    version: semantic_version.Version

    @property
    def tag(self) -> str:
        return self.ref.removeprefix(_TAG_PREFIX)


def _highest(versions: list[TagVersion]) -> TagVersion:
    """The highest version; of equal ones (``v1.0.0``, ``1.0.0``) the tag name sorting first."""
    # max() keeps the first of equal keys, so sort by name first.
    return max(sorted(versions, key=lambda v: v.tag), key=lambda v: v.version)


def _descending(versions: list[TagVersion]) -> list[TagVersion]:
    return sorted(sorted(versions, key=lambda v: v.tag), key=lambda v: v.version, reverse=True)


def parse_range(revision: str | None) -> TagRange | None:
    """The semver range ``revision`` spells, or ``None`` when it is not one."""
    if revision is None or refs.is_default_revision(revision) or refs.looks_like_sha(revision):
        return None
    text = revision.strip()
    spec_text = " ".join(_OPERATOR_SPACE.sub(r"\1", text).replace(",", " ").split())
    try:
        spec = semantic_version.NpmSpec(spec_text)
    except ValueError:
        return None
    return TagRange(text=text, spec=spec)


def tag_versions(advertised: Mapping[str, str]) -> list[TagVersion]:
    """Every tag of ``advertised`` (full ref name -> commit) that is a semver version."""
    versions = []
    for ref, sha in advertised.items():
        if not ref.startswith(_TAG_PREFIX):
            continue
        version = _parse_tag(ref.removeprefix(_TAG_PREFIX))
        if version is not None:
            versions.append(TagVersion(ref=ref, sha=sha, version=version))
    return versions


def select(remote: refs.RemoteRefs, tag_range: TagRange, url: str) -> refs.RefMatch:
    """The highest tag of ``remote`` in ``tag_range``; ``SourceError`` when none is."""
    candidates = tag_versions(remote.refs)
    matching = [c for c in candidates if tag_range.admits(c.version)]
    if matching:
        best = _highest(matching)
        return refs.RefMatch(sha=best.sha, ref=best.ref)
    raise SourceError(_no_match_message(tag_range, candidates, url))


def _parse_tag(tag: str) -> semantic_version.Version | None:
    """The version of a tag named ``1.2.3`` or ``v1.2.3``; ``None`` for other names."""
    text = tag[1:] if tag[:1] in ("v", "V") else tag
    try:
        return semantic_version.Version(text)
    except ValueError:
        return None


def _no_match_message(tag_range: TagRange, candidates: list[TagVersion], url: str) -> str:
    if tag_range.exact:
        base = (
            f"revision {tag_range.text!r} not found in {redact(url)}: no branch or tag of that name"
        )
    else:
        base = f"no tag of {redact(url)} matches the semver range {tag_range.text!r}"
    if not candidates:
        if tag_range.exact:
            return base
        return f"{base}: the repository has no semver tags (like v1.2.3)"
    message = f"{base}; nearest tags: {', '.join(_nearest(tag_range, candidates))}"
    pre = [c for c in candidates if tag_range.admits(c.version, any_prerelease=True)]
    if pre:
        example = _highest(pre)
        v = example.version
        message += (
            f" (pre-releases such as {example.tag} match only when the range names a"
            f" pre-release of the same version, e.g. '>={v.major}.{v.minor}.{v.patch}-0')"
        )
    return message


def _nearest(tag_range: TagRange, candidates: list[TagVersion]) -> list[str]:
    """The few tags ordered closest to the first version the range names, highest first."""
    found = _FIRST_VERSION.search(tag_range.text)
    numbers = [int(g or 0) for g in found.groups()] if found else [0, 0, 0]
    pivot = semantic_version.Version(major=numbers[0], minor=numbers[1], patch=numbers[2])
    # Releases only, unless there are none: pre-releases get their own hint.
    releases = [c for c in candidates if not c.version.prerelease] or candidates
    ascending = list(reversed(_descending(releases)))
    split = sum(1 for c in ascending if c.version < pivot)
    # Rank distance from the pivot's place in the order: 0 for the tag just
    # below and the tag just at/above it, 1 for the next ones out, ...
    ranked = sorted(
        range(len(ascending)), key=lambda i: (split - 1 - i) if i < split else (i - split)
    )
    closest = [ascending[i] for i in ranked[:_NEAREST_SHOWN]]
    return [c.tag for c in _descending(closest)]
