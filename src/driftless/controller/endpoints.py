"""The controller's HTTP endpoints: ``/metrics``, ``/healthz``, ``/readyz``.

``driftless controller --metrics-address HOST:PORT`` (off by default;
``driftless install`` sets ``:8080``) serves, on a listener of its own:

* ``GET /metrics``: the Prometheus text format of the process-wide default
  registry plus the controller's own (``controller.metrics``).
* ``GET /healthz``: 200 ``ok`` while the event loop answers (the handler
  runs on the loop the workers run on, so a stuck loop fails the probe).
* ``GET /readyz``: 200 ``ready`` once the controller listed the
  Applications and its informer runs; else 503 with a one-line reason.

The listener is bound before anything starts: an address that cannot be
bound raises ``EndpointError`` with one line (``listen``). uvicorn runs
without its signal handlers (``QuietServer``): SIGTERM is the controller's
to handle. ``QuietServer`` and ``listen`` are shared with the server's
metrics listener (``server.metrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from driftless.core.errors import DriftlessError
from driftless.core.listen import ANY_HOST

log = logging.getLogger(__name__)

# What /readyz answers: None when ready, else why not (one line, no secrets).
Readiness = Callable[[], str | None]


class EndpointError(DriftlessError):
    """A listener could not be started (the message is one line)."""


class QuietServer(uvicorn.Server):
    """uvicorn that leaves the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Joined(Collector):
    """Every metric of several registries, as one (their names never overlap)."""

    def __init__(self, registries: Iterable[Collector]) -> None:
        self._registries = list(registries)

    def collect(self) -> Iterator[Metric]:
        for registry in self._registries:
            yield from registry.collect()


def metrics_response(collector: Collector) -> Response:
    """The text exposition of ``collector``; call it on the event loop (collectors
    read the loop's state unlocked)."""
    return Response(generate_latest(collector), media_type=CONTENT_TYPE_LATEST)


# What binding ``::`` fails with where IPv6 is compiled in but off (ipv6.disable=1).
_NO_IPV6 = frozenset({errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT})


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; ``OSError`` if it cannot be bound.
    ``ANY_HOST`` (``:PORT``) is every interface, IPv6 and IPv4: one dual-stack socket on
    ``::``, or ``0.0.0.0`` where IPv6 is off."""
    if host == ANY_HOST and socket.has_dualstack_ipv6():
        try:
            return socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
        except OSError as exc:
            if exc.errno not in _NO_IPV6:
                raise  # a port in use is in use for IPv4 too
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def listen(host: str, port: int, what: str) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``bind``); ``EndpointError`` (one line) if
    it cannot be."""
    try:
        return bind(host, port)
    except OSError as exc:
        raise EndpointError(
            f"cannot listen on {host}:{port} for {what}: {exc.strerror or exc}"
        ) from None


class HttpListener:
    """A Starlette app served by uvicorn on an already bound socket, in a task."""

    def __init__(self, app: Starlette, sock: socket.socket, **limits: Any) -> None:
        """``limits``: more ``uvicorn.Config`` settings (``limit_concurrency``,
        ``timeout_keep_alive``...) for a listener strangers reach."""
        self.sock = sock
        config = uvicorn.Config(
            app, log_config=None, lifespan="off", access_log=False, server_header=False, **limits
        )
        self._server = QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]))

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
        self.sock.close()


def controller_app(registry: Collector, readiness: Readiness) -> Starlette:
    """The routes (no I/O until served)."""
    both = Joined([REGISTRY, registry])

    async def metrics(_: Request) -> Response:
        return metrics_response(both)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        reason = readiness()
        if reason is None:
            return PlainTextResponse("ready")
        return PlainTextResponse(f"not ready: {reason}", status_code=503)

    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ]
    )


async def serve_endpoints(
    host: str, port: int, registry: Collector, readiness: Readiness
) -> HttpListener:
    """Bind ``host:port`` (``EndpointError`` if it cannot be) and serve the endpoints."""
    listener = HttpListener(controller_app(registry, readiness), listen(host, port, "metrics"))
    listener.start()
    shown = f"[{host}]" if ":" in host else host
    log.info("serving /metrics, /healthz and /readyz on http://%s:%d", shown, listener.port)
    return listener
