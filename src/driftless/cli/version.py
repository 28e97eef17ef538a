"""``driftless version``: the client's, the cluster's and the controller's versions.

With several controller replicas, each one's shards are listed, read from
the shard Leases (``controller.shards``).

The controller's version is read from the ConfigMap ``driftless-controller``
(key ``version``) in the apps namespace, which the running controller keeps
up to date. Its absence is reported as "not found", never as a failure: a
cluster may run driftless's CLI against a controller started elsewhere, or
none. An unreachable API server is an error (exit 1) after the client version
has been printed, like ``kubectl version``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import click

from driftless import __version__
from driftless.cli.context import Globals, NoKubeconfigError, app_namespace, run_async, with_client
from driftless.cli.options import namespace_option, output_option
from driftless.cli.output import dump
from driftless.controller import shards
from driftless.core.resources import CONTROLLER_CONFIGMAP, CONTROLLER_VERSION_KEY
from driftless.kube.client import KubeApiError, KubeClient

NOT_FOUND = "not found"


@dataclass
class Versions:
    """What ``version`` reports; ``None`` means "not asked" (``--client``)."""

    client: str
    server: str | None = None
    controller: str | None = None
    server_error: str | None = None
    # Several replicas (``controller.shards``): replica id -> the shards it holds.
    replicas: dict[str, list[int]] | None = None

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def lines(self) -> list[str]:
        out = [f"Client Version: {self.client}"]
        if self.server is not None:
            out.append(f"Kubernetes Version: {self.server}")
        if self.controller is not None:
            out.append(f"Controller Version: {self.controller}")
        for replica, held in (self.replicas or {}).items():
            out.append(f"Controller Replica: {replica} holds shards {_ranges(held)}")
        return out


def _ranges(shards: list[int]) -> str:
    """``0-3,7,9-10``: the shards a replica holds, short."""
    parts: list[str] = []
    for shard in shards:
        if parts and shard == int(parts[-1].rpartition("-")[2]) + 1:
            parts[-1] = f"{parts[-1].partition('-')[0]}-{shard}"
        else:
            parts.append(str(shard))
    return ",".join(parts)


async def controller_version(client: KubeClient, namespace: str) -> str:
    """The version the controller published, or ``not found`` (any failure to read it)."""
    try:
        cm = await client.get("v1", "ConfigMap", CONTROLLER_CONFIGMAP, namespace)
    except KubeApiError:
        return NOT_FOUND
    version = ((cm or {}).get("data") or {}).get(CONTROLLER_VERSION_KEY)
    return str(version) if version else NOT_FOUND


async def server_versions(
    client: KubeClient, namespace: str
) -> tuple[str, str, dict[str, list[int]]]:
    """(Kubernetes gitVersion, controller version, shards held by each replica)."""
    info = await client.version()
    try:
        held = await shards.holders(client, namespace)
    except KubeApiError:
        held = {}  # no Leases readable: a single controller, or no RBAC for them
    version = await controller_version(client, namespace)
    return str(info.get("gitVersion", "unknown")), version, held


@click.command("version")
@output_option(("text", "json", "yaml"), default="text")
@click.option("--client", "client_only", is_flag=True, help="Only the client version; no cluster.")
@namespace_option("the controller")
@click.pass_obj
@run_async
async def version_command(
    globals_: Globals, output: str, client_only: bool, namespace: str | None
) -> None:
    """Print the versions of this client, the cluster and the driftless controller.

    The controller's version shows "not found" when no controller has
    published it in the namespace. Exits 1 if the cluster cannot be reached.

    \b
    Examples:
      driftless version
      driftless version --client
      driftless version -o json
    """
    versions = Versions(client=__version__)
    if not client_only:
        ns = app_namespace(namespace)
        try:
            versions.server, versions.controller, versions.replicas = await with_client(
                globals_, lambda client: server_versions(client, ns)
            )
        except (KubeApiError, NoKubeconfigError) as exc:
            versions.server_error = exc.message
    if output == "text":
        for line in versions.lines():
            click.echo(line)
    else:
        click.echo(dump(versions.to_json(), output))
    if versions.server_error is not None:
        raise click.ClickException(versions.server_error)
