"""The server's request metrics: route templates (never paths), codes, streams left out."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from driftless.server.metrics import RequestMetrics, metrics_app


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _item(request: Request) -> Response:
    return PlainTextResponse(request.path_params["name"])


async def _events(_: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"data: x\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


def _client() -> TestClient:
    app = Starlette(
        routes=[Route("/t/apps/{name}", _item), Route("/t/events", _events)],
        middleware=[Middleware(RequestMetrics)],
    )
    return TestClient(app)


def test_requests_are_counted_by_route_template_and_code() -> None:
    route = "/t/apps/{name}"
    before = _value("driftless_server_requests_total", method="GET", route=route, code="200")
    other = _value("driftless_server_requests_total", method="GET", route="other", code="404")
    client = _client()
    for name in ("a", "b", "token-ghp_SECRET"):
        assert client.get(f"/t/apps/{name}").status_code == 200
    assert client.get("/t/nowhere/ghp_SECRET").status_code == 404
    after = _value("driftless_server_requests_total", method="GET", route=route, code="200")
    assert after == before + 3
    assert (
        _value("driftless_server_requests_total", method="GET", route="other", code="404")
        == other + 1
    )
    exposition = client.get("/t/apps/x").text + _scrape()
    assert "ghp_SECRET" not in exposition


def test_an_invented_method_is_other_and_streams_have_no_duration() -> None:
    client = _client()
    timed = _value("driftless_server_request_duration_seconds_count", route="/t/events")
    counted = _value("driftless_server_requests_total", method="GET", route="/t/events", code="200")
    assert client.get("/t/events").status_code == 200
    assert _value("driftless_server_request_duration_seconds_count", route="/t/events") == timed
    assert (
        _value("driftless_server_requests_total", method="GET", route="/t/events", code="200")
        == counted + 1
    )
    client.request("BREW", "/t/apps/x")
    assert (
        _value(
            "driftless_server_requests_total", method="other", route="/t/apps/{name}", code="405"
        )
        >= 1
    )


def _scrape() -> str:
    response = TestClient(metrics_app()).get("/metrics")
    assert response.status_code == 200
    return response.text


def test_the_whole_template_of_a_route_in_nested_fastapi_routers() -> None:
    inner = APIRouter()

    @inner.get("/apps/{name}")
    async def one(name: str) -> dict[str, str]:
        return {"name": name}

    middle = APIRouter()
    middle.include_router(inner)
    api = APIRouter(prefix="/t2/api/v1")
    api.include_router(middle)
    app = FastAPI()
    app.include_router(api)
    app.add_middleware(RequestMetrics)
    route = "/t2/api/v1/apps/{name}"
    before = _value("driftless_server_requests_total", method="GET", route=route, code="200")
    assert TestClient(app).get("/t2/api/v1/apps/x").status_code == 200
    after = _value("driftless_server_requests_total", method="GET", route=route, code="200")
    assert after == before + 1
