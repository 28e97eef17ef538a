"""The self-signed certificate of ``driftless server --self-signed``."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from driftless.cli.main import cli
from driftless.server.tls import self_signed


@pytest.mark.parametrize(
    ("address", "dns", "ips"),
    [
        ("127.0.0.1", ["localhost"], ["127.0.0.1", "::1"]),
        ("0.0.0.0", ["localhost"], ["127.0.0.1", "::1"]),
        ("10.1.2.3", ["localhost"], ["10.1.2.3", "127.0.0.1", "::1"]),
        ("gitops.example.com", ["localhost", "gitops.example.com"], ["127.0.0.1", "::1"]),
    ],
)
def test_the_certificate_names_the_address(
    tmp_path: Path, address: str, dns: list[str], ips: list[str]
) -> None:
    cert_path, key_path = self_signed(tmp_path, address)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == dns
    assert sorted(str(ip) for ip in sans.get_values_for_type(x509.IPAddress)) == sorted(
        str(ipaddress.ip_address(ip)) for ip in ips
    )
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_self_signed_and_a_given_certificate_exclude_each_other(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "127.0.0.1")
    result = CliRunner().invoke(
        cli,
        ["--kubeconfig", str(tmp_path / "none"), "server", "--self-signed",
         "--tls-cert", str(cert), "--tls-key", str(key)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--self-signed or --tls-cert/--tls-key, not both" in result.output
