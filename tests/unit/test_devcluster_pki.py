"""The generated PKI: a CA, a serving cert for loopback, an admin client cert."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from driftless.devcluster import kubeconfig, pki


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_serving_cert_covers_loopback_and_in_cluster_names(tmp_path: Path) -> None:
    certs = pki.generate(tmp_path)
    serving = _cert(certs.serving_cert)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert {"localhost", "kubernetes.default.svc"} <= set(sans.get_values_for_type(x509.DNSName))
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage


def test_admin_cert_is_a_system_masters_client(tmp_path: Path) -> None:
    certs = pki.generate(tmp_path)
    admin = _cert(certs.admin_cert)
    orgs = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in orgs] == ["system:masters"]
    usage = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage


def test_leaf_certs_verify_against_the_ca(tmp_path: Path) -> None:
    certs = pki.generate(tmp_path)
    ca = _cert(certs.ca_cert)
    for leaf in (certs.serving_cert, certs.admin_cert):
        _cert(leaf).verify_directly_issued_by(ca)  # raises if the signature is wrong


def test_private_keys_are_private(tmp_path: Path) -> None:
    certs = pki.generate(tmp_path)
    for key in (certs.ca_key, certs.serving_key, certs.admin_key, certs.sa_private_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PUBLIC KEY" in certs.sa_public_key.read_bytes()


def test_kubeconfig_embeds_the_admin_identity(tmp_path: Path) -> None:
    certs = pki.generate(tmp_path / "pki")
    path = kubeconfig.write(tmp_path / "kubeconfig", "https://127.0.0.1:6443", certs, name="t")
    doc = kubeconfig.render("https://127.0.0.1:6443", certs, name="t")
    assert doc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert doc["current-context"] == "driftless-t"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
