"""``driftless controller --webhook-address``: checked before anything starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from driftless.cli.main import cli


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("8081", "is not HOST:PORT"),
        ("host:port", "is not HOST:PORT"),
        ("::1:8081", "in brackets"),
        ("127.0.0.1:99999", "not in 0..65535"),
    ],
)
def test_a_malformed_address_is_refused_naming_the_option(value: str, why: str) -> None:
    result = CliRunner().invoke(cli, ["controller", "--webhook-address", value])
    assert result.exit_code == 2
    assert "Invalid value for '--webhook-address'" in result.output
    assert why in result.output


def test_the_address_is_also_read_from_the_environment() -> None:
    result = CliRunner().invoke(
        cli, ["controller"], env={"DRIFTLESS_WEBHOOK_ADDRESS": "not an address"}
    )
    assert result.exit_code == 2
    assert "--webhook-address" in result.output
