"""Reading the end of a log file, for error messages."""

from __future__ import annotations

from pathlib import Path

_MAX_BYTES = 64 * 1024


def tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of ``path``, indented; a note if it cannot be read.

    Reads at most the final 64 KiB, so a huge log costs nothing.
    """
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - _MAX_BYTES))
            data = handle.read()
    except OSError as exc:
        return f"    (no log: {exc})"
    text = data.decode("utf-8", errors="replace").splitlines()[-lines:]
    if not text:
        return "    (log is empty)"
    return "\n".join(f"    {line}" for line in text)
