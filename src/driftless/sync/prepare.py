"""Turn rendered manifests into the exact bodies driftless applies. Pure.

For each manifest: the tracking annotation of this app is set, namespaced
objects without a namespace get the destination namespace, cluster-scoped
objects lose any namespace they were given (the API server would refuse it),
and objects are ordered so that what others depend on is applied first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftless.core.errors import ValidationError
from driftless.core.jsoncopy import deep_copy
from driftless.core.models import IgnoreDifference
from driftless.core.resources import FIELD_MANAGER, Manifest, ResourceRef
from driftless.core.wellknown import TRACKING_ANNOTATION

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
        ref = ResourceRef.from_object(body)
        if ref in seen:
            first = seen[ref].origin() or "the render"
            raise ValidationError(f"{_where(manifest)}{ref} is defined twice (first in {first})")
        seen[ref] = manifest
        tracking = ref.tracking_id(app_namespace, app_name)
        meta.setdefault("annotations", {})[TRACKING_ANNOTATION] = tracking
        prepared.append(DesiredObject(ref=ref, body=body, manifest=manifest))
    prepared.sort(key=lambda d: (kind_rank(d.ref.kind), d.ref.namespace, d.ref.name))
    return prepared


def _where(manifest: Manifest) -> str:
    origin = manifest.origin()
    return f"{origin}: " if origin else ""
