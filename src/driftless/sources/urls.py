"""Repository URLs as the git source uses them (pure, no I/O).

The parsing and normalization rules live in ``driftless.core.repourl``, so
the Project allow-list, credential matching and the fetch all see one
spelling. This module adds what only the git source needs.

Contract:

* ``check_repo_url`` validates a URL (see ``core.repourl.parse_repo_url``:
  git's ``ext::``/``fd::`` transports, strings starting with ``-``, passwords
  in URLs and ambiguous spellings raise ``SourceError``) and returns its
  canonical spelling, the one string handed to git. Callers must fetch
  exactly that string, never the URL as written.
* ``normalize_repo_url`` maps spellings of one repository onto one string
  without credentials, so apps that spell a URL differently share a cache
  clone. It keeps a trailing ``.git``: plain git servers (``git
  http-backend``) treat ``/x`` and ``/x.git`` as different repositories.
* ``redact`` removes ``user:password@`` and query values from every URL in a
  text. Every message that leaves this package goes through it.
"""

from __future__ import annotations

import hashlib
import re

from driftless.core.repourl import RepoURL, parse_repo_url, redact

__all__ = [
    "RepoURL",
    "check_repo_url",
    "normalize_repo_url",
    "parse_repo_url",
    "redact",
    "repo_cache_key",
]


def check_repo_url(repo_url: str) -> str:
    """Validate ``repo_url`` and return the canonical form to pass to git."""
    return parse_repo_url(repo_url).check_fetchable()


def normalize_repo_url(repo_url: str) -> str:
    """One spelling per repository, without credentials (``SourceError`` if invalid)."""
    return parse_repo_url(repo_url).identity


def repo_cache_key(repo_url: str) -> str:
    """A directory name for the cache clone of ``repo_url``.

    A readable prefix (the repository's last path segment) plus a hash of the
    normalized URL, so different spellings of one repo share a clone and two
    repos with the same name do not.
    """
    normalized = normalize_repo_url(repo_url)
    digest = hashlib.sha256(normalized.encode()).hexdigest()[:20]
    tail = normalized.rstrip("/").rpartition("/")[2]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip(".-")[:40] or "repo"
    return f"{readable}-{digest}"
