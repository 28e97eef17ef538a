"""The throwaway PKI of one dev cluster, generated fresh at every ``up``.

Contents (PEM files in one directory, private keys mode 0600):

    ca.crt / ca.key              self-signed CA; the apiserver trusts client certs it signs
    apiserver.crt / .key         serving cert for 127.0.0.1, localhost and the in-cluster names
    admin.crt / admin.key        client cert, O=system:masters: full access, used by every
                                 component and written into the admin kubeconfig
    sa.key / sa.pub              service-account token signing key pair

ECDSA P-256 keys throughout: generated in microseconds (RSA takes far longer),
and accepted by Kubernetes for TLS and for service-account tokens (ES256).
Nothing here is ever committed: keys exist only in the cluster's state dir.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from driftless.core.selfsigned import key_usage

#: Validity of every certificate. Dev clusters live hours; a year avoids surprises.
VALIDITY = datetime.timedelta(days=365)
#: DNS names the serving certificate covers besides ``localhost``.
IN_CLUSTER_NAMES: tuple[str, ...] = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class Pki:
    """Paths of the generated PEM files."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        return self.directory / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.directory / "admin.key"

    @property
    def sa_private_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def sa_public_key(self) -> Path:
        return self.directory / "sa.pub"


def generate(directory: Path, *, service_ip: str = "10.0.0.1") -> Pki:
    """Create a complete PKI in ``directory`` (created if needed; files overwritten).

    ``service_ip`` is the ClusterIP of the ``kubernetes`` Service, added to the
    serving certificate so in-cluster clients could verify it too.
    """
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory)
    now = datetime.datetime.now(datetime.UTC)

    ca_key = _new_key()
    ca_name = _name("driftless-devcluster-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_pair(pki.ca_cert, ca_cert, pki.ca_key, ca_key)

    serving_key = _new_key()
    sans: list[x509.GeneralName] = [x509.DNSName("localhost")]
    sans += [x509.DNSName(n) for n in IN_CLUSTER_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", service_ip)]
    serving = _leaf(
        ca_cert, ca_key, _name("kube-apiserver"), serving_key, now, ExtendedKeyUsageOID.SERVER_AUTH
    )
    serving = serving.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write_pair(
        pki.serving_cert, serving.sign(ca_key, hashes.SHA256()), pki.serving_key, serving_key
    )

    admin_key = _new_key()
    admin = _leaf(
        ca_cert,
        ca_key,
        _name("driftless-admin", organizations=("system:masters",)),
        admin_key,
        now,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    _write_pair(pki.admin_cert, admin.sign(ca_key, hashes.SHA256()), pki.admin_key, admin_key)

    sa_key = _new_key()
    _write_private(pki.sa_private_key, sa_key)
    pki.sa_public_key.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, *, organizations: Sequence[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    # Backdate a little: a freshly started component on a skewed clock must not
    # see a certificate that is "not yet valid".
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
    )


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
    purpose: x509.ObjectIdentifier,
) -> x509.CertificateBuilder:
    return (
        _builder(subject, ca_cert.subject, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )


def _write_pair(
    cert_path: Path, cert: x509.Certificate, key_path: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, key)


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    # Create with 0600 from the start so the key is never briefly world-readable.
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
