"""Unified, line-based diff of two objects as YAML. Pure.

Both sides are normalized (``diff.normalize``), stripped of ignored fields
(``diff.ignore``) and masked (``diff.secrets``) by the caller; this module
only lays them out. Keys keep the API server's order so the text reads like
``kubectl get -o yaml``.
"""

from __future__ import annotations

import difflib
from typing import Any

import yaml

JSON = dict[str, Any]


def to_yaml(obj: JSON | None) -> list[str]:
    if obj is None:
        return []
    text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=1000)
    return text.splitlines(keepends=True)


def unified(live: JSON | None, desired: JSON | None, *, name: str, context: int = 3) -> str:
    """``--- live/NAME`` vs ``+++ desired/NAME``; empty string when equal."""
    lines = difflib.unified_diff(
        to_yaml(live),
        to_yaml(desired),
        fromfile=f"live/{name}",
        tofile=f"desired/{name}",
        n=context,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
