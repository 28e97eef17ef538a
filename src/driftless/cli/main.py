"""The ``driftless`` command: entry point and global flags."""

from __future__ import annotations

import click

# Importing these modules registers their subcommands on ``app_group``.
import driftless.cli.app_edit
import driftless.cli.app_ops
import driftless.cli.project_token  # noqa: F401
from driftless import __version__
from driftless.cli.app import app_group
from driftless.cli.cluster import cluster_group
from driftless.cli.completion import completion_command
from driftless.cli.context import Globals
from driftless.cli.controller import controller_command
from driftless.cli.import_cmd import import_command
from driftless.cli.install import install_command, uninstall_command
from driftless.cli.login import login_command, logout_command
from driftless.cli.project import project_group
from driftless.cli.push import apply_command, diff_local_command, render_command
from driftless.cli.quickstart import quickstart_command
from driftless.cli.render_server import render_server_command
from driftless.cli.repo import repo_group
from driftless.cli.server import server_command
from driftless.cli.version import version_command
from driftless.devcluster.cli import devcluster


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--kubeconfig",
    envvar="KUBECONFIG",
    default=None,
    help="Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).",
)
@click.option("--context", "kube_context", default=None, help="Kubeconfig context to use.")
@click.option(
    "--server",
    envvar="DRIFTLESS_SERVER",
    default=None,
    help="A driftless server for the app commands to go through instead of a kubeconfig"
    " (default: $DRIFTLESS_SERVER; the rule: `driftless app --help`).",
)
@click.option("--debug", is_flag=True, help="Show full error details (tracebacks).")
@click.version_option(__version__, prog_name="driftless")
@click.pass_context
def cli(
    ctx: click.Context,
    kubeconfig: str | None,
    kube_context: str | None,
    server: str | None,
    debug: bool,
) -> None:
    """driftless: pull-based GitOps continuous delivery for Kubernetes."""
    # KUBECONFIG may list several files; kubernetes_asyncio takes one, use the first.
    first = kubeconfig.split(":")[0] if kubeconfig else None
    given = click.core.ParameterSource.COMMANDLINE
    ctx.obj = Globals(
        kubeconfig=first,
        context=kube_context,
        debug=debug,
        server=server or None,
        server_from_flag=ctx.get_parameter_source("server") == given,
        kubeconfig_from_flag=ctx.get_parameter_source("kubeconfig") == given,
    )


cli.add_command(app_group)
cli.add_command(install_command)
cli.add_command(uninstall_command)
cli.add_command(controller_command)
cli.add_command(render_server_command)
cli.add_command(server_command)
cli.add_command(login_command)
cli.add_command(logout_command)
cli.add_command(devcluster)
cli.add_command(quickstart_command)
cli.add_command(project_group)
cli.add_command(repo_group)
cli.add_command(cluster_group)
cli.add_command(version_command)
cli.add_command(completion_command)
cli.add_command(render_command)
cli.add_command(diff_local_command)
cli.add_command(apply_command)
cli.add_command(import_command)


def main() -> None:
    cli(prog_name="driftless")


if __name__ == "__main__":
    main()
