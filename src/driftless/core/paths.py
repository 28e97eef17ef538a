"""Where driftless keeps what it builds, clones and downloads on this machine."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV_VAR = "DRIFTLESS_CACHE_DIR"


def cache_root() -> Path:
    """``${DRIFTLESS_CACHE_DIR:-~/.cache/driftless}``, read on every call (tests change it)."""
    configured = os.environ.get(CACHE_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "driftless"
