"""Which Applications a push refreshes (pure).

An app follows a push when both hold:

* its ``spec.source.repoURL`` has the ``core.repourl`` key of one of the
  push's URLs: https, ssh, scp-like (``git@host:o/r``), with or without a
  trailing ``.git``, the default port written or not are one repository;
  host AND path are compared casefolded (GitHub sends ``MyOrg/MyRepo`` for
  an app that wrote ``myorg/myrepo``; on a case-sensitive self-hosted server
  the cost is a needless re-check, never a wrong sync). A Bitbucket Server
  push that names only ``<key>/<slug>`` (``Push.repo_paths``) matches the
  apps whose repository path ends with it (``scm/<key>/<slug>`` or
  ``<key>/<slug>``, casefolded). A Helm chart source (``spec.source.chart``)
  follows no git push.
* its ``targetRevision`` names the pushed ref:

  ===========================  ==================================================
  targetRevision               refreshed by
  ===========================  ==================================================
  ``x`` or ``refs/heads/x``    a push to branch ``x``
  ``HEAD``, empty              a push to the default branch; every branch push
                               when the payload names no default branch
  ``y`` or ``refs/tags/y``     a push of tag ``y``
  a semver range (``~1.2``)    any tag push (the highest matching tag may change);
                               an exact version (``1.2.3``) its tag, ``v`` or not
  a full commit id             nothing: a pinned commit never moves
  ===========================  ==================================================

A push whose ``ref`` is ``None`` (the forge did not list the refs) refreshes
every app of the repository but the pinned ones.

A name that could be a branch or a tag (``x``) is refreshed by either:
refreshing too much costs one ``ls-remote``, too little a missed push.

``followed(app)`` reads what matters of an Application (the API server's
dict, possibly hostile: wrong types read as "follows nothing");
``matched(pushes, apps)`` is the apps any of the pushes refreshes, in the
order given, each once; ``refreshed`` their keys; ``folded(repo)`` the key
apps of one repository share (the receiver coalesces by it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from driftless.core.errors import SourceError
from driftless.core.repourl import parse_repo_url
from driftless.sources import refs, tagrange
from driftless.webhooks.forges import Push

__all__ = [
    "Followed",
    "Key",
    "folded",
    "followed",
    "follows",
    "matched",
    "refreshed",
    "repo_key",
]

Key = tuple[str, str]
_HEADS = "refs/heads/"
_TAGS = "refs/tags/"


@dataclass(frozen=True)
class Followed:
    """What an app follows: ``repo`` is its repository's key, ``revision`` as written."""

    key: Key  # (namespace, name)
    repo: str
    revision: str


@lru_cache(maxsize=4096)  # many apps share few repositories: each push parses them all
def repo_key(url: str) -> str | None:
    """The comparable key of a repository URL, or ``None`` when it is none."""
    try:
        return parse_repo_url(url).key
    except SourceError:
        return None


def followed(app: Mapping[str, Any]) -> Followed | None:
    """What an Application follows, or ``None`` (no git source, or a malformed object)."""
    meta = app.get("metadata")
    spec = app.get("spec")
    if not isinstance(meta, dict) or not isinstance(spec, dict):
        return None
    source = spec.get("source")
    namespace, name = meta.get("namespace"), meta.get("name")
    if not isinstance(source, dict) or not isinstance(namespace, str) or not isinstance(name, str):
        return None
    url, revision = source.get("repoURL"), source.get("targetRevision", "HEAD")
    if source.get("chart") or not isinstance(url, str) or not isinstance(revision, str):
        return None
    key = repo_key(url)
    return None if key is None else Followed((namespace, name), key, revision)


def folded(repo: str) -> str:
    """The comparison form of a repository key: host and path casefolded."""
    return repo.casefold()


def _tail(repo: str) -> str:
    """The last two path components of a folded repository key (``key/slug``)."""
    parts = urlsplit(repo).path.strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else ""


def follows(ref: str | None, revision: str, default_branch: str | None) -> bool:
    """Does an app at ``revision`` follow a push of ``ref``? (the table above)"""
    wanted = revision.strip()
    if refs.is_full_sha(wanted):
        return False
    if ref is None:
        return True
    if ref.startswith(_HEADS):
        branch = ref.removeprefix(_HEADS)
        if refs.is_default_revision(wanted):
            return default_branch is None or default_branch == branch
        return wanted in (ref, branch)
    if ref.startswith(_TAGS):
        if refs.is_default_revision(wanted):
            return False
        tag = ref.removeprefix(_TAGS)
        if wanted in (ref, tag):
            return True
        selected = tagrange.parse_range(wanted)
        if selected is None:
            return False
        # An exact version (``1.2.3``) finds its tag with or without the ``v``.
        return not selected.exact or _bare(wanted) == _bare(tag)
    return False


def _bare(version: str) -> str:
    return version.lstrip("vV=")


def matched(pushes: Iterable[Push], apps: Iterable[Followed]) -> list[Followed]:
    """The apps that any of ``pushes`` refreshes, each once, in the order of ``apps``."""
    by_url: dict[str, list[Push]] = {}
    by_tail: dict[str, list[Push]] = {}
    for push in pushes:
        for url in dict.fromkeys(folded(u) for u in push.repo_urls):
            by_url.setdefault(url, []).append(push)
        for path in dict.fromkeys(folded(p) for p in push.repo_paths):
            by_tail.setdefault(path, []).append(push)
    found: list[Followed] = []
    seen: set[Key] = set()
    for app in apps:  # one dict lookup or two per app: 10,000 apps are cheap
        repo = folded(app.repo)
        candidates = by_url.get(repo, [])
        if by_tail:
            candidates = candidates + by_tail.get(_tail(repo), [])
        if app.key in seen or not candidates:
            continue
        if any(follows(p.ref, app.revision, p.default_branch) for p in candidates):
            found.append(app)
            seen.add(app.key)
    return found


def refreshed(pushes: Iterable[Push], apps: Iterable[Followed]) -> list[Key]:
    """The keys of the apps that any of ``pushes`` refreshes, each once."""
    return [app.key for app in matched(pushes, apps)]
