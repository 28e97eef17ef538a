"""The OpenAPI document says which operations need a session or an API token (401) and which
writes the cross-site guard may refuse (403), for every route the server has."""

from __future__ import annotations

from typing import Any

from driftless.server.app import create_app
from driftless.server.errors import document_refusals
from driftless.server.settings import COOKIE, SECURE_COOKIE, ServerSettings
from tests.fixtures.server_http import idle_state

OPEN = {
    ("/api/v1/session", "post"),
    ("/api/v1/session", "get"),
    ("/api/v1/session", "delete"),
    ("/api/v1/auth/methods", "get"),  # the login page asks how one may log in
}
METHODS = {"get", "post", "put", "patch", "delete"}


def _document(settings: ServerSettings) -> dict[str, Any]:
    return create_app(settings, idle_state(settings)).openapi()


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


async def test_every_protected_operation_lists_401_and_names_the_cookie() -> None:
    doc = _document(ServerSettings())
    protected = {
        key: op for key, op in _operations(doc).items()
        if key[0].startswith("/api/v1/") and key not in OPEN
    }  # fmt: skip
    assert len(protected) >= 10, sorted(protected)
    for key, operation in protected.items():
        assert "401" in operation["responses"], key
        assert operation.get("security"), key
    schemes = doc["components"]["securitySchemes"]
    cookies = [s for s in schemes.values() if s["type"] == "apiKey"]
    assert [s["name"] for s in cookies] == [COOKIE]
    assert all(s["in"] == "cookie" for s in cookies)
    # Or a project API token: either one (two requirement objects) on every protected one.
    assert schemes["ApiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A project API token (driftless project token create PROJECT ROLE).",
    }
    for key, operation in protected.items():
        assert {name for req in operation["security"] for name in req} == {
            "APIKeyCookie",
            "ApiToken",
        }, key
    # What anyone may call says so: the probes and the login need no session.
    for key in [("/healthz", "get"), ("/readyz", "get"), ("/api/v1/session", "post")]:
        assert not _operations(doc)[key].get("security"), key


async def test_the_scheme_names_the_host_prefixed_cookie_behind_https() -> None:
    doc = _document(ServerSettings(https_proxy=True))
    schemes = doc["components"]["securitySchemes"]
    assert [s["name"] for s in schemes.values() if s["type"] == "apiKey"] == [SECURE_COOKIE]


async def test_every_api_write_lists_403_and_no_read_does_for_csrf() -> None:
    operations = _operations(_document(ServerSettings()))
    writes = [k for k in operations if k[1] != "get" and k[0].startswith("/api/")]
    assert ("/api/v1/session", "post") in writes
    assert len(writes) >= 5
    for key in writes:
        assert "403" in operations[key]["responses"], key
    reads = [k for k in operations if k[1] == "get"]
    assert all(
        operations[k]["responses"].get("403", {}).get("description", "").find("cross-site") < 0
        for k in reads
    )


def test_an_operations_own_description_is_kept() -> None:
    schema = {
        "paths": {
            "/api/v1/x": {
                "post": {"security": [{"c": []}], "responses": {"401": {"description": "own"}}},
                "parameters": [{"name": "p"}],  # not an operation: left alone
            },
            "/healthz": {"get": {"responses": {"200": {"description": "ok"}}}},
        }
    }
    out = document_refusals(schema)
    post = out["paths"]["/api/v1/x"]["post"]["responses"]
    assert post["401"] == {"description": "own"}
    assert "cross-site" in post["403"]["description"]
    assert out["paths"]["/healthz"]["get"]["responses"] == {"200": {"description": "ok"}}
