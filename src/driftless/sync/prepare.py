"""Turn rendered manifests into the exact bodies driftless applies. Pure.

For each manifest: the tracking annotation of this app is set, namespaced
objects without a namespace get the destination namespace, cluster-scoped
objects lose any namespace they were given (the API server would refuse it),
and objects are ordered so that what others depend on is applied first.

Argo CD's annotations are read here, for every renderer alike
(``core.argocd``): they become the ``driftless.dev/*`` annotations of the
body (so the live object says how it was synced), and a value driftless does
not support refuses the whole render with a ``ValidationError`` naming the
object and the value, before anything is written. An object whose sync
options ask for ``CreateNamespace=true`` gets its namespace created first
when the render does not define it, as the Application option does.

A hook written with ``generateName`` (``core.generate_name``) is a
*template*: its ref carries the generateName as name, it is labelled
``driftless.dev/hook-template``, and ``instance`` names it for one
operation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftless.core import argocd
from driftless.core.errors import ValidationError
from driftless.core.generate_name import (
    generate_name,
    identity_name,
    instance_name,
    template_label,
)
from driftless.core.jsoncopy import deep_copy
from driftless.core.models import IgnoreDifference
from driftless.core.resources import FIELD_MANAGER, Manifest, ResourceRef, parse_tracking_id
from driftless.core.wellknown import (
    HOOK_TEMPLATE_LABEL,
    SYNC_OPTIONS_ANNOTATION,
    TRACKING_ANNOTATION,
)

# Applied first, in this order; everything else follows, then webhooks last
# so they cannot block the objects of their own app.
_KIND_ORDER = [
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "Job",
    "CronJob",
    "Ingress",
]
_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
# Field manager of a bare Namespace created for an app; the same name as the
# Application option's (``pipeline.planner.CREATE_NAMESPACE_MANAGER``).
CREATE_NAMESPACE_MANAGER = "driftless-create-namespace"


@dataclass
class DesiredObject:
    """One object to apply, with its origin for error messages."""

    ref: ResourceRef
    body: dict[str, Any]
    manifest: Manifest
    ignore: list[IgnoreDifference] = field(default_factory=list)
    # Created before anything else (PreSync hooks included): the app's own namespace.
    first: bool = False
    # Who owns the fields written: the app (``driftless``), or, for the bare
    # Namespace of CreateNamespace, a manager of its own, so that applying it
    # never drops fields (labels, another app's tracking id) the namespace
    # already has under ``driftless``.
    field_manager: str = FIELD_MANAGER

    @property
    def api_version(self) -> str:
        return str(self.body["apiVersion"])

    @property
    def generate_name(self) -> str | None:
        """The generateName of a hook template (no name yet), else None."""
        return generate_name(self.body)

    def describe(self) -> str:
        origin = self.manifest.origin()
        return f"{self.ref} ({origin})" if origin else str(self.ref)


def kind_rank(kind: str) -> int:
    if kind in _KIND_ORDER:
        return _KIND_ORDER.index(kind)
    if kind in _LAST:
        return len(_KIND_ORDER) + 1 + _LAST.index(kind)
    return len(_KIND_ORDER)


def prepare(
    manifests: list[Manifest],
    *,
    app_namespace: str,
    app_name: str,
    default_namespace: str,
    is_namespaced: Callable[[str, str], bool],
) -> list[DesiredObject]:
    """Bodies to apply, in apply order.

    ``is_namespaced(api_version, kind)`` answers from discovery (or, for a
    kind discovery does not know yet, from a CRD the same sync applies; see
    ``sync.scope``). The tracking id names the app by namespace and name.
    Raises ``ValidationError`` for a namespaced object with no namespace
    anywhere, and for two manifests naming the same object.
    """
    prepared: list[DesiredObject] = []
    seen: dict[ResourceRef, Manifest] = {}
    for manifest in manifests:
        body = deep_copy(manifest.obj)
        meta = body.setdefault("metadata", {})
        _translate_argocd(manifest, meta)
        if is_namespaced(manifest.api_version, manifest.kind):
            if not meta.get("namespace"):
                if not default_namespace:
                    raise ValidationError(
                        f"{_where(manifest)}{manifest.kind} {meta.get('name')} has no namespace "
                        "and the application sets no destination namespace"
                    )
                meta["namespace"] = default_namespace
        else:
            meta.pop("namespace", None)
        ref = ResourceRef.from_object({**body, "metadata": {**meta, "name": identity_name(body)}})
        if ref in seen:
            first = seen[ref].origin() or "the render"
            raise ValidationError(f"{_where(manifest)}{ref} is defined twice (first in {first})")
        seen[ref] = manifest
        tracking = ref.tracking_id(app_namespace, app_name)
        meta.setdefault("annotations", {})[TRACKING_ANNOTATION] = tracking
        if generate_name(body) is not None:
            meta.setdefault("labels", {})[HOOK_TEMPLATE_LABEL] = template_label(tracking)
        prepared.append(DesiredObject(ref=ref, body=body, manifest=manifest))
    prepared.sort(key=lambda d: (kind_rank(d.ref.kind), d.ref.namespace, d.ref.name))
    return _namespaces_asked_for(prepared) + prepared


def instance(obj: DesiredObject, seed: str) -> DesiredObject:
    """The object a hook template becomes in one operation (``core.generate_name``).

    ``seed`` names the operation and phase; the same seed gives the same name.
    The tracking id names the instance, as on any other object of the app.
    """
    prefix = obj.generate_name
    if prefix is None:
        return obj
    name = instance_name(prefix, f"{seed}|{obj.ref}")
    body = deep_copy(obj.body)
    meta = body["metadata"]
    meta["name"] = name
    ref = ResourceRef(obj.ref.group, obj.ref.kind, obj.ref.namespace, name)
    tracked = parse_tracking_id(str((meta.get("annotations") or {}).get(TRACKING_ANNOTATION, "")))
    if tracked is not None and tracked.app_namespace is not None:
        meta["annotations"][TRACKING_ANNOTATION] = ref.tracking_id(
            tracked.app_namespace, tracked.app_name
        )
    return DesiredObject(
        ref=ref, body=body, manifest=obj.manifest, ignore=obj.ignore,
        first=obj.first, field_manager=obj.field_manager,
    )  # fmt: skip


def _translate_argocd(manifest: Manifest, meta: dict[str, Any]) -> None:
    """Add the driftless annotations Argo CD's say; refuse a value driftless lacks."""
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return
    translation = argocd.translate(annotations)
    if translation.problems:
        namespace = meta.get("namespace")
        where = f"{namespace}/" if isinstance(namespace, str) and namespace else ""
        what = f"{manifest.kind} {where}{identity_name(manifest.obj)}"
        raise ValidationError(f"{_where(manifest)}{what}: {'; '.join(translation.problems)}")
    annotations.update(translation.added)


def _namespaces_asked_for(prepared: list[DesiredObject]) -> list[DesiredObject]:
    """Bare Namespaces for objects whose sync options say ``CreateNamespace=true``.

    Like the Application's option: created before anything else under a field
    manager of its own, untracked (pruning never deletes it), and only when the
    render does not define that namespace itself.
    """
    rendered = {d.ref.name for d in prepared if d.ref.kind == "Namespace" and not d.ref.group}
    wanted = sorted(
        {
            d.ref.namespace
            for d in prepared
            if d.ref.namespace and argocd.CREATE_NAMESPACE_OPTION in _sync_options(d.body)
        }
        - rendered
    )
    created = []
    for namespace in wanted:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        ref = ResourceRef("", "Namespace", "", namespace)
        created.append(
            DesiredObject(
                ref=ref,
                body=body,
                manifest=Manifest(body),
                first=True,
                field_manager=CREATE_NAMESPACE_MANAGER,
            )
        )
    return created


def _sync_options(body: dict[str, Any]) -> set[str]:
    raw = ((body.get("metadata") or {}).get("annotations") or {}).get(SYNC_OPTIONS_ANNOTATION, "")
    return {part.strip() for part in str(raw).split(",") if part.strip()}


def _where(manifest: Manifest) -> str:
    origin = manifest.origin()
    return f"{origin}: " if origin else ""
