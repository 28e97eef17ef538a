"""The Kustomize renderer: ``kustomize build`` of the app directory.

Contract of ``render_kustomize(root, app_dir, options, kustomize=..., ...)``:

* Everything a kustomization can do (overlays, components, patches, images,
  prefixes/suffixes, generators, replacements) comes from ``kustomize build``
  itself, so the output is exactly what users get from the CLI. driftless
  runs it with the load restrictor on (``LoadRestrictionsRootOnly``) and with
  exec/function plugins and Helm inflation off (their flags never passed).
* Before kustomize runs, ``kustomize_paths.check_kustomization_tree`` refuses
  any kustomization in the graph that names a path outside the repository or
  a remote resource (``RenderError`` naming the kustomization file and line).
* App-level overrides (``spec.source.kustomize``: namePrefix, nameSuffix,
  namespace, images, commonLabels, commonAnnotations, components) have the
  semantics of ``kustomize edit set nameprefix|namesuffix|namespace|image``
  and ``kustomize edit add label|annotation|component`` run in the app
  directory — what Argo CD users know: a prefix, suffix or namespace replaces
  the overlay's own; images merge by name; labels and annotations merge (the
  override wins); components are appended (paths relative to the app
  directory, and they must stay inside the repository).
  Each override is checked first (``check_overrides``: a namespace is a
  DNS-1123 label, prefixes and suffixes are name characters, images are image
  references, label and annotation keys and label values are what Kubernetes
  accepts), so a bad one is a ``RenderError`` naming the field rather than a
  broken kustomization. They reach kustomize only inside the rewritten file,
  never on its command line.
  They are applied to a *copy* of the repository tree (hard links where the
  file system allows, so it costs metadata only) whose app kustomization is
  rewritten; the shared tree of the commit is never written to. A wrapping
  kustomization in a scratch directory would be cheaper but has different
  semantics: its prefix would be added to the overlay's instead of replacing
  it, and its components would run after the overlay's transformers.
* The command line is ``kustomize build --load-restrictor=… -- DIR``: the
  directory is an absolute path after ``--``, so it can never be an option.
* Output: one ``Manifest`` per object, ``source_file`` the app directory
  relative to the repository root (``.`` for the root), ``line`` ``None``
  (kustomize's output lines mean nothing in git).
* Errors: kustomize failing → ``RenderError`` at the app's kustomization file
  with kustomize's trimmed message (cache paths shown relative to the repo);
  kustomize timing out → ``TransientError``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from driftless.core import names
from driftless.core.errors import RenderError, TransientError
from driftless.core.models import KustomizeSource
from driftless.core.resources import Manifest
from driftless.render import argv, scratch, yaml_docs
from driftless.render import output as tool_output
from driftless.render.exec import ToolError, run_tool
from driftless.render.kustomize_paths import check_kustomization_tree, find_kustomization

LOAD_RESTRICTOR = "LoadRestrictionsRootOnly"


async def render_kustomize(
    root: Path,
    app_dir: Path,
    options: KustomizeSource | None,
    *,
    kustomize: str,
    time_limit: float,
    scratch_dir: Path | None = None,
) -> list[Manifest]:
    """Build the kustomization in ``app_dir`` (inside the repository tree ``root``)."""
    real_root = root.resolve()
    real_app = app_dir.resolve()
    app_rel = _relative(real_app, real_root)
    kfile = find_kustomization(real_app)
    if kfile is None:
        raise RenderError(
            "no kustomization.yaml, kustomization.yml or Kustomization in the app directory",
            file=app_rel,
        )
    kfile_rel = _relative(kfile, real_root)
    await asyncio.to_thread(check_kustomization_tree, real_root, real_app)
    if options is None or not has_overrides(options):
        output = await _build(kustomize, real_app, real_root, kfile_rel, time_limit)
    else:
        check_overrides(options)
        async with scratch.tree_copy(real_root, scratch_dir) as copy_root:
            await asyncio.to_thread(_rewrite, copy_root / kfile_rel, kfile_rel, options)
            # The overrides may name components: check the edited graph too.
            await asyncio.to_thread(check_kustomization_tree, copy_root, copy_root / app_rel)
            output = await _build(
                kustomize,
                copy_root / app_rel,
                copy_root,
                kfile_rel,
                time_limit,
                extra_alias=real_root,
            )
    return parse_output(output, app_rel)


def has_overrides(options: KustomizeSource) -> bool:
    """Whether ``options`` changes anything about the kustomization."""
    return bool(
        options.name_prefix is not None
        or options.name_suffix is not None
        or options.namespace is not None
        or options.images
        or options.common_labels
        or options.common_annotations
        or options.components
    )


def check_overrides(options: KustomizeSource) -> None:
    """Refuse an override Kubernetes or kustomize would not accept (``RenderError``)."""
    where = "spec.source.kustomize"
    if options.namespace is not None:
        argv.namespace(options.namespace, f"{where}.namespace")
    for field, value, pattern in (
        ("namePrefix", options.name_prefix, names.NAME_PREFIX_PATTERN),
        ("nameSuffix", options.name_suffix, names.NAME_SUFFIX_PATTERN),
    ):
        if value is not None and not _valid(pattern, names.NAME_AFFIX_MAX, value):
            raise RenderError(
                f"{where}.{field} {argv.shown(value)}: only lower-case letters, digits, '-'"
                " and '.' may be added to object names, alphanumeric at the name's ends"
            )
    for image in options.images:
        if not _valid(names.IMAGE_PATTERN, names.IMAGE_MAX, image.strip()):
            raise RenderError(f"{where}.images entry {argv.shown(image)} is not an image reference")
    for field, mapping in (
        ("commonLabels", options.common_labels),
        ("commonAnnotations", options.common_annotations),
    ):
        for key in mapping:
            problem = names.label_key_problem(key)
            if problem:
                raise RenderError(f"{where}.{field} key {argv.shown(key)}: {problem}")
    for key, value in options.common_labels.items():
        if not _valid(names.LABEL_VALUE_PATTERN, names.LABEL_VALUE_MAX, value):
            raise RenderError(
                f"{where}.commonLabels[{key}] {argv.shown(value)} is not a label value"
                " (at most 63 letters, digits, '-', '_', '.', starting and ending alphanumeric)"
            )


def _valid(pattern: str, max_length: int, value: str) -> bool:
    return len(value) <= max_length and names.matches(pattern, value)


def apply_overrides(kustomization: dict[str, Any], options: KustomizeSource) -> dict[str, Any]:
    """``kustomization`` with the app-level overrides applied (pure; input untouched)."""
    result = dict(kustomization)
    if options.name_prefix is not None:
        result["namePrefix"] = options.name_prefix
    if options.name_suffix is not None:
        result["nameSuffix"] = options.name_suffix
    if options.namespace is not None:
        result["namespace"] = options.namespace
    if options.images:
        result["images"] = merge_images(result.get("images") or [], options.images)
    if options.common_labels:
        result["commonLabels"] = {**(result.get("commonLabels") or {}), **options.common_labels}
    if options.common_annotations:
        result["commonAnnotations"] = {
            **(result.get("commonAnnotations") or {}),
            **options.common_annotations,
        }
    if options.components:
        existing = list(result.get("components") or [])
        result["components"] = existing + [c for c in options.components if c not in existing]
    return result


def parse_image(spec: str) -> dict[str, str]:
    """One ``kustomize edit set image`` argument as an ``images:`` entry.

    ``name=newName:tag``, ``name=newName@digest``, ``name=newName``,
    ``name:tag`` and ``name@digest``; a ``:`` before the last ``/`` is a
    registry port, not a tag.
    """
    text = spec.strip()
    if not text:
        raise RenderError("spec.source.kustomize.images has an empty entry")
    if "=" in text:
        name, _, new = text.partition("=")
        new_name, tag, digest = _split_reference(new.strip())
        entry = {"name": name.strip()}
        if new_name:
            entry["newName"] = new_name
    else:
        name, tag, digest = _split_reference(text)
        entry = {"name": name}
    if not entry["name"]:
        raise RenderError(f"spec.source.kustomize.images entry {spec!r} has no image name")
    if tag:
        entry["newTag"] = tag
    if digest:
        entry["digest"] = digest
    return entry


def merge_images(existing: list[Any], specs: list[str]) -> list[Any]:
    """``existing`` ``images:`` entries with ``specs`` set on top, by image name."""
    merged = list(existing)
    for spec in specs:
        entry = parse_image(spec)
        for index, old in enumerate(merged):
            if isinstance(old, dict) and old.get("name") == entry["name"]:
                merged[index] = entry
                break
        else:
            merged.append(entry)
    return merged


def parse_output(output: bytes, source_file: str) -> list[Manifest]:
    """kustomize's YAML stream as checked manifests located at the app directory."""
    text = output.decode("utf-8", errors="replace")
    documents = yaml_docs.parse_yaml_stream(text, f"{source_file} (kustomize output)")
    return tool_output.to_manifests(documents, source_file)


def _split_reference(text: str) -> tuple[str, str, str]:
    """``repo/name:tag@digest`` → (name, tag, digest), each possibly empty."""
    name, _, digest = text.partition("@")
    tag = ""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest


async def _build(
    kustomize: str,
    directory: Path,
    root: Path,
    kfile_rel: str,
    time_limit: float,
    *,
    extra_alias: Path | None = None,
) -> bytes:
    aliases = {f"{root}/": "", str(root): "."}
    if extra_alias is not None:
        aliases.update({f"{extra_alias}/": "", str(extra_alias): "."})
    try:
        return await run_tool(
            [
                kustomize,
                "build",
                f"--load-restrictor={LOAD_RESTRICTOR}",
                "--",
                argv.safe_arg(str(directory), "kustomization directory"),
            ],
            time_limit=time_limit,
            path_aliases=aliases,
        )
    except ToolError as exc:
        if exc.timed_out:
            raise TransientError(f"kustomize build of {kfile_rel} timed out") from None
        raise RenderError(f"kustomize build failed: {exc.output}", file=kfile_rel) from None


def _rewrite(kfile: Path, shown: str, options: KustomizeSource) -> None:
    """Replace the copy's kustomization file (a new inode, never the shared one)."""
    text = kfile.read_bytes().decode("utf-8-sig")
    documents = yaml_docs.parse_yaml_stream(text, shown)
    data = documents[0].data if documents else {}
    if not isinstance(data, dict):
        raise RenderError("kustomization is not a YAML mapping", file=shown)
    edited = apply_overrides(data, options)
    scratch.replace(kfile, yaml.safe_dump(edited, sort_keys=False, default_flow_style=False))


def _relative(path: Path, real_root: Path) -> str:
    rel = path.relative_to(real_root).as_posix()
    return rel or "."
