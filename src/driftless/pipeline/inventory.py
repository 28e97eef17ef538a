"""An app's inventory: what was applied for it, so what it no longer renders is pruned.

The planner finds orphans in ``app.status.resources``; an ``Inventory`` is
where that list lives between passes:

* pull mode (``StatusInventory``): the Application's own ``status.resources``,
  written with the rest of the status by the controller (``pipeline.status``);
* push mode (``ConfigMapInventory``): ``driftless apply`` has no Application
  object, so it keeps the same list in a ConfigMap
  ``driftless-inventory-<app>`` in the destination namespace. Orphans are then
  found exactly as the controller finds them (and, as there, an object is only
  pruned while it still carries this app's tracking annotation).

Contract:

* ``encode`` / ``decode`` are pure and inverse on the identity fields
  (group, version, kind, namespace, name); ``encode`` sorts and de-duplicates,
  so the same set always gives the same ConfigMap.
* ``decode`` raises ``InventoryError`` on anything that is not an inventory
  written by ``encode`` (wrong shape, missing kind or name), never guesses.
* ``read`` returns ``[]`` when the ConfigMap does not exist (first apply);
  ``write`` creates or replaces it with server-side apply.
* ``next_inventory`` (pure) is what push mode stores after a sync: nothing
  applied is ever forgotten until it is pruned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

from driftless.core.errors import DriftlessError
from driftless.core.models import Application, OperationPhase, OperationState, ResourceStatus
from driftless.core.resources import FIELD_MANAGER, ResourceRef
from driftless.core.vocabulary import ResultCode
from driftless.core.wellknown import (
    INVENTORY_REVISION_ANNOTATION,
    PUSH_APP_LABEL,
    TRACKING_ANNOTATION,
)
from driftless.kube.client import KubeClient
from driftless.pipeline.plan import Plan

JSON = dict[str, Any]
PREFIX = "driftless-inventory-"
DATA_KEY = "resources"
FIELDS = ("group", "version", "kind", "namespace", "name")


class InventoryError(DriftlessError):
    """The inventory ConfigMap exists but cannot be read as one."""


def configmap_name(app_name: str) -> str:
    """``driftless-inventory-<app>``."""
    return f"{PREFIX}{app_name}"


def entry_key(entry: ResourceStatus) -> tuple[str, str, str, str, str]:
    """The identity of an inventory entry (its ``FIELDS``, in order)."""
    return (entry.group, entry.version, entry.kind, entry.namespace, entry.name)


def encode(entries: Iterable[ResourceStatus]) -> str:
    """The ``resources`` value: a JSON list of identity objects, sorted, no duplicates."""
    keys = sorted({entry_key(e) for e in entries})
    return json.dumps([dict(zip(FIELDS, key, strict=True)) for key in keys], indent=1)


def decode(text: str) -> list[ResourceStatus]:
    """Parse what ``encode`` wrote; ``InventoryError`` on any other content."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(f"inventory is not valid JSON: {exc}") from None
    if not isinstance(raw, list):
        raise InventoryError("inventory must be a JSON list")
    entries = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not all(isinstance(item.get(f, ""), str) for f in FIELDS):
            raise InventoryError(f"inventory entry {index} is not an object of strings")
        if not item.get("kind") or not item.get("name"):
            raise InventoryError(f"inventory entry {index} lacks kind or name")
        entries.append(ResourceStatus(**{f: item.get(f, "") for f in FIELDS}))
    return entries


def configmap(
    app_name: str, namespace: str, entries: Iterable[ResourceStatus], revision: str
) -> JSON:
    """The inventory ConfigMap body for ``app_name`` in ``namespace``."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(app_name),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "driftless", PUSH_APP_LABEL: app_name},
            "annotations": {INVENTORY_REVISION_ANNOTATION: revision},
        },
        "data": {DATA_KEY: encode(entries)},
    }


async def read(client: KubeClient, app_name: str, namespace: str) -> list[ResourceStatus]:
    """The stored inventory; ``[]`` when there is none yet."""
    raw = await client.get("v1", "ConfigMap", configmap_name(app_name), namespace)
    if raw is None:
        return []
    text = (raw.get("data") or {}).get(DATA_KEY)
    if text is None:
        raise InventoryError(
            f"ConfigMap {namespace}/{configmap_name(app_name)} has no {DATA_KEY!r} key;"
            " it was not written by driftless apply"
        )
    return decode(str(text))


async def write(
    client: KubeClient,
    app_name: str,
    namespace: str,
    entries: Iterable[ResourceStatus],
    revision: str,
) -> None:
    """Create or replace the inventory (server-side apply, field manager ``driftless``)."""
    body = configmap(app_name, namespace, entries, revision)
    await client.apply(body, field_manager=FIELD_MANAGER)


class Inventory(Protocol):
    """Where an app's inventory lives between passes."""

    async def read(self) -> list[ResourceStatus]:
        """The inventory as last stored (``[]`` before the first sync)."""
        ...

    async def write(self, entries: list[ResourceStatus], revision: str) -> None:
        """Store ``entries`` as the inventory after syncing ``revision``."""
        ...


class StatusInventory:
    """Pull mode: the Application's ``status.resources``.

    ``write`` does nothing: the controller writes the inventory with the rest
    of the status, in one patch (``pipeline.status.succeeded``).
    """

    def __init__(self, app: Application) -> None:
        self.app = app

    async def read(self) -> list[ResourceStatus]:
        return list(self.app.status.resources)

    async def write(self, entries: list[ResourceStatus], revision: str) -> None:
        return None


class ConfigMapInventory:
    """Push mode: the ConfigMap ``driftless-inventory-<app>`` in ``namespace``."""

    def __init__(self, client: KubeClient, app_name: str, namespace: str) -> None:
        self.client = client
        self.app_name = app_name
        self.namespace = namespace

    async def read(self) -> list[ResourceStatus]:
        return await read(self.client, self.app_name, self.namespace)

    async def write(self, entries: list[ResourceStatus], revision: str) -> None:
        await write(self.client, self.app_name, self.namespace, entries, revision)


def _entry(api_version: str, ref: ResourceRef) -> ResourceStatus:
    return ResourceStatus(
        group=ref.group,
        version=api_version.rpartition("/")[2],
        kind=ref.kind,
        namespace=ref.namespace,
        name=ref.name,
    )


def next_inventory(
    plan: Plan, previous: list[ResourceStatus], state: OperationState
) -> list[ResourceStatus]:
    """What to store after a sync. Pure.

    Always every rendered object that carries the tracking annotation (the
    namespace made by --create-namespace does not: it is never pruned). After
    a successful sync, old entries are kept only while they are orphans that
    were not pruned; after a failed or unfinished one, every old entry that
    was not pruned is kept, so nothing applied earlier is forgotten.
    """
    tracked = [
        s.desired
        for s in plan.states
        if TRACKING_ANNOTATION in ((s.desired.body.get("metadata") or {}).get("annotations") or {})
    ]
    entries = [_entry(d.api_version, d.ref) for d in tracked]
    rendered = {d.ref for d in tracked}
    pruned = {
        ResourceRef(r.group, r.kind, r.namespace, r.name)
        for r in state.resources
        if r.status == ResultCode.PRUNED
    }
    orphans = {o.ref for o in plan.orphans}
    succeeded = state.phase == OperationPhase.SUCCEEDED
    for old in previous:
        ref = ResourceRef(old.group, old.kind, old.namespace, old.name)
        if ref in rendered or ref in pruned:
            continue
        if succeeded and ref not in orphans:
            continue
        entries.append(old)
    return entries
