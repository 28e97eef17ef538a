"""Sync ordering as data (``driftless.sync.plan``), as fixture tables.

Each row is a tiny set of annotated objects and the order, phases, waves or
policies a user reads in the package docstring of ``driftless.sync``: phases
PreSync → Sync → PostSync, SyncFail only after a failure, waves lower first,
pruning after the last Sync wave, kind order inside a step, hooks split from
the app's resources. Expected values are written out, never computed by the
code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.errors import ValidationError
from driftless.core.resources import Manifest, ResourceRef
from driftless.sync import plan as sp
from driftless.sync.prepare import DesiredObject

PRUNE = 2**31  # the pseudo-wave of pruning, as the runner records it
FIRST = -(2**31)  # the wave of objects created before everything else


def obj(
    spec: str,
    *,
    ns: str = "app",
    hook: str | None = None,
    wave: str | None = None,
    policy: str | None = None,
    first: bool = False,
) -> DesiredObject:
    """``Kind/name`` with the annotations a user writes in git."""
    kind, _, name = spec.partition("/")
    annotations: dict[str, str] = {}
    if hook is not None:
        annotations["driftless.dev/hook"] = hook
    if wave is not None:
        annotations["driftless.dev/sync-wave"] = wave
    if policy is not None:
        annotations["driftless.dev/hook-delete-policy"] = policy
    metadata: dict[str, Any] = {"name": name, "annotations": annotations}
    if ns:
        metadata["namespace"] = ns
    body = {"apiVersion": "v1", "kind": kind, "metadata": metadata}
    return DesiredObject(
        ref=ResourceRef.from_object(body), body=body, manifest=Manifest(body), first=first
    )


def task(spec: str, phase: str, wave: int = 0, *, hook: bool = False, ns: str = "app") -> sp.Task:
    return sp.Task(obj(spec, ns=ns), phase, wave, hook=hook)


def step_list(steps: list[sp.Step]) -> list[tuple[str, int]]:
    return [(s.phase, s.wave) for s in steps]


def names(tasks: list[sp.Task]) -> list[str]:
    return [f"{t.obj.ref.kind}/{t.obj.ref.name}" for t in tasks]


# -- annotations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wave", "expected"),
    [
        pytest.param(None, 0, id="no annotation: wave 0"),
        pytest.param("3", 3, id="positive"),
        pytest.param("-2", -2, id="negative"),
        pytest.param(" 5 ", 5, id="blanks around"),
        pytest.param("+1", 1, id="explicit plus"),
    ],
)
def test_wave_of(wave: str | None, expected: int) -> None:
    assert sp.wave_of(obj("ConfigMap/c", wave=wave)) == expected


@pytest.mark.parametrize(
    "wave",
    [
        pytest.param("1.5", id="fraction"),
        pytest.param("one", id="word"),
        pytest.param("", id="empty"),
    ],
)
def test_wave_of_refuses_what_is_no_integer(wave: str) -> None:
    with pytest.raises(ValidationError, match=r"ConfigMap app/c: driftless\.dev/sync-wave must"):
        sp.wave_of(obj("ConfigMap/c", wave=wave))


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        pytest.param(None, None, id="no annotation: not a hook"),
        pytest.param("PreSync", ["PreSync"], id="one phase"),
        pytest.param("PreSync,PostSync", ["PreSync", "PostSync"], id="two phases"),
        pytest.param(" Sync , SyncFail ", ["Sync", "SyncFail"], id="blanks around"),
        pytest.param("Skip", [], id="Skip: never applied"),
        pytest.param("PostSync,Skip", [], id="Skip wins over phases"),
    ],
)
def test_hook_phases(hook: str | None, expected: list[str] | None) -> None:
    assert sp.hook_phases(obj("Job/j", hook=hook)) == expected


@pytest.mark.parametrize(
    "hook",
    [
        pytest.param("presync", id="case matters"),
        pytest.param("PreSync,Later", id="one unknown phase"),
        pytest.param("", id="empty"),
        pytest.param(" , ", id="only commas"),
    ],
)
def test_hook_phases_refuses_unknown_phases(hook: str) -> None:
    with pytest.raises(ValidationError, match=r"Job app/j: driftless\.dev/hook must list"):
        sp.hook_phases(obj("Job/j", hook=hook))


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(None, {"BeforeHookCreation"}, id="default BeforeHookCreation"),
        pytest.param("HookSucceeded", {"HookSucceeded"}, id="replaces the default"),
        pytest.param(
            "HookSucceeded, HookFailed", {"HookSucceeded", "HookFailed"}, id="two policies"
        ),
        pytest.param(
            "BeforeHookCreation,HookFailed",
            {"BeforeHookCreation", "HookFailed"},
            id="default kept when named",
        ),
    ],
)
def test_delete_policies(policy: str | None, expected: set[str]) -> None:
    assert sp.delete_policies(obj("Job/j", hook="PreSync", policy=policy)) == expected


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param("Never", id="unknown"),
        pytest.param("HookSucceeded,hookfailed", id="case matters"),
    ],
)
def test_delete_policies_refuses_unknown_policies(policy: str) -> None:
    with pytest.raises(ValidationError, match=r"unknown driftless\.dev/hook-delete-policy"):
        sp.delete_policies(obj("Job/j", hook="PreSync", policy=policy))


# -- hooks and resources -----------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "resources", "hooks"),
    [
        pytest.param(
            [obj("ConfigMap/c"), obj("Deployment/d")],
            ["ConfigMap/c", "Deployment/d"],
            [],
            id="no hooks",
        ),
        pytest.param(
            [obj("ConfigMap/c"), obj("Job/migrate", hook="PreSync", wave="-1")],
            ["ConfigMap/c"],
            [("PreSync", -1, "Job/migrate", {"BeforeHookCreation"})],
            id="a hook is no resource",
        ),
        pytest.param(
            [obj("Job/both", hook="PreSync,PostSync", policy="HookSucceeded")],
            [],
            [
                ("PreSync", 0, "Job/both", {"HookSucceeded"}),
                ("PostSync", 0, "Job/both", {"HookSucceeded"}),
            ],
            id="one task per phase",
        ),
        pytest.param(
            [obj("ConfigMap/kept"), obj("Job/never", hook="Skip")],
            ["ConfigMap/kept"],
            [],
            id="Skip dropped from both",
        ),
        pytest.param(
            [obj("Pod/cleanup", hook="SyncFail", wave="2")],
            [],
            [("SyncFail", 2, "Pod/cleanup", {"BeforeHookCreation"})],
            id="SyncFail hook",
        ),
    ],
)
def test_split_hooks(
    desired: list[DesiredObject],
    resources: list[str],
    hooks: list[tuple[str, int, str, set[str]]],
) -> None:
    got_resources, got_hooks = sp.split_hooks(desired)
    assert [f"{d.ref.kind}/{d.ref.name}" for d in got_resources] == resources
    assert all(t.hook for t in got_hooks)
    found = [(t.phase, t.wave, f"{t.obj.ref.kind}/{t.obj.ref.name}") for t in got_hooks]
    assert found == [h[:3] for h in hooks]
    assert [set(t.delete_policies) for t in got_hooks] == [h[3] for h in hooks]


def test_split_hooks_reports_the_object_with_a_bad_annotation() -> None:
    with pytest.raises(ValidationError, match=r"Job app/bad: driftless\.dev/sync-wave"):
        sp.split_hooks([obj("ConfigMap/c"), obj("Job/bad", hook="PreSync", wave="soon")])


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param(
            [obj("ConfigMap/c", wave="2"), obj("Secret/s")],
            [("Sync", 2), ("Sync", 0)],
            id="Sync phase at their wave",
        ),
        pytest.param(
            [obj("Namespace/app", ns="", first=True, wave="5"), obj("ConfigMap/c")],
            [("PreSync", FIRST), ("Sync", 0)],
            id="first object before PreSync's first wave",
        ),
    ],
)
def test_resource_tasks(resources: list[DesiredObject], expected: list[tuple[str, int]]) -> None:
    tasks = sp.resource_tasks(resources)
    assert [(t.phase, t.wave) for t in tasks] == expected
    assert not any(t.hook for t in tasks)


# -- steps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tasks", "prune", "expected"),
    [
        pytest.param([], False, [], id="nothing to do"),
        pytest.param([], True, [("Sync", PRUNE)], id="prune alone"),
        pytest.param(
            [task("ConfigMap/a", "Sync"), task("Secret/b", "Sync")],
            False,
            [("Sync", 0)],
            id="one wave, one step",
        ),
        pytest.param(
            [task("ConfigMap/a", "Sync", 1), task("ConfigMap/b", "Sync", -1)],
            False,
            [("Sync", -1), ("Sync", 1)],
            id="lower waves first",
        ),
        pytest.param(
            [
                task("Job/post", "PostSync", -9, hook=True),
                task("ConfigMap/c", "Sync", 3),
                task("Job/pre", "PreSync", 7, hook=True),
            ],
            False,
            [("PreSync", 7), ("Sync", 3), ("PostSync", -9)],
            id="phase before wave",
        ),
        pytest.param(
            [
                task("ConfigMap/c", "Sync", 0),
                task("ConfigMap/d", "Sync", 4),
                task("Job/post", "PostSync", 0, hook=True),
            ],
            True,
            [("Sync", 0), ("Sync", 4), ("Sync", PRUNE), ("PostSync", 0)],
            id="prune after the last Sync wave, before PostSync",
        ),
        pytest.param(
            [task("ConfigMap/c", "Sync", 0), task("Job/cleanup", "SyncFail", 0, hook=True)],
            False,
            [("Sync", 0)],
            id="SyncFail is no normal step",
        ),
        pytest.param(
            [
                task("Namespace/app", "PreSync", FIRST, ns=""),
                task("Job/pre", "PreSync", -100, hook=True),
                task("ConfigMap/c", "Sync", 0),
            ],
            False,
            [("PreSync", FIRST), ("PreSync", -100), ("Sync", 0)],
            id="the app namespace before every PreSync hook",
        ),
        pytest.param(
            [task("ConfigMap/c", "Sync", 0), task("Job/s", "Sync", 0, hook=True)],
            False,
            [("Sync", 0)],
            id="Sync hooks share their wave's step",
        ),
    ],
)
def test_steps(tasks: list[sp.Task], prune: bool, expected: list[tuple[str, int]]) -> None:
    assert step_list(sp.steps(tasks, prune=prune)) == expected


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        pytest.param([task("ConfigMap/c", "Sync")], [], id="no SyncFail hook"),
        pytest.param(
            [
                task("Job/b", "SyncFail", 2, hook=True),
                task("ConfigMap/c", "Sync", 1),
                task("Job/a", "SyncFail", -1, hook=True),
                task("Job/c", "SyncFail", 2, hook=True),
            ],
            [("SyncFail", -1), ("SyncFail", 2)],
            id="only SyncFail waves, in order",
        ),
    ],
)
def test_fail_steps(tasks: list[sp.Task], expected: list[tuple[str, int]]) -> None:
    assert step_list(sp.fail_steps(tasks)) == expected


def test_step_order_is_phase_then_wave() -> None:
    def at(phase: str, wave: int) -> sp.Step:
        return sp.Step(sp.phase_index(phase), wave, phase)

    unsorted = [at("SyncFail", -5), at("PostSync", -5), at("Sync", 9), at("PreSync", 10)]
    assert step_list(sorted(unsorted)) == [
        ("PreSync", 10),
        ("Sync", 9),
        ("PostSync", -5),
        ("SyncFail", -5),
    ]


# -- the tasks of one step ------------------------------------------------------------------

MIXED = [
    task("Deployment/web", "Sync", 0),
    task("Widget/w", "Sync", 0),
    task("ValidatingWebhookConfiguration/v", "Sync", 0, ns=""),
    task("ConfigMap/b", "Sync", 0, ns="zeta"),
    task("ConfigMap/b", "Sync", 0, ns="alpha"),
    task("ConfigMap/a", "Sync", 0, ns="zeta"),
    task("Namespace/app", "Sync", 0, ns=""),
    task("CustomResourceDefinition/widgets.example.com", "Sync", 0, ns=""),
    task("Job/sync-hook", "Sync", 0, hook=True),
    task("ServiceAccount/sa", "Sync", 0),
    task("ConfigMap/later", "Sync", 1),
    task("ConfigMap/pre", "PreSync", 0, hook=True),
]


@pytest.mark.parametrize(
    ("phase", "wave", "expected"),
    [
        pytest.param(
            "Sync",
            0,
            [
                "Namespace/app",
                "CustomResourceDefinition/widgets.example.com",
                "ServiceAccount/sa",
                "ConfigMap/b",  # namespace alpha
                "ConfigMap/a",  # namespace zeta, then by name
                "ConfigMap/b",
                "Deployment/web",
                "Job/sync-hook",
                "Widget/w",  # unknown kinds after the known ones
                "ValidatingWebhookConfiguration/v",  # webhooks last
            ],
            id="kind, then namespace, then name",
        ),
        pytest.param("Sync", 1, ["ConfigMap/later"], id="another wave"),
        pytest.param("PreSync", 0, ["ConfigMap/pre"], id="same wave, another phase"),
        pytest.param("PostSync", 0, [], id="no task"),
    ],
)
def test_tasks_of(phase: str, wave: int, expected: list[str]) -> None:
    chosen = sp.tasks_of(MIXED, sp.Step(sp.phase_index(phase), wave, phase))
    assert names(chosen) == expected


def test_tasks_of_orders_namespaces_within_a_kind() -> None:
    chosen = sp.tasks_of(MIXED, sp.Step(sp.phase_index("Sync"), 0, "Sync"))
    assert [t.obj.ref.namespace for t in chosen if t.obj.ref.kind == "ConfigMap"] == [
        "alpha",
        "zeta",
        "zeta",
    ]
