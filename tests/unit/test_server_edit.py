"""``server.routes_edit`` without a cluster: the refusals made before any API call, an API
server that does not answer, and the optimistic-concurrency rule (``_guard``)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from driftless.server import routes_edit
from driftless.server.app import create_app, new_state
from driftless.server.errors import ConflictError
from driftless.server.settings import ServerSettings
from tests.fixtures.server_http import idle_planning, running, unreachable_client

SPEC = {"source": {"repoURL": "https://git.example/team/app.git"}, "destination": {}}


@pytest_asyncio.fixture
async def base() -> AsyncIterator[str]:
    """A server managing apps in namespace ``apps`` only, whose API server never answers;
    its cache holds app ``apps/web`` (authorization knows its project)."""
    settings = ServerSettings(port=0, auth=False, controller_namespace="driftless")
    client = unreachable_client()
    state = new_state(settings, client, "apps", idle_planning(client))
    web = {"metadata": {"namespace": "apps", "name": "web", "resourceVersion": "1"}, "spec": SPEC}
    state.caches._apps.upsert(web)
    async with running(create_app(settings, state)) as url:
        yield url
    await client.close()


async def _call(base: str, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.request(method, base + path, json=body) as response,
    ):
        return response.status, await response.json()


async def test_a_namespace_the_server_does_not_manage_is_refused_before_any_call(
    base: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="driftless.server.audit")
    body = {"metadata": {"name": "web", "namespace": "elsewhere"}, "spec": SPEC}
    status, answer = await _call(base, "POST", "/api/v1/applications", body)
    assert status == 422, answer
    assert answer["error"]["message"] == (
        "body.metadata.namespace: this server manages applications in namespace apps only"
    )
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith('{"audit"')]
    audit = json.loads(lines[-1])
    assert audit == {
        "audit": "write",
        "user": "admin",  # without auth, every request is the admin's
        "method": "none",
        "action": "create",
        "app": "elsewhere/web",
        "result": "refused",
        "code": "Invalid",
    }


async def test_an_api_server_that_does_not_answer_is_503(base: str) -> None:
    body = {"metadata": {"name": "web"}, "spec": SPEC}
    status, answer = await _call(base, "POST", "/api/v1/applications?dryRun=true", body)
    assert status == 503, answer
    assert answer["error"] == {
        "code": "Unavailable",
        "message": "the Kubernetes API server is unavailable",
    }


async def test_a_put_needs_the_resource_version_it_was_made_on(base: str) -> None:
    status, answer = await _call(
        base, "PUT", "/api/v1/applications/apps/web", {"metadata": {}, "spec": SPEC}
    )
    assert status == 422
    assert answer["error"]["message"] == "body.metadata.resourceVersion: Field required"


CURRENT = {"metadata": {"resourceVersion": "12", "generation": 3}}


@pytest.mark.parametrize(
    ("given", "guard"),
    [
        ({}, "12"),  # PATCH without one: the version read now
        ({"resourceVersion": "12"}, "12"),
        ({"resourceVersion": "9", "generation": 3}, "12"),  # only status changed since
        ({"resourceVersion": "9"}, None),
        ({"resourceVersion": "9", "generation": 2}, None),  # the spec changed since
    ],
)
def test_an_edit_is_guarded_by_what_was_read(given: dict[str, Any], guard: str | None) -> None:
    metadata = routes_edit.EditMetadata.model_validate(given)
    if guard is None:
        with pytest.raises(ConflictError, match="changed since it was read"):
            routes_edit._guard(CURRENT, metadata, "apps", "web")
    else:
        assert routes_edit._guard(CURRENT, metadata, "apps", "web") == guard
