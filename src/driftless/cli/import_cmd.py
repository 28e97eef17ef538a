"""``driftless import``: Argo CD and Flux objects -> driftless objects.

Reads Argo CD ``Application``/``AppProject``/``ApplicationSet`` and its
repository, repo-creds and cluster Secrets, and Flux ``GitRepository``,
``OCIRepository``, ``HelmRepository``, ``Kustomization`` and ``HelmRelease``

* from files (``-f FILE|DIR``, repeatable; a directory is read recursively
  for ``*.yaml``, ``*.yml`` and ``*.json``; ``-`` is stdin), multi-document
  YAML, parsed with the bounded parser of ``render.yaml_docs`` (a file over
  ``MAX_FILE_BYTES`` is refused before it is read; a YAML bomb at its alias and
  node limits), or
* from the live cluster (``--from-cluster``): every namespace, only the kinds
  whose CRDs the cluster serves; Secrets by Argo CD's label; the ConfigMaps a
  HelmRelease's ``valuesFrom`` names,

converts them (``cli.imports``, pure) and prints the driftless objects as
YAML on stdout, or applies them with ``--apply`` (server-side apply, field
manager ``driftless-cli``; Projects and Secrets before Applications).
Everything without an equivalent is listed on stderr, one line each
(``not expressible: <object>: <field>: <reason>``); then the exit code is 1
and nothing is applied, unless ``--allow-partial``. Credentials are emitted
only with ``--include-secrets``; no message ever holds a Secret's value.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from driftless.cli.context import Globals, app_namespace, run_async, with_client
from driftless.cli.exits import UsageFailedError
from driftless.cli.imports import argo, flux, secrets
from driftless.cli.imports.convert import convert_all
from driftless.cli.imports.report import JSON, Conversion, Severity, mapping
from driftless.cli.objects import upsert as upsert_object
from driftless.cli.options import namespace_option
from driftless.core.errors import RenderError
from driftless.kube.client import KubeApiError, KubeClient, KubeForbiddenError
from driftless.kube.discovery import ResourceType
from driftless.render.yaml_docs import Limits, parse_json, parse_yaml_stream

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_FILES = 2000
# Far above any real set of GitOps objects, far below what exhausts memory.
IMPORT_LIMITS = Limits(max_bytes=MAX_FILE_BYTES, max_nodes=500_000, max_aliases=1_000)
_SUFFIXES = (".yaml", ".yml", ".json")
# (group, kind) read with --from-cluster, where the cluster serves them.
PEER_KINDS = (
    (argo.ARGO_GROUP, "AppProject"),
    (argo.ARGO_GROUP, "Application"),
    (argo.ARGO_GROUP, "ApplicationSet"),
    (flux.SOURCE_GROUP, "GitRepository"),
    (flux.SOURCE_GROUP, "OCIRepository"),
    (flux.SOURCE_GROUP, "HelmRepository"),
    (flux.KUSTOMIZE_GROUP, "Kustomization"),
    (flux.HELM_GROUP, "HelmRelease"),
)
_APPLY_ORDER = {"Project": 0, "Secret": 1, "Application": 2}


@click.command("import")
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    help="A file or directory of Argo CD / Flux objects (repeatable; - for stdin).",
)
@click.option("--from-cluster", is_flag=True, help="Read the objects from the current cluster.")
@namespace_option("the driftless objects to create")
@click.option("--apply", "apply_", is_flag=True, help="Apply the objects instead of printing them.")
@click.option(
    "--upsert", is_flag=True, help="With --apply: replace objects of the same name that exist."
)
@click.option(
    "--include-secrets",
    is_flag=True,
    help="Also convert repository and cluster credentials (printed: they hold secrets).",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Exit 0 (and apply) even when something could not be expressed.",
)
@click.pass_obj
@run_async
async def import_command(
    globals_: Globals,
    files: tuple[str, ...],
    from_cluster: bool,
    namespace: str | None,
    apply_: bool,
    upsert: bool,
    include_secrets: bool,
    allow_partial: bool,
) -> int:
    """Convert Argo CD and Flux objects into driftless Applications, Projects and Secrets.

    Objects those tools already deployed are adopted by the first sync (no
    recreation): they carry no driftless tracking id, so the app may take them.
    Exit code 1 when something could not be expressed, unless --allow-partial.
    """
    if bool(files) == from_cluster:
        raise UsageFailedError("give -f FILE|DIR or --from-cluster (one of them)")
    target = app_namespace(namespace)
    if files:
        objects = read_inputs(files)
    else:
        objects = await with_client(globals_, read_cluster)
    if not objects:
        raise UsageFailedError(
            "nothing to import: the input holds no objects"
            if files
            else "nothing to import: the cluster serves no Argo CD or Flux objects"
        )
    result = convert_all(objects, namespace=target, include_secrets=include_secrets)
    for finding in result.findings:
        click.echo(finding.line(), err=True)
    if result.partial and not allow_partial:
        missing = sum(1 for f in result.findings if f.severity is Severity.UNSUPPORTED)
        click.echo(
            f"Error: {missing} item(s) could not be expressed in driftless"
            + ("; nothing applied" if apply_ else "")
            + " (--allow-partial to go on without them)",
            err=True,
        )
        if apply_:
            return 1
        _print(result)
        return 1
    if apply_:
        await with_client(globals_, lambda client: _apply(client, result, replace=upsert))
    else:
        _print(result)
    return 0


def _print(result: Conversion) -> None:
    if result.objects:
        click.echo(yaml.safe_dump_all(result.objects, sort_keys=False), nl=False)


async def _apply(client: KubeClient, result: Conversion, *, replace: bool) -> None:
    """Apply every object; without ``replace``, first make sure none exists yet.

    Checked for all objects before the first write, so a name already taken
    (an app the user made by hand) stops the import before anything changes.
    """
    if not replace:
        taken = [
            f"{obj['kind'].lower()}/{obj['metadata']['name']}"
            for obj in result.objects
            if await client.get(
                obj["apiVersion"],
                obj["kind"],
                obj["metadata"]["name"],
                obj["metadata"]["namespace"],
            )
            is not None
        ]
        if taken:
            raise UsageFailedError(
                f"already exist: {', '.join(taken)}; nothing applied (--upsert replaces them)"
            )
    for obj in sorted(result.objects, key=lambda o: _APPLY_ORDER.get(o["kind"], 3)):
        await upsert_object(client, obj)
        click.echo(f"{obj['kind'].lower()}/{obj['metadata']['name']} applied")


# -- files ------------------------------------------------------------------------------


def read_inputs(sources: tuple[str, ...]) -> list[JSON]:
    """Every document of the files and directories given, in order."""
    objects: list[JSON] = []
    for source in sources:
        if source == "-":
            text = sys.stdin.read(MAX_FILE_BYTES + 1)
            if len(text) > MAX_FILE_BYTES:
                raise UsageFailedError(
                    f"stdin: more than the {MAX_FILE_BYTES} bytes an import reads"
                )
            objects.extend(_parse(text, "stdin"))
            continue
        for path in _files(Path(source)):
            objects.extend(_parse(_read(path), str(path)))
    return objects


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
        if len(found) > MAX_FILES:
            raise UsageFailedError(f"{path}: more than {MAX_FILES} files to read")
        return found
    if not path.exists():
        raise UsageFailedError(f"{path}: no such file or directory")
    if not path.is_file():
        # A device or a pipe (/dev/zero) could be read forever: only regular files.
        raise UsageFailedError(f"{path}: not a regular file or directory")
    return [path]


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageFailedError(
                f"{path}: {size} bytes is more than the {MAX_FILE_BYTES} an import reads"
            )
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageFailedError(f"cannot read {path}: {exc}") from None


def _parse(text: str, where: str) -> list[JSON]:
    try:
        if where.endswith(".json"):
            documents = parse_json(text, where, limits=IMPORT_LIMITS)
        else:
            documents = parse_yaml_stream(text, where, limits=IMPORT_LIMITS)
    except RenderError as exc:
        raise UsageFailedError(str(exc)) from None
    objects: list[JSON] = []
    for document in documents:
        data: Any = document.data
        if isinstance(data, dict) and data.get("kind") == "List":
            objects.extend(i for i in data.get("items") or [] if isinstance(i, dict))
        elif isinstance(data, dict):
            objects.append(data)
        else:
            raise UsageFailedError(f"{where}:{document.line}: not a Kubernetes object")
    return objects


# -- the live cluster -------------------------------------------------------------------------


async def read_cluster(client: KubeClient) -> list[JSON]:
    """The peers' objects the cluster serves, their Secrets and the ConfigMaps they name."""
    await client.discovery.refresh()
    served = client.discovery.served()
    objects: list[JSON] = []
    for group, kind in PEER_KINDS:
        rtype = _preferred(served, group, kind)
        if rtype is not None:
            objects.extend(_with_type(await client.list(rtype.api_version, kind), rtype))
    try:
        found = await client.list("v1", "Secret", label_selector=secrets.ARGO_SECRET_TYPE_LABEL)
        objects.extend(_with_type(found, None, "v1", "Secret"))
    except KubeForbiddenError:
        click.echo("note: Argo CD's Secrets not read: not allowed to list Secrets", err=True)
    objects.extend(await _values_config_maps(client, objects))
    return objects


def _preferred(served: list[ResourceType], group: str, kind: str) -> ResourceType | None:
    """The most stable served version of a kind (v1 over v1beta2 over v1alpha1)."""
    matches = [t for t in served if t.group == group and t.kind == kind]
    return max(
        matches,
        key=lambda t: ("alpha" not in t.version, "beta" not in t.version, t.version),
        default=None,
    )


def _with_type(
    items: list[JSON], rtype: ResourceType | None, api_version: str = "", kind: str = ""
) -> list[JSON]:
    # Lists return items without apiVersion/kind; the converters dispatch on them.
    for item in items:
        item["apiVersion"] = rtype.api_version if rtype else api_version
        item["kind"] = rtype.kind if rtype else kind
    return items


async def _values_config_maps(client: KubeClient, objects: list[JSON]) -> list[JSON]:
    found: list[JSON] = []
    for obj in objects:
        if obj.get("kind") != "HelmRelease":
            continue
        namespace = str(mapping(obj.get("metadata")).get("namespace") or "default")
        for ref in mapping(obj.get("spec")).get("valuesFrom") or []:
            if isinstance(ref, dict) and ref.get("kind") == "ConfigMap" and ref.get("name"):
                try:
                    cm = await client.get("v1", "ConfigMap", str(ref["name"]), namespace)
                except KubeApiError:
                    cm = None
                if cm is not None:
                    found.extend(_with_type([cm], None, "v1", "ConfigMap"))
    return found
