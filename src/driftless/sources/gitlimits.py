"""How much git work one repository may cause: time, bytes on disk, files checked out.

A repository is untrusted input: a tenant's repository (or a server that
turns hostile) can hang a fetch, send gigabytes, or hold a commit whose tree
is a million files or one 50 GiB blob. ``GitCache`` enforces these bounds:

=================================  =============  ===============================================
setting (environment variable)     default        what happens past it
=================================  =============  ===============================================
``DRIFTLESS_GIT_TIMEOUT``          ``120`` s      a network command (ls-remote, fetch) is killed;
                                                  ``SourceUnavailableError`` (retried)
``DRIFTLESS_GIT_MAX_REPO_SIZE``    ``2Gi``        a fetch is killed once the clone grows past it;
                                                  ``SourceError`` (the app stalls)
``DRIFTLESS_GIT_MAX_CHECKOUT_SIZE``  ``1Gi``      a commit whose files add up to more is never
                                                  written to disk; ``SourceError``
``DRIFTLESS_GIT_MAX_CHECKOUT_FILES`` ``100000``   the same for the number of files and symlinks
=================================  =============  ===============================================

Sizes accept a plain byte count or a ``Ki``/``Mi``/``Gi`` (or ``K``/``M``/``G``)
suffix. ``GitLimits.from_env`` reads the variables; a malformed value raises
``ValueError`` naming the variable, so a misconfigured controller fails at
start, not at the first fetch. Pure apart from reading the given mapping.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["GitLimits", "parse_size"]

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^(\d+)\s*([kmgt]?)i?b?$", re.IGNORECASE)

TIMEOUT_VAR = "DRIFTLESS_GIT_TIMEOUT"
REPO_SIZE_VAR = "DRIFTLESS_GIT_MAX_REPO_SIZE"
CHECKOUT_SIZE_VAR = "DRIFTLESS_GIT_MAX_CHECKOUT_SIZE"
CHECKOUT_FILES_VAR = "DRIFTLESS_GIT_MAX_CHECKOUT_FILES"


@dataclass(frozen=True)
class GitLimits:
    """Bounds on the git work of one repository (see the module docstring)."""

    fetch_timeout: float = 120.0
    max_repo_bytes: int = 2 << 30
    max_checkout_bytes: int = 1 << 30
    max_checkout_files: int = 100_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitLimits:
        values = os.environ if env is None else env
        default = cls()
        return cls(
            fetch_timeout=_seconds(values, TIMEOUT_VAR, default.fetch_timeout),
            max_repo_bytes=_bytes(values, REPO_SIZE_VAR, default.max_repo_bytes),
            max_checkout_bytes=_bytes(values, CHECKOUT_SIZE_VAR, default.max_checkout_bytes),
            max_checkout_files=_bytes(values, CHECKOUT_FILES_VAR, default.max_checkout_files),
        )


def parse_size(text: str) -> int:
    """``"512Mi"`` -> 536870912; ``ValueError`` for anything else than a size."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a size (examples: 1048576, 512Mi, 2Gi)")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _bytes(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse_size(raw)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if value <= 0:
        raise ValueError(f"{name}: must be positive")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw.removesuffix("s"))
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a number of seconds") from None
    if not value > 0:
        raise ValueError(f"{name}: must be positive")
    return value
