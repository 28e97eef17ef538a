"""Decrypting one SOPS document with the sops binary, in memory only.

Contract of :func:`decrypt`:

* The encrypted document goes to sops on stdin, the age identities in the
  ``SOPS_AGE_KEY`` environment variable, the plaintext comes back on stdout:
  no key and no plaintext is ever written to a file.
* The environment is built from scratch: no ``PATH``, ``HOME`` and the XDG
  directories pointing nowhere (no ``~/.config/sops/age/keys.txt``, no
  keyring, no cloud configuration), and nothing of the controller's own
  environment. Only when the app's Secret holds PGP keys does sops get a
  ``GNUPGHOME``: the in-memory keyring of ``sops_keyring`` holding those keys
  only, and ``SOPS_GPG_EXEC`` naming gpg; otherwise it cannot reach any
  keyring. A tenant's document that names an AWS/GCP/Azure/Vault key therefore
  cannot make the controller use its own cloud identity to decrypt it: only
  the app's age and PGP keys work.
* At most ``time_limit`` seconds; a timeout or a cancellation kills sops.
* Raises ``SopsError`` (see ``sops_docs``) naming the object and sops' reason,
  never a key or a decrypted value; ``DriftlessError`` when sops cannot start.
"""

from __future__ import annotations

import asyncio
import contextlib

from driftless.core.errors import DriftlessError
from driftless.core.resources import Manifest
from driftless.render import sops_docs
from driftless.render.sops_docs import SopsError, SopsKeys
from driftless.render.sops_keyring import GnuPG

DEFAULT_TIME_LIMIT = 30.0
_NOWHERE = "/nonexistent/driftless-sops"


def sops_environment(keys: SopsKeys, gnupg: GnuPG | None = None) -> dict[str, str]:
    """The whole environment sops runs with (see the module contract)."""
    env = {
        "SOPS_AGE_KEY": keys.age_env(),
        "HOME": _NOWHERE,
        "XDG_CONFIG_HOME": _NOWHERE,
        "GNUPGHOME": _NOWHERE,
        "LC_ALL": "C",
    }
    if gnupg is not None:
        env |= {"GNUPGHOME": gnupg.home, "SOPS_GPG_EXEC": gnupg.gpg}
    return env


def sops_argv(sops: str) -> list[str]:
    """Decrypt the JSON document on stdin (no file argument) to JSON on stdout."""
    return [
        sops, "decrypt", "--input-type", "json", "--output-type", "json",
    ]  # fmt: skip


async def decrypt(
    manifest: Manifest,
    keys: SopsKeys,
    *,
    sops: str,
    time_limit: float = DEFAULT_TIME_LIMIT,
    gnupg: GnuPG | None = None,
) -> Manifest:
    """``manifest`` decrypted (see the module contract)."""
    document = sops_docs.check_document(manifest)
    try:
        proc = await asyncio.create_subprocess_exec(
            *sops_argv(sops),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=sops_environment(keys, gnupg),
            start_new_session=True,
        )
    except OSError as exc:
        raise DriftlessError(f"cannot start sops ({sops}): {exc.strerror}") from None
    try:
        stdout, stderr = await asyncio.wait_for(
            proc.communicate(document.encode("utf-8")), timeout=time_limit
        )
    except TimeoutError:
        raise SopsError(
            f"{sops_docs.describe(manifest)}: sops did not decrypt it within {time_limit:g}s"
        ) from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        reason = sops_docs.reason_of(stderr.decode("utf-8", "replace"))
        raise SopsError(f"{sops_docs.describe(manifest)} cannot be decrypted: {reason}")
    return sops_docs.decrypted_document(manifest, stdout.decode("utf-8", "replace"))
