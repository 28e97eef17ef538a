"""Diffs at the terminal: ``app diff``, ``diff --local`` and ``apply`` plan, print and exit alike.

Every command plans through ``driftless.pipeline`` (the controller's own
planner: server-side dry-run, Secret values masked by ``diff.report``) and
prints the changed resources the same way. The CLI runs with the rights of the
person at the terminal, who may read their own disk anyway: local repositories
are allowed here, unlike in the controller.

Exit codes (``cli.exits``): 0 no difference, 1 differences, 5 the source could
not be fetched or rendered (``SourceFailures``), so a pipeline tells "git
differs from the cluster" from "the repository is broken".
"""

from __future__ import annotations

import json

import click

from driftless.cli.exits import EXIT_FAILED, EXIT_OK, SourceFailedError
from driftless.cli.tools import render_tools
from driftless.core.errors import DriftlessError
from driftless.core.models import Application
from driftless.diff.report import ResourceDiff
from driftless.kube.client import KubeApiError, KubeClient
from driftless.pipeline.decryption import Decrypting
from driftless.pipeline.diffs import plan_diffs
from driftless.pipeline.planner import Planner
from driftless.pipeline.projects import ClusterProjects
from driftless.pipeline.renderers import GitRenderer, LocalRenderer, LocalTree, Rendered, Renderer
from driftless.render import KubeTarget
from driftless.sources.git import GitCache, default_cache_root

UNCHANGED = "unchanged"


def cli_git_cache() -> GitCache:
    """The CLI's own clones (never the controller's cache); local repositories allowed."""
    return GitCache(default_cache_root().parent / "cli-repos", allow_local=True)


class SourceFailures:
    """A renderer whose every failure is a ``SourceFailedError`` (exit code 5).

    So a caller tells a bad source or render from a refused apply. Reading the
    cluster (Helm's ``.Capabilities``) happens before, in the planner: a
    cluster failure is not a render failure, and neither is an API error.
    """

    def __init__(self, inner: Renderer) -> None:
        self.inner = inner

    async def render(
        self, app: Application, revision: str | None, kube: KubeTarget, *, fresh: bool = False
    ) -> Rendered:
        try:
            return await self.inner.render(app, revision, kube, fresh=fresh)
        except KubeApiError:
            raise
        except DriftlessError as exc:
            raise SourceFailedError(exc.message) from exc


def source_renderer(local: LocalTree | None = None, git: GitCache | None = None) -> SourceFailures:
    """The local tree as it is on disk, or the app's repository through git."""
    tools = render_tools()
    if local is not None:
        return SourceFailures(LocalRenderer(local, tools))
    # Renders are not memoized: one command renders once.
    return SourceFailures(GitRenderer(git or cli_git_cache(), tools, cache=None))


async def app_diffs(
    client: KubeClient, app: Application, *, home: str, local: LocalTree | None = None
) -> list[ResourceDiff]:
    """Plan ``app`` as the controller would (its Project from ``home``) and diff every resource."""
    renderer = Decrypting(source_renderer(local), client)
    planner = Planner(client, renderer, ClusterProjects(client, home), home=home)
    try:
        return plan_diffs(await planner.plan(app))
    finally:
        await planner.close()


def color_diff(text: str, enabled: bool) -> str:
    """A unified diff coloured like git's (headers bold, + green, - red, @@ cyan)."""
    if not enabled:
        return text
    colored = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            colored.append(click.style(line, bold=True))
        elif line.startswith("+"):
            colored.append(click.style(line, fg="green"))
        elif line.startswith("-"):
            colored.append(click.style(line, fg="red"))
        elif line.startswith("@@"):
            colored.append(click.style(line, fg="cyan"))
        else:
            colored.append(line)
    return "".join(colored)


def print_diffs(diffs: list[ResourceDiff], *, color: bool) -> int:
    """Print the changed ones (unified diff, secrets masked); returns how many changed."""
    changed = [d for d in diffs if d.status != UNCHANGED]
    for item in changed:
        click.echo(f"===== {item.status}: {item.ref} =====")
        click.echo(color_diff(item.text, color), nl=False)
    return len(changed)


def write_diffs(diffs: list[ResourceDiff], *, output: str, color: bool) -> int:
    """Every diff as JSON (``-o json``) or the changed ones as text; returns the exit code.

    Like ``kubectl diff``: 1 when anything differs, 0 when nothing does.
    """
    if output == "json":
        click.echo(json.dumps([d.to_json() for d in diffs], indent=2))
        changed = sum(1 for d in diffs if d.status != UNCHANGED)
    else:
        changed = print_diffs(diffs, color=color)
    return EXIT_FAILED if changed else EXIT_OK
