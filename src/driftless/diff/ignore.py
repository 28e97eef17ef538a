"""``spec.ignoreDifferences``: which fields of which objects are not drift. Pure.

A rule matches objects by group/kind (``*`` allowed), optional name and
namespace, and names fields either by RFC 6901 JSON pointer or by the field
managers that own them (read from the live object's ``managedFields``).
The same removal runs on the desired body before it is applied, so driftless
never takes over a field it was told to ignore (another controller owns it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from driftless.core.jsoncopy import deep_copy
from driftless.core.models import IgnoreDifference
from driftless.core.resources import ResourceRef

JSON = dict[str, Any]


def rules_for(rules: Iterable[IgnoreDifference], ref: ResourceRef) -> list[IgnoreDifference]:
    """The rules that apply to the object ``ref``."""
    return [
        rule
        for rule in rules
        if (rule.group == "*" or fnmatchcase(ref.group, rule.group or ""))
        and fnmatchcase(ref.kind, rule.kind)
        and (rule.name is None or rule.name == ref.name)
        and (rule.namespace is None or rule.namespace == ref.namespace)
    ]


def strip_ignored(obj: JSON, rules: list[IgnoreDifference], live: JSON | None) -> JSON:
    """A copy of ``obj`` without the fields ``rules`` ignore.

    Manager-owned fields are looked up in ``live``'s managedFields (the
    desired object has none).
    """
    if not rules:
        return obj
    out = deep_copy(obj)
    for rule in rules:
        for pointer in rule.json_pointers:
            remove_pointer(out, pointer)
        if rule.managed_fields_managers and live is not None:
            for fields in owned_fields(live, rule.managed_fields_managers):
                remove_fields(out, fields)
    return out


def parse_pointer(pointer: str) -> list[str]:
    """RFC 6901: ``/a/b~1c`` -> ``["a", "b/c"]``; raises ValueError if malformed."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def remove_pointer(obj: Any, pointer: str) -> None:
    """Delete the value at ``pointer`` in place, if it exists."""
    parts = parse_pointer(pointer)
    if not parts:
        return
    parent = obj
    for part in parts[:-1]:
        parent = _child(parent, part)
        if parent is None:
            return
    last = parts[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None


def owned_fields(live: JSON, managers: list[str]) -> list[JSON]:
    """The FieldsV1 trees that the given managers own in ``live``."""
    entries = live.get("metadata", {}).get("managedFields") or []
    return [
        entry.get("fieldsV1") or {}
        for entry in entries
        if entry.get("manager") in managers and entry.get("fieldsType", "FieldsV1") == "FieldsV1"
    ]


def remove_fields(obj: Any, fields: JSON) -> None:
    """Delete in place every field a FieldsV1 tree names (``f:``, ``k:``, ``v:``, ``i:`` keys)."""
    for key, sub in fields.items():
        if key == ".":
            continue
        whole = not sub or "." in sub
        if key.startswith("f:") and isinstance(obj, dict):
            name = key[2:]
            if name not in obj:
                continue
            if whole and _is_leaf(sub):
                del obj[name]
            else:
                remove_fields(obj[name], sub)
        elif isinstance(obj, list):
            _remove_from_list(obj, key, sub, whole)


def _is_leaf(sub: JSON) -> bool:
    return all(k == "." for k in sub)


def _remove_from_list(items: list[Any], key: str, sub: JSON, whole: bool) -> None:
    index = _list_index(items, key)
    if index is None:
        return
    if whole:
        del items[index]
    else:
        remove_fields(items[index], sub)


def _list_index(items: list[Any], key: str) -> int | None:
    kind, _, raw = key.partition(":")
    if kind == "i" and raw.isdigit():
        return int(raw) if int(raw) < len(items) else None
    try:
        wanted = json.loads(raw)
    except ValueError:
        return None
    for index, item in enumerate(items):
        if kind == "v" and item == wanted:
            return index
        if kind == "k" and _has_keys(item, wanted):
            return index
    return None


def _has_keys(item: Any, wanted: Any) -> bool:
    """True when list item ``item`` carries every key field of ``wanted``."""
    if not isinstance(item, dict) or not isinstance(wanted, dict):
        return False
    return all(item.get(k) == v for k, v in wanted.items())
