"""A private GnuPG keyring in memory for the decryptions that need PGP keys.

sops reads PGP private keys only through gpg and a keyring directory
(``GNUPGHOME``); this module makes that directory where keys never reach a
disk, for the time of one render's decryption.

Contract of :func:`pgp_home` (an async context manager):

* Yields ``None`` and does nothing when the keys hold no PGP key.
* Otherwise creates a fresh directory (mode 0700) under :data:`SHM` only when
  that is a tmpfs (``/proc/mounts``): no tmpfs, no PGP (``SopsError``), never
  a fallback to a disk directory.
* Imports the armored private keys with ``gpg --batch --import`` on stdin (no
  key in an argument or a file of ours); refuses any passphrase-protected key
  (the controller has no passphrase to give) with a ``SopsError``. gpg is
  configured with ``pinentry-mode error`` so nothing ever waits for a passphrase.
* gpg runs with an environment built from scratch (the home, no ``PATH``,
  ``HOME`` pointing nowhere); each step is bounded by ``time_limit`` seconds.
* On leaving, also on an error, a timeout or a cancellation: the gpg-agent
  of that home is stopped (``gpgconf --kill all``), its socket directory
  removed, and the directory deleted.
* Messages name the Secret, never a key (gpg's own output is not quoted: it
  names user ids and fingerprints only, but a message needs neither).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from driftless.core.errors import DriftlessError
from driftless.render.sops_docs import SopsError, SopsKeys

#: Where keyrings are made: a memory-backed filesystem on every Linux we run on.
SHM: Final = "/dev/shm"
#: File systems whose files live in memory only.
_MEMORY_FS: Final = frozenset({"tmpfs", "ramfs"})
_NOWHERE: Final = "/nonexistent/driftless-gnupg"
_CLEANUP_SECONDS: Final = 10.0


@dataclass(frozen=True)
class GnuPG:
    """The gpg binary and the keyring home sops decrypts with."""

    gpg: str
    home: str

    def environment(self) -> dict[str, str]:
        """What gpg (and sops, for its gpg) runs with: the home and nothing of ours."""
        return {"GNUPGHOME": self.home, "HOME": _NOWHERE, "LC_ALL": "C"}

    def tool(self, name: str) -> str:
        """``gpgconf`` or ``gpg-connect-agent`` installed beside gpg."""
        return str(Path(self.gpg).with_name(name))


def mount_type(mounts: str, path: str) -> str | None:
    """The file system type of the mount holding ``path``, from ``/proc/mounts`` text."""
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        # The last of equally long mount points is the one on top.
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def is_memory_backed(mounts: str, path: str) -> bool:
    return mount_type(mounts, path) in _MEMORY_FS


def import_argv(gpg: str) -> list[str]:
    """Import armored keys from stdin, never asking anything."""
    return [gpg, "--batch", "--no-tty", "--pinentry-mode", "error", "--import"]


def keyinfo_argv(gpg: GnuPG) -> list[str]:
    return [gpg.tool("gpg-connect-agent"), "--no-autostart", "KEYINFO --list", "/bye"]


def protected_keygrips(keyinfo: str) -> list[str]:
    """Keygrips the agent reports as passphrase-protected (``S KEYINFO grip ... P ...``)."""
    grips = []
    for line in keyinfo.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[:2] == ["S", "KEYINFO"] and fields[7] == "P":
            grips.append(fields[2])
    return grips


def memory_dir(shm: str = SHM, mounts_file: str = "/proc/mounts") -> str:
    """A new 0700 directory under ``shm``; ``SopsError`` unless ``shm`` is in memory."""
    try:
        mounts = Path(mounts_file).read_text()
    except OSError:
        mounts = ""
    real = os.path.realpath(shm)
    if not Path(real).is_dir() or not is_memory_backed(mounts, real):
        raise SopsError(
            f"PGP keys need a memory-backed {shm} (tmpfs) for their keyring and it is"
            " not one; keys are never written to disk: use age keys (*.agekey) instead"
        )
    return tempfile.mkdtemp(prefix="driftless-gnupg-", dir=real)


async def _run(argv: list[str], gpg: GnuPG, stdin: bytes, time_limit: float) -> tuple[int, str]:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=gpg.environment(),
            start_new_session=True,
        )
    except OSError as exc:
        raise DriftlessError(f"cannot start {argv[0]}: {exc.strerror}") from None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout=time_limit)
    except TimeoutError:
        raise SopsError(f"gpg did not finish within {time_limit:g}s") from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode("utf-8", "replace")


async def _import(keys: SopsKeys, gpg: GnuPG, time_limit: float) -> None:
    Path(gpg.home, "gpg.conf").write_text("pinentry-mode error\n")
    armored = "".join(keys.pgp_keys).encode("ascii", "replace")
    code, _ = await _run(import_argv(gpg.gpg), gpg, armored, time_limit)
    if code != 0:
        raise SopsError(
            f"decryption Secret {keys.secret!r}: gpg could not import its PGP keys (*.asc)"
        )
    code, keyinfo = await _run(keyinfo_argv(gpg), gpg, b"", time_limit)
    if code != 0:
        raise SopsError(f"decryption Secret {keys.secret!r}: gpg-agent did not list the keys")
    if protected_keygrips(keyinfo):
        raise SopsError(
            f"decryption Secret {keys.secret!r}: a PGP key (*.asc) is passphrase-protected;"
            " the controller has no passphrase: export the key without one"
        )


def _cleanup(gpg: GnuPG) -> None:
    """Stop the home's agent, remove its sockets and the directory (blocking, short)."""
    gpgconf = gpg.tool("gpgconf")
    for args in (["--kill", "all"], ["--remove-socketdir"]):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [gpgconf, *args],
                env=gpg.environment(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=_CLEANUP_SECONDS,
                check=False,
            )
    shutil.rmtree(gpg.home, ignore_errors=True)


@contextlib.asynccontextmanager
async def pgp_home(
    keys: SopsKeys, *, gpg: str | None, time_limit: float, shm: str = SHM
) -> AsyncIterator[GnuPG | None]:
    """A keyring in memory holding ``keys``' PGP keys (see the module contract)."""
    if not keys.pgp_keys:
        yield None
        return
    if gpg is None:
        raise SopsError(
            f"decryption Secret {keys.secret!r} holds PGP keys (*.asc) but gpg is not"
            " installed (Debian package gnupg)"
        )
    home = GnuPG(gpg, memory_dir(shm))  # not in a thread: a cancellation cannot leak it
    try:
        await _import(keys, home, time_limit)
        yield home
    finally:
        # Shielded: a second cancellation must not leave the agent or the keys behind.
        await asyncio.shield(asyncio.to_thread(_cleanup, home))
