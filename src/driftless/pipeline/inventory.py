"""The inventory of a push-mode app: what ``driftless apply`` last applied.

A controller-managed app keeps its inventory in ``status.resources``; a
push-mode app has no Application object, so ``driftless apply`` keeps the
same list in a ConfigMap ``driftless-inventory-<app>`` in the destination
namespace. The engine reads it back as ``app.status.resources``, so orphans
are found exactly as the controller finds them (and, as there, an object is
only pruned while it still carries this app's tracking annotation).

Contract:

* ``encode`` / ``decode`` are pure and inverse on the identity fields
  (group, version, kind, namespace, name); ``encode`` sorts and de-duplicates,
  so the same set always gives the same ConfigMap.
* ``decode`` raises ``InventoryError`` on anything that is not an inventory
  written by ``encode`` (wrong shape, missing kind or name), never guesses.
* ``read`` returns ``[]`` when the ConfigMap does not exist (first apply);
  ``write`` creates or replaces it with server-side apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from driftless.core.errors import DriftlessError
from driftless.core.models import ResourceStatus
from driftless.core.resources import FIELD_MANAGER
from driftless.kube.client import KubeClient

JSON = dict[str, Any]
PREFIX = "driftless-inventory-"
DATA_KEY = "resources"
REVISION_ANNOTATION = "driftless.dev/revision"
APP_LABEL = "driftless.dev/push-app"
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
            "labels": {"app.kubernetes.io/managed-by": "driftless", APP_LABEL: app_name},
            "annotations": {REVISION_ANNOTATION: revision},
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
