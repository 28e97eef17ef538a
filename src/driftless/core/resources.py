"""Resource identities and rendered manifests.

A ``ResourceRef`` names one Kubernetes object independent of its version:
(group, kind, namespace, name). It is the key of every table driftless keeps
(desired vs live, the status resource list, the tracking id). The core group is
the empty string; cluster-scoped objects have namespace ``""``.

A ``Manifest`` is one rendered object together with where it came from, so an
error about it can name the file and line a person has to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRACKING_ANNOTATION = "driftless.dev/tracking-id"
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

    def tracking_id(self, app_name: str) -> str:
        """The value of the tracking annotation: ``<app>:<group>/<kind>:<namespace>/<name>``."""
        return f"{app_name}:{self.group}/{self.kind}:{self.namespace}/{self.name}"

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{kind} {where}{self.name}"


def parse_tracking_id(value: str) -> tuple[str, ResourceRef] | None:
    """Split a tracking annotation into (app name, ref); ``None`` if it is malformed."""
    try:
        app, group_kind, ns_name = value.split(":", 2)
        group, kind = group_kind.split("/", 1)
        namespace, name = ns_name.split("/", 1)
    except ValueError:
        return None
    if not app or not kind or not name:
        return None
    return app, ResourceRef(group=group, kind=kind, namespace=namespace, name=name)


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
