"""cli.main loads a subcommand's module only when that subcommand is asked for."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from driftless.cli.lazy_group import LazyGroup
from driftless.cli.main import SUBCOMMANDS, cli
from tests.fixtures.interpreter import run_fresh


def test_the_controller_command_loads_without_the_other_commands() -> None:
    out = run_fresh("""
        import sys
        import click
        from driftless.cli.main import cli
        ctx = click.Context(cli, info_name="driftless")
        assert cli.get_command(ctx, "controller") is not None
        # (uvicorn and starlette it needs: they serve its metrics and health endpoints)
        heavy = ["cryptography", "fastapi", "driftless.cli.app", "driftless.cli.server",
                 "driftless.cli.diffs", "driftless.pipeline.tokens", "driftless.cli.import_cmd"]
        print(sorted(m for m in heavy if m in sys.modules))
    """)
    assert out == "[]"


def test_every_command_is_listed_and_loads() -> None:
    ctx = click.Context(cli, info_name="driftless")
    assert cli.list_commands(ctx) == sorted(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name, name
    # Subcommands registered by the extra modules are there once their group is loaded.
    app = cli.get_command(ctx, "app")
    assert isinstance(app, click.Group)
    assert {"create", "set", "sync", "rollback", "wait"} <= set(app.list_commands(ctx))
    project = cli.get_command(ctx, "project")
    assert isinstance(project, click.Group) and "token" in project.list_commands(ctx)


def test_help_lists_every_command_and_an_unknown_one_is_a_usage_error() -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["--help"])
    assert shown.exit_code == 0
    for name in SUBCOMMANDS:
        assert f"  {name} " in shown.output or f"  {name}\n" in shown.output, name
    wrong = runner.invoke(cli, ["controler"])
    assert wrong.exit_code == 2
    assert "No such command 'controler'" in wrong.output


def test_a_spec_naming_something_else_than_a_command_is_refused() -> None:
    group = LazyGroup(name="g", lazy={"bad": ("driftless.cli.main:SUBCOMMANDS",)})
    ctx = click.Context(group, info_name="g")
    with pytest.raises(TypeError, match="is not a click command"):
        group.get_command(ctx, "bad")
