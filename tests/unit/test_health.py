"""Built-in health assessors against YAML fixtures, and how verdicts fold.

Each document of ``health_fixtures/<kind>.yaml`` holds a live object as the API
server returns it, the status driftless must report under ``expect`` and,
optionally, a substring of the message under ``message``.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

from driftless.core.models import HealthStatusCode
from driftless.health import SEVERITY, HealthResult, app_health, assess, worst
from driftless.health.registry import BUILTIN

FIXTURES = Path(__file__).parent / "health_fixtures"


def _documents() -> list[tuple[str, int, dict[str, Any]]]:
    return [
        (path.stem, index, doc)
        for path in sorted(FIXTURES.glob("*.yaml"))
        for index, doc in enumerate(yaml.safe_load_all(path.read_text()))
    ]


def test_the_fixture_tables_are_there() -> None:
    # An empty glob would parametrize the fixture tests with nothing and pass silently.
    assert len(_documents()) >= 20


def _cases() -> list[Any]:
    return [
        pytest.param(doc, id=f"{stem}-{index}-{doc['object']['kind']}-{doc['expect']}")
        for stem, index, doc in _documents()
    ]


@pytest.mark.parametrize("case", _cases())
def test_fixture(case: dict[str, Any]) -> None:
    result = assess(case["object"])
    assert result.status == HealthStatusCode(case["expect"]), result.message
    assert case.get("message", "") in result.message


# Every status each built-in assessor can give; the fixtures must show each one.
_H, _P, _D, _S, _U = "Healthy", "Progressing", "Degraded", "Suspended", "Unknown"
BRANCHES = {
    "Deployment": {_H, _P, _D, _S, _U},
    "StatefulSet": {_H, _P},
    "DaemonSet": {_H, _P},
    "ReplicaSet": {_H, _P, _D},
    "Pod": {_H, _P, _D, _U},
    "Job": {_H, _P, _D, _S},
    "CronJob": {_H, _S},
    "Service": {_H, _P},
    "Ingress": {_H, _P},
    "PersistentVolumeClaim": {_H, _P, _D},
    "HorizontalPodAutoscaler": {_H, _P, _D, _S},
    "CustomResourceDefinition": {_H, _P, _D},
    "APIService": {_H, _P},
    "Namespace": {_H, _P, _D},
}


def test_fixtures_cover_every_branch_of_every_builtin_kind() -> None:
    covered: dict[str, set[str]] = {}
    for _, _, doc in _documents():
        covered.setdefault(doc["object"]["kind"], set()).add(doc["expect"])
    assert {kind for _, kind in BUILTIN} == set(BRANCHES)
    for kind, statuses in BRANCHES.items():
        assert statuses <= covered.get(kind, set()), kind


def test_worst_wins_and_ties_keep_the_first() -> None:
    results = [
        HealthResult(HealthStatusCode.HEALTHY),
        HealthResult(HealthStatusCode.PROGRESSING),
        HealthResult(HealthStatusCode.DEGRADED, "bad"),
        HealthResult(HealthStatusCode.DEGRADED, "worse?"),
    ]
    assert worst(results) == HealthResult(HealthStatusCode.DEGRADED, "bad")
    assert worst([]).status == HealthStatusCode.HEALTHY


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["Healthy", "Suspended"], "Suspended"),
        (["Suspended", "Progressing"], "Progressing"),
        (["Progressing", "Unknown"], "Unknown"),
        (["Unknown", "Missing"], "Missing"),
        (["Missing", "Degraded"], "Degraded"),
        (["Healthy", "Healthy"], "Healthy"),
    ],
)
def test_severity_order(statuses: list[str], expected: str) -> None:
    results = [HealthResult(HealthStatusCode(s)) for s in statuses]
    assert worst(results).status == HealthStatusCode(expected)
    assert set(SEVERITY) == set(HealthStatusCode)


def test_app_health_names_the_worst_resource_and_counts_the_rest() -> None:
    verdict = app_health(
        {
            "Deployment web": HealthResult(HealthStatusCode.DEGRADED, "rollout stuck"),
            "Service web": HealthResult(HealthStatusCode.HEALTHY),
            "Job migrate": HealthResult(HealthStatusCode.DEGRADED, "job failed"),
            "Pod p": HealthResult(HealthStatusCode.PROGRESSING, "starting"),
        }
    )
    assert verdict == HealthResult(
        HealthStatusCode.DEGRADED, "Deployment web: rollout stuck (and 1 more Degraded)"
    )


def test_app_health_of_healthy_and_empty_apps() -> None:
    ok = HealthResult(HealthStatusCode.HEALTHY, "fine")
    assert app_health({"a": ok, "b": ok}) == HealthResult(
        HealthStatusCode.HEALTHY, "2 resources healthy"
    )
    assert app_health({}).status == HealthStatusCode.HEALTHY
