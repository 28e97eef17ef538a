"""Sync ordering as data: tasks, phases, waves and steps. Pure.

See the package docstring for the rules. This module turns prepared objects
into ``Task``s and lists the ``Step``s (phase, wave) an operation walks
through; ``sync.runner`` executes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftless.core.errors import ValidationError
from driftless.core.vocabulary import (
    ALL_PHASES,
    DEFAULT_DELETE_POLICIES,
    HOOK_SKIP,
    HookDeletePolicy,
    SyncPhase,
)
from driftless.core.wellknown import (
    HOOK_ANNOTATION,
    HOOK_DELETE_POLICY_ANNOTATION,
    SYNC_OPTIONS_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
)
from driftless.sync.prepare import DesiredObject, kind_rank

# Pruning is a pseudo-wave after every real wave of the Sync phase.
PRUNE_WAVE = 2**31


@dataclass(frozen=True, order=True)
class Step:
    """One (phase, wave) position of an operation."""

    phase_index: int
    wave: int
    phase: SyncPhase = field(compare=False)


@dataclass
class Task:
    """One object to apply in one step."""

    obj: DesiredObject
    phase: SyncPhase
    wave: int
    hook: bool
    delete_policies: frozenset[HookDeletePolicy] = frozenset()

    @property
    def step(self) -> Step:
        return Step(phase_index(self.phase), self.wave, self.phase)


def phase_index(phase: str) -> int:
    """The rank of a phase in ``Step`` order (SyncFail last)."""
    return ALL_PHASES.index(SyncPhase(phase))


def _annotations(obj: DesiredObject) -> dict[str, Any]:
    return dict((obj.body.get("metadata") or {}).get("annotations") or {})


def hook_phases(obj: DesiredObject) -> list[SyncPhase] | None:
    """The hook phases of an object: None when it is not a hook, [] for Skip."""
    raw = _annotations(obj).get(HOOK_ANNOTATION)
    if raw is None:
        return None
    phases = [part.strip() for part in str(raw).split(",") if part.strip()]
    unknown = [p for p in phases if p not in (*ALL_PHASES, HOOK_SKIP)]
    if unknown or not phases:
        raise ValidationError(
            f"{obj.describe()}: {HOOK_ANNOTATION} must list {', '.join(ALL_PHASES)} or "
            f"{HOOK_SKIP}, got {raw!r}"
        )
    return [] if HOOK_SKIP in phases else [SyncPhase(p) for p in phases]


def wave_of(obj: DesiredObject) -> int:
    raw = _annotations(obj).get(SYNC_WAVE_ANNOTATION, "0")
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValidationError(
            f"{obj.describe()}: {SYNC_WAVE_ANNOTATION} must be an integer, got {raw!r}"
        ) from None


def delete_policies(obj: DesiredObject) -> frozenset[HookDeletePolicy]:
    raw = _annotations(obj).get(HOOK_DELETE_POLICY_ANNOTATION)
    if raw is None:
        return DEFAULT_DELETE_POLICIES
    policies = frozenset(p.strip() for p in str(raw).split(",") if p.strip())
    unknown = sorted(policies - set(HookDeletePolicy))
    if unknown:
        raise ValidationError(
            f"{obj.describe()}: unknown {HOOK_DELETE_POLICY_ANNOTATION} {', '.join(unknown)}"
        )
    return frozenset(HookDeletePolicy(p) for p in policies)


def sync_options(obj: dict[str, Any]) -> set[str]:
    """The per-object options of the ``driftless.dev/sync-options`` annotation."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(SYNC_OPTIONS_ANNOTATION, "")
    return {part.strip() for part in str(raw).split(",") if part.strip()}


def object_options(obj: DesiredObject) -> set[str]:
    return sync_options(obj.body)


def split_hooks(desired: list[DesiredObject]) -> tuple[list[DesiredObject], list[Task]]:
    """(the app's resources, its hook tasks); Skip objects are dropped from both."""
    resources: list[DesiredObject] = []
    hooks: list[Task] = []
    for obj in desired:
        phases = hook_phases(obj)
        if phases is None:
            resources.append(obj)
            continue
        wave, policies = wave_of(obj), delete_policies(obj)
        hooks += [Task(obj, phase, wave, hook=True, delete_policies=policies) for phase in phases]
    return resources, hooks


FIRST_WAVE = -(2**31)


def resource_tasks(resources: list[DesiredObject]) -> list[Task]:
    """Sync-phase tasks; objects marked ``first`` go before PreSync's first wave."""
    return [
        Task(obj, SyncPhase.PRE_SYNC, FIRST_WAVE, hook=False)
        if obj.first
        else Task(obj, SyncPhase.SYNC, wave_of(obj), hook=False)
        for obj in resources
    ]


def steps(tasks: list[Task], *, prune: bool) -> list[Step]:
    """The ordered steps of the normal phases (SyncFail excluded)."""
    found = {t.step for t in tasks if t.phase != SyncPhase.SYNC_FAIL}
    if prune:
        found.add(Step(phase_index(SyncPhase.SYNC), PRUNE_WAVE, SyncPhase.SYNC))
    return sorted(found)


def fail_steps(tasks: list[Task]) -> list[Step]:
    return sorted({t.step for t in tasks if t.phase == SyncPhase.SYNC_FAIL})


def tasks_of(tasks: list[Task], step: Step) -> list[Task]:
    """The tasks of one step, in apply order."""
    chosen = [t for t in tasks if t.phase == step.phase and t.wave == step.wave]
    return sorted(
        chosen, key=lambda t: (kind_rank(t.obj.ref.kind), t.obj.ref.namespace, t.obj.ref.name)
    )
