"""Argo CD's sync annotations read as driftless's own. Pure.

A repository written for Argo CD syncs unchanged: ``translate`` turns the
``argocd.argoproj.io/*`` annotations of one object into the ``driftless.dev/*``
annotations the sync engine reads (``sync.plan``, ``sync.prepare``):

=========================================  =====================================================
Argo CD                                    driftless
=========================================  =====================================================
``hook: PreSync|Sync|PostSync|SyncFail``   ``driftless.dev/hook`` (same values, comma list)
``hook: Skip``                             ``driftless.dev/hook: Skip`` (never applied)
``hook: PostDelete`` / ``PreDelete``       refused: driftless runs no hook when an app is deleted
``hook-delete-policy``                     ``driftless.dev/hook-delete-policy`` (same values)
``sync-wave: <integer>``                   ``driftless.dev/sync-wave``
``sync-options: Prune=false``              ``driftless.dev/sync-options: Prune=false``
``sync-options: Replace=true``             ``driftless.dev/sync-options: Replace=true``
``sync-options: CreateNamespace=true``     ``driftless.dev/sync-options: CreateNamespace=true``
``sync-options: ServerSideApply=true``     accepted: driftless always applies server-side
``sync-options:
SkipDryRunOnMissingResource=true``         the same ``driftless.dev/sync-options`` item: a kind
                                           the cluster does not serve yet is not refused; the
                                           object is applied when its step runs (``skips_dry_run``)
``compare-options: IgnoreExtraneous``      ``driftless.dev/compare-options: IgnoreExtraneous``
=========================================  =====================================================

Invariants: a ``driftless.dev/*`` annotation already present wins, and the
Argo CD one it replaces is then not even read; any other value (another
hook type, sync or compare option, a wave that is not an integer) is a
*problem* naming the annotation and the value, never silently skipped; the
input is never mutated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from driftless.core.vocabulary import ALL_PHASES, HOOK_SKIP, HookDeletePolicy, ObjectOption
from driftless.core.wellknown import (
    ARGOCD_COMPARE_OPTIONS_ANNOTATION,
    ARGOCD_HOOK_ANNOTATION,
    ARGOCD_HOOK_DELETE_POLICY_ANNOTATION,
    ARGOCD_SYNC_OPTIONS_ANNOTATION,
    ARGOCD_SYNC_WAVE_ANNOTATION,
    COMPARE_OPTIONS_ANNOTATION,
    HOOK_ANNOTATION,
    HOOK_DELETE_POLICY_ANNOTATION,
    SYNC_OPTIONS_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
)

# ``driftless.dev/sync-options`` item: create the object's namespace when missing.
CREATE_NAMESPACE_OPTION: Final = "CreateNamespace=true"
# ``driftless.dev/sync-options`` item: a kind not served yet (its CRD comes from
# elsewhere) is applied when its step runs instead of refusing the plan.
SKIP_DRY_RUN_OPTION: Final = "SkipDryRunOnMissingResource=true"
# ``driftless.dev/compare-options`` item (Argo CD's name and meaning).
IGNORE_EXTRANEOUS: Final = "IgnoreExtraneous"

_HOOKS = frozenset({*ALL_PHASES, HOOK_SKIP})
_WHY_NOT_HOOK = {
    "PostDelete": "driftless runs no hook when an application is deleted",
    "PreDelete": "driftless runs no hook when an application is deleted",
}
# Argo CD sync option -> the driftless item it becomes ("" when nothing is needed).
_SYNC_OPTIONS = {
    "Prune=false": ObjectOption.NO_PRUNE.value,
    "Replace=true": ObjectOption.REPLACE.value,
    "CreateNamespace=true": CREATE_NAMESPACE_OPTION,
    "ServerSideApply=true": "",
    "SkipDryRunOnMissingResource=true": SKIP_DRY_RUN_OPTION,
}
_COMPARE_OPTIONS = frozenset({IGNORE_EXTRANEOUS})


@dataclass
class Translation:
    """What one object's Argo CD annotations say in driftless's words."""

    # driftless annotations to add (never one the object already has).
    added: dict[str, str] = field(default_factory=dict)
    # ``<annotation>: <value> is not supported (<why>)``, one per refused value.
    problems: list[str] = field(default_factory=list)


def translate(annotations: Mapping[str, Any]) -> Translation:
    """The driftless annotations (and refusals) of one object's Argo CD annotations."""
    out = Translation()
    for argo, ours, convert in _MAPPINGS:
        raw = annotations.get(argo)
        if raw is None or ours in annotations:
            continue  # absent, or driftless's own name wins
        value, problem = convert(str(raw))
        if problem:
            out.problems.append(f"{argo}: {raw!r} is not supported ({problem})")
        elif value:
            out.added[ours] = value
    return out


def has_hook(annotations: Mapping[str, Any]) -> bool:
    """Does an Argo CD hook annotation make this object a hook?"""
    return isinstance(annotations.get(ARGOCD_HOOK_ANNOTATION), str)


def skips_dry_run(obj: Mapping[str, Any]) -> bool:
    """Does the object ask for ``SkipDryRunOnMissingResource=true`` (either name)?"""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, Mapping):
        return False
    ours = annotations.get(SYNC_OPTIONS_ANNOTATION)
    raw = ours if ours is not None else annotations.get(ARGOCD_SYNC_OPTIONS_ANNOTATION)
    return SKIP_DRY_RUN_OPTION in _items(str(raw or ""))


def _items(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _hook(raw: str) -> tuple[str, str]:
    items = _items(raw)
    for item in items:
        if item in _WHY_NOT_HOOK:
            return "", _WHY_NOT_HOOK[item]
        if item not in _HOOKS:
            return "", f"use {', '.join(sorted(_HOOKS))}"
    if not items:
        return "", "empty"
    return ",".join(items), ""


def _delete_policy(raw: str) -> tuple[str, str]:
    items = _items(raw)
    known = {p.value for p in HookDeletePolicy}
    if not items or any(item not in known for item in items):
        return "", f"use {', '.join(sorted(known))}"
    return ",".join(items), ""


def _wave(raw: str) -> tuple[str, str]:
    try:
        return str(int(raw.strip())), ""
    except ValueError:
        return "", "a sync wave is an integer"


def _sync_options(raw: str) -> tuple[str, str]:
    items = _items(raw)
    unknown = [item for item in items if item not in _SYNC_OPTIONS]
    if unknown:
        return "", f"{', '.join(unknown)}: use {', '.join(_SYNC_OPTIONS)}"
    mapped = [_SYNC_OPTIONS[item] for item in items]
    return ",".join(dict.fromkeys(m for m in mapped if m)), ""


def _compare_options(raw: str) -> tuple[str, str]:
    items = _items(raw)
    unknown = [item for item in items if item not in _COMPARE_OPTIONS]
    if unknown or not items:
        return "", f"use {', '.join(sorted(_COMPARE_OPTIONS))}"
    return ",".join(dict.fromkeys(items)), ""


_MAPPINGS: Final[tuple[tuple[str, str, Callable[[str], tuple[str, str]]], ...]] = (
    (ARGOCD_HOOK_ANNOTATION, HOOK_ANNOTATION, _hook),
    (ARGOCD_HOOK_DELETE_POLICY_ANNOTATION, HOOK_DELETE_POLICY_ANNOTATION, _delete_policy),
    (ARGOCD_SYNC_WAVE_ANNOTATION, SYNC_WAVE_ANNOTATION, _wave),
    (ARGOCD_SYNC_OPTIONS_ANNOTATION, SYNC_OPTIONS_ANNOTATION, _sync_options),
    (ARGOCD_COMPARE_OPTIONS_ANNOTATION, COMPARE_OPTIONS_ANNOTATION, _compare_options),
)
