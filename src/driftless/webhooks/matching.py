"""Which Applications a push refreshes (pure).

An app follows a push when both hold:

* its ``spec.source.repoURL`` has the ``core.repourl`` key of one of the
  push's URLs: https, ssh, scp-like (``git@host:o/r``), with or without a
  trailing ``.git``, any case of the host, the default port written or not
  are one repository. A Helm chart source (``spec.source.chart``) follows no
  git push.
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

A name that could be a branch or a tag (``x``) is refreshed by either:
refreshing too much costs one ``ls-remote``, too little a missed push.

``followed(app)`` reads what matters of an Application (the API server's
dict, possibly hostile: wrong types read as "follows nothing");
``refreshed(pushes, apps)`` is the keys of the apps any of the pushes
refreshes, in the order given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from driftless.core.errors import SourceError
from driftless.core.repourl import parse_repo_url
from driftless.sources import refs, tagrange
from driftless.webhooks.forges import Push

__all__ = ["Followed", "Key", "followed", "follows", "refreshed", "repo_key"]

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


def follows(ref: str, revision: str, default_branch: str | None) -> bool:
    """Does an app at ``revision`` follow a push of ``ref``? (the table above)"""
    wanted = revision.strip()
    if refs.is_full_sha(wanted):
        return False
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


def refreshed(pushes: Iterable[Push], apps: Iterable[Followed]) -> list[Key]:
    """The keys of the apps that any of ``pushes`` refreshes, each once."""
    pushes = tuple(pushes)
    repos = {url for push in pushes for url in push.repo_urls}
    keys: list[Key] = []
    seen: set[Key] = set()
    for app in apps:
        if app.repo not in repos or app.key in seen:
            continue
        if any(
            app.repo in push.repo_urls and follows(push.ref, app.revision, push.default_branch)
            for push in pushes
        ):
            keys.append(app.key)
            seen.add(app.key)
    return keys
