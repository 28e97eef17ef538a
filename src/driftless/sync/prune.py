"""Find and delete what git no longer has.

The app's inventory is its last ``status.resources`` list. An object in the
inventory that the current render does not produce is an *orphan* when the
live object still carries this app's tracking id (or an old-format id naming
an app of this name, trusted because the object is in this very app's
inventory; see ``core.resources``) — an object that changed hands
(another app's tracking id, or none) is never touched.

Contract:
* ``find_orphans`` only reads; it is safe to call on every reconcile.
* ``prune`` deletes orphans in reverse apply order (workloads before the
  namespaces and CRDs they live in), skipping objects annotated
  ``driftless.dev/sync-options: Prune=false``.
* API failures are raised as the ``kube.errors`` class the client chose,
  the message naming the object (Secret values redacted): an outage is
  transient, a refusal (RBAC, admission) the user's to fix.
* The caller decides *whether* to prune: never after a failed fetch or
  render (the pipeline never gets here), never when a render suddenly yields
  no objects unless the app allows it (``empty_render_guard``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftless.core.models import ResourceStatus
from driftless.core.resources import ResourceRef, tracking_of
from driftless.kube.client import KubeApiError, KubeClient, UnknownKindError
from driftless.sync.prepare import kind_rank
from driftless.sync.redact import redact_api_error
from driftless.sync.states import Orphan

JSON = dict[str, Any]


def candidates(
    inventory: Iterable[ResourceStatus], rendered: set[ResourceRef]
) -> list[ResourceStatus]:
    """Inventory entries the render no longer produces. Pure."""
    out = []
    for entry in inventory:
        ref = ResourceRef(entry.group, entry.kind, entry.namespace, entry.name)
        if ref not in rendered:
            out.append(entry)
    return out


def empty_render_guard(rendered: int, inventory: int, allow_empty: bool) -> str | None:
    """Why pruning must be skipped, or None. A render that drops to zero objects
    is far more often a mistake (wrong path, emptied overlay) than an intent."""
    if rendered == 0 and inventory > 0 and not allow_empty:
        return (
            "the render produced no objects; refusing to prune everything "
            "(set syncPolicy.automated.allowEmpty to allow it)"
        )
    return None


async def find_orphans(
    client: KubeClient, app_namespace: str, app_name: str, entries: list[ResourceStatus]
) -> list[Orphan]:
    """The entries whose live object exists and still carries this app's tracking id."""
    # ``entries`` come from this app's own inventory (``status.resources``):
    # that is what lets an old-format id (no app namespace) count as its own.
    inventory = {ResourceRef(e.group, e.kind, e.namespace, e.name) for e in entries}
    orphans = []
    for entry in entries:
        ref = ResourceRef(entry.group, entry.kind, entry.namespace, entry.name)
        api_version = f"{entry.group}/{entry.version}" if entry.group else entry.version
        try:
            live = await client.get(api_version, ref.kind, ref.name, ref.namespace or None)
        except UnknownKindError:
            continue  # the kind itself is gone (CRD deleted): nothing left to prune
        except KubeApiError as exc:
            message = redact_api_error(exc.message, ref)
            raise exc.with_message(f"cannot read {ref} to check for pruning: {message}") from None
        if live is None:
            continue
        tracked = tracking_of(live)
        if tracked is None or not tracked.owned_by(app_namespace, app_name, inventory=inventory):
            continue
        if tracked.ref != ref:
            continue  # the annotation was copied onto another object: not ours to delete
        orphans.append(Orphan(ref, api_version, live))
    return orphans


async def prune(client: KubeClient, orphans: list[Orphan]) -> list[Orphan]:
    """Delete orphans in reverse apply order; returns the ones deleted."""
    deleted = []
    ordered = sorted(orphans, key=lambda o: (-kind_rank(o.ref.kind), o.ref.namespace, o.ref.name))
    for orphan in ordered:
        if orphan.prune_disabled:
            continue
        ref = orphan.ref
        try:
            await client.delete(orphan.api_version, ref.kind, ref.name, ref.namespace or None)
        except KubeApiError as exc:
            message = redact_api_error(exc.message, ref)
            raise exc.with_message(f"cannot prune {ref}: {message}") from None
        deleted.append(orphan)
    return deleted
