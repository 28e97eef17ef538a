"""The self-signed server certificate shared by ``driftless server`` and the Helm lookup proxy."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from driftless.core.selfsigned import self_signed_pem


def _handshake(cert_pem: bytes, key_pem: bytes, server_name: str, tmp_path: Path) -> None:
    """A TLS handshake in memory: the client trusts only ``cert_pem`` and checks the name."""
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    client_context = ssl.create_default_context(cadata=cert_pem.decode())
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    client = client_context.wrap_bio(pipes[0], pipes[1], server_hostname=server_name)
    server = server_context.wrap_bio(pipes[2], pipes[3], server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for side, name in ((client, "client"), (server, "server")):
            try:
                side.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
        pipes[2].write(pipes[1].read())  # client -> server
        pipes[0].write(pipes[3].read())  # server -> client
        if all(done.values()):
            return
    raise AssertionError("the handshake did not finish")


@pytest.mark.parametrize("server_name", ["localhost", "127.0.0.1", "::1"])
def test_openssl_trusts_it_as_its_own_anchor_for_each_name(
    tmp_path: Path, server_name: str
) -> None:
    cert_pem, key_pem = self_signed_pem(
        "test", ["localhost"], ["127.0.0.1", "::1"], datetime.timedelta(days=1)
    )
    _handshake(cert_pem, key_pem, server_name, tmp_path)


def test_a_name_it_does_not_hold_is_refused(tmp_path: Path) -> None:
    cert_pem, key_pem = self_signed_pem("test", [], ["127.0.0.1"], datetime.timedelta(days=1))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(cert_pem, key_pem, "evil.example.com", tmp_path)


def test_it_signs_nothing_else_and_serves_only() -> None:
    cert_pem, key_pem = self_signed_pem("test", ["a.example"], [], datetime.timedelta(days=30))
    cert = x509.load_pem_x509_certificate(cert_pem)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (constraints.ca, constraints.path_length) == (True, 0)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=30, hours=1)  # backdated an hour for skew
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == cert.public_key()


def test_every_call_makes_a_new_key() -> None:
    first = self_signed_pem("test", ["a.example"], [], datetime.timedelta(days=1))
    second = self_signed_pem("test", ["a.example"], [], datetime.timedelta(days=1))
    assert first[1] != second[1]


def test_a_certificate_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one name"):
        self_signed_pem("test", [], [], datetime.timedelta(days=1))
