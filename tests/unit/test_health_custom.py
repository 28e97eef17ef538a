"""Custom CEL health checks: fixture tables, configuration errors, evaluation bounds.

Each ``health_fixtures/custom/*.yaml`` holds ``checks`` (the configuration, as
``parse_custom_checks`` takes it) and ``cases`` (objects with the expected
status and, optionally, a substring of the message).
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

from driftless.core.errors import StallingError
from driftless.core.models import HealthStatusCode
from driftless.health import (
    CustomHealthCheck,
    CustomHealthCheckError,
    HealthRegistry,
    HealthRule,
    assess,
    parse_custom_checks,
)
from driftless.health import expressions as cel_expr

FIXTURES = Path(__file__).parent / "health_fixtures" / "custom"


def _cases() -> list[Any]:
    cases = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        table = yaml.safe_load(path.read_text())
        registry = HealthRegistry(parse_custom_checks(table["checks"]))
        for index, case in enumerate(table["cases"]):
            case_id = f"{path.stem}-{index}-{case['object']['kind']}-{case['expect']}"
            cases.append(pytest.param(registry, case, id=case_id))
    return cases


def test_the_fixture_tables_are_there() -> None:
    # An empty glob would parametrize test_fixture with nothing and pass silently.
    assert len(sorted(FIXTURES.glob("*.yaml"))) >= 1
    assert len(_cases()) >= 10


@pytest.mark.parametrize(("registry", "case"), _cases())
def test_fixture(registry: HealthRegistry, case: dict[str, Any]) -> None:
    result = registry.assess(case["object"])
    assert result.status == HealthStatusCode(case["expect"]), result.message
    assert case.get("message", "") in result.message


def _one(kind: str = "Widget", **rule: Any) -> list[dict[str, Any]]:
    return [{"group": "example.com", "kind": kind, "rules": [rule]}]


# (configuration, substring the error message must contain)
INVALID: list[tuple[Any, str]] = [
    (
        _one(when="self.status.phase ==", status="Healthy"),
        "healthChecks[0] (example.com/Widget): rules[0]: when: invalid CEL: ERROR: <input>:1:21",
    ),
    (_one(when="self.status.phase = 'x'", status="Healthy"), "token recognition error"),
    (_one(when="true", status="Healthy", message="'a' +"), "rules[0]: message: invalid CEL"),
    (_one(when="lower(self.kind) == 'x'", status="Healthy"), "unknown function 'lower'"),
    (_one(when="object.status.ready", status="Healthy"), "unknown variable 'object'"),
    (_one(when="true", status="Fine"), "status: 'Fine' is not one of Healthy, Progressing"),
    (_one(when="true", status="Missing"), "is not one of"),
    (_one(status="Healthy"), "rules[0]: when: required"),
    (_one(when=True, status="Healthy"), "when: must be a string"),
    (_one(when="true", status="Healthy", mesage="'typo'"), "unexpected keys mesage"),
    (_one(when="", status="Healthy"), "empty expression"),
    (_one(when="1 == 1 && " * 500 + "true", status="Healthy"), "longer than 4096"),
    (
        _one(
            when="self.a.all(a, self.b.all(b, self.c.all(c, self.d.exists(d, true))))",
            status="Healthy",
        ),
        "nested 4 deep",
    ),
    (_one(when="(" * 200 + "true" + ")" * 200, status="Healthy"), "invalid CEL"),
    ([{"group": "example.com", "kind": "Widget", "rules": []}], "rules: required"),
    ([{"group": "example.com", "rules": [{"when": "true", "status": "Healthy"}]}], "kind:"),
    (
        [{"apiVersion": "example.com/v1", "group": "example.com", "kind": "W", "current": "true"}],
        "group or apiVersion, not both",
    ),
    (
        [
            {
                "apiVersion": "example.com/v1",
                "kind": "W",
                "current": "true",
                "rules": [{"when": "true", "status": "Healthy"}],
            }
        ],
        "give rules or current, not both",
    ),
    ([{"apiVersion": "example.com/v1", "kind": "W", "failed": "true"}], "current: required"),
    ([{"apiVersion": "example.com/v1", "kind": "W", "current": "status.ready +"}], "current:"),
    (_one(when="true", status="Healthy") * 2, "two health checks for example.com/Widget"),
    ("healthChecks: [", "not valid YAML"),
    ({"checks": []}, "unexpected keys checks"),
    ({"healthChecks": {"kind": "W"}}, "must be a list"),
    (["not a mapping"], "healthChecks[0]: must be a mapping"),
]


@pytest.mark.parametrize(("config", "expected"), INVALID)
def test_invalid_configuration_is_rejected_with_a_precise_message(
    config: Any, expected: str
) -> None:
    with pytest.raises(CustomHealthCheckError) as caught:
        parse_custom_checks(config)
    assert expected in str(caught.value)
    assert isinstance(caught.value, StallingError)


def test_yaml_text_and_empty_configurations_parse() -> None:
    text = """
healthChecks:
  - apiVersion: v1
    kind: ConfigMap
    rules:
      - {when: "has(self.data) && 'broken' in self.data", status: Degraded}
"""
    (check,) = parse_custom_checks(text)
    assert check.key == ("", "ConfigMap")
    assert parse_custom_checks(None) == []
    assert parse_custom_checks("") == []
    assert parse_custom_checks({"healthChecks": None}) == []


def test_checks_built_in_code_are_validated_too() -> None:
    with pytest.raises(CustomHealthCheckError, match="when: invalid CEL"):
        HealthRule(when="self.", status=HealthStatusCode.HEALTHY)
    rule = HealthRule(when="true", status=HealthStatusCode.HEALTHY)
    with pytest.raises(CustomHealthCheckError, match="two health checks"):
        HealthRegistry([CustomHealthCheck("", "Pod", (rule,))] * 2)


def test_expressions_are_compiled_once() -> None:
    source = "self.status.cached == 'compiled-once-marker'"
    before = cel_expr.compile_expression.cache_info()
    checks = parse_custom_checks(
        _one(when=source, status="Healthy") + _one("Other", when=source, status="Degraded")
    )
    after = cel_expr.compile_expression.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits >= 1
    registry = HealthRegistry(checks)
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "status": {"cached": "compiled-once-marker"},
    }
    assert registry.assess(obj).status == HealthStatusCode.HEALTHY
    assert cel_expr.compile_expression.cache_info().misses == after.misses


def test_module_level_assess_uses_built_ins_only() -> None:
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "w"}}
    registry = HealthRegistry(parse_custom_checks(_one("Ingress", when="true", status="Healthy")))
    assert assess(ingress).status == HealthStatusCode.PROGRESSING
    assert HealthRegistry().assess(ingress).status == HealthStatusCode.PROGRESSING
    assert registry.assess(ingress).status == HealthStatusCode.PROGRESSING  # group differs
    (check,) = parse_custom_checks(
        [{"group": "networking.k8s.io", "kind": "Ingress", "current": "true"}]
    )
    assert HealthRegistry([check]).assess(ingress).status == HealthStatusCode.HEALTHY


def _widget(status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "status": status,
    }


def _registry(when: str) -> HealthRegistry:
    return HealthRegistry(parse_custom_checks(_one(when=when, status="Healthy")))


def test_too_deep_objects_are_not_evaluated() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(20_000):  # deep enough to crash the evaluator's converter
        cursor["a"] = {}
        cursor = cursor["a"]
    result = _registry("has(self.status.a)").assess(_widget(deep))
    assert result.status == HealthStatusCode.UNKNOWN
    assert "nested deeper than" in result.message


def test_too_large_objects_are_not_evaluated() -> None:
    result = _registry("true").assess(_widget({"items": list(range(200_000))}))
    assert result.status == HealthStatusCode.UNKNOWN
    assert "too large" in result.message


def test_costly_comprehensions_are_refused_before_evaluation() -> None:
    when = "self.status.l.all(a, self.status.l.map(b, b + a).filter(c, c > 0).size() > 0)"
    registry = _registry(when)
    small = registry.assess(_widget({"l": list(range(1, 10))}))
    assert small.status == HealthStatusCode.HEALTHY
    big = registry.assess(_widget({"l": list(range(1, 3000))}))
    assert big.status == HealthStatusCode.UNKNOWN
    assert "too costly" in big.message


def test_managed_fields_are_not_bound() -> None:
    obj = _widget({"ok": True})
    obj["metadata"]["managedFields"] = [
        {"manager": "m", "fieldsV1": {str(i): {} for i in range(5000)}}
    ]
    registry = _registry("self.status.ok && !has(self.metadata.managedFields)")
    assert registry.assess(obj).status == HealthStatusCode.HEALTHY


class PanicException(BaseException):
    """Stands for pyo3's PanicException, which cannot be imported."""


class _Program:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def execute(self, context: object) -> object:
        raise self.error


def test_a_panicking_evaluator_gives_an_evaluation_error() -> None:
    expression = cel_expr.Expression("x", 0, _Program(PanicException("index out of range")))  # type: ignore[arg-type]
    bindings = cel_expr.bind({"kind": "Widget"})
    with pytest.raises(cel_expr.EvaluationError, match="evaluator failed: index out of range"):
        cel_expr.evaluate(expression, bindings)


def test_interrupts_are_not_swallowed() -> None:
    expression = cel_expr.Expression("x", 0, _Program(KeyboardInterrupt()))  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        cel_expr.evaluate(expression, cel_expr.bind({"kind": "Widget"}))


@pytest.mark.parametrize(
    "source",
    [
        "self.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
        "size(self.metadata.name) > 0 && self.metadata.name.startsWith('w')",
        "self.metadata.name.matches('^w[a-z]*$') && self.kind.endsWith('get')",
        "type(self.status) == map && int('3') + 1 == 4 && double(1) == 1.0",
        "self.status.conditions.map(c, c.type).filter(t, t != '').size() == 1",
        "timestamp(self.status.at).getFullYear() == 2026 && duration('90s') > duration('1m')",
        "self.status.conditions.exists_one(c, c.type == 'Ready') && dyn(1) == 1",
        "string(uint(1)) == '1' && bytes('a') == b'a'"
        " && 'Ready' in self.status.conditions.map(c, c.type)",
    ],
)
def test_the_offered_standard_library_works(source: str) -> None:
    obj = _widget(
        {"conditions": [{"type": "Ready", "status": "True"}], "at": "2026-03-01T10:00:00Z"}
    )
    obj["metadata"]["name"] = "widget"
    obj["kind"] = "Widget"
    assert _registry(source).assess(obj).status == HealthStatusCode.HEALTHY


@pytest.mark.parametrize(
    ("source", "exponent", "variables"),
    [
        ("self.kind == 'W'", 0, {"self"}),
        ("status.conditions.exists(c, c.type == 'Ready')", 1, {"status"}),
        ("spec.l.map(x, x).size() > 0 && metadata.name != ''", 2, {"spec", "metadata"}),
        ("self.a.exists(x, self.b.filter(y, y == x).size() > 0)", 3, {"self"}),
        ("self.a.exists(x, x) || self.b.all(y, y)", 1, {"self"}),
        ("'.map(' + self.kind + '.all(' == ''", 0, {"self"}),  # macros inside strings
        ("self.a.map(x, x > 0, x * 2).size() > 0", 2, {"self"}),  # three-argument map
    ],
)
def test_expression_shape(source: str, exponent: int, variables: set[str]) -> None:
    expression = cel_expr.compile_expression(source)
    assert expression.exponent == exponent
    assert expression.variables == variables
