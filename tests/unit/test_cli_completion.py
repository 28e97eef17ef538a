"""``driftless completion``: click's scripts for each shell, and help with examples."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from driftless.cli.completion import completion_command


@click.group()
def root() -> None:
    """A stand-in for the driftless group."""


root.add_command(completion_command)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_script_mentions_the_complete_variable(shell: str) -> None:
    result = CliRunner().invoke(root, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert "_DRIFTLESS_COMPLETE" in result.output
    assert f"{shell}_complete" in result.output or f"{shell}_source" in result.output


def test_unknown_shell_is_a_usage_error() -> None:
    result = CliRunner().invoke(root, ["completion", "powershell"])
    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_help_says_how_to_install() -> None:
    result = CliRunner().invoke(root, ["completion", "--help"])
    assert "Examples:" in result.output
    assert "~/.bashrc" in result.output and "completions/driftless.fish" in result.output
