"""Push mode: ``driftless render``, ``driftless diff --local`` and ``driftless apply``.

These commands need no installed controller. They run the controller's own
pipeline (``driftless.pipeline``) from the CLI, so a GitLab CI or Jenkins job
gets the same rendering, phases, waves, hooks, pruning and health checks as
a pull-mode app.

* ``render`` works offline: no kubeconfig is read. Helm's ``.Capabilities``
  come from ``--kube-version`` and the built-in API versions.
* ``diff --local`` renders a local directory with an existing Application's
  source options and compares it with the cluster (the merge-request preview).
* ``apply`` renders, prints the diff, syncs, prunes (``--prune``) and waits
  (``--wait``). Push-mode apps have no Application object: their inventory
  (what to prune next time) is a ConfigMap, see ``driftless.pipeline.inventory``.
  Push mode has no Project either: the pipeline's own RBAC is the fence.

``--repo`` is a URL (https, ssh, git, file) or a local path. A local git
repository is read through git (the committed content at ``--revision``,
default HEAD); any other local directory is rendered as it is on disk.

Exit codes (also in each command's ``--help``): 0 synced and healthy (or no
difference, for ``diff``), 1 sync failed or differences found, 2 usage error,
3 degraded, 4 timeout, 5 render or source error.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec

import click
import yaml

from driftless.cli.context import Globals, app_namespace, run_async
from driftless.cli.diffs import app_diffs, print_diffs, source_renderer, write_diffs
from driftless.cli.exits import (
    EXIT_CODES_HELP,
    EXIT_DEGRADED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_TIMEOUT,
    SourceFailedError,
    UsageFailedError,
)
from driftless.cli.options import (
    checked_namespace,
    controller_namespace_option,
    namespace_option,
    timeout_option,
)
from driftless.cli.progress import Progress
from driftless.core import names
from driftless.core.errors import DriftlessError
from driftless.core.models import (
    API_VERSION,
    APPLICATION_KIND,
    Application,
    ApplicationDestination,
    ApplicationSource,
    ApplicationSpec,
    HealthStatusCode,
    Operation,
    OperationPhase,
    OperationState,
    SyncOperation,
    SyncPolicy,
)
from driftless.core.vocabulary import AppSyncOption, HookPhase, ResultCode
from driftless.health import DONE_HEALTH
from driftless.kube.client import KubeApiError, KubeClient
from driftless.pipeline import inventory
from driftless.pipeline.decryption import Decrypting
from driftless.pipeline.diffs import plan_diffs
from driftless.pipeline.drive import drive
from driftless.pipeline.health import done_count, live_health
from driftless.pipeline.plan import Plan
from driftless.pipeline.planner import Planner
from driftless.pipeline.policy import start
from driftless.pipeline.projects import PermissiveProjects
from driftless.pipeline.renderers import (
    LOCAL_REVISION,
    LocalTree,
)
from driftless.render import KubeTarget
from driftless.sources.artifact import Artifact, resolve_app_path
from driftless.sync import plan as sp
from driftless.sync.runner import SyncRunner

P = ParamSpec("P")
JSON = dict[str, Any]

DEFAULT_KUBE_VERSION = "v1.36.3"
POLL_SECONDS = 1.0

# The API versions a Kubernetes v1.36 API server serves without any CRD
# (Helm's .Capabilities.APIVersions when rendering offline).
BUILTIN_KINDS: dict[str, tuple[str, ...]] = {
    "v1": (
        "ConfigMap", "Endpoints", "Event", "LimitRange", "Namespace", "Node",
        "PersistentVolume", "PersistentVolumeClaim", "Pod", "PodTemplate",
        "ReplicationController", "ResourceQuota", "Secret", "Service", "ServiceAccount",
    ),
    "admissionregistration.k8s.io/v1": (
        "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
    ),
    "apiextensions.k8s.io/v1": ("CustomResourceDefinition",),
    "apiregistration.k8s.io/v1": ("APIService",),
    "apps/v1": ("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"),
    "authentication.k8s.io/v1": ("SelfSubjectReview", "TokenReview"),
    "authorization.k8s.io/v1": (
        "LocalSubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview",
        "SubjectAccessReview",
    ),
    "autoscaling/v1": ("HorizontalPodAutoscaler",),
    "autoscaling/v2": ("HorizontalPodAutoscaler",),
    "batch/v1": ("CronJob", "Job"),
    "certificates.k8s.io/v1": ("CertificateSigningRequest",),
    "coordination.k8s.io/v1": ("Lease",),
    "discovery.k8s.io/v1": ("EndpointSlice",),
    "events.k8s.io/v1": ("Event",),
    "flowcontrol.apiserver.k8s.io/v1": ("FlowSchema", "PriorityLevelConfiguration"),
    "networking.k8s.io/v1": (
        "IPAddress", "Ingress", "IngressClass", "NetworkPolicy", "ServiceCIDR",
    ),
    "node.k8s.io/v1": ("RuntimeClass",),
    "policy/v1": ("PodDisruptionBudget",),
    "rbac.authorization.k8s.io/v1": ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"),
    "resource.k8s.io/v1": (
        "DeviceClass", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice",
    ),
    "scheduling.k8s.io/v1": ("PriorityClass",),
    "storage.k8s.io/v1": (
        "CSIDriver", "CSINode", "CSIStorageCapacity", "StorageClass", "VolumeAttachment",
        "VolumeAttributesClass",
    ),
}  # fmt: skip


def offline_target(version: str) -> KubeTarget:
    """Helm's ``.Capabilities`` without a cluster: ``version`` and the built-in APIs."""
    served = [(api, kind) for api, kinds in BUILTIN_KINDS.items() for kind in kinds]
    return KubeTarget.build(version, served)


# ------------------------------------------------------------------ sources


@dataclass(frozen=True)
class PushSource:
    """Where ``--repo``/``--path`` point: a git repository URL, or a local tree."""

    repo_url: str
    path: str
    local: LocalTree | None


def _is_git_repo(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def resolve_source(repo: str, path: str, revision: str | None) -> PushSource:
    """Classify ``--repo``: local git repository, plain local directory, or URL.

    Raises ``SourceFailedError`` when the path does not exist inside a plain
    directory (or escapes it), ``UsageFailedError`` for ``--revision`` with a
    plain directory (it has no revisions).
    """
    candidate = Path(repo).expanduser()
    if "://" in repo or not candidate.exists():
        if not ("://" in repo or ":" in repo):  # neither URL nor scp-like: a missing path
            raise SourceFailedError(f"repository {repo!r}: no such directory")
        return PushSource(repo, path, None)
    if not candidate.is_dir():
        raise SourceFailedError(f"repository {repo!r} is not a directory")
    root = candidate.resolve()
    if _is_git_repo(root):
        return PushSource(str(root), path, None)
    if revision is not None:
        raise UsageFailedError(f"--revision needs a git repository; {repo} is a plain directory")
    try:
        app_dir = resolve_app_path(Artifact(str(root), LOCAL_REVISION, root), path)
    except DriftlessError as exc:
        raise SourceFailedError(exc.message) from None
    return PushSource(str(root), path, LocalTree(root, app_dir))


def local_tree(path: str) -> LocalTree:
    """``diff --local PATH``: PATH is the app directory; the tree is its git work tree
    (so a kustomize overlay may use ``../base``), or PATH itself outside git."""
    app_dir = Path(path).expanduser().resolve()
    if not app_dir.is_dir():
        raise SourceFailedError(f"{path}: no such directory")
    for parent in (app_dir, *app_dir.parents):
        if (parent / ".git").exists():
            return LocalTree(parent, app_dir)
    return LocalTree(app_dir, app_dir)


# ------------------------------------------------------------------ render


def _stream(objects: list[JSON], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2)
    docs = [yaml.safe_dump(o, sort_keys=False, default_flow_style=False) for o in objects]
    return "---\n" + "---\n".join(docs) if docs else ""


def _default_name(repo: str, path: str) -> str:
    """A valid app (and Helm release) name from the path or repository name."""
    base = Path(path.strip("/")).name if path.strip("/. ") else ""
    if not base:
        base = Path(repo.rstrip("/")).name.removesuffix(".git")
    name = re.sub(r"[^a-z0-9.-]+", "-", base.lower())[: names.RELEASE_NAME_MAX]
    return name.strip("-.") or "app"


def _checked_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--name``: it is Helm's release name, so Helm's rule (never a leading ``-``)."""
    problem = None if value is None else names.release_name_problem(value)
    if problem:
        raise click.BadParameter(f"{value!r} is not a valid app name: {problem}")
    return value


def _checked_kube_version(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not names.matches(names.KUBE_VERSION_PATTERN, value):
        raise click.BadParameter(f"{value!r} is not a Kubernetes version such as v1.36.3")
    return value


repo_option = click.option(
    "--repo", required=True, help="Git repository URL, or a local git repository or directory."
)
path_option = click.option(
    "--path", default=".", show_default=True, help="Directory of the app inside the repository."
)
revision_option = click.option(
    "--revision", default=None, help="Branch, tag or commit (git only; default HEAD)."
)


@click.command("render", epilog=EXIT_CODES_HELP)
@repo_option
@path_option
@revision_option
@click.option(
    "--namespace",
    default="",
    callback=checked_namespace,
    help="Destination namespace (Helm's release namespace).",
)
@click.option(
    "--name",
    default=None,
    callback=_checked_name,
    help="App name (Helm's release name; default: the path).",
)
@click.option(
    "--kube-version",
    default=DEFAULT_KUBE_VERSION,
    show_default=True,
    callback=_checked_kube_version,
    help="Kubernetes version templates see (.Capabilities.KubeVersion).",
)
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml")
@run_async
async def render_command(
    repo: str,
    path: str,
    revision: str | None,
    namespace: str,
    name: str | None,
    kube_version: str,
    output: str,
) -> int:
    """Render an app's manifests offline (no cluster, no kubeconfig needed).

    A local directory that is not a git repository is rendered as it is on
    disk; a git repository (local or remote) at --revision. Kustomize, Helm,
    Jsonnet and plain directories are detected as for Applications. Prints a
    YAML stream (or a JSON List with -o json).

    \b
    Examples:
      driftless render --repo . --path deploy/overlays/prod
      driftless render --repo https://git.example.com/team/app.git --path chart \\
          --revision v1.2.0 --namespace shop --kube-version v1.35.0 -o json
    """
    source = resolve_source(repo, path, revision)
    app = _application(source, name or _default_name(repo, path), namespace)
    rendered = await source_renderer(source.local).render(
        app, revision, offline_target(kube_version)
    )
    manifests = rendered.manifests
    text = _stream([m.obj for m in manifests], output)
    if text:
        click.echo(text.rstrip("\n"))
    return EXIT_OK


# -------------------------------------------------------------------- diff


@click.command("diff", epilog="\b\nExit codes: 0 no difference, 1 differences, 2 usage error,\n"
               "5 render error.")  # fmt: skip
@click.option("--local", "local_path", required=True, help="The app's directory on disk.")
@click.option("--app", "app_name", required=True, help="The Application whose options to use.")
@namespace_option("the Application")
@controller_namespace_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal.")
@click.pass_obj
@run_async
async def diff_local_command(
    globals_: Globals,
    local_path: str,
    app_name: str,
    namespace: str | None,
    controller_namespace: str,
    output: str,
    no_color: bool,
) -> int:
    """Show what a local checkout would change in the cluster (merge-request preview).

    Renders the local directory with the source options of Application
    APP (renderer, Helm values, Kustomize overrides) and compares it with
    the cluster exactly as `driftless app diff` does: server-side dry-run,
    Secret values masked. Uncommitted edits count. No controller needed.

    \b
    Examples:
      driftless diff --local deploy/overlays/prod --app shop
      driftless diff --local . --app guestbook -n team-a -o json
    """
    ns = app_namespace(namespace)
    tree = local_tree(local_path)
    client = await globals_.client()
    try:
        raw = await client.get(API_VERSION, APPLICATION_KIND, app_name, ns)
        if raw is None:
            raise UsageFailedError(f'application "{app_name}" not found in namespace {ns}')
        app = Application.model_validate(raw)
        diffs = await app_diffs(client, app, home=controller_namespace, local=tree)
    finally:
        await client.close()
    return write_diffs(diffs, output=output, color=not no_color and sys.stdout.isatty())


# ------------------------------------------------------------------- apply


@dataclass
class ApplyOptions:
    """What ``driftless apply`` was asked to do."""

    name: str
    namespace: str
    revision: str | None
    prune: bool
    wait: bool
    timeout: float
    create_namespace: bool
    color: bool


def push_application(source: PushSource, opts: ApplyOptions) -> Application:
    """The in-memory Application of a push-mode app (never stored in the cluster)."""
    options = [f"{AppSyncOption.CREATE_NAMESPACE}=true"] if opts.create_namespace else []
    return _application(source, opts.name, opts.namespace, options)


def _application(
    source: PushSource, name: str, namespace: str, options: list[str] | None = None
) -> Application:
    return Application(
        metadata={"name": name, "namespace": namespace},
        spec=ApplicationSpec(
            source=ApplicationSource(repo_url=source.repo_url, path=source.path),
            destination=ApplicationDestination(namespace=namespace or None),
            sync_policy=SyncPolicy(sync_options=options or []),
        ),
    )


def _last_step_sent(state: OperationState, last: sp.Step | None) -> bool:
    step = state.step
    if last is None or step is None or not step.applied:
        return False
    return step.phase == last.phase and (step.wave or 0) == last.wave


async def run_sync(
    client: KubeClient, planner: Planner, plan: Plan, state: OperationState, opts: ApplyOptions
) -> int:
    """Drive ``SyncRunner`` until the operation ends; returns the exit code.

    Without ``--wait`` it returns 0 as soon as the last step's objects were
    sent (earlier waves still wait for health, as their order requires).
    With ``--wait`` the last step waits for health too. Every health wait is
    bounded by ``--timeout`` (exit 4), so the runner's own deadline is off.
    """
    runner = SyncRunner(
        client,
        live=planner.live,
        assess=plan.registry.assess,
        health_timeout=math.inf,
        wait_at_end=opts.wait,
    )
    steps = sp.steps(plan.tasks(), prune=opts.prune)
    last = steps[-1] if steps else None
    progress = Progress()
    total = len(plan.states)
    try:
        while True:
            driven = await drive(planner, plan, runner, state, live=True)
            state = driven.state
            progress.show(state, total, done_count(driven.health))
            if driven.interrupted is not None:
                progress.say(f"sync interrupted: {driven.interrupted}")
                return EXIT_FAILED
            if not driven.running:
                break
            if not opts.wait and _last_step_sent(state, last):
                progress.say("applied (not waiting for health: no --wait)")
                return EXIT_OK
            if progress.elapsed() > opts.timeout:
                progress.say(f"timed out after {opts.timeout:.0f}s: sync still running")
                return EXIT_TIMEOUT
            await asyncio.sleep(POLL_SECONDS)
    finally:
        progress.done()
    if state.phase != OperationPhase.SUCCEEDED:
        click.echo(f"sync failed: {state.message}", err=True)
        return await _failure_code(client, plan, state)
    if opts.wait:
        return await _wait_healthy(client, plan, progress, opts.timeout)
    return EXIT_OK


async def _failure_code(client: KubeClient, plan: Plan, state: OperationState) -> int:
    """3 when the failure is an object that went Degraded, 1 for anything else."""
    refused = any(
        r.status == ResultCode.SYNC_FAILED or r.hook_phase == HookPhase.FAILED
        for r in state.resources
    )
    if refused:
        return EXIT_FAILED
    degraded = HealthStatusCode.DEGRADED in await live_health(client, plan)
    return EXIT_DEGRADED if degraded else EXIT_FAILED


async def _wait_healthy(client: KubeClient, plan: Plan, progress: Progress, timeout: float) -> int:
    while True:
        health = await live_health(client, plan)
        if HealthStatusCode.DEGRADED in health:
            click.echo("degraded: an object is Degraded", err=True)
            return EXIT_DEGRADED
        if all(h in DONE_HEALTH for h in health):
            click.echo(f"synced and healthy in {progress.elapsed():.1f}s", err=True)
            return EXIT_OK
        if progress.elapsed() > timeout:
            click.echo(f"timed out after {timeout:.0f}s waiting for health", err=True)
            return EXIT_TIMEOUT
        await asyncio.sleep(POLL_SECONDS)


@click.command("apply", epilog=EXIT_CODES_HELP)
@repo_option
@path_option
@click.option(
    "--dest-namespace",
    required=True,
    callback=checked_namespace,
    help="Namespace to deploy to.",
)
@click.option(
    "--name",
    default=None,
    callback=_checked_name,
    help="App name for tracking and pruning, and Helm's release name (default: the path).",
)
@revision_option
@click.option(
    "--prune", is_flag=True, help="Delete objects an earlier apply made that git no longer has."
)
@click.option("--wait", is_flag=True, help="Wait until every object is healthy.")
@timeout_option("5m", "Give up after this long")
@click.option("--create-namespace", is_flag=True, help="Create --dest-namespace if missing.")
@click.option("--no-color", is_flag=True, help="Plain diff even on a terminal.")
@click.pass_obj
@run_async
async def apply_command(
    globals_: Globals,
    repo: str,
    path: str,
    dest_namespace: str,
    name: str | None,
    revision: str | None,
    prune: bool,
    wait: bool,
    timeout: float,
    create_namespace: bool,
    no_color: bool,
) -> int:
    """Push mode: render, diff, sync, prune and wait, without an installed controller.

    Runs the controller's pipeline from here: the same rendering, server-side
    apply (field manager `driftless`, tracking annotation), phases, waves and
    hooks. The objects applied are recorded in the ConfigMap
    driftless-inventory-NAME in --dest-namespace; with --prune, objects of
    an earlier apply that the render no longer has are deleted. The diff of
    what changes is printed on stdout, progress on stderr.

    Push mode has no Project: the pipeline's credentials (its RBAC) decide
    what it may change.

    \b
    Examples:
      driftless apply --repo . --path deploy --dest-namespace shop --prune --wait
      driftless apply --repo https://git.example.com/team/app.git --path k8s \\
          --revision "$CI_COMMIT_SHA" --dest-namespace shop --wait --timeout 10m
    """
    opts = ApplyOptions(
        name=name or _default_name(repo, path),
        namespace=dest_namespace,
        revision=revision,
        prune=prune,
        wait=wait,
        timeout=timeout,
        create_namespace=create_namespace,
        color=not no_color and sys.stdout.isatty(),
    )
    source = resolve_source(repo, path, revision)
    client = await globals_.client()
    try:
        return await push(client, source, opts)
    finally:
        await client.close()


async def push(client: KubeClient, source: PushSource, opts: ApplyOptions) -> int:
    """One push-mode apply against ``client``'s cluster; returns the exit code."""
    # No decryption keys in push mode: a SOPS-encrypted document fails the plan, never applied.
    renderer = Decrypting(source_renderer(source.local), client)
    planner = Planner(client, renderer, PermissiveProjects())
    app = push_application(source, opts)
    stored = inventory.ConfigMapInventory(client, opts.name, opts.namespace)
    previous = await stored.read()
    app.status.resources = previous
    plan = await planner.plan(app, revision=opts.revision)
    changed = print_diffs(plan_diffs(plan, include_orphans=opts.prune), color=opts.color)
    click.echo(
        f"{opts.name}: revision {plan.revision[:12]}, {len(plan.states)} objects,"
        f" {changed} to change, {len(plan.orphans)} not in git"
        + ("" if opts.prune or not plan.orphans else " (kept: no --prune)"),
        err=True,
    )
    operation = Operation(sync=SyncOperation(prune=opts.prune, revision=plan.revision))
    state = start(operation, plan.revision)
    code = EXIT_FAILED
    try:
        code = await run_sync(client, planner, plan, state, opts)
    finally:
        entries = inventory.next_inventory(plan, previous, state)
        try:
            await stored.write(entries, plan.revision)
        except KubeApiError as exc:
            click.echo(f"warning: cannot record the inventory: {exc}", err=True)
            code = EXIT_FAILED if code == EXIT_OK else code
    return code
