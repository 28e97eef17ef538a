"""``--webhook-address`` and ``--webhook-max-body``: checked before anything starts."""

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


@pytest.mark.parametrize("command", ["controller", "server"])
@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        ([], {}, 4 * 1024 * 1024),
        (["--webhook-max-body", "25MB"], {}, 25_000_000),
        (["--webhook-max-body", "512KiB"], {}, 512 * 1024),
        ([], {"DRIFTLESS_WEBHOOK_MAX_BODY": "30MiB"}, 30 * 1024 * 1024),
    ],
)
def test_webhook_max_body_of_the_controller_and_the_server(
    command: str, flag: list[str], env: dict[str, str], expected: int
) -> None:
    from driftless.cli.controller import controller_command
    from driftless.cli.server import server_command

    cmd = controller_command if command == "controller" else server_command
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        ctx = cmd.make_context(command, list(flag))  # click consumes the list
    assert ctx.params["webhook_max_body"] == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0", "between 1 byte"),
        ("2GiB", "between 1 byte"),
        ("-5", "is not a size"),
        ("4 MiBx", "is not a size"),
        ("1e9", "is not a size"),
        ("9" * 40, "is not a size"),
    ],
)
def test_a_bad_webhook_max_body_is_refused(value: str, why: str) -> None:
    result = CliRunner().invoke(cli, ["server", "--webhook-max-body", value])
    assert result.exit_code == 2
    assert "Invalid value for '--webhook-max-body'" in result.output and why in result.output
