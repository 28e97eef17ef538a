"""Keep Secret values out of every diff, log, event and page. Pure.

``mask_pair`` replaces each value under ``data``/``stringData`` of a Secret
with ``<unchanged>`` or ``<changed>`` (compared between the two sides) and
``<added>``/``<removed>`` for keys on one side only, so a diff still shows
*which* keys changed but never a value.
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]
_VALUE_FIELDS = ("data", "stringData")


def is_secret(obj: JSON | None) -> bool:
    return obj is not None and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def mask_pair(desired: JSON | None, live: JSON | None) -> tuple[JSON | None, JSON | None]:
    """Masked copies of both sides; non-Secrets are returned unchanged."""
    if not (is_secret(desired) or is_secret(live)):
        return desired, live
    desired, live = copy.deepcopy(desired), copy.deepcopy(live)
    for field in _VALUE_FIELDS:
        left = (desired or {}).get(field) or {}
        right = (live or {}).get(field) or {}
        if desired is not None and field in desired:
            desired[field] = {k: _mark(k, left, right, "<added>") for k in left}
        if live is not None and field in live:
            live[field] = {k: _mark(k, right, left, "<removed>") for k in right}
    return desired, live


def _mark(key: str, mine: JSON, other: JSON, only_here: str) -> str:
    if key not in other:
        return only_here
    return "<unchanged>" if mine[key] == other[key] else "<changed>"


def mask(obj: JSON) -> JSON:
    """One object masked on its own (for logs and single-sided views)."""
    masked, _ = mask_pair(obj, None)
    return masked or obj
