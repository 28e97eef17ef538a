"""The ``driftless`` command: entry point and global flags."""

from __future__ import annotations

import click

from driftless import __version__
from driftless.cli.context import Globals
from driftless.cli.lazy_group import LazyGroup

# Each subcommand's module, imported when that subcommand is asked for
# (``cli.lazy_group``): "module:command", then modules that add subcommands to it.
SUBCOMMANDS: dict[str, tuple[str, ...]] = {
    "app": ("driftless.cli.app:app_group", "driftless.cli.app_edit", "driftless.cli.app_ops"),
    "apply": ("driftless.cli.push:apply_command",),
    "cluster": ("driftless.cli.cluster:cluster_group",),
    "completion": ("driftless.cli.completion:completion_command",),
    "controller": ("driftless.cli.controller:controller_command",),
    "devcluster": ("driftless.devcluster.cli:devcluster",),
    "diff": ("driftless.cli.push:diff_local_command",),
    "import": ("driftless.cli.import_cmd:import_command",),
    "install": ("driftless.cli.install:install_command",),
    "login": ("driftless.cli.login:login_command",),
    "logout": ("driftless.cli.login:logout_command",),
    "project": ("driftless.cli.project:project_group", "driftless.cli.project_token"),
    "quickstart": ("driftless.cli.quickstart:quickstart_command",),
    "render": ("driftless.cli.push:render_command",),
    "render-server": ("driftless.cli.render_server:render_server_command",),
    "repo": ("driftless.cli.repo:repo_group",),
    "server": ("driftless.cli.server:server_command",),
    "uninstall": ("driftless.cli.install:uninstall_command",),
    "version": ("driftless.cli.version:version_command",),
}


@click.group(
    cls=LazyGroup,
    lazy=SUBCOMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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


def main() -> None:
    cli(prog_name="driftless")


if __name__ == "__main__":
    main()
