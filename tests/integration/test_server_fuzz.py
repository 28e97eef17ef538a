"""Property-based fuzzing of the whole API (schemathesis) against a running server.

``driftless server`` runs on the dev cluster (``serving``: the real caches,
login and write routes); the fuzzer reads ``/api/openapi.json`` and sends, for
every operation in it, ``EXAMPLES`` requests generated from the operation's
schema over an authenticated session: path parameters, query strings and
bodies a client may send, both as the schema allows them (positive) and as
it does not (negative: wrong types, out of range, missing fields). Random
names mostly miss, so the operations on one application also get cases
aimed at a real one (``TARGET``, a manual Application: a sync is accepted
once, then refused while its operation is pending). Its source is a real
repository served over HTTP (``git_http_server``), so a fuzzed revision of
its diff or manifests reaches git and the planner (a revision git cannot take
is a 422 naming it, one it cannot find a 422 saying so). Every response
must:

* not be a 5xx (``not_a_server_error``): bad input is a 4xx naming it;
* conform to the schema (``status_code_conformance``,
  ``response_schema_conformance``, ``content_type_conformance``): a
  documented status, with the documented body;
* carry no traceback text and the one error shape when it is an error.

Bounded: ``EXAMPLES`` cases per operation, each within ``CASE_DEADLINE_MS``
(a plan of the small target repository is fetched once, then from the
server's clone). Deterministic: Hypothesis derandomized (the same cases every run), no example
database. Three operations are left out, each tested by its own tests: the
event streams (``GET /stream`` and an app's ``GET .../stream`` never end: a
fuzzer reading them would wait forever) and logout (``DELETE /session``
would end the session the other cases use).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import APPS_NAMESPACE, application, create_app
from tests.integration.server_inprocess import serving

pytestmark = pytest.mark.integration

EXAMPLES = 25
CASE_DEADLINE_MS = 5000
REQUEST_TIMEOUT = 10.0
TARGET = {"namespace": APPS_NAMESPACE, "name": "fuzzed"}
SKIPPED = {
    ("GET", "/api/v1/stream"),
    ("GET", "/api/v1/applications/{namespace}/{name}/stream"),
    ("DELETE", "/api/v1/session"),
}
ERROR_CODES = {"NotFound", "Invalid", "Conflict", "Unauthorized", "Forbidden", "Unavailable"}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.response_schema_conformance,
    checks.content_type_conformance,
]


def _plain_errors(response: Any) -> None:
    """No traceback, ever; an error is ``{"error": {"code", "message"}}`` (not a 500's)."""
    text = response.text
    assert "Traceback" not in text and 'File "' not in text, text[:500]
    if response.status_code >= 400:
        body = json.loads(text)
        assert set(body) == {"error"}, text[:500]
        assert body["error"]["code"] in ERROR_CODES, text[:500]
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def _fuzz(url: str, password: str) -> tuple[list[str], Counter[tuple[str, int]]]:
    """Fuzz every operation; the failures found (empty when none), one line each, and
    how many of the target's diff and manifests cases answered each status."""
    session = requests.Session()
    login = session.post(
        f"{url}/api/v1/session",
        json={"username": "admin", "password": password},
        timeout=REQUEST_TIMEOUT,
    )
    assert login.status_code == 200, login.text
    schema = schemathesis.openapi.from_url(f"{url}/api/openapi.json")
    failures: list[str] = []
    fuzzed: list[str] = []
    planned: Counter[tuple[str, int]] = Counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if (method, path) in SKIPPED:
            continue
        fuzzed.append(f"{method} {path}")
        strategy = operation.as_strategy() | operation.as_strategy(
            generation_mode=GenerationMode.NEGATIVE
        )
        if "{name}" in path and method != "DELETE":  # a delete would end the others' target
            strategy |= operation.as_strategy(path_parameters=TARGET)

        @hypothesis.settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=CASE_DEADLINE_MS,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @hypothesis.given(case=strategy)
        def run(case: Any) -> None:
            response = case.call(base_url=url, session=session, timeout=REQUEST_TIMEOUT)
            case.validate_response(response, checks=CHECKS)
            _plain_errors(response)
            view = case.operation.path.rpartition("/")[2]
            if case.path_parameters == TARGET and view in ("diff", "manifests"):
                planned[(view, response.status_code)] += 1

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # one line per failing operation
            first = str(exc).strip().splitlines()[:12]
            failures.append(f"{method} {path}: {type(exc).__name__}: " + " | ".join(first))
    assert len(fuzzed) >= 10, f"too few operations in the schema: {fuzzed}"
    # The session survived every case: the fuzzer was authenticated throughout.
    assert session.get(f"{url}/api/v1/session", timeout=REQUEST_TIMEOUT).status_code == 200
    return failures, planned


CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: fuzzed
data:
  color: blue
"""


def _get(url: str, session: requests.Session) -> requests.Response:
    return session.get(url, timeout=REQUEST_TIMEOUT)


async def test_every_operation_survives_fuzzing(
    kube: KubeClient, make_git_repo: MakeGitRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_git_repo({"cm.yaml": CONFIGMAP})
    url = git_http_server.publish(repo.path, "fuzzed.git")
    target = application(TARGET["name"], url, automated=False)
    await create_app(kube, target)
    try:
        async with serving(kube) as served:
            password = await served.initial_password()
            # The target's plan reaches git and the renderer: its manifests are the
            # repository's (so fuzzed revisions are planned, not refused at once).
            session = requests.Session()
            login = {"username": "admin", "password": password}
            await asyncio.to_thread(
                session.post, f"{served.url}/api/v1/session", json=login, timeout=REQUEST_TIMEOUT
            )
            path = f"{served.url}/api/v1/applications/{APPS_NAMESPACE}/{TARGET['name']}"
            rendered = await asyncio.to_thread(_get, f"{path}/manifests", session)
            assert rendered.status_code == 200, rendered.text
            assert [m["metadata"]["name"] for m in rendered.json()["manifests"]] == ["fuzzed"]
            unknown = await asyncio.to_thread(_get, f"{path}/diff?revision=no-such-branch", session)
            assert unknown.status_code == 422, unknown.text
            # The fuzzer is synchronous (requests): it runs in a thread while
            # this loop serves it.
            failures, planned = await asyncio.to_thread(_fuzz, served.url, password)
    finally:
        await kube.delete(API_VERSION, APPLICATION_KIND, TARGET["name"], APPS_NAMESPACE)
    assert not failures, "\n".join(failures)
    # The fuzzer's cases reached the planner: the target's diff and manifests were
    # planned from its repository (200), fuzzed revisions refused (422).
    assert {status for (_, status) in planned} >= {200, 422}, planned
    assert {view for (view, status) in planned if status == 200} == {"diff", "manifests"}, planned
