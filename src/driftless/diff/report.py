"""Per-resource diffs a person can trust. Pure.

Both sides go through the same steps before they are laid side by side:
normalize (drop status and server bookkeeping), strip the app's ignored
fields, and mask Secret values. The desired side is the server-side dry-run
of the apply (``predicted``), so defaults and mutating admission never show
up as noise; when no dry-run was possible, the rendered body stands in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftless.core.models import IgnoreDifference
from driftless.core.resources import ResourceRef
from driftless.diff.ignore import strip_ignored
from driftless.diff.normalize import normalize
from driftless.diff.secrets import mask_pair
from driftless.diff.unified import unified

JSON = dict[str, Any]


@dataclass(frozen=True)
class ResourceDiff:
    ref: ResourceRef
    status: str  # "changed", "added" (not live), "removed" (requires pruning), "unchanged"
    text: str  # unified diff, "" when unchanged

    def to_json(self) -> JSON:
        return {
            "group": self.ref.group,
            "kind": self.ref.kind,
            "namespace": self.ref.namespace,
            "name": self.ref.name,
            "status": self.status,
            "diff": self.text,
        }


def resource_diff(
    ref: ResourceRef,
    *,
    live: JSON | None,
    desired: JSON | None,
    ignore: list[IgnoreDifference] | None = None,
) -> ResourceDiff:
    """Compare one object; ``desired`` None means git no longer has it."""
    rules = ignore or []
    left = normalize(strip_ignored(live, rules, live)) if live is not None else None
    right = normalize(strip_ignored(desired, rules, live)) if desired is not None else None
    right, left = mask_pair(right, left)
    name = f"{ref.kind}/{ref.namespace + '/' if ref.namespace else ''}{ref.name}"
    text = unified(left, right, name=name)
    if live is None:
        status = "added"
    elif desired is None:
        status = "removed"
    else:
        status = "changed" if text else "unchanged"
    return ResourceDiff(ref, status, text)
