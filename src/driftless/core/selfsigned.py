"""A fresh self-signed server certificate, as PEM (pure: no file, no socket).

Contract of ``self_signed_pem(common_name, dns_names, ip_addresses, validity)``:

* A new EC P-256 key every call; the certificate is its own issuer, names
  exactly ``dns_names`` and ``ip_addresses`` (at least one in all) in its
  subject alternative names, says serverAuth, and is valid from
  ``BACKDATE`` ago (clocks of a client and a server drift) for ``validity``.
* It says CA with path length 0 (key usages digitalSignature, keyCertSign
  and cRLSign): OpenSSL trusts a self-issued certificate as an anchor only
  when it says CA, as ``openssl req -x509`` makes them; path length 0 means
  it can sign nothing else. Go's TLS (Helm) trusts it the same way.
* Returns ``(certificate PEM, PKCS#8 private key PEM, unencrypted)``. Where
  the key goes is the caller's business; it must keep it owner-readable.

Users: ``driftless server --self-signed`` (``server.tls``) and the Helm
lookup proxy on loopback (``render.lookup_server``). ``cryptography`` costs
~9 MiB of resident memory, so the controller imports this module only when it
first needs a certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["BACKDATE", "key_usage", "self_signed_pem"]

BACKDATE = datetime.timedelta(hours=1)


def self_signed_pem(
    common_name: str,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    validity: datetime.timedelta,
) -> tuple[bytes, bytes]:
    """A new self-signed server certificate and its key (see the module contract)."""
    names = _alternative_names(dns_names, ip_addresses)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _alternative_names(
    dns_names: Sequence[str], ip_addresses: Sequence[str]
) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if not names:
        raise ValueError("a server certificate needs at least one name")
    return names


def key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    """Signatures only; with ``cert_sign``, certificates and CRLs as well (a CA)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
