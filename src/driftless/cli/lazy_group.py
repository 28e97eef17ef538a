"""A click group whose subcommands are imported when asked for, not at start.

Why: every ``driftless`` process starts in ``cli.main``. Importing every
subcommand's module up front made each one carry all the others: the
controller held the API server's web stack, the CLI's diff renderer and the
token signer's ``cryptography`` (about 21 MiB of its memory, a third of its
start-up imports), and ``driftless version`` waited for them too.

Contract: ``LazyGroup(lazy={name: (where, *also)})`` lists ``name`` among its
commands (``--help``, completion, the usage errors' suggestions) exactly as if
it had been added; the first ``get_command(name)`` imports ``where``
(``"module:attribute"``, the command object) and then the modules of ``also``
(modules that register further subcommands on it when imported), and adds the
command. Commands added the usual way (``add_command``) work as in any group.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

import click


class LazyGroup(click.Group):
    """A ``click.Group`` loading the subcommands of ``lazy`` on first use."""

    def __init__(self, *args: Any, lazy: Mapping[str, Sequence[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy and cmd_name not in self.commands:
            self.add_command(_load(self._lazy[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)


def _load(spec: Sequence[str]) -> click.Command:
    where, *also = spec
    module_name, _, attribute = where.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    for module in also:
        importlib.import_module(module)
    if not isinstance(command, click.Command):
        raise TypeError(f"{where} is not a click command")
    return command
