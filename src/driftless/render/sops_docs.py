"""SOPS-encrypted documents in a render: which they are, the keys, the messages.

Pure: no I/O. ``sops_exec`` runs sops; ``pipeline.decryption`` wires both in
after the render and before the diff.

Contract:

* :func:`is_encrypted` is true for a rendered document carrying a top-level
  ``sops`` key (what sops writes into every file it encrypts). Such a
  document is never applied as it is: it is decrypted, or the render fails.
  A ``sops`` key that is not a mapping with a ``mac`` is still "encrypted"
  (it claims to be), so garbage fails the render instead of being applied.
* :func:`check_document` refuses, before sops runs, a document over
  :data:`MAX_DOCUMENT_BYTES` or whose metadata is not what sops writes.
* :func:`parse_keys` reads the decryption Secret's ``data``: every
  ``*.agekey`` entry holds age identities (``AGE-SECRET-KEY-1...`` lines,
  comments allowed, as ``age-keygen`` writes them); every ``*.asc`` entry
  holds one ASCII-armored PGP private key block (``gpg --export-secret-keys
  --armor``), at most :data:`MAX_PGP_KEY_BYTES` each and :data:`MAX_PGP_KEYS`
  in all. A public key block is refused (it cannot decrypt). ``sops_keyring``
  imports the PGP keys into a keyring in memory for the decryption.
* Messages name the object and the Secret, never a key or a decrypted value
  (:func:`reason_of` keeps the first lines of sops' own error, which names
  recipients and MACs, not identities, and drops any line that looks like a key).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from driftless.core.resources import Manifest

#: A larger encrypted document is refused before sops runs (a Secret is at most 1 MiB
#: decoded; encryption adds base64 and metadata).
MAX_DOCUMENT_BYTES: Final = 2 * 1024 * 1024
#: At most this many identities are handed to sops (each is tried on each document).
MAX_IDENTITIES: Final = 32
#: At most this many PGP private key blocks (``*.asc`` entries) are imported.
MAX_PGP_KEYS: Final = 8
#: A larger ``*.asc`` entry is refused (an armored RSA-4096 key with subkeys is ~15 KiB).
MAX_PGP_KEY_BYTES: Final = 64 * 1024
#: What sops' stderr contributes to a message, at most.
MAX_REASON_CHARS: Final = 400

AGE_KEY_SUFFIX: Final = ".agekey"
PGP_KEY_SUFFIX: Final = ".asc"
# Upper case bech32 as age-keygen writes it; lower case is accepted by age too.
_AGE_IDENTITY = re.compile(r"^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$", re.IGNORECASE)
_KEYISH = re.compile(r"AGE-SECRET-KEY-|PRIVATE KEY", re.IGNORECASE)
_PGP_BEGIN = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
_PGP_END = "-----END PGP PRIVATE KEY BLOCK-----"


class SopsError(ValueError):
    """The message of a decryption failure (no key material in it)."""


@dataclass(frozen=True)
class SopsKeys:
    """The age identities and armored PGP private keys of one decryption Secret."""

    secret: str
    age_identities: tuple[str, ...]
    pgp_keys: tuple[str, ...] = ()

    def age_env(self) -> str:
        return "\n".join(self.age_identities)


def is_encrypted(manifest: Manifest) -> bool:
    """True when ``manifest`` claims to be SOPS-encrypted (a top-level ``sops`` key)."""
    return "sops" in manifest.obj


def describe(manifest: Manifest) -> str:
    """``Secret app/db-password (secrets/db.yaml:1)``: how a message names a document."""
    obj = manifest.obj
    kind = str(obj.get("kind") or "object")
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name = str(meta.get("name") or "<no name>")
    namespace = meta.get("namespace")
    where = f"{namespace}/" if isinstance(namespace, str) and namespace else ""
    origin = manifest.origin()
    return f"{kind} {where}{name}"[:300] + (f" ({origin})" if origin else "")


def check_document(manifest: Manifest) -> str:
    """The document as the JSON sops reads; ``SopsError`` when it cannot be one."""
    metadata = manifest.obj.get("sops")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("mac"), str):
        raise SopsError(
            f"{describe(manifest)} has a 'sops' key that is not sops metadata"
            " (a mapping with a 'mac'); it is neither applied nor decrypted"
        )
    text = json.dumps(manifest.obj, separators=(",", ":"))
    if len(text) > MAX_DOCUMENT_BYTES:
        raise SopsError(
            f"{describe(manifest)} is {len(text)} bytes encrypted, over the"
            f" {MAX_DOCUMENT_BYTES}-byte limit of a SOPS document"
        )
    return text


def parse_keys(secret_name: str, data: Mapping[str, Any] | None) -> SopsKeys:
    """The identities in a decryption Secret's ``data`` (base64 values, as the API gives)."""
    identities: list[str] = []
    pgp: list[str] = []
    for entry, encoded in sorted((data or {}).items()):
        if entry.endswith(PGP_KEY_SUFFIX):
            pgp.append(_pgp_key(secret_name, entry, encoded))
        elif entry.endswith(AGE_KEY_SUFFIX):
            identities.extend(_age_identities(secret_name, entry, encoded))
    if not identities and not pgp:
        raise SopsError(
            f"decryption Secret {secret_name!r} has no age identity (an entry named"
            " *.agekey holding AGE-SECRET-KEY-1... lines) and no PGP private key (*.asc)"
        )
    if len(pgp) > MAX_PGP_KEYS:
        raise SopsError(
            f"decryption Secret {secret_name!r} holds {len(pgp)} PGP keys (*.asc),"
            f" more than {MAX_PGP_KEYS}"
        )
    if len(identities) > MAX_IDENTITIES:
        raise SopsError(
            f"decryption Secret {secret_name!r} holds {len(identities)} age identities,"
            f" more than {MAX_IDENTITIES}"
        )
    return SopsKeys(secret_name, tuple(identities), tuple(pgp))


def _decoded(secret_name: str, entry: str, encoded: Any) -> str:
    try:
        return base64.b64decode(str(encoded), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise SopsError(
            f"decryption Secret {secret_name!r}: entry {entry!r} is not base64 UTF-8 text"
        ) from None


def _pgp_key(secret_name: str, entry: str, encoded: Any) -> str:
    """One armored private key block, checked for shape only (gpg parses it)."""
    where = f"decryption Secret {secret_name!r}: entry {entry!r}"
    if len(str(encoded)) > MAX_PGP_KEY_BYTES * 4 // 3 + 4:
        raise SopsError(f"{where} is over the {MAX_PGP_KEY_BYTES}-byte limit of a PGP key")
    text = _decoded(secret_name, entry, encoded).strip()
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" in text:
        raise SopsError(
            f"{where} is a PGP public key; decryption needs the private key"
            " (gpg --export-secret-keys --armor)"
        )
    if (
        not text.startswith(_PGP_BEGIN)
        or not text.endswith(_PGP_END)
        or text.count(_PGP_BEGIN) != 1
    ):
        raise SopsError(
            f"{where} is not one ASCII-armored PGP private key block"
            " (gpg --export-secret-keys --armor)"
        )
    return text + "\n"


def _age_identities(secret_name: str, entry: str, encoded: Any) -> list[str]:
    text = _decoded(secret_name, entry, encoded)
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not _AGE_IDENTITY.match(line):
            # The line number only: the line may be a mangled key.
            raise SopsError(
                f"decryption Secret {secret_name!r}: entry {entry!r} line {number}"
                " is not an age identity (AGE-SECRET-KEY-1...)"
            )
        found.append(line)
    return found


def reason_of(stderr: str) -> str:
    """What sops said went wrong, short, without any line that looks like key material."""
    lines = [
        line.strip() for line in stderr.splitlines() if line.strip() and not _KEYISH.search(line)
    ]
    reason = "; ".join(lines[:6]) or "sops failed without saying why"
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    return reason


def decrypted_document(original: Manifest, output: str) -> Manifest:
    """sops' JSON output as a manifest; ``SopsError`` unless it is the same object, decrypted."""
    try:
        decoded = json.loads(output)
    except json.JSONDecodeError:
        raise SopsError(f"{describe(original)}: sops output is not JSON") from None
    if not isinstance(decoded, dict) or "sops" in decoded:
        raise SopsError(f"{describe(original)}: sops output is not a decrypted document")
    for field in ("apiVersion", "kind"):
        if decoded.get(field) != original.obj.get(field):
            raise SopsError(f"{describe(original)}: its {field} changed in decryption")
    return dataclasses.replace(original, obj=decoded)
