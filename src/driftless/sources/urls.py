"""Repository URLs: validation, normalization and redaction (pure, no I/O).

Contract:

* ``check_repo_url`` accepts exactly the URL forms driftless can fetch from
  (``file://``, absolute local paths, ``http(s)://``, and, for later, ``ssh://``
  and scp-like ``user@host:path``) and returns the string to hand to git.
  Anything else — in particular git's ``ext::`` and ``fd::`` transports, which
  run commands, and strings starting with ``-`` that git would read as
  options — raises ``SourceError``.
* ``normalize_repo_url`` maps spellings of one repository onto one key, so
  apps that spell a URL differently still share a cache clone. It is
  deliberately conservative: ``/x`` and ``/x.git`` stay different, because
  plain git servers (``git http-backend``) treat them as different
  repositories.
* ``redact`` removes ``user:password@`` from every URL in a text. Every
  message that leaves this package goes through it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from driftless.core.errors import SourceError

_NETWORK_SCHEMES = frozenset({"http", "https", "ssh", "git"})
# user@host:path (scp-like ssh); the host part must not contain "/" so that a
# relative path with a colon in it is not mistaken for one.
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?[A-Za-z0-9.\-]+:(?!//)[^\s]+$")
# scheme://userinfo@ — userinfo may hold a token; it must never reach a message.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """Return ``text`` with the ``userinfo@`` part of every URL in it removed."""
    return _USERINFO.sub(r"\g<scheme>", text)


def check_repo_url(repo_url: str) -> str:
    """Validate ``repo_url`` and return the form to pass to git.

    Local paths are returned as given (they must be absolute: a relative path
    would depend on the controller's working directory).
    """
    url = repo_url.strip()
    if not url:
        raise SourceError("repository URL is empty")
    if url.startswith("-"):
        raise SourceError(f"repository URL {redact(url)!r} is not valid")
    if url.startswith("/"):
        return url
    scheme, sep, _ = url.partition("://")
    if sep:
        scheme = scheme.lower()
        if scheme == "file" or scheme in _NETWORK_SCHEMES:
            return url
        raise SourceError(
            f"repository URL {redact(url)!r} uses the unsupported scheme {scheme!r}"
            " (supported: https, http, ssh, git, file)"
        )
    if _SCP_LIKE.match(url) and "::" not in url:
        return url
    raise SourceError(
        f"repository URL {redact(url)!r} is neither an absolute path nor a"
        " supported URL (https://, http://, ssh://, file://)"
    )


def normalize_repo_url(repo_url: str) -> str:
    """One canonical spelling per repository, without credentials.

    Lower-cases scheme and host, drops userinfo and trailing slashes, and maps
    an absolute local path to its ``file://`` URL.
    """
    url = check_repo_url(repo_url)
    if url.startswith("/"):
        return "file://" + _clean_path(url)
    if "://" not in url:  # scp-like: user@host:path
        host_part, _, path = url.partition(":")
        host = host_part.rpartition("@")[2].lower()
        return f"ssh://{host}/{path.strip('/')}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return "file://" + _clean_path(parts.path)
    host = (parts.hostname or "").lower()
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host, path, parts.query, ""))


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


def _clean_path(path: str) -> str:
    """Collapse ``//`` and trailing ``/`` of an absolute POSIX path, lexically."""
    cleaned = str(PurePosixPath(path))
    return cleaned if cleaned.startswith("/") else "/" + cleaned
