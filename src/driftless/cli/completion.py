"""``driftless completion bash|zsh|fish``: print the shell completion script.

The script is click's own (``click.shell_completion``): the shell calls
``driftless`` back with ``_DRIFTLESS_COMPLETE`` set, and click answers with the
commands, options and choices that fit what was typed so far. Printing the
script instead of generating it on every shell start keeps shells fast.

``complete_names`` completes object names (apps, projects, clusters) from the
cluster of the ``--kubeconfig``/``--context`` typed so far. It never fails and
never hangs a shell: any error, or no answer within ``LOOKUP_TIMEOUT``
seconds, completes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import click
from click.shell_completion import CompletionItem, get_completion_class

from driftless.cli.context import app_namespace
from driftless.kube.client import KubeClient

PROG_NAME = "driftless"
COMPLETE_VAR = "_DRIFTLESS_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
LOOKUP_TIMEOUT = 3.0

JSON = dict[str, Any]
Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def _metadata_names(objects: list[JSON]) -> list[str]:
    return [str(o["metadata"]["name"]) for o in objects]


async def _list_names(
    kubeconfig: str | None,
    context: str | None,
    query: tuple[str, str, str, str | None],
    names_of: Callable[[list[JSON]], list[str]],
) -> list[str]:
    api_version, kind, namespace, selector = query
    client = await KubeClient.connect(kubeconfig, context)
    try:
        return names_of(await client.list(api_version, kind, namespace, label_selector=selector))
    finally:
        await client.close()


def complete_names(
    api_version: str,
    kind: str,
    *,
    label_selector: str | None = None,
    names_of: Callable[[list[JSON]], list[str]] = _metadata_names,
) -> Completer:
    """A ``shell_complete`` callback offering the names of objects in the apps namespace."""

    def complete(
        ctx: click.Context, _param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        root = ctx.find_root().params
        kubeconfig = root.get("kubeconfig")
        query = (api_version, kind, app_namespace(ctx.params.get("namespace")), label_selector)
        lookup = _list_names(
            kubeconfig.split(":")[0] if kubeconfig else None,
            root.get("kube_context"),
            query,
            names_of,
        )
        # Library warnings (e.g. "Config not found") would land in the user's prompt;
        # a completion process is short-lived, so silence logging for good.
        logging.disable(logging.CRITICAL)
        try:
            names = asyncio.run(asyncio.wait_for(lookup, LOOKUP_TIMEOUT))
        except Exception:  # completion must never print a traceback into the shell
            return []
        return [CompletionItem(n) for n in sorted(set(names)) if n.startswith(incomplete)]

    return complete


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
