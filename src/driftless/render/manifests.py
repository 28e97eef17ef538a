"""From parsed documents to checked ``Manifest`` objects (pure).

Every renderer (plain directory now; Kustomize, Helm, Jsonnet later) ends
here, so all of them refuse the same bad input with the same messages.

Contract:

* ``to_manifests(documents, file)`` flattens ``kind: List`` (its ``items``)
  and checks that each object is a mapping with a string ``apiVersion``,
  ``kind`` and ``metadata.name``. ``metadata.generateName`` instead of a name
  is accepted on hooks only (``driftless.dev/hook``, Argo CD's or Helm's hook
  annotation; ``core.generate_name``): each sync creates a new one. Any other
  object is refused: driftless must find it again on the next sync, which
  needs a name fixed in git.
* ``reject_duplicates(manifests)`` refuses two objects with the same group,
  kind, namespace and name *as written* (the destination namespace is not
  known here), naming both places.
* Failures are ``RenderError`` with the file and line of the offending object.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from driftless.core import argocd
from driftless.core.errors import RenderError
from driftless.core.generate_name import generate_name, identity_name
from driftless.core.resources import Manifest, ResourceRef
from driftless.core.wellknown import HOOK_ANNOTATION
from driftless.render.helm_hooks import HELM_HOOK
from driftless.render.yaml_docs import Document


def to_manifests(documents: Iterable[Document], file: str) -> list[Manifest]:
    """Checked manifests of the documents of one file, ``List`` objects flattened."""
    manifests: list[Manifest] = []
    for doc in documents:
        if _is_list(doc.data):
            items = doc.data.get("items") or []
            if not isinstance(items, list):
                raise RenderError(
                    "List has an 'items' that is not a list", file=file, line=doc.line
                )
            for index, item in enumerate(items):
                line = doc.item_lines[index] if index < len(doc.item_lines) else doc.line
                if item is not None:
                    manifests.append(_checked(item, file, line, where=f"List item {index}"))
        else:
            manifests.append(_checked(doc.data, file, doc.line, where="document"))
    return manifests


def reject_duplicates(manifests: Sequence[Manifest]) -> None:
    """Raise ``RenderError`` at the second of two manifests of one object."""
    first: dict[ResourceRef, Manifest] = {}
    for manifest in manifests:
        ref = _identity(manifest)
        previous = first.setdefault(ref, manifest)
        if previous is not manifest:
            raise RenderError(
                f"duplicate object {ref}: also defined at {previous.origin() or 'another file'}",
                file=manifest.source_file,
                line=manifest.line,
            )


def _is_list(data: Any) -> bool:
    """A ``v1/List`` (or any ``*List`` kind with items), as kubectl accepts it."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("kind"), str)
        and data["kind"].endswith("List")
        and "items" in data
        and data.get("apiVersion") in ("v1", None)
    )


def _checked(obj: Any, file: str, line: int, *, where: str) -> Manifest:
    """``obj`` as a Manifest, or RenderError saying what is missing."""
    if not isinstance(obj, dict):
        raise RenderError(
            f"{where} is not a Kubernetes object (a mapping) but {_type_name(obj)}",
            file=file,
            line=line,
        )
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(api_version, str) or not api_version:
        raise RenderError(f"{where} has no apiVersion", file=file, line=line)
    if not isinstance(kind, str) or not kind:
        raise RenderError(f"{where} ({api_version}) has no kind", file=file, line=line)
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise RenderError(f"{kind} has a metadata that is not a mapping", file=file, line=line)
    name = (metadata or {}).get("name")
    if name is None and generate_name(obj) is not None and _is_hook(metadata or {}):
        name = generate_name(obj)  # a hook template: a new object per sync
    if not isinstance(name, str) or not name:
        hint = ""
        if (metadata or {}).get("generateName"):
            hint = (
                f" (generateName {(metadata or {}).get('generateName')!r} is only supported on "
                "hooks: driftless needs a stable name to track any other object)"
            )
        raise RenderError(f"{kind} has no metadata.name{hint}", file=file, line=line)
    namespace = (metadata or {}).get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise RenderError(
            f"{kind} {name} has a metadata.namespace that is not a string", file=file, line=line
        )
    return Manifest(obj=obj, source_file=file, line=line)


def _is_hook(metadata: dict[str, Any]) -> bool:
    """Does any hook annotation (driftless's, Argo CD's, Helm's) make this a hook?"""
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        return False
    return any(isinstance(annotations.get(k), str) for k in (HOOK_ANNOTATION, HELM_HOOK)) or (
        argocd.has_hook(annotations)
    )


def _identity(manifest: Manifest) -> ResourceRef:
    """The manifest's ref; a hook template is known by its generateName."""
    obj = manifest.obj
    meta = obj.get("metadata") or {}
    return ResourceRef.from_object({**obj, "metadata": {**meta, "name": identity_name(obj)}})


def _type_name(value: Any) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)
