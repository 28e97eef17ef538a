"""What grants access to a cached chart: a keyed fingerprint of the credential.

Why: charts from a private repository are cached on disk and renders in
memory. Were the caches keyed by URL, chart and version alone, an app without
credentials (or with wrong ones) would be served a private chart another app
had fetched. So every cache entry is also keyed by *who may read it*:

* ``fingerprint(auth, cache_root)`` is ``""`` for anonymous access, otherwise
  an HMAC-SHA256 of the credential's origin, user name and password under a
  random key kept in ``<cache_root>/.access-key`` (created once, mode 0600).
  Equal credentials give equal fingerprints, so apps sharing a credential
  share the cache; different or missing credentials miss it and go to the
  server, which decides.
* The fingerprint is safe to put in directory names and cache keys: without
  the key file it cannot be tested against guessed passwords, and it never
  contains the credential itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import uuid
from pathlib import Path

from driftless.core.errors import DriftlessError
from driftless.render.chart_http import BasicAuth

KEY_FILE = ".access-key"
_KEY_BYTES = 32
_SHOWN_HEX = 24


def fingerprint(auth: BasicAuth | None, cache_root: Path) -> str:
    """The access fingerprint of ``auth`` (``""`` when anonymous)."""
    if auth is None:
        return ""
    message = "\0".join((auth.origin, auth.username, auth.password)).encode()
    try:
        key = _key(cache_root)
    except OSError as exc:
        raise DriftlessError(f"chart cache: cannot read or create its access key: {exc}") from None
    digest = hmac.new(key, message, hashlib.sha256).hexdigest()
    return digest[:_SHOWN_HEX]


def _key(cache_root: Path) -> bytes:
    """The cache's HMAC key, created atomically on first use."""
    path = cache_root / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return _read(path)
    cache_root.mkdir(parents=True, exist_ok=True)
    temp = cache_root / f".access-key-{uuid.uuid4().hex}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(_KEY_BYTES))
        # A hard link fails if another process created the key first: theirs wins.
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        raise OSError(f"{path.name} is not a chart cache access key")
    return key
