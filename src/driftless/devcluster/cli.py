"""``driftless devcluster ...``: run the embedded control plane from a shell.

    up [--name N] [--foreground] [--no-addresses]
                                   start (detached unless --foreground); print the kubeconfig path
    down [--name N]                stop it and remove its state
    status [--name N]              running or not, server URL, kubeconfig path
    kubeconfig [--name N]          print the kubeconfig path
    build                          build and cache every pinned binary

Only the kubeconfig path goes to stdout (so ``export KUBECONFIG=$(driftless
devcluster up)`` works); progress and messages go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from driftless.devcluster import binaries, versions
from driftless.devcluster.cluster import DevCluster
from driftless.devcluster.errors import DevClusterError

_name_option = click.option(
    "--name", default="default", show_default=True, help="Which dev cluster (one state dir each)."
)
_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State directory [default: <cache>/devcluster/<name>].",
)


@click.group("devcluster")
def devcluster() -> None:
    """A local Kubernetes control plane (etcd, apiserver, controllers, kwok nodes)."""


@devcluster.command()
@_name_option
@_state_dir_option
@click.option(
    "--foreground",
    is_flag=True,
    help="Stay attached: stop the cluster on Ctrl-C or when this command dies.",
)
@click.option("--nodes", default=3, show_default=True, help="Number of fake kwok Nodes.")
@click.option(
    "--addresses/--no-addresses",
    default=True,
    show_default=True,
    help="Give LoadBalancer Services and Ingresses the address 127.0.0.1, as a cloud "
    "provider and an ingress controller would; --no-addresses leaves them without one.",
)
def up(name: str, state_dir: Path | None, foreground: bool, nodes: int, addresses: bool) -> None:
    """Start the dev cluster and print its kubeconfig path."""
    cluster = DevCluster(name, state_dir=state_dir, nodes=nodes, addresses=addresses)
    try:
        cluster.up(attached=foreground)
    except DevClusterError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(cluster.kubeconfig))
    if not foreground:
        return
    click.echo("running; press Ctrl-C to stop", err=True)
    try:
        cluster.wait()
    except KeyboardInterrupt:
        click.echo("stopping…", err=True)
    except DevClusterError as exc:
        cluster.down()
        raise click.ClickException(str(exc)) from exc
    cluster.down()


@devcluster.command()
@_name_option
@_state_dir_option
def down(name: str, state_dir: Path | None) -> None:
    """Stop the dev cluster's processes and remove its state."""
    try:
        DevCluster(name, state_dir=state_dir).down()
    except DevClusterError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"dev cluster {name!r} is down", err=True)


@devcluster.command()
@_name_option
@_state_dir_option
def status(name: str, state_dir: Path | None) -> None:
    """Say whether the dev cluster runs; exit 1 if it does not."""
    found = DevCluster(name, state_dir=state_dir).status()
    if not found.running:
        click.echo(f"dev cluster {name!r}: not running")
        sys.exit(1)
    click.echo(f"dev cluster {name!r}: {'running' if found.ready else 'starting'}")
    click.echo(f"  server:     {found.server}")
    click.echo(f"  kubeconfig: {found.kubeconfig}")
    if found.addresses is not None:
        served = "127.0.0.1 for LoadBalancer Services and Ingresses" if found.addresses else "off"
        click.echo(f"  addresses:  {served}")


@devcluster.command("kubeconfig")
@_name_option
@_state_dir_option
def kubeconfig_path(name: str, state_dir: Path | None) -> None:
    """Print the kubeconfig path of a running dev cluster."""
    found = DevCluster(name, state_dir=state_dir).status()
    if not found.running or found.kubeconfig is None:
        raise click.ClickException(f"dev cluster {name!r} is not running")
    click.echo(str(found.kubeconfig))


@devcluster.command()
def build() -> None:
    """Build and cache every pinned binary (control plane and tools)."""
    try:
        built = binaries.ensure_all(versions.ALL)
    except DevClusterError as exc:
        raise click.ClickException(str(exc)) from exc
    for name, path in built.items():
        click.echo(f"{name:<24} {path}")


if __name__ == "__main__":
    devcluster()
