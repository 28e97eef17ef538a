"""What a server-side apply would make of a live object, predicted without the API server. Pure.

The diff normally compares the live object with a server-side *dry run* of
applying the desired body. A reader that may not write (the API server's
least-privilege ServiceAccount) may not dry-run either: Kubernetes
authorizes a dry run exactly like the write. ``applied`` predicts the result
client-side, following server-side apply's rules as far as the object itself
tells them:

* every field of the desired body overlays the live object (maps merged key
  by key, scalars replaced);
* a field the same field manager applied before (its ``Apply`` entry in
  ``metadata.managedFields``) that the desired body no longer has is removed,
  unless another manager also owns it (then only the manager's claim goes);
* a list is merged item by item by its merge key where this module knows it
  (``MERGE_KEYS``: containers and env by name, volume mounts by mountPath,
  ports by port and protocol ...); any other list is replaced whole;
* with no live object (new) the result is the desired body.

What it cannot know: the values the API server defaults or a mutating webhook
sets on fields driftless writes (a replaced list's items lose their defaults,
a new object has none), so those may show up as changes. Callers say so.
"""

from __future__ import annotations

import json
from typing import Any, Final

from driftless.core.jsoncopy import deep_copy

__all__ = ["MERGE_KEYS", "applied"]

JSON = dict[str, Any]

#: Lists merged item by item on apply, by field name: the merge keys of each item
#: (Kubernetes' ``+listMapKey``). ``ports`` items are keyed by ``containerPort``
#: (Pod templates) or ``port`` (Services), both with ``protocol``.
MERGE_KEYS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "containers": (("name",),),
    "initContainers": (("name",),),
    "ephemeralContainers": (("name",),),
    "env": (("name",),),
    "volumes": (("name",),),
    "volumeMounts": (("mountPath",),),
    "volumeDevices": (("devicePath",),),
    "imagePullSecrets": (("name",),),
    "ownerReferences": (("uid",),),
    "ports": (("containerPort", "protocol"), ("port", "protocol")),
}
# What the API server fills in when a key field is left out (a port's protocol).
_KEY_DEFAULTS: Final[JSON] = {"protocol": "TCP"}


def applied(live: JSON | None, desired: JSON, manager: str) -> JSON:
    """The object a server-side apply of ``desired`` by ``manager`` would leave (module doc)."""
    if live is None:
        return deep_copy(desired)
    result = deep_copy(live)
    mine, others = _ownership(live, manager)
    _remove(result, mine, desired, others)
    _overlay(result, desired)
    return result


def _ownership(live: JSON, manager: str) -> tuple[JSON, list[JSON]]:
    """The fields ``manager`` applied, and every other entry's fields (status aside)."""
    mine: JSON = {}
    others: list[JSON] = []
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(entry, dict) or entry.get("subresource") == "status":
            continue
        fields = entry.get("fieldsV1")
        if not isinstance(fields, dict):
            continue
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            mine = fields
        else:
            others.append(fields)
    return mine, others


def _remove(node: Any, owned: JSON, wanted: Any, others: list[JSON]) -> None:
    """Delete from ``node`` what ``owned`` names, ``wanted`` lacks and no one in ``others`` owns."""
    for key, sub in owned.items():
        if key == "." or not isinstance(sub, dict):
            continue
        theirs = [o[key] for o in others if isinstance(o.get(key), dict)]
        kind = key[:2]
        if kind == "f:" and isinstance(node, dict):
            name = key[2:]
            if name not in node:
                continue
            keep = wanted.get(name) if isinstance(wanted, dict) else None
            still = isinstance(wanted, dict) and name in wanted
            _drop_or_descend(node, name, sub, keep, still, theirs)
        elif kind in ("k:", "v:") and isinstance(node, list):
            index = _find(node, key)
            if index is None:
                continue
            match = _find(wanted, key) if isinstance(wanted, list) else None
            keep = wanted[match] if match is not None else None
            _drop_or_descend(node, index, sub, keep, match is not None, theirs)


def _drop_or_descend(
    parent: Any, at: Any, owned: JSON, wanted: Any, still: bool, theirs: list[JSON]
) -> None:
    children = any(k != "." for k in owned)
    if still or theirs:
        # Still desired, or another manager claims it: only owned children may go.
        if children:
            _remove(parent[at], owned, wanted, theirs)
        return
    del parent[at]


def _find(items: list[Any], key: str) -> int | None:
    """The index of the item a ``k:{...}`` or ``v:value`` FieldsV1 key names."""
    kind, _, raw = key.partition(":")
    try:
        named = json.loads(raw)
    except ValueError:
        return None
    for index, item in enumerate(items):
        if kind == "v" and item == named:
            return index
        if (
            kind == "k"
            and isinstance(named, dict)
            and isinstance(item, dict)
            and all(_key_value(item, k) == v for k, v in named.items())
        ):
            return index
    return None


def _key_value(item: JSON, key: str) -> Any:
    return item.get(key, _KEY_DEFAULTS.get(key))


def _overlay(base: JSON, wanted: JSON) -> None:
    for name, value in wanted.items():
        current = base.get(name)
        if isinstance(current, dict) and isinstance(value, dict):
            _overlay(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            base[name] = _merge_list(name, current, value)
        else:
            base[name] = deep_copy(value)


def _merge_list(name: str, live: list[Any], wanted: list[Any]) -> list[Any]:
    """Live items overlaid by the desired item of the same key, new ones appended; a list
    whose keys are unknown (or missing from an item) is replaced by the desired one."""
    keys = _keys_of(name, live + wanted)
    if keys is None:
        return deep_copy(wanted)
    merged = deep_copy(live)
    index = {_identity(item, keys): i for i, item in enumerate(merged)}
    for item in wanted:
        at = index.get(_identity(item, keys))
        if at is None:
            merged.append(deep_copy(item))
        else:
            _overlay(merged[at], item)
    return merged


def _keys_of(name: str, items: list[Any]) -> tuple[str, ...] | None:
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for keys in MERGE_KEYS.get(name, ()):
        if all(_key_value(item, k) is not None for item in items for k in keys):
            return keys
    return None


def _identity(item: JSON, keys: tuple[str, ...]) -> str:
    return json.dumps([_key_value(item, k) for k in keys], sort_keys=True)
