"""``driftless completion bash|zsh|fish``: print the shell completion script.

The script is click's own (``click.shell_completion``): the shell calls
``driftless`` back with ``_DRIFTLESS_COMPLETE`` set, and click answers with the
commands, options and choices that fit what was typed so far. Printing the
script instead of generating it on every shell start keeps shells fast.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

PROG_NAME = "driftless"
COMPLETE_VAR = "_DRIFTLESS_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def completion_script(root: click.Command, shell: str) -> str:
    """The completion script of ``root`` (the ``driftless`` group) for ``shell``."""
    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - SHELLS only holds shells click supports
        raise click.UsageError(f"unsupported shell {shell!r}")
    return cls(root, {}, PROG_NAME, COMPLETE_VAR).source()


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    \b
    Install it once; new shells complete driftless commands and flags:
      bash:  driftless completion bash > ~/.local/share/bash-completion/completions/driftless
             (or add `eval "$(driftless completion bash)"` to ~/.bashrc)
      zsh:   driftless completion zsh > "${fpath[1]}/_driftless"
             (or add `eval "$(driftless completion zsh)"` to ~/.zshrc, after compinit)
      fish:  driftless completion fish > ~/.config/fish/completions/driftless.fish

    \b
    Examples:
      driftless completion bash
      source <(driftless completion zsh)
    """
    click.echo(completion_script(ctx.find_root().command, shell))
