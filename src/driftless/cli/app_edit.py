"""``driftless app create|set|delete``: write Applications.

These commands join the read-only ones of ``cli.app`` on the same ``app``
group. Contracts:

* Nothing is sent that the ``Application`` model refuses: flags and files are
  validated first (``pipeline.app_spec``, the checks the API server makes
  too), and a bad value is one ``Error: ...`` line naming the field.
* ``create`` never overwrites: an existing app is an error unless ``--upsert``
  (then its spec becomes what was given, by server-side apply as
  ``driftless-cli``). With ``-f``, every document is validated, and without
  ``--upsert`` checked not to exist, before the first one is written.
* ``set`` changes only the fields given, as a merge patch guarded by the
  ``resourceVersion`` it read (``cli.objects.update``), so a concurrent edit is
  never lost. Edits are idempotent, so replaying them on a fresher object after
  a conflict is safe.
* Helm flags (``--helm-set``, ``--helm-values-file``, ``--helm-unset``,
  ``--helm-lookup``) on a source holding another renderer's options are a usage
  error naming the flags. ``--no-helm-lookup`` only clears ``helm.lookup`` where
  it is set: on a source without Helm options it changes nothing. Giving both
  ``--helm-lookup`` and ``--no-helm-lookup`` is a usage error (``cli.toggle``).
* ``delete`` cascades by default: it adds the resources finalizer before
  deleting, and the controller deletes every object the app manages before the
  Application goes away. ``--no-cascade`` removes the finalizer first, so the
  objects keep running unmanaged (``pipeline.requests.delete_app``, as the API
  server does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from pydantic import ValidationError as PydanticValidationError

from driftless.cli.app import app_group
from driftless.cli.completion import complete_names
from driftless.cli.context import Globals, app_namespace, run_async, with_client
from driftless.cli.objects import (
    JSON,
    apply,
    check_name,
    key_value,
    load_documents,
    update,
    upsert,
    validation_message,
)
from driftless.cli.options import namespace_option, timeout_option
from driftless.cli.toggle import toggle_option, toggle_value
from driftless.core.models import (
    API_VERSION,
    APPLICATION_KIND,
    Application,
    ApplicationSource,
    ApplicationSpec,
    AutomatedSync,
    DirectorySource,
    HelmParameter,
    HelmSource,
    KustomizeSource,
    parse_duration,
)
from driftless.kube.client import KubeClient
from driftless.pipeline import app_spec, requests

complete_app = complete_names(API_VERSION, APPLICATION_KIND)

# -- edits: what the flags ask for -----------------------------------------------------------


@dataclass(frozen=True)
class AppEdits:
    """The spec changes a command line asks for; ``None``/empty means "leave as is"."""

    repo: str | None = None
    path: str | None = None
    revision: str | None = None
    dest_namespace: str | None = None
    dest_server: str | None = None
    project: str | None = None
    sync_policy: str | None = None
    auto_prune: bool | None = None
    self_heal: bool | None = None
    sync_options: tuple[str, ...] = ()
    directory_recurse: bool | None = None
    helm_sets: tuple[str, ...] = ()
    helm_unsets: tuple[str, ...] = ()
    helm_values_files: tuple[str, ...] = ()
    helm_lookup: bool | None = None
    kustomize_images: tuple[str, ...] = ()
    interval: str | None = None

    def check(self) -> None:
        """Usage errors that need no cluster: contradictory or malformed flags."""
        if self.sync_policy == "manual" and (self.auto_prune or self.self_heal):
            raise click.UsageError(
                "--auto-prune and --self-heal need --sync-policy automated, not manual"
            )
        for item in self.sync_options:
            key_value(item, "--sync-option")
        for item in self.helm_sets:
            key_value(item, "--helm-set")
        if self.interval:
            try:
                parse_duration(self.interval)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="'--interval'") from None

    def apply_to(self, spec: ApplicationSpec) -> ApplicationSpec:
        """A copy of ``spec`` with these edits; applying twice equals applying once."""
        new = spec.model_copy(deep=True)
        self._source(new.source)
        if self.dest_namespace is not None:
            new.destination.namespace = self.dest_namespace or None
        if self.dest_server is not None:
            new.destination.server = self.dest_server or None
        if self.project is not None:
            new.project = self.project
        if self.interval is not None:
            new.interval = self.interval or None
        self._sync_policy(new)
        return new

    def _source(self, source: ApplicationSource) -> None:
        if self.repo is not None:
            source.repo_url = self.repo
        if self.path is not None:
            source.path = self.path
        if self.revision is not None:
            source.target_revision = self.revision
        if self.directory_recurse is not None:
            source.directory = source.directory or DirectorySource()
            source.directory.recurse = self.directory_recurse
        if self._helm_flags():
            source.helm = _helm(source.helm or HelmSource(), self)
        elif self.helm_lookup is False and source.helm is not None:
            source.helm.lookup = False
        if self.kustomize_images:
            source.kustomize = source.kustomize or KustomizeSource()
            source.kustomize.images = set_images(source.kustomize.images, self.kustomize_images)
        self._check_helm_target(source)

    def _helm_flags(self) -> list[str]:
        """The flags given that make or change Helm options (``--no-helm-lookup`` does not)."""
        given = {
            "--helm-set": self.helm_sets,
            "--helm-unset": self.helm_unsets,
            "--helm-values-file": self.helm_values_files,
            "--helm-lookup": self.helm_lookup,
        }
        return [flag for flag, value in given.items() if value]

    def _check_helm_target(self, source: ApplicationSource) -> None:
        """A usage error naming the Helm flags when the source is another renderer's.

        Only options tell: a plain path's renderer is detected at render time, so a
        source without any options may still become a Helm one.
        """
        others = [k for k in app_spec.RENDERERS if k != "helm" and getattr(source, k)]
        flags = self._helm_flags()
        if flags and others:
            raise click.UsageError(
                f"{', '.join(flags)}: the app's source has {' and '.join(others)} options,"
                " not a Helm chart (a source has one renderer)"
            )

    def _sync_policy(self, spec: ApplicationSpec) -> None:
        policy = spec.sync_policy
        if self.sync_policy == "manual":
            policy.automated = None
        elif self.sync_policy == "automated" or self.auto_prune or self.self_heal:
            policy.automated = policy.automated or AutomatedSync()
        if policy.automated is not None:
            if self.auto_prune is not None:
                policy.automated.prune = self.auto_prune
            if self.self_heal is not None:
                policy.automated.self_heal = self.self_heal
        for item in self.sync_options:
            key, value = key_value(item, "--sync-option")
            kept = [o for o in policy.sync_options if o.partition("=")[0].strip() != key]
            policy.sync_options = [*kept, f"{key}={value}"]


def _helm(helm: HelmSource, edits: AppEdits) -> HelmSource:
    params = {p.name: p for p in helm.parameters if p.name not in edits.helm_unsets}
    for item in edits.helm_sets:
        key, value = key_value(item, "--helm-set")
        params[key] = HelmParameter(name=key, value=value)
    helm.parameters = list(params.values())
    helm.value_files += [f for f in edits.helm_values_files if f not in helm.value_files]
    if edits.helm_lookup is not None:
        helm.lookup = edits.helm_lookup
    return helm


def image_name(image: str) -> str:
    """The image an override targets: ``nginx=ghcr.io/x/nginx:1`` and ``nginx:1`` → nginx."""
    if "=" in image:
        return image.split("=", 1)[0]
    name = image.split("@", 1)[0]
    head, sep, tail = name.rpartition(":")
    # A colon followed by a path is a registry port (host:5000/app), not a tag.
    return head if sep and "/" not in tail else name


def set_images(images: list[str], overrides: tuple[str, ...]) -> list[str]:
    """``images`` with each override replacing the entry for the same image name."""
    result = list(images)
    for override in overrides:
        result = [i for i in result if image_name(i) != image_name(override)]
        result.append(override)
    return result


def validated(spec: ApplicationSpec) -> ApplicationSpec:
    """Re-validate an edited spec (``pipeline.app_spec.validated``); a usage error if refused."""
    try:
        return app_spec.validated(spec)
    except app_spec.MixedRenderersError as exc:
        raise click.UsageError(exc.problem) from None
    except app_spec.SpecError as exc:
        raise click.UsageError(f"invalid application: {exc.message}") from None


# -- shared flags ----------------------------------------------------------------------------


def _spec_options(create: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The flags ``create`` and ``set`` share (``--repo`` is required only by create)."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option(
            "--repo", default=None, help="Git repository URL (https://, ssh://, file://)."
        ),
        click.option("--path", default=None, help="Directory inside the repository (default .)."),
        click.option(
            "--revision", default=None, help="Branch, tag, commit or semver range (default HEAD)."
        ),
        click.option("--dest-namespace", default=None, help="Namespace for namespaced objects."),
        click.option("--dest-server", default=None, help="API server URL of a registered cluster."),
        click.option("--project", default=None, help="Project of the app (default: default)."),
        click.option(
            "--sync-policy",
            type=click.Choice(["automated", "manual"]),
            default=None,
            help="automated: apply every change; manual: only report OutOfSync.",
        ),
        click.option(
            "--auto-prune/--no-auto-prune",
            default=None,
            help="Delete objects removed from git (implies automated).",
        ),
        click.option(
            "--self-heal/--no-self-heal",
            default=None,
            help="Revert changes made in the cluster (implies automated).",
        ),
        click.option(
            "--sync-option",
            "sync_options",
            multiple=True,
            metavar="KEY=VALUE",
            help="Sync option such as CreateNamespace=true (repeatable).",
        ),
        click.option(
            "--directory-recurse/--no-directory-recurse",
            default=None,
            help="Read manifests in subdirectories too.",
        ),
        click.option(
            "--helm-set",
            "helm_sets",
            multiple=True,
            metavar="KEY=VALUE",
            help="Helm --set value (repeatable).",
        ),
        click.option(
            "--helm-values-file",
            "helm_values_files",
            multiple=True,
            metavar="FILE",
            help="Values file in the repository, relative to the chart (repeatable).",
        ),
        toggle_option(
            "helm-lookup",
            "Let the chart's lookup read live objects of the destination (read-only, never"
            " Secrets); the project must allow it (allowHelmLookup).",
        ),
        click.option(
            "--kustomize-image",
            "kustomize_images",
            multiple=True,
            metavar="IMAGE",
            help="Image override like `kustomize edit set image`, e.g. nginx=nginx:1.27.",
        ),
        click.option(
            "--interval", default=None, help="Re-check interval such as 3m or 1h (default 3m)."
        ),
    ]
    if not create:
        options.append(
            click.option(
                "--helm-unset",
                "helm_unsets",
                multiple=True,
                metavar="KEY",
                help="Remove a Helm --set value (repeatable).",
            )
        )

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _edits(params: dict[str, Any]) -> AppEdits:
    fields = AppEdits.__dataclass_fields__
    values = {k: v for k, v in params.items() if k in fields}
    values["helm_lookup"] = toggle_value(params.get("helm_lookup", ()), "helm-lookup")
    edits = AppEdits(**values)
    edits.check()
    return edits


def _has_spec_flags(params: dict[str, Any]) -> bool:
    fields = AppEdits.__dataclass_fields__
    return any(v not in (None, ()) for k, v in params.items() if k in fields)


# -- create ----------------------------------------------------------------------------------


def apps_from_file(source: str, namespace: str | None) -> list[JSON]:
    """The Application objects of a file, each validated; the namespace is filled in.

    Raises a usage error for a non-Application document, an app without a
    valid name, a namespace contradicting ``-n``, or a spec the model refuses.
    """
    apps = []
    for doc in load_documents(source):
        if doc.get("kind") != APPLICATION_KIND:
            raise click.UsageError(f"{source}: expected kind Application, got {doc.get('kind')!r}")
        meta = dict(doc.get("metadata") or {})
        name = check_name(str(meta.get("name") or ""), "application")
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            raise click.UsageError(
                f"{source}: application {name} is in namespace {meta['namespace']},"
                f" not {namespace} (-n)"
            )
        try:
            apps.append(app_spec.application_from_document(doc, app_namespace(namespace)))
        except app_spec.SpecError as exc:
            raise click.UsageError(f"{source}: application {name}: {exc.message}") from None
    if not apps:
        raise click.UsageError(f"{source}: no Application found")
    return apps


async def _create_all(client: KubeClient, apps: list[JSON], upsert_: bool) -> list[str]:
    """Create (or with ``upsert_`` create-or-update) every app; one status line each."""
    existing = set()
    for app in apps:
        meta = app["metadata"]
        if await client.get(API_VERSION, APPLICATION_KIND, meta["name"], meta["namespace"]):
            existing.add((meta["namespace"], meta["name"]))
    if existing and not upsert_:
        names = ", ".join(sorted(f"{ns}/{n}" for ns, n in existing))
        raise click.ClickException(
            f"application(s) already exist: {names}; use --upsert to replace their spec"
        )
    lines = []
    for app in apps:
        meta = app["metadata"]
        if upsert_:
            await upsert(client, app)
        else:
            await apply(client, app, force=False)
        done = "configured" if (meta["namespace"], meta["name"]) in existing else "created"
        lines.append(f"application.driftless.dev/{meta['name']} {done}")
    return lines


@app_group.command("create")
@click.argument("name", required=False)
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    metavar="FILE",
    help="Application manifest(s) to create ('-' for stdin; repeatable).",
)
@_spec_options(create=True)
@click.option("--upsert", "upsert_", is_flag=True, help="Replace the spec of an existing app.")
@namespace_option("the Application")
@click.pass_obj
@run_async
async def create_app(
    globals_: Globals,
    /,
    name: str | None,
    files: tuple[str, ...],
    upsert_: bool,
    namespace: str | None,
    **flags: Any,
) -> None:
    """Create an Application from flags or from manifest files.

    Fails if an app of that name exists, unless --upsert. Without
    --sync-policy the app is manual: the controller reports OutOfSync but
    applies nothing until asked.

    \b
    Examples:
      driftless app create guestbook --repo https://git.example.com/team/deploy.git \\
          --path guestbook --dest-namespace guestbook \\
          --sync-policy automated --self-heal --sync-option CreateNamespace=true
      driftless app create podinfo --repo https://git.example.com/charts.git --path podinfo \\
          --helm-set replicaCount=2 --helm-values-file values-prod.yaml
      driftless app create -f guestbook-app.yaml
      kustomize build apps/ | driftless app create -f - --upsert
    """
    if files:
        if name or _has_spec_flags(flags):
            raise click.UsageError("-f cannot be combined with NAME or spec flags")
        apps = [app for source in files for app in apps_from_file(source, namespace)]
    else:
        apps = [_app_from_flags(name, namespace, flags)]
    lines = await with_client(globals_, lambda client: _create_all(client, apps, upsert_))
    for line in lines:
        click.echo(line)


def _app_from_flags(name: str | None, namespace: str | None, flags: dict[str, Any]) -> JSON:
    if not name:
        raise click.UsageError("give the app's NAME and --repo, or -f FILE")
    check_name(name, "application")
    if not flags.get("repo"):
        raise click.UsageError("--repo is required (or use -f FILE)")
    edits = _edits(flags)
    base = ApplicationSpec(source=ApplicationSource(repo_url=edits.repo or ""))
    spec = validated(edits.apply_to(base))
    return app_spec.application_object(name, app_namespace(namespace), spec)


# -- set -------------------------------------------------------------------------------------


def app_spec_patch(current: JSON, edits: AppEdits) -> JSON:
    """The merge patch for ``current`` after ``edits``; ``{}`` when nothing changes."""
    try:
        before = Application.model_validate(current).spec
    except PydanticValidationError as exc:
        raise click.ClickException(
            f"the stored application is invalid ({validation_message(exc)});"
            " fix it with `kubectl edit` or re-create it with --upsert"
        ) from None
    after = validated(edits.apply_to(before))
    return app_spec.spec_patch(current, after)


@app_group.command("set")
@click.argument("name", shell_complete=complete_app)
@_spec_options(create=False)
@namespace_option("the Application")
@click.pass_obj
@run_async
async def set_app(globals_: Globals, /, name: str, namespace: str | None, **flags: Any) -> None:
    """Change an Application's source, parameters, destination or sync policy.

    Only the fields given change. The controller picks the change up at once.

    \b
    Examples:
      driftless app set guestbook --revision v1.4.0
      driftless app set guestbook --path overlays/prod --sync-policy manual
      driftless app set podinfo --helm-set replicaCount=3 --helm-unset debug
      driftless app set podinfo --helm-lookup
      driftless app set guestbook --kustomize-image nginx=nginx:1.27 --interval 1m
    """
    edits = _edits(flags)
    if not _has_spec_flags(flags):
        raise click.UsageError("nothing to change: give at least one flag (see --help)")
    ns = app_namespace(namespace)
    _, changed = await with_client(
        globals_,
        lambda client: update(
            client, API_VERSION, APPLICATION_KIND, name, ns, lambda cur: app_spec_patch(cur, edits)
        ),
    )
    click.echo(f"application.driftless.dev/{name} {'updated' if changed else 'unchanged'}")


# -- delete ----------------------------------------------------------------------------------


async def _wait_gone(
    client: KubeClient, name: str, namespace: str, timeout: float, cascade: bool
) -> None:
    """Poll until the Application is gone; a clear error after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while await client.get(API_VERSION, APPLICATION_KIND, name, namespace) is not None:
        if time.monotonic() >= deadline:
            hint = (
                " (with cascade the controller deletes its objects first: is it running?)"
                if cascade
                else ""
            )
            raise click.ClickException(
                f'application "{name}" still exists after {timeout:.0f}s{hint}'
            )
        await asyncio.sleep(0.5)


@app_group.command("delete")
@click.argument("name", shell_complete=complete_app)
@click.option(
    "--cascade/--no-cascade",
    default=True,
    show_default=True,
    help="Also delete the objects the app manages (done by the controller).",
)
@click.option("--wait", is_flag=True, help="Wait until the Application is gone.")
@timeout_option("5m", "How long --wait waits")
@namespace_option("the Application")
@click.pass_obj
@run_async
async def delete_app(
    globals_: Globals,
    name: str,
    cascade: bool,
    wait: bool,
    timeout: float,
    namespace: str | None,
) -> None:
    """Delete an Application, and by default everything it deployed.

    With --cascade (the default) the controller deletes the app's objects
    (except those marked Prune=false) before the Application disappears.
    With --no-cascade the objects keep running, no longer managed.

    \b
    Examples:
      driftless app delete guestbook --wait
      driftless app delete guestbook --no-cascade
    """
    ns = app_namespace(namespace)

    async def run(client: KubeClient) -> None:
        await requests.delete_app(client, ns, name, cascade=cascade)
        if wait:
            await _wait_gone(client, name, ns, timeout, cascade)

    await with_client(globals_, run)
    what = "its objects are deleted too" if cascade else "its objects keep running"
    click.echo(f"application.driftless.dev/{name} deleted ({what})")
