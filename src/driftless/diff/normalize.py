"""Normalize objects before comparing desired with live state.

The API server adds fields nobody wrote (uid, resourceVersion, managedFields,
timestamps, status). Comparing a *server-side dry-run* of the desired object
with the live one already removes defaulting and admission noise; what is left
to drop is the bookkeeping below. Pure.
"""

from __future__ import annotations

from typing import Any

from driftless.core import wellknown
from driftless.core.jsoncopy import deep_copy

# Metadata the server maintains itself; a difference here never means drift.
_SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def normalize(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without status and server-maintained metadata."""
    out = deep_copy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        # kubectl's client-side-apply record is rewritten by kubectl, not by git.
        annotations.pop(wellknown.KUBECTL_LAST_APPLIED_ANNOTATION, None)
        if not annotations:
            meta.pop("annotations", None)
    return out


def equivalent(predicted: dict[str, Any], live: dict[str, Any]) -> bool:
    """True when applying would change nothing a person cares about."""
    return normalize(predicted) == normalize(live)
