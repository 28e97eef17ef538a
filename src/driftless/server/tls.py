"""A self-signed certificate for ``driftless server --self-signed``.

``self_signed(directory, address)`` writes ``tls.crt`` and ``tls.key`` (EC
P-256, the key readable by its owner only) into ``directory`` and returns
their paths. The certificate names ``localhost``, ``127.0.0.1``, ``::1`` and
``address`` (an IP or a host name; not the wildcard addresses), is valid
from an hour ago for ``VALIDITY``, and is its own issuer
(``core.selfsigned``): browsers warn
until it is trusted by hand. Made fresh at every start; for anything that
lasts, pass ``--tls-cert/--tls-key``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from driftless.core.selfsigned import self_signed_pem

__all__ = ["VALIDITY", "self_signed"]

VALIDITY = datetime.timedelta(days=365)
_WILDCARDS = ("0.0.0.0", "::", "")


def _names(address: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) the certificate of a server listening on ``address`` holds."""
    dns_names = ["localhost"]
    ips = {"127.0.0.1", "::1"}
    if address not in _WILDCARDS:
        try:
            ips.add(str(ipaddress.ip_address(address)))
        except ValueError:
            if address != "localhost":
                dns_names.append(address)
    return dns_names, sorted(ips)


def self_signed(directory: Path, address: str) -> tuple[Path, Path]:
    """Write a new ``tls.crt`` and ``tls.key`` (owner-only) into ``directory``; their paths."""
    dns_names, ips = _names(address)
    cert_pem, key_pem = self_signed_pem("driftless server", dns_names, ips, VALIDITY)
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert_pem)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    return cert_path, key_path
