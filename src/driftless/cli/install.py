"""``driftless install``: put what driftless needs into the current cluster. Idempotent."""

from __future__ import annotations

import asyncio
import time

import click

from driftless.cli.context import DEFAULT_APP_NAMESPACE, Globals, run_async, with_client
from driftless.core.crd import all_crds
from driftless.core.project import DEFAULT_PROJECT, default_project
from driftless.core.resources import FIELD_MANAGER
from driftless.kube.client import KubeApiError, KubeClient


async def install(client: KubeClient, *, namespace: str = DEFAULT_APP_NAMESPACE) -> list[str]:
    """Apply the CRDs, the apps namespace and the default project; one line per object."""
    done = []
    for crd in all_crds():
        await client.apply(crd, field_manager=FIELD_MANAGER)
        done.append(f"customresourcedefinition/{crd['metadata']['name']} applied")
    for crd in all_crds():
        await wait_established(client, crd["metadata"]["name"])
    await client.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        field_manager=FIELD_MANAGER,
    )
    done.append(f"namespace/{namespace} applied")
    await client.discovery.refresh()
    done.append(await _ensure_default_project(client, namespace))
    return done


async def _ensure_default_project(client: KubeClient, namespace: str) -> str:
    """Create the permissive default project once; never overwrite an admin's edits."""
    try:
        await client.create(default_project(namespace))
    except KubeApiError as exc:
        if not exc.conflict:
            raise
        return f"project/{DEFAULT_PROJECT} unchanged"
    return f"project/{DEFAULT_PROJECT} created"


async def wait_established(client: KubeClient, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = await client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        conditions = ((crd or {}).get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return
        await asyncio.sleep(0.2)
    raise click.ClickException(f"CRD {name} was not Established within {timeout:.0f}s")


@click.command("install")
@click.option(
    "--namespace",
    default=DEFAULT_APP_NAMESPACE,
    show_default=True,
    help="Namespace that holds Applications.",
)
@click.pass_obj
@run_async
async def install_command(globals_: Globals, namespace: str) -> None:
    """Install the driftless CRDs into the cluster of the current kubeconfig.

    Safe to run again: it applies with server-side apply.

    \b
    Example:
      driftless install --kubeconfig ~/.kube/config
    """
    applied = await with_client(globals_, lambda c: install(c, namespace=namespace))
    for line in applied:
        click.echo(line)
