"""Health assessors against YAML fixtures: each document names the expected verdict."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from driftless.core.models import HealthStatusCode
from driftless.health import HealthResult, assess, worst

FIXTURES = Path(__file__).parent / "health_fixtures"


def _cases() -> list[Any]:
    cases = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            obj = doc["object"]
            case_id = f"{path.stem}-{index}-{obj['kind']}-{doc['expect']}"
            cases.append(pytest.param(obj, doc["expect"], id=case_id))
    return cases


@pytest.mark.parametrize(("obj", "expected"), _cases())
def test_fixture(obj: dict[str, Any], expected: str) -> None:
    assert assess(obj).status == HealthStatusCode(expected)


def test_worst_wins() -> None:
    results = [
        HealthResult(HealthStatusCode.HEALTHY),
        HealthResult(HealthStatusCode.PROGRESSING),
        HealthResult(HealthStatusCode.DEGRADED, "bad"),
    ]
    assert worst(results) == HealthResult(HealthStatusCode.DEGRADED, "bad")
    assert worst([]).status == HealthStatusCode.HEALTHY
