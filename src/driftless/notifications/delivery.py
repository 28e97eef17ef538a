"""Delivery: notifications leave the controller here, asynchronously, paced and retried.

Contract:

* ``Delivery.submit(notification, target)`` is synchronous, O(1) and never
  blocks or raises on a full queue: reconciliation calls it and goes on. It
  must be called on the event loop that runs delivery (it starts a task).
* One *lane* per service (``Target.key``: namespace and name): its own
  bounded FIFO queue, one worker task, one token bucket
  (``Target.rate_per_minute``, see ``pacing``). A service that is down,
  slow or rate-limited holds up its own lane only, never another service's;
  within a lane messages go in order (a commit status ``pending`` is never
  posted after the ``success`` that followed it).
* A full lane drops its *oldest* message (newer news is worth more), counted
  by ``driftless_notifications_dropped_total{service_type, queue="service"}``
  and logged (the engine counts its own full queue as ``queue="engine"``).
* Each message is tried up to ``RetryPolicy.attempts`` times while the service
  says the failure is retriable (``DeliveryError.retriable``): waits of
  ``first_delay`` doubling, or the server's ``Retry-After``, capped at
  ``max_delay``. Every try takes a token from the lane's bucket.
* After the last try (or a permanent failure) ``on_failure(notification,
  target, reason)`` is called once — sync or async; the engine turns it into an
  Event. ``reason`` is the ``DeliveryError``'s message: it names the service
  and the status, never a secret. An unexpected exception in a service is a
  permanent failure whose reason is its type only.
* HTTP clients: one shared ``httpx.AsyncClient`` per egress reach (timeouts,
  no redirects followed by httpx itself), and one per distinct TLS setting of
  a service (Secret key ``ca.crt``, ``insecureSkipTLS``) and reach, up to
  ``_MAX_TLS_CLIENTS``; past that a client is made for the one send.
* Egress (``services.egress``): ``Delivery(egress_policy=...)`` is the controller's
  policy; each service's reach (loopback, private ranges) follows from its
  namespace. Every client connects through a guard that checks the resolved
  address, and clients of different reaches never share a connection pool;
  SMTP reads the reach of the send in progress from ``egress.CURRENT``.
* Lanes live as long as the ``Delivery`` (one small object per service ever
  seen), so a service's rate holds across bursts.
* ``close(drain=s)`` waits up to ``s`` seconds for queued messages, then
  cancels the workers, forgets what is left and closes the clients. Metrics:
  ``driftless_notifications_sent_total{service_type}``,
  ``driftless_notifications_failed_total{service_type}`` (final failures),
  ``driftless_notifications_queue_depth`` (messages waiting in all lanes of
  all ``Delivery`` objects of the process).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from prometheus_client import Counter, Gauge

from driftless.notifications import services
from driftless.notifications.message import DeliveryError, Notification, Target
from driftless.notifications.pacing import TokenBucket, retry_delay
from driftless.notifications.services import egress, transport

__all__ = [
    "DROPPED",
    "FAILED",
    "QUEUE_DEPTH",
    "SENT",
    "Delivery",
    "FailureCallback",
    "RetryPolicy",
]

log = logging.getLogger(__name__)

SENT = Counter(
    "driftless_notifications_sent_total",
    "Notifications delivered, by service type.",
    ["service_type"],
)
FAILED = Counter(
    "driftless_notifications_failed_total",
    "Notifications given up after their last attempt, by service type.",
    ["service_type"],
)
DROPPED = Counter(
    "driftless_notifications_dropped_total",
    "Notifications dropped unsent because a queue was full: a service's (queue=service)"
    " or the engine's, before any service was picked (queue=engine, service_type=none).",
    ["service_type", "queue"],
)
QUEUE_DEPTH = Gauge(
    "driftless_notifications_queue_depth",
    "Notifications waiting to be delivered.",
)

FailureCallback = Callable[[Notification, Target, str], Awaitable[None] | None]

#: Seconds of each HTTP connect, read, write and pool wait.
HTTP_TIMEOUT = 10.0
_MAX_TLS_CLIENTS = 64


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 1.0
    max_delay: float = 60.0


@dataclass
class _Lane:
    bucket: TokenBucket
    items: deque[tuple[Notification, Target]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


def _metric_type(t: Target) -> str:
    # Label values are bounded: a type the services do not know is "unknown".
    return t.type if t.type in services.SENDERS else "unknown"


class Delivery:
    """The asynchronous sender of notifications (see the module docstring)."""

    def __init__(
        self,
        on_failure: FailureCallback,
        *,
        retry: RetryPolicy | None = None,
        lane_capacity: int = 1000,
        sender: services.Sender = services.send,
        clock: Callable[[], float] = time.monotonic,
        egress_policy: egress.Egress | None = None,
    ) -> None:
        self._on_failure = on_failure
        self._egress = egress_policy or egress.Egress()
        self._retry = retry or RetryPolicy()
        self._capacity = max(1, lane_capacity)
        self._sender = sender
        self._clock = clock
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._clients = _Clients()
        self._closed = False

    @property
    def depth(self) -> int:
        """Messages waiting in this delivery's lanes."""
        return sum(len(lane.items) for lane in self._lanes.values())

    def submit(self, n: Notification, t: Target) -> bool:
        """Queue ``n`` for ``t``; ``False`` when delivery is closed. Never blocks."""
        if self._closed:
            log.warning("notification for %s not sent: delivery is closed", transport.label(t))
            return False
        lane = self._lane(t)
        if len(lane.items) >= self._capacity:
            lane.items.popleft()
            QUEUE_DEPTH.dec()
            DROPPED.labels(_metric_type(t), "service").inc()
            log.warning("%s: queue full, the oldest notification dropped", transport.label(t))
        lane.items.append((n, t))
        QUEUE_DEPTH.inc()
        if lane.task is None:
            lane.task = asyncio.get_running_loop().create_task(
                self._drain(lane), name=f"notifications {t.namespace}/{t.name}"
            )
        return True

    async def idle(self) -> None:
        """Return once every lane is empty and its worker done."""
        while tasks := [lane.task for lane in self._lanes.values() if lane.task is not None]:
            await asyncio.wait(tasks)

    async def close(self, drain: float = 0.0) -> None:
        """Stop: wait up to ``drain`` seconds for queued messages, then drop the rest."""
        self._closed = True
        if drain > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain):
                    await self.idle()
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for lane in self._lanes.values():
            QUEUE_DEPTH.dec(len(lane.items))
            lane.items.clear()
        await self._clients.aclose()

    def _lane(self, t: Target) -> _Lane:
        lane = self._lanes.get(t.key)
        rate = max(1, t.rate_per_minute)
        if lane is None:
            lane = _Lane(TokenBucket.per_minute(rate, self._clock()))
            self._lanes[t.key] = lane
        elif lane.bucket.rate_per_minute != rate:
            # The service's rateLimit changed: a new bucket, not fuller than the old one.
            fresh = TokenBucket.per_minute(rate, self._clock())
            fresh.tokens = min(fresh.tokens, lane.bucket.tokens)
            lane.bucket = fresh
        return lane

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.items:
                n, t = lane.items.popleft()
                QUEUE_DEPTH.dec()
                await self._deliver(lane, n, t)
        finally:
            lane.task = None

    async def _deliver(self, lane: _Lane, n: Notification, t: Target) -> None:
        error = DeliveryError(f"{transport.label(t)}: not tried", retriable=False)
        for attempt in range(1, max(1, self._retry.attempts) + 1):
            wait = lane.bucket.take(self._clock())
            if wait > 0:
                await asyncio.sleep(wait)
            reach = self._egress.for_namespace(t.namespace)
            token = egress.CURRENT.set(reach)
            try:
                async with self._clients.client(t, reach) as http:
                    await self._sender(n, t, http)
            except DeliveryError as failed:
                error = failed
            except Exception as unexpected:  # a bug must not end the lane
                log.error("%s: %s while sending", transport.label(t), type(unexpected).__name__)
                error = DeliveryError(
                    f"{transport.label(t)}: {type(unexpected).__name__}", retriable=False
                )
            else:
                SENT.labels(_metric_type(t)).inc()
                return
            finally:
                egress.CURRENT.reset(token)
            if not error.retriable or attempt >= self._retry.attempts:
                break
            delay = retry_delay(
                attempt, self._retry.first_delay, self._retry.max_delay, error.retry_after
            )
            log.info("%s; try %d failed, next in %.1fs", error, attempt, delay)
            await asyncio.sleep(delay)
        FAILED.labels(_metric_type(t)).inc()
        log.warning(
            "notification %s for %s/%s not delivered: %s",
            n.trigger,
            n.app_namespace,
            n.app_name,
            error,
        )
        await self._report(n, t, str(error))

    async def _report(self, n: Notification, t: Target, reason: str) -> None:
        try:
            result = self._on_failure(n, t, reason)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("the notification failure callback failed")


class _Clients:
    """HTTP clients by reach and TLS setting: a shared one per reach, one per CA bundle
    or insecure mode."""

    def __init__(self) -> None:
        self._shared: dict[egress.Reach, httpx.AsyncClient] = {}
        self._by_tls: dict[tuple[egress.Reach, bool, str], httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def client(self, t: Target, reach: egress.Reach) -> AsyncIterator[httpx.AsyncClient]:
        ca = t.secrets.get("ca.crt", "")
        # SMTP makes its own TLS (the client is not used): the shared one will do.
        if t.type == "smtp" or (not ca and not t.insecure_skip_tls):
            shared = self._shared.get(reach)
            if shared is None:
                shared = self._shared[reach] = _new_client(True, reach)
            yield shared
            return
        key = (reach, t.insecure_skip_tls, hashlib.sha256(ca.encode()).hexdigest() if ca else "")
        cached = self._by_tls.get(key)
        if cached is not None:
            yield cached
            return
        made = _new_client(False if t.insecure_skip_tls else _ca_context(t, ca), reach)
        if len(self._by_tls) < _MAX_TLS_CLIENTS:
            self._by_tls[key] = made
            yield made
            return
        async with made:
            yield made

    async def aclose(self) -> None:
        clients = [*self._by_tls.values(), *self._shared.values()]
        self._shared, self._by_tls = {}, {}
        for client in clients:
            await client.aclose()


def _new_client(verify: bool | ssl.SSLContext, reach: egress.Reach) -> httpx.AsyncClient:
    # trust_env off: a proxy from the environment would connect past the guard.
    transport = egress.guard(httpx.AsyncHTTPTransport(verify=verify, trust_env=False), reach)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(HTTP_TIMEOUT),
        follow_redirects=False,
        transport=transport,
        trust_env=False,
    )


def _ca_context(t: Target, ca: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cadata=ca)
    except (ssl.SSLError, ValueError):
        raise DeliveryError(
            f"{transport.label(t)}: Secret key ca.crt is not a PEM certificate", retriable=False
        ) from None
