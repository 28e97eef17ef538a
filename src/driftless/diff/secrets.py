"""Keep Secret values out of every diff, log, event and page. Pure.

``mask_pair`` replaces each value under ``data``/``stringData`` of a Secret
with ``<unchanged>``, or with ``<changed: value in git>`` on the desired side
and ``<changed: value in cluster>`` on the live side (the two lines must
differ for a diff to show them), and ``<added>``/``<removed>`` for keys on one
side only: a diff shows *which* keys changed, never a value.
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
            desired[field] = {k: _mark(k, left, right, "<added>", "git") for k in left}
        if live is not None and field in live:
            live[field] = {k: _mark(k, right, left, "<removed>", "cluster") for k in right}
    return desired, live


def _mark(key: str, mine: JSON, other: JSON, only_here: str, side: str) -> str:
    if key not in other:
        return only_here
    return "<unchanged>" if mine[key] == other[key] else f"<changed: value in {side}>"


def mask(obj: JSON) -> JSON:
    """One object masked on its own (for logs and single-sided views)."""
    masked, _ = mask_pair(obj, None)
    return masked or obj
