"""The API vocabulary has one home: reasons in ``core.reasons``, names in ``core.wellknown``.

Users match condition and Event reasons in ``kubectl wait`` scripts and
alerts, and select objects by driftless's annotations and labels, so these
tests read the source (an AST scan of ``src/driftless``) the way a reviewer
would: no reason is a literal where it is emitted, every ``Reason`` member
is emitted and documented, and no annotation, label or finalizer name is
spelled outside ``core/wellknown.py``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from driftless.core import vocabulary, wellknown
from driftless.core.models import Application, OperationState
from driftless.core.reasons import Reason
from driftless.render import helm_hooks

SRC = Path(__file__).resolve().parents[2] / "src" / "driftless"
README = Path(__file__).resolve().parents[2] / "README.md"
REASONS_MODULE = SRC / "core" / "reasons.py"
WELLKNOWN_MODULE = SRC / "core" / "wellknown.py"

# Calls whose ``reason=`` is free text, never a condition or Event reason.
FREE_TEXT_REASONS = {
    # Why auto-sync did or did not start ("self-heal backoff"): read by tests and logs.
    "AutoSyncDecision",
}
# Positional index of the reason argument of the functions that emit one.
REASON_ARGUMENT = {"record": 2, "set_condition": 3}


@dataclass(frozen=True)
class Found:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


@cache
def _modules() -> tuple[tuple[str, ast.Module], ...]:
    return tuple(
        (str(path.relative_to(SRC.parent)), ast.parse(path.read_text(), str(path)))
        for path in sorted(SRC.rglob("*.py"))
    )


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _literals(expr: ast.expr) -> Iterator[ast.expr]:
    """String literals an expression evaluates to (``Reason("X")`` is not a literal)."""
    if isinstance(expr, ast.JoinedStr) or (
        isinstance(expr, ast.Constant) and isinstance(expr.value, str)
    ):
        yield expr
    elif isinstance(expr, ast.IfExp):
        yield from _literals(expr.body)
        yield from _literals(expr.orelse)
    elif isinstance(expr, ast.BoolOp):
        for value in expr.values:
            yield from _literals(value)


def _assigned(scope: ast.AST, name: str) -> Iterator[ast.expr]:
    """The values assigned to ``name`` inside ``scope`` (a function)."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == name:
                    yield node.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value is not None
        ):
            yield node.value


def _emitted(expr: ast.expr, scope: ast.AST) -> Iterator[ast.expr]:
    """The expressions a reason argument may come from (a local variable followed once)."""
    yield expr
    if isinstance(expr, ast.Name):
        yield from _assigned(scope, expr.id)


def _functions(tree: ast.Module) -> Iterator[tuple[ast.AST, ast.Call]]:
    """(innermost enclosing function or module, call) for every call."""

    def visit(node: ast.AST, scope: ast.AST) -> Iterator[tuple[ast.AST, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else scope
            if isinstance(child, ast.Call):
                yield scope, child
            yield from visit(child, inner)

    yield from visit(tree, tree)


def _reason_arguments(call: ast.Call) -> Iterator[ast.expr]:
    for keyword in call.keywords:
        if keyword.arg == "reason":
            yield keyword.value
    index = REASON_ARGUMENT.get(_callee(call))
    positional = [a for a in call.args if not isinstance(a, ast.Starred)]
    if index is not None and len(positional) == len(call.args) and len(call.args) > index:
        yield call.args[index]


def _literal_reasons() -> list[Found]:
    found: set[Found] = set()
    for path, tree in _modules():
        for scope, call in _functions(tree):
            if _callee(call) in FREE_TEXT_REASONS:
                continue
            for argument in _reason_arguments(call):
                for source in _emitted(argument, scope):
                    found |= {
                        Found(path, lit.lineno, ast.unparse(lit)) for lit in _literals(source)
                    }
        for klass in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            if klass.name in FREE_TEXT_REASONS:
                continue
            for statement in klass.body:
                target, value = _class_attribute(statement)
                if target == "reason" and value is not None:
                    found |= {Found(path, lit.lineno, ast.unparse(lit)) for lit in _literals(value)}
    return sorted(found, key=str)


def _class_attribute(statement: ast.stmt) -> tuple[str, ast.expr | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        return (target.id if isinstance(target, ast.Name) else "", statement.value)
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return "", None


def _reason_constants_elsewhere() -> list[Found]:
    """Module-level ``NAME = "<a reason>"`` outside core/reasons.py: a second home."""
    values = {str(member) for member in Reason}
    found = []
    for path, tree in _modules():
        if SRC.parent / path == REASONS_MODULE:
            continue
        for statement in tree.body:
            target, value = _class_attribute(statement)
            if (
                target.isupper()
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and value.value in values
            ):
                found.append(Found(path, statement.lineno, f"{target} = {value.value!r}"))
    return found


def test_no_reason_is_emitted_as_a_literal() -> None:
    """A reason passed to an error, a condition or the event recorder is a ``Reason``."""
    assert [str(f) for f in _literal_reasons()] == []


def test_no_module_spells_a_reason_outside_core_reasons() -> None:
    assert [str(f) for f in _reason_constants_elsewhere()] == []


def _members_used() -> set[str]:
    used = set()
    for path, tree in _modules():
        if SRC.parent / path == REASONS_MODULE:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Reason"
            ):
                used.add(node.attr)
            elif (
                isinstance(node, ast.Call)
                and _callee(node) == "Reason"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used.add(Reason(node.args[0].value).name)
    return used


@pytest.mark.parametrize("member", list(Reason), ids=str)
def test_every_reason_is_emitted_somewhere(member: Reason) -> None:
    """No dead constant: a documented reason a user can never see is a lie."""
    assert member.name in _members_used()


def _reasons_table() -> dict[str, str]:
    """``reason -> meaning`` from the README's reasons table."""
    text = README.read_text()
    start = text.index("### Condition and Event reasons")
    end = text.index("\n#", start + 1)
    rows = re.findall(r"^\| `([A-Za-z]+)` \| (.+?) \|", text[start:end], flags=re.M)
    return dict(rows)


@pytest.mark.parametrize("member", list(Reason), ids=str)
def test_every_reason_is_documented_in_the_readme(member: Reason) -> None:
    assert _reasons_table().get(member.value, "").strip()


def test_the_readme_documents_no_reason_the_code_lacks() -> None:
    assert set(_reasons_table()) <= {m.value for m in Reason}


# An annotation or label key of driftless's domain, or a finalizer of it.
_WELL_KNOWN = re.compile(r"driftless\.dev/[a-z0-9][a-z0-9.-]*|[a-z0-9][a-z0-9.-]*\.driftless\.dev")


# ``driftless.dev/v1alpha1`` is an apiVersion, not an annotation: a typed request body
# spells it in a ``Literal`` (the OpenAPI document's enum), which takes no constant.
_API_VERSION = re.compile(r"driftless\.dev/v\d+(?:(?:alpha|beta)\d+)?")


# The development cluster is a tool of its own, not an API of driftless's objects:
# its stand-in ingress controller's name ("driftless.dev/devcluster-ingress") names
# an IngressClass controller, no annotation, label or finalizer.
NOT_THE_API = SRC / "devcluster"


def test_annotation_label_and_finalizer_names_live_only_in_wellknown() -> None:
    spelled = [
        Found(path, node.lineno, repr(node.value))
        for path, tree in _modules()
        if SRC.parent / path != WELLKNOWN_MODULE and NOT_THE_API not in (SRC.parent / path).parents
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _WELL_KNOWN.fullmatch(node.value)
        and not _API_VERSION.fullmatch(node.value)
    ]
    assert [str(f) for f in spelled] == []


def test_wellknown_spells_each_name_once() -> None:
    values = [v for k, v in vars(wellknown).items() if k.isupper()]
    assert len(values) == len(set(values))


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (vocabulary.SyncPhase, ["PreSync", "Sync", "PostSync", "SyncFail"]),
        (vocabulary.HookPhase, ["Running", "Succeeded", "Failed"]),
        (vocabulary.ResultCode, ["Pending", "Synced", "SyncFailed", "Pruned", "PruneSkipped"]),
        (vocabulary.HookDeletePolicy, ["BeforeHookCreation", "HookSucceeded", "HookFailed"]),
        (vocabulary.ObjectOption, ["Prune=false", "Replace=true"]),
        (vocabulary.AppSyncOption, ["CreateNamespace", "AllowTakeover"]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_vocabulary_values_are_the_ones_users_write(enum: type, values: list[str]) -> None:
    """Values are API: matched by scripts, stored in clusters. Never renamed."""
    assert [str(member) for member in enum] == values  # type: ignore[attr-defined]


def _row(kind: str, name: str, status: str, **more: object) -> dict[str, object]:
    """One ``operationState.resources`` row as the controller writes it."""
    return {
        "group": "",
        "version": "v1",
        "kind": kind,
        "namespace": "ns",
        "name": name,
        "status": status,
        **more,
    }


# Every value of the closed sets, as operation states in clusters hold them.
_STORED_OPERATION = {
    "operation": {
        "sync": {"prune": True, "dryRun": False, "resources": []},
        "initiatedBy": {"automated": True},
        "retry": 0,
    },
    "phase": "Running",
    "message": "",
    "startedAt": "2026-01-01T00:00:00Z",
    "revision": "abc",
    "step": {"phase": "PostSync", "wave": 2, "applied": True},
    "resources": [
        _row(
            "Job",
            "pre",
            "Synced",
            hookType="PreSync",
            hookPhase="Succeeded",
            syncPhase="PreSync",
            wave=0,
        ),
        _row("Job", "mid", "Synced", hookType="Sync", hookPhase="Failed", syncPhase="Sync"),
        _row(
            "Job",
            "post",
            "SyncFailed",
            hookType="PostSync",
            hookPhase="Running",
            syncPhase="PostSync",
            message="refused",
        ),
        _row("Job", "undo", "Pending", hookType="SyncFail", syncPhase="SyncFail", wave=1),
        _row("ConfigMap", "old", "PruneSkipped", message="Prune=false", syncPhase="Sync"),
        _row("ConfigMap", "gone", "Pruned", syncPhase="Sync"),
    ],
}


def test_a_stored_operation_state_round_trips_unchanged() -> None:
    """Every value an operation state holds in a cluster parses and is written back as is."""
    state = OperationState.model_validate(_STORED_OPERATION)
    assert state.to_api() == _STORED_OPERATION
    app = Application.model_validate(
        {"spec": {"source": {"repoURL": "https://x"}}, "status": {"operationState": state.to_api()}}
    )
    assert app.status.to_api()["operationState"] == _STORED_OPERATION


@pytest.mark.parametrize(
    "helm_annotations",
    [
        {"helm.sh/hook": "pre-install,post-upgrade", "helm.sh/hook-weight": "-1"},
        {"helm.sh/hook": "post-install", "helm.sh/hook-delete-policy": "hook-succeeded"},
        {"helm.sh/hook": "pre-upgrade"},
    ],
)
def test_mapped_helm_hooks_are_plain_yaml(helm_annotations: dict[str, str]) -> None:
    """Enum members never leak into manifests: ``driftless render`` prints them as YAML."""
    obj = {"kind": "Job", "metadata": {"name": "j", "annotations": dict(helm_annotations)}}
    mapped = helm_hooks.map_hook(obj)
    assert mapped is not None
    annotations = yaml.safe_load(yaml.safe_dump(mapped))["metadata"]["annotations"]
    assert annotations[wellknown.HOOK_ANNOTATION] in {"PreSync", "PostSync", "PreSync,PostSync"}
    assert all(type(v) is str for v in mapped["metadata"]["annotations"].values())
