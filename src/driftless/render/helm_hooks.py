"""Helm hook annotations translated into driftless sync hooks (pure).

Helm runs hooks around ``install``/``upgrade``; driftless has one operation,
sync, with phases. The mapping (the same Argo CD users know):

===============================================  ===================================
``helm.sh/hook``                                 ``driftless.dev/hook``
===============================================  ===================================
``pre-install``, ``pre-upgrade``                 ``PreSync``
``post-install``, ``post-upgrade``               ``PostSync``
both pre- and post- kinds                        ``PreSync,PostSync``
only ``pre-/post-delete``, ``pre-/post-rollback``  object dropped (never runs on sync)
any ``test`` / ``test-success`` / ``test-failure``  object dropped (``helm test`` only)
===============================================  ===================================

``helm.sh/hook-weight`` becomes ``driftless.dev/sync-wave`` (Helm orders
hooks by weight the way driftless orders waves; a weight that is not an
integer is ignored, as Helm ignores it). ``helm.sh/hook-delete-policy``
becomes ``driftless.dev/hook-delete-policy``: ``before-hook-creation`` →
``BeforeHookCreation``, ``hook-succeeded`` → ``HookSucceeded``,
``hook-failed`` → ``HookFailed``; without one, Helm's default
``before-hook-creation`` is made explicit.

Invariants: objects without ``helm.sh/hook`` are untouched; the Helm
annotations are kept; a ``driftless.dev/*`` annotation the chart author wrote
already wins over the mapped one, and so does Argo CD's equivalent
(``argocd.argoproj.io/hook``, ``hook-delete-policy``, ``sync-wave``: Argo CD
prefers its own over Helm's; ``core.argocd`` maps it later); inputs are never
mutated (objects that get annotations are copied).
"""

from __future__ import annotations

import copy
from typing import Any

from driftless.core.vocabulary import HookDeletePolicy, SyncPhase
from driftless.core.wellknown import (
    ARGOCD_HOOK_ANNOTATION,
    ARGOCD_HOOK_DELETE_POLICY_ANNOTATION,
    ARGOCD_SYNC_WAVE_ANNOTATION,
    HOOK_ANNOTATION,
    HOOK_DELETE_POLICY_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
)

HELM_HOOK = "helm.sh/hook"
HELM_HOOK_WEIGHT = "helm.sh/hook-weight"
HELM_HOOK_DELETE_POLICY = "helm.sh/hook-delete-policy"

_PRE = frozenset({"pre-install", "pre-upgrade"})
_POST = frozenset({"post-install", "post-upgrade"})
_TEST = frozenset({"test", "test-success", "test-failure"})
_DELETE_POLICIES = {
    "before-hook-creation": HookDeletePolicy.BEFORE_HOOK_CREATION,
    "hook-succeeded": HookDeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": HookDeletePolicy.HOOK_FAILED,
}

# The Argo CD annotation that, when the chart has it too, wins over the mapped one.
_ARGOCD_EQUIVALENT = {
    HOOK_ANNOTATION: ARGOCD_HOOK_ANNOTATION,
    HOOK_DELETE_POLICY_ANNOTATION: ARGOCD_HOOK_DELETE_POLICY_ANNOTATION,
    SYNC_WAVE_ANNOTATION: ARGOCD_SYNC_WAVE_ANNOTATION,
}


def split_list(value: str) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]`` (Helm's comma lists, lower-cased)."""
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def sync_phases(helm_hooks: list[str]) -> list[SyncPhase] | None:
    """The driftless hook phases for Helm hook kinds; ``None`` means drop the object."""
    kinds = set(helm_hooks)
    if kinds & _TEST:
        return None
    phases = []
    if kinds & _PRE:
        phases.append(SyncPhase.PRE_SYNC)
    if kinds & _POST:
        phases.append(SyncPhase.POST_SYNC)
    return phases or None


def delete_policies(value: str | None) -> str:
    """Helm's delete policy list as driftless's (unknown entries dropped)."""
    mapped = [_DELETE_POLICIES[p] for p in split_list(value or "") if p in _DELETE_POLICIES]
    # Plain strings: the annotation values end up in manifests dumped as YAML.
    return ",".join(dict.fromkeys(mapped)) or HookDeletePolicy.BEFORE_HOOK_CREATION.value


def map_hook(obj: dict[str, Any]) -> dict[str, Any] | None:
    """``obj`` with driftless hook annotations added; ``None`` when it must not be synced."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(HELM_HOOK)
    if not isinstance(raw, str):
        return obj
    phases = sync_phases(split_list(raw))
    if phases is None:
        return None
    added = {
        HOOK_ANNOTATION: ",".join(phases),
        HOOK_DELETE_POLICY_ANNOTATION: delete_policies(_text(annotations, HELM_HOOK_DELETE_POLICY)),
    }
    weight = _weight(annotations.get(HELM_HOOK_WEIGHT))
    if weight is not None:
        added[SYNC_WAVE_ANNOTATION] = str(weight)
    result = copy.deepcopy(obj)
    target = result["metadata"]["annotations"]
    for key, value in added.items():
        if _ARGOCD_EQUIVALENT[key] not in target:
            target.setdefault(key, value)
    return result


def map_hooks(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``map_hook`` over a render, dropped objects removed, order kept."""
    return [mapped for obj in objects if (mapped := map_hook(obj)) is not None]


def _text(annotations: dict[str, Any], key: str) -> str | None:
    value = annotations.get(key)
    return value if isinstance(value, str) else None


def _weight(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None
