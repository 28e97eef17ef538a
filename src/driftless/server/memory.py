"""The server process's large transient buffers go back to the system when freed.

glibc's ``malloc`` serves a request of 128 KiB or more with its own ``mmap``
and unmaps it on ``free``; but the first time it frees such a block it raises
that threshold to the block's size (up to 32 MiB), so the next buffer of that
size comes from the heap and stays resident after ``free``, for the life of
the process. The server's large transient buffers are scrypt's 16 MiB per
login being verified (``auth.VERIFYING`` at once) and the JSON of a list page
of Applications from the API server: measured with ``bench/ui_bench.py``,
two logins left 32 MiB resident for good (1,000 apps: 141 MiB at ready,
173 MiB after the first logins, nothing else allocated).

``return_large_buffers()`` pins the threshold at ``MMAP_THRESHOLD`` with
``mallopt(M_MMAP_THRESHOLD)`` (which also ends glibc's dynamic adjustment of
it and of the heap's trim threshold), so such a buffer costs memory only while
it is in use. It returns whether the setting applied: ``False`` where the C
library has no ``mallopt`` (musl's is a stub, macOS has none), and then
nothing changes. Process-wide: the ``driftless server`` command calls it once
at start; a library user (tests running the server in their own process)
decides for their process.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["MMAP_THRESHOLD", "return_large_buffers"]

MMAP_THRESHOLD = 1024 * 1024  # bytes: rows, pages of the UI and small lists stay below it
_M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>


def return_large_buffers() -> bool:
    """Serve allocations of ``MMAP_THRESHOLD`` or more by mmap from now on (glibc only)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
