"""Where driftless keeps what it builds and runs, outside any repository.

The root is ``$DRIFTLESS_CACHE_DIR`` when set (tests and CI point it anywhere),
else ``~/.cache/driftless``. Under it:

    bin/<component>-<version>        finished binaries (only ever complete files)
    build/<module>@<version>/        Go wrapper modules the binaries are built from
    devcluster/<name>/               state of one running dev cluster
"""

from __future__ import annotations

from pathlib import Path

from driftless.core.paths import CACHE_ENV_VAR, cache_root

ENV_VAR = CACHE_ENV_VAR


def bin_dir() -> Path:
    """Directory of finished, versioned binaries."""
    return cache_root() / "bin"


def build_dir() -> Path:
    """Directory of Go wrapper modules and build logs."""
    return cache_root() / "build"


def devcluster_dir(name: str) -> Path:
    """Default state directory of the dev cluster called ``name``."""
    return cache_root() / "devcluster" / name
