"""Tolerant readers for the parts of a live object that assessors look at.

Live objects are plain JSON mappings as the API server returns them. Fields the
server has not filled in yet are simply absent, so every reader here has a
default; a field of the wrong type (possible only for custom resources) raises
``TypeError`` or ``ValueError``, which the registry turns into ``Unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Obj = Mapping[str, Any]


def section(obj: Obj, name: str) -> Mapping[str, Any]:
    """``obj[name]`` as a mapping, empty when absent or null."""
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} is a {type(value).__name__}, not an object")
    return value


def spec(obj: Obj) -> Mapping[str, Any]:
    return section(obj, "spec")


def status(obj: Obj) -> Mapping[str, Any]:
    return section(obj, "status")


def metadata(obj: Obj) -> Mapping[str, Any]:
    return section(obj, "metadata")


def integer(mapping: Mapping[str, Any], key: str, default: int = 0) -> int:
    """An integer field; ``default`` when absent or null (the API omits zero counts)."""
    value = mapping.get(key)
    return default if value is None else int(value)


def conditions(obj: Obj) -> dict[str, Mapping[str, Any]]:
    """``status.conditions`` keyed by type; the last one wins if a type repeats."""
    found: dict[str, Mapping[str, Any]] = {}
    for cond in status(obj).get("conditions") or []:
        if not isinstance(cond, Mapping):
            raise TypeError("status.conditions holds a non-object entry")
        found[str(cond.get("type", ""))] = cond
    return found


def is_true(cond: Mapping[str, Any] | None) -> bool:
    return cond is not None and cond.get("status") == "True"


def is_false(cond: Mapping[str, Any] | None) -> bool:
    return cond is not None and cond.get("status") == "False"


def describe(cond: Mapping[str, Any]) -> str:
    """``Reason: message`` of a condition, whichever parts it has."""
    reason, message = cond.get("reason") or "", cond.get("message") or ""
    if reason and message:
        return f"{reason}: {message}"
    return str(reason or message)


def generation_pending(obj: Obj) -> bool:
    """True while the object's controller has not yet seen its latest spec.

    Only meaningful for kinds whose controller writes ``status.observedGeneration``;
    an object without ``metadata.generation`` is never pending.
    """
    generation = metadata(obj).get("generation")
    observed = status(obj).get("observedGeneration")
    return generation is not None and observed is not None and int(observed) < int(generation)


def generation_unobserved(obj: Obj) -> bool:
    """Like ``generation_pending``, but also True before the first status write.

    For the built-in workload controllers, which always write observedGeneration:
    its absence means the controller has not looked at the object yet.
    """
    return "observedGeneration" not in status(obj) or generation_pending(obj)
