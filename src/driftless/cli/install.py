"""``driftless install``: put what driftless needs into the current cluster. Idempotent.

The controller's layout (RBAC scope, the token-less renderer container) is
``driftless.core.deployment``'s; ``--scope namespace`` (or ``--namespaced``)
gives the controller a Role in the apps namespace instead of a ClusterRole.

``--with-server`` also deploys ``driftless server`` (API and web UI) with its
own least-privilege RBAC and a ClusterIP Service. It is opt-in: a plain
install adds nothing that listens on the network or makes a login (an
administrator who wants only GitOps from git gets only the controller);
``uninstall`` removes the server whether or not it was installed.
"""

from __future__ import annotations

from typing import Any

import click
import yaml

from driftless.cli.context import Globals, run_async, with_client
from driftless.cli.options import checked_namespace
from driftless.core.crd import all_crds as core_crds
from driftless.core.deployment import (
    DEFAULT_IMAGE,
    NAME,
    SERVER_SECRETS,
    TOKENS_SECRET,
    Scope,
    aggregated_roles,
    all_rbac,
    all_server_rbac,
    binds_this_install,
    controller_manifests,
    safe_strategy,
    server_manifests,
)
from driftless.core.project import DEFAULT_PROJECT, default_project
from driftless.core.replication import DEFAULT_SHARDS, MAX_SHARDS, replicate_controller
from driftless.core.resources import CONTROLLER_CONFIGMAP, DEFAULT_APP_NAMESPACE, FIELD_MANAGER
from driftless.kube.client import KubeClient, KubeConflictError
from driftless.notifications.model import notification_crds
from driftless.sync.execute import wait_established


def all_crds() -> list[dict[str, Any]]:
    """Every CRD `driftless install` applies: the core ones, then notifications'."""
    return [*core_crds(), *notification_crds()]


def tenant_roles() -> list[dict[str, Any]]:
    """ClusterRoles that let ``edit``/``admin``/``view`` of a namespace use the notification
    kinds there (``deployment.aggregated_roles``); they go and come with the CRDs."""
    crds = notification_crds()
    plurals = [crd["spec"]["names"]["plural"] for crd in crds]
    return aggregated_roles("driftless-notifications", plurals, crds[0]["spec"]["group"])


async def install(
    client: KubeClient, *, namespace: str = DEFAULT_APP_NAMESPACE, scope: Scope = "cluster"
) -> list[str]:
    """Apply the CRDs, the apps namespace and the default project; one line per object."""
    done = []
    for crd in all_crds():
        await client.apply(crd, field_manager=FIELD_MANAGER)
        done.append(f"customresourcedefinition/{crd['metadata']['name']} applied")
    for crd in all_crds():
        await wait_established(client, [crd["metadata"]["name"]])
    for role in tenant_roles():
        await client.apply(role, field_manager=FIELD_MANAGER)
        done.append(f"clusterrole/{role['metadata']['name']} applied")
    await client.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        field_manager=FIELD_MANAGER,
    )
    done.append(f"namespace/{namespace} applied")
    await client.discovery.refresh()
    done.append(await _ensure_default_project(client, namespace, scope))
    return done


async def _ensure_default_project(client: KubeClient, namespace: str, scope: Scope) -> str:
    """Create the permissive default project once; never overwrite an admin's edits."""
    try:
        await client.create(project_for(namespace, scope))
    except KubeConflictError:  # AlreadyExists
        return f"project/{DEFAULT_PROJECT} unchanged"
    return f"project/{DEFAULT_PROJECT} created"


@click.command("install")
@click.option(
    "--namespace",
    default=DEFAULT_APP_NAMESPACE,
    show_default=True,
    callback=checked_namespace,
    help="Namespace that holds Applications and the controller.",
)
@click.option("--crds-only", is_flag=True, help="Only the CRDs, namespace and default project.")
@click.option(
    "--with-server",
    is_flag=True,
    help="Also deploy `driftless server` (API and web UI) with its own RBAC and a ClusterIP"
    " Service named driftless-server.",
)
@click.option(
    "--image", default=DEFAULT_IMAGE, show_default=True, help="Image of the controller and server."
)
@click.option(
    "--scope",
    type=click.Choice(["cluster", "namespace"]),
    default="cluster",
    show_default=True,
    help="RBAC of the controller: every namespace (ClusterRole), or only --namespace (Role).",
)
@click.option("--namespaced", is_flag=True, help="Same as --scope namespace (single tenant).")
@click.option(
    "--replicas",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Controller replicas; more than 1 share the apps through Leases (see --shards).",
)
@click.option(
    "--shards",
    type=click.IntRange(1, MAX_SHARDS),
    default=DEFAULT_SHARDS,
    show_default=True,
    help="With --replicas > 1: shards the apps are split into (1: one active replica and"
    " standbys, i.e. leader election).",
)
@click.option("--dry-run", is_flag=True, help="Print the manifests (YAML) instead of applying.")
@click.pass_obj
@run_async
async def install_command(
    globals_: Globals,
    namespace: str,
    crds_only: bool,
    with_server: bool,
    image: str,
    scope: Scope,
    namespaced: bool,
    replicas: int,
    shards: int,
    dry_run: bool,
) -> None:
    """Install driftless into the cluster of the current kubeconfig.

    Applies the CRDs, the apps namespace, a permissive `default` Project
    (created once, never overwritten), and unless --crds-only the controller:
    ServiceAccount, RBAC and a one-replica Deployment whose renderer container
    holds no ServiceAccount token. With --with-server also the API server and
    web UI (read-only on workloads, writes only Applications and its own
    Secrets); reach it with `kubectl port-forward svc/driftless-server 8080:80`
    or an ingress (behind TLS, set DRIFTLESS_SECURE_COOKIES=true on it).
    Safe to run again: everything is server-side applied.

    \b
    Examples:
      driftless install
      driftless install --with-server      # and the web UI
      driftless install --namespaced       # the controller may touch only its namespace
      driftless install --replicas 3       # three controllers sharing the apps
      driftless install --crds-only        # run `driftless controller` yourself
      driftless install --dry-run > driftless.yaml
    """
    if namespaced:
        scope = "namespace"
    if crds_only and with_server:
        raise click.UsageError("--crds-only installs no workload: leave out --with-server")
    controller = [] if crds_only else controller_manifests(namespace, image, scope=scope)
    controller = replicate_controller(controller, replicas, shards)
    if with_server:
        controller += server_manifests(namespace, image, scope=scope)
    if dry_run:
        project = project_for(namespace, scope)
        documents = [*all_crds(), *tenant_roles(), _namespace(namespace), project, *controller]
        click.echo(yaml.safe_dump_all(documents, sort_keys=False), nl=False)
        return

    async def run(client: KubeClient) -> list[str]:
        lines = await install(client, namespace=namespace, scope=scope)
        for obj in controller:
            if obj["kind"] == "Deployment" and obj["metadata"]["name"] == NAME:
                # Pods without Leases are replaced by Recreate, never rolled over.
                live = await client.get("apps/v1", "Deployment", NAME, namespace)
                obj = safe_strategy(live, obj)
            await client.apply(obj, field_manager=FIELD_MANAGER)
            lines.append(f"{obj['kind'].lower()}/{obj['metadata']['name']} applied")
        if controller:
            lines += await remove_legacy_cluster_rbac(client, namespace)
        return lines

    for line in await with_client(globals_, run):
        click.echo(line)


@click.command("uninstall")
@click.option(
    "--namespace", default=DEFAULT_APP_NAMESPACE, show_default=True, callback=checked_namespace
)
@click.option(
    "--crds",
    is_flag=True,
    help="Also delete the CRDs — and with them every Application and Project.",
)
@click.option("--yes", is_flag=True, help="Do not ask before deleting the CRDs.")
@click.pass_obj
@run_async
async def uninstall_command(globals_: Globals, namespace: str, crds: bool, yes: bool) -> None:
    """Remove the controller and the server (with --crds, also the CRDs and every app object).

    The server's Secrets go too (the admin account, the sessions and the API
    tokens' signing keys: a new install makes a new initial password, and no
    token issued before works with it). Objects the apps deployed keep
    running: delete the apps first (with cascade) if they should go too.

    \b
    Examples:
      driftless uninstall
      driftless uninstall --crds --yes
    """
    if crds and not yes:
        click.confirm(
            "Deleting the CRDs deletes every Application and Project. Continue?", abort=True
        )

    async def run(client: KubeClient) -> list[str]:
        lines = []
        # The reverse of install; both scopes' RBAC, whichever was installed.
        by_kind = {obj["kind"]: obj for obj in controller_manifests(namespace)}
        server = {obj["kind"]: obj for obj in server_manifests(namespace)}
        targets = [
            server["Service"],
            server["Deployment"],
            *reversed(all_server_rbac(namespace)),
            server["ServiceAccount"],
            by_kind["Deployment"],
            *reversed(all_rbac(namespace)),
            by_kind["ServiceAccount"],
        ]
        targets.append(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": CONTROLLER_CONFIGMAP, "namespace": namespace}}
        )  # fmt: skip
        targets += [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": n, "namespace": namespace}}
            for n in (*SERVER_SECRETS, TOKENS_SECRET)
        ]
        if crds:
            targets += [*tenant_roles(), *all_crds()]
        for obj in targets:
            meta = obj["metadata"]
            gone = await client.delete(
                obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")
            )
            state = "deleted" if gone else "not found"
            lines.append(f"{obj['kind'].lower()}/{meta['name']} {state}")
        return lines + await remove_legacy_cluster_rbac(client, namespace)

    for line in await with_client(globals_, run):
        click.echo(line)


async def remove_legacy_cluster_rbac(client: KubeClient, namespace: str) -> list[str]:
    """Delete the cluster-wide RBAC an earlier version named plainly ``driftless-controller``.

    Cluster-scoped RBAC is now named per install namespace; the old shared
    pair is removed only when its binding grants nothing but this install's
    ServiceAccount, so another install that still relies on it keeps it.
    """
    api = "rbac.authorization.k8s.io/v1"
    binding = await client.get(api, "ClusterRoleBinding", NAME)
    if not binds_this_install(binding, namespace):
        return []
    lines = []
    for kind in ("ClusterRoleBinding", "ClusterRole"):
        if await client.delete(api, kind, NAME):
            lines.append(f"{kind.lower()}/{NAME} deleted (named by an earlier version)")
    return lines


def project_for(namespace: str, scope: Scope) -> dict[str, Any]:
    """The ``default`` project: permissive, or for a namespaced install, that namespace only.

    The controller's namespace is protected: only a destination naming it
    literally lets apps deploy there, which is the whole point of a
    single-tenant install.
    """
    project: dict[str, Any] = default_project(namespace)
    if scope == "namespace":
        project["spec"] = {
            **project["spec"],
            "description": f"Single tenant: deploys into namespace {namespace} only.",
            "destinations": [{"server": "*", "namespace": namespace}],
            "clusterResourceAllowList": [],
        }
    return project


def _namespace(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
