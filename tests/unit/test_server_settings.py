"""``driftless server``'s settings: which --address is refused up front, and the cookie's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from driftless.cli.main import cli
from driftless.cli.server import server_command
from driftless.server.settings import (
    COOKIE,
    SECURE_COOKIE,
    ServerSettings,
    SettingsError,
    address_problem,
    check,
)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "0.0.0.0", "::", "::1", "fe80::1", "localhost", "driftless.example.com",
     "driftless.example.com.", "a-b.c", "x" * 63, ".".join(["a" * 60] * 4)],
)  # fmt: skip
def test_ip_addresses_and_host_names_are_addresses(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize(
    "address",
    ["", " ", "not an address", "http://127.0.0.1", "127.0.0.1:8080", "host/path", "-x",
     "a..b", "-leading.example", "trailing-.example", "x" * 64, ".".join(["a" * 63] * 5),
     "under_score", "héte", "[::1]", "a\nb", "a\x00b", "256.1.2.3.4:1", "*"],
)  # fmt: skip
def test_anything_else_is_refused_with_why(address: str) -> None:
    assert address_problem(address) is not None
    with pytest.raises(SettingsError, match=r"--address .* is not an IP address or a host name"):
        check(ServerSettings(address=address))


@pytest.mark.parametrize("address", ["not an address!", "a\nb", "x" * 5000, "http://0.0.0.0"])
def test_the_command_refuses_a_bad_address_in_one_line_before_connecting(
    address: str, tmp_path: Path
) -> None:
    # No kubeconfig at all: the address is refused before anything looks for one.
    result = CliRunner().invoke(
        cli,
        ["--kubeconfig", str(tmp_path / "none"), "server", "--address", address],
        env={"KUBECONFIG": str(tmp_path / "none")},
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert "is not an IP address or a host name" in lines[0]
    assert "kubeconfig" not in result.output.lower()
    assert "Traceback" not in result.output
    assert len(lines[0]) < 200


@pytest.mark.parametrize(
    ("settings", "secure", "cookie"),
    [
        (ServerSettings(), False, COOKIE),
        (ServerSettings(https_proxy=True), True, SECURE_COOKIE),  # --secure-cookies
        (ServerSettings(tls_cert=Path("c"), tls_key=Path("k")), True, SECURE_COOKIE),
        (ServerSettings(tls_cert=Path("c"), tls_key=Path("k"), https_proxy=True), True,
         SECURE_COOKIE),
    ],
)  # fmt: skip
def test_the_cookie_is_secure_and_host_prefixed_when_browsers_use_https(
    settings: ServerSettings, secure: bool, cookie: str
) -> None:
    assert settings.secure_cookies is secure
    assert settings.cookie == cookie
    assert SECURE_COOKIE == "__Host-" + COOKIE


@pytest.mark.parametrize(
    ("env", "argv", "secure"),
    [(None, [], False), ("true", [], True), ("1", [], True), ("false", [], False),
     (None, ["--secure-cookies"], True)],
)  # fmt: skip
def test_secure_cookies_from_the_flag_or_the_environment(
    env: str | None, argv: list[str], secure: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a Deployment behind a TLS ingress sets: DRIFTLESS_SECURE_COOKIES=true.
    monkeypatch.delenv("DRIFTLESS_SECURE_COOKIES", raising=False)
    if env is not None:
        monkeypatch.setenv("DRIFTLESS_SECURE_COOKIES", env)
    ctx = server_command.make_context("server", argv)
    assert ctx.params["secure_cookies"] is secure
