"""Resource identities and rendered manifests.

A ``ResourceRef`` names one Kubernetes object independent of its version:
(group, kind, namespace, name). It is the key of every table driftless keeps
(desired vs live, the status resource list, the tracking id). The core group is
the empty string; cluster-scoped objects have namespace ``""``.

A ``Manifest`` is one rendered object together with where it came from, so an
error about it can name the file and line a person has to fix.

Tracking ids
    Every object driftless applies carries the annotation
    ``driftless.dev/tracking-id`` naming the Application that manages it::

        <app-namespace>_<app-name>:<group>/<kind>:<namespace>/<name>

    e.g. ``team-a_shop:apps/Deployment:shop/web`` (the core group is empty:
    ``team-a_shop:/ConfigMap:shop/settings``; cluster-scoped objects have an
    empty namespace: ``team-a_shop:rbac.authorization.k8s.io/ClusterRole:/view``).
    Namespace names are DNS-1123 labels and app names DNS-1123 subdomains, so
    neither contains ``_`` or ``:`` and the id splits unambiguously.

    Ids written before the app's namespace was part of them
    (``<app-name>:<group>/<kind>:<namespace>/<name>``) still parse, with
    ``app_namespace`` ``None``. Such an id does not say which namespace's app
    wrote it, so it belongs to an app of that name only when the object is in
    that app's own inventory (its ``status.resources``, written by the
    controller, never by a tenant): its next sync re-annotates the object
    with the new id and prune deletes it like any object of the app. A
    same-named app of another namespace is another app.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

from driftless.core.wellknown import TRACKING_ANNOTATION

FIELD_MANAGER = "driftless"
# Where Applications, Projects and the controller live unless told otherwise.
DEFAULT_APP_NAMESPACE = "driftless"
# The running controller publishes its version here (read by `driftless version`).
CONTROLLER_CONFIGMAP = "driftless-controller"
CONTROLLER_VERSION_KEY = "version"


@dataclass(frozen=True, order=True)
class ResourceRef:
    """The version-independent identity of one object."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> ResourceRef:
        """Build the ref of a raw object; its apiVersion, kind and name must be present."""
        api_version: str = obj["apiVersion"]
        group = api_version.rpartition("/")[0]
        meta = obj.get("metadata") or {}
        return cls(
            group=group,
            kind=obj["kind"],
            namespace=meta.get("namespace") or "",
            name=meta["name"],
        )

    def tracking_id(self, app_namespace: str, app_name: str) -> str:
        """The value of the tracking annotation (format in the module docstring)."""
        owner = f"{app_namespace}_{app_name}"
        return f"{owner}:{self.group}/{self.kind}:{self.namespace}/{self.name}"

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{kind} {where}{self.name}"


@dataclass(frozen=True)
class TrackingId:
    """A parsed tracking annotation: which app manages which object."""

    app_namespace: str | None  # None: an id written before namespaces were part of it
    app_name: str
    ref: ResourceRef

    @property
    def legacy(self) -> bool:
        return self.app_namespace is None

    def names(self, app_namespace: str, app_name: str) -> bool:
        """Could this id be that app's? Old-format ids name every app of that name.

        Only for routing (which app to wake up on a live change), never for
        deciding ownership: see ``owned_by``.
        """
        if self.app_name != app_name:
            return False
        return self.app_namespace is None or self.app_namespace == app_namespace

    def owned_by(
        self, app_namespace: str, app_name: str, *, inventory: Container[ResourceRef]
    ) -> bool:
        """Does this id belong to that app, whose inventory is ``inventory``?

        An old-format id belongs to an app of that name only while its object
        is in that app's inventory (see the module docstring).
        """
        if self.app_name != app_name:
            return False
        if self.app_namespace is None:
            return self.ref in inventory
        return self.app_namespace == app_namespace

    @property
    def owner(self) -> str:
        """``namespace/name`` of the managing app, for messages."""
        if self.app_namespace is None:
            return self.app_name
        return f"{self.app_namespace}/{self.app_name}"


def parse_tracking_id(value: str) -> TrackingId | None:
    """Parse a tracking annotation (either format); ``None`` if it is malformed."""
    try:
        owner, group_kind, ns_name = value.split(":", 2)
        group, kind = group_kind.split("/", 1)
        namespace, name = ns_name.split("/", 1)
    except ValueError:
        return None
    app_namespace: str | None
    app_namespace, sep, app = owner.partition("_")
    if not sep:
        app_namespace, app = None, owner
    if not app or app_namespace == "" or not kind or not name:
        return None
    ref = ResourceRef(group=group, kind=kind, namespace=namespace, name=name)
    return TrackingId(app_namespace, app, ref)


def tracking_of(obj: dict[str, Any] | None) -> TrackingId | None:
    """The parsed tracking id of a live object, if it carries a well-formed one."""
    if not obj:
        return None
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(TRACKING_ANNOTATION)
    return parse_tracking_id(value) if isinstance(value, str) else None


@dataclass
class Manifest:
    """One rendered Kubernetes object and its origin.

    ``source_file`` is relative to the repository root; ``line`` is the 1-based
    line where the object's document starts (``None`` when not known).
    """

    obj: dict[str, Any]
    source_file: str | None = None
    line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return str(self.obj["apiVersion"])

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef.from_object(self.obj)

    def origin(self) -> str:
        """``file:line`` (or just ``file``) for messages; empty when unknown."""
        if self.source_file is None:
            return ""
        return f"{self.source_file}:{self.line}" if self.line is not None else self.source_file
