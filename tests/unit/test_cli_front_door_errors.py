"""A user's mistakes at the CLI's front door end in one clear line, never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from driftless.cli.context import unknown_kind_message
from driftless.cli.main import cli
from driftless.core.models import API_VERSION
from driftless.kube.client import UnknownKindError


def test_a_missing_driftless_crd_says_to_install() -> None:
    message = unknown_kind_message(UnknownKindError(API_VERSION, "Application"))
    assert "not installed" in message and "driftless install" in message


def test_another_missing_kind_is_named_without_the_install_hint() -> None:
    message = unknown_kind_message(UnknownKindError("example.com/v1", "Widget"))
    assert "Widget" in message and "driftless install" not in message


@pytest.mark.parametrize(
    "args",
    [
        ["install", "--dry-run", "--namespace", "-x"],
        ["install", "--dry-run", "--namespace", "Bad_NS"],
        ["uninstall", "--namespace", "--post-renderer=/bin/sh"],
        ["app", "diff", "web", "--controller-namespace", "-x"],
        ["controller", "--controller-namespace", "a/b"],
        ["render-server", "--socket", "/tmp/unused.sock", "--time-limit", "-1"],
        ["render-server", "--socket", "/tmp/unused.sock", "--time-limit", "0"],
    ],
)
def test_hostile_option_values_are_refused_before_anything_runs(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
