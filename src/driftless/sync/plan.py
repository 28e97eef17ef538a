"""Sync ordering as data: tasks, phases, waves and steps. Pure.

See the package docstring for the rules. This module turns prepared objects
into ``Task``s and lists the ``Step``s (phase, wave) an operation walks
through; ``sync.runner`` executes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftless.core.errors import ValidationError
from driftless.core.resources import tracking_of
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
    HOOK_TEMPLATE_LABEL,
    SYNC_OPTIONS_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
)
from driftless.sync.prepare import DesiredObject, instance, kind_rank

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
    # An instance of a hook template (``generateName``): created with POST, and
    # its template's earlier instances are what ``BeforeHookCreation`` deletes.
    generated: bool = False

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


def instances(tasks: list[Task], seed: str) -> list[Task]:
    """The tasks with every hook template named for one operation (``seed``).

    A template running in two phases gets two instances (the phase is part of
    the name's seed), as two phases of a named hook get two runs.
    """
    return [_instance(t, seed) if t.hook and t.obj.generate_name is not None else t for t in tasks]


def _instance(task: Task, seed: str) -> Task:
    obj = instance(task.obj, f"{seed}|{task.phase}")
    return Task(obj, task.phase, task.wave, task.hook, task.delete_policies, generated=True)


def operation_seed(started_at: str, retry: int, requested_at: str | None) -> str:
    """What tells one operation from every other (for ``instances``)."""
    return f"{started_at}|{retry}|{requested_at or ''}"


def template_label_of(obj: DesiredObject) -> str:
    """The ``driftless.dev/hook-template`` label of a hook template's instance."""
    return str(((obj.body.get("metadata") or {}).get("labels") or {}).get(HOOK_TEMPLATE_LABEL, ""))


def earlier_instances(listed: list[dict[str, Any]], obj: DesiredObject) -> list[str]:
    """Names of live objects that are earlier instances of ``obj``'s template.

    ``listed`` was selected by the template label; an object counts only when
    its tracking id names the same app (a label alone proves nothing: anyone
    who may write into the namespace can set it) and it is not ``obj`` itself.
    """
    ours = tracking_of(obj.body)
    names = []
    for live in listed:
        theirs = tracking_of(live)
        name = str((live.get("metadata") or {}).get("name") or "")
        if ours is None or theirs is None or not name or name == obj.ref.name:
            continue
        if (theirs.app_namespace, theirs.app_name) != (ours.app_namespace, ours.app_name):
            continue
        if template_label_of_live(live) == template_label_of(obj):
            names.append(name)
    return sorted(names)


def template_label_of_live(live: dict[str, Any]) -> str:
    return str(((live.get("metadata") or {}).get("labels") or {}).get(HOOK_TEMPLATE_LABEL, ""))


def same_instance(live: dict[str, Any] | None, obj: DesiredObject) -> bool:
    """Is ``live`` the instance ``obj`` names (created by an earlier pass)?"""
    theirs, ours = tracking_of(live), tracking_of(obj.body)
    return theirs is not None and ours is not None and theirs == ours


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
