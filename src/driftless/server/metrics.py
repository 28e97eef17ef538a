"""The server's metrics and its own ``/metrics`` listener.

``driftless server --metrics-address HOST:PORT`` (off by default; ``driftless
install --with-server`` sets ``:8084``) serves ``GET /metrics`` on a listener
of its own, never on the public port: app names and request counts are not
for anonymous callers, and a scraper needs no login. It serves
prometheus-client's default registry: this module's series, and the
process-wide ones (Kubernetes requests, git, renders) of the server's plans.

Series:

* ``driftless_server_requests_total{method, route, code}``: HTTP requests by
  route template (``/api/v1/applications/{namespace}/{name}``, never the
  path a caller wrote: bounded cardinality), method and status code; a
  request no route matched (the UI's files, 404s) is ``route="other"``.
* ``driftless_server_request_duration_seconds{route}``: time to the end of
  the response, except event streams (their lifetime is no latency).
* ``driftless_server_sse_streams``: event streams open now.
* ``driftless_server_plan_requests_total{kind, outcome}``: diff and
  manifests requests (``kind`` ``diff`` or ``manifests``; ``outcome``
  ``success`` or ``failure``), answered from a plan made for them, shared
  or kept.
* ``driftless_server_plan_duration_seconds{kind}``: plans and renders made.

``RequestMetrics`` is a pure ASGI middleware (no buffering: streams flow).
"""

from __future__ import annotations

import asyncio
import socket
import time
import weakref
from collections.abc import Iterator, Sized
from contextlib import contextmanager
from typing import Any, Literal

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from driftless.controller.endpoints import HttpListener, listen, metrics_response

PlanKind = Literal["diff", "manifests"]
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_ROUTE = "other"

REQUESTS = Counter(
    "driftless_server_requests",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "code"],
)
DURATION = Histogram(
    "driftless_server_request_duration_seconds",
    "Time to serve an HTTP request (event streams excluded), by route template.",
    ["route"],
)
PLAN_REQUESTS = Counter(
    "driftless_server_plan_requests",
    "Diff and manifests requests, by kind and outcome.",
    ["kind", "outcome"],
)
PLAN_DURATION = Histogram(
    "driftless_server_plan_duration_seconds",
    "Duration of the plans (diff) and renders (manifests) made for requests.",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)


def route_of(scope: Scope) -> str:
    """The route template that matched, or ``other``. Pure.

    FastAPI keeps included routers nested: the matched route's own ``path``
    lacks their prefixes (``/applications`` for ``/api/v1/applications``), so
    the whole template is read from the route context FastAPI leaves in the
    scope when it is there.
    """
    fastapi = scope.get("fastapi")
    context = fastapi.get("effective_route_context") if isinstance(fastapi, dict) else None
    for path in (getattr(context, "path_format", None), getattr(scope.get("route"), "path", None)):
        if isinstance(path, str) and path:
            return path
    return OTHER_ROUTE


def method_of(scope: Scope) -> str:
    """The request's method, or ``other`` for any a client invented. Pure."""
    method = str(scope.get("method", "")).upper()
    return method if method in _METHODS else "other"


class RequestMetrics:
    """Count every HTTP request by route template and code (see the module contract)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering
        stream = False

        async def sending(message: Message) -> None:
            nonlocal status, stream
            if message["type"] == "http.response.start":
                status = int(message["status"])
                stream = _is_event_stream(message.get("headers") or [])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_of(scope)
            REQUESTS.labels(method_of(scope), route, str(status)).inc()
            if not stream:
                DURATION.labels(route).observe(time.perf_counter() - started)


def _is_event_stream(headers: Any) -> bool:
    for name, value in headers:
        if bytes(name).lower() == b"content-type":
            return bytes(value).startswith(b"text/event-stream")
    return False


class _Streams(Collector):
    """``driftless_server_sse_streams``: the open streams of every live hub."""

    def __init__(self) -> None:
        self.hubs: weakref.WeakSet[Any] = weakref.WeakSet()

    def collect(self) -> Iterator[Metric]:
        total = sum(len(hub) for hub in list(self.hubs))
        yield GaugeMetricFamily("driftless_server_sse_streams", "Event streams open.", value=total)


_STREAMS = _Streams()
REGISTRY.register(_STREAMS)


def track_streams(hub: Sized) -> None:
    """Count the streams ``hub`` holds in ``driftless_server_sse_streams`` while it lives."""
    _STREAMS.hubs.add(hub)


@contextmanager
def plan_request(kind: PlanKind) -> Iterator[None]:
    """Count the block as one diff or manifests request, by outcome."""
    try:
        yield
    except asyncio.CancelledError:
        raise
    except BaseException:
        PLAN_REQUESTS.labels(kind, "failure").inc()
        raise
    PLAN_REQUESTS.labels(kind, "success").inc()


@contextmanager
def plan_timed(kind: PlanKind) -> Iterator[None]:
    """Time the block as one plan (or render) made."""
    started = time.perf_counter()
    try:
        yield
    finally:
        PLAN_DURATION.labels(kind).observe(time.perf_counter() - started)


def metrics_app() -> Starlette:
    """``GET /metrics`` and nothing else."""

    async def metrics(_: Request) -> Response:
        return metrics_response(REGISTRY)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])


def serve_metrics(host: str, port: int) -> HttpListener:
    """Bind ``host:port`` (``EndpointError``, one line, if it cannot be) and serve /metrics."""
    sock: socket.socket = listen(host, port, "metrics")
    listener = HttpListener(metrics_app(), sock)
    listener.start()
    return listener
