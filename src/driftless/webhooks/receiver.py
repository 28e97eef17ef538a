"""The webhook endpoint: ``POST /api/v1/webhooks/{provider}``, as Starlette routes.

``Receiver(secrets, refresher).routes()`` are plain Starlette routes, so
``driftless server`` adds them to its FastAPI application (outside login and
RBAC: the signature is the authentication) and ``driftless controller
--webhook-address`` serves them from a bare Starlette application.

A delivery is handled in this order, each step answering in the API's error
shape ``{"error": {"code", "message"}}`` when it refuses. Nothing of the
body is read before step 3: a caller without the secret costs no memory.

1. ``{provider}`` is one of ``forges.PROVIDERS`` (or ``forgejo``), else 404;
2. the provider's secret (``secrets.WebhookSecrets``): none configured is
   403 "no secret configured for <provider>" -- never accepted unsigned;
3. a slot: at most ``max_in_flight`` deliveries (default 8) are read and
   handled at once per receiver, the next is 503 with ``Retry-After``;
4. the body is read up to ``max_body`` bytes (default 4 MiB; GitHub sends
   up to 25 MB, hosts expose ``--webhook-max-body``), counted while it
   streams (a ``Content-Length`` above the cap is refused before reading,
   a chunked body once it passes it): 413; a body not complete within
   ``read_timeout`` seconds (default 10) is 408;
5. ``forges.read``: a bad or missing signature 401, a malformed payload 400;
6. a ping is 200 ``{"ping": "ok"}``, another event 200 ``{"ignored":
   <event>}``; a push is 202 ``{"status": "accepted"}`` -- never how many
   apps it refreshes (that would tell a secret holder which repositories
   other tenants deploy; the count is logged at debug) -- or 503 while the
   host has not listed its Applications yet (``apps()`` raises
   ``UnavailableError``: the forge shows a failed delivery to redeliver).
   The answer does not wait for the refresh: the apps ``matching.matched``
   picks go, grouped by their own repository (``matching.folded``), to the
   ``coalesce.Coalescer``, which calls ``refresher.refresh(keys, urls)``.

Every delivery counts in ``driftless_webhook_requests_total{provider,
outcome}`` (``outcome``: ``refreshed``, ``ping``, ``ignored``,
``unknown_provider``, ``no_secret``, ``busy``, ``too_large``, ``timeout``,
``unauthorized``, ``malformed``, ``unavailable``; ``provider`` is ``unknown``
for a provider that is not one, so a caller cannot grow the label set).
Refusals are logged at info with the provider and the reason, never a secret
or a signature; what a payload names (URLs, refs) is logged with ``%r``, so a
newline in it cannot forge a log line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Protocol

from prometheus_client import Counter
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from driftless.webhooks import forges, matching
from driftless.webhooks.coalesce import Coalescer
from driftless.webhooks.matching import Followed, Key
from driftless.webhooks.secrets import WebhookSecrets

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_READ_TIMEOUT",
    "PATH",
    "PREFIX",
    "REQUESTS",
    "Receiver",
    "Refresher",
    "UnavailableError",
]

log = logging.getLogger(__name__)

PREFIX: Final = "/api/v1/webhooks/"
PATH: Final = PREFIX + "{provider}"
DEFAULT_MAX_BODY: Final = 4 * 1024 * 1024
DEFAULT_MAX_IN_FLIGHT: Final = 8
DEFAULT_READ_TIMEOUT: Final = 10.0
RETRY_AFTER_SECONDS: Final = 5

REQUESTS: Final = Counter(
    "driftless_webhook_requests_total",
    "Webhook deliveries received, by provider and outcome.",
    ["provider", "outcome"],
)


class UnavailableError(Exception):
    """The host cannot tell which apps a push refreshes yet (its apps are not listed)."""


class Refresher(Protocol):
    """What a host gives the receiver: its apps, and how to refresh some of them."""

    def apps(self) -> Iterable[Followed]:
        """What every current Application follows (``matching.followed``);
        ``UnavailableError`` while the host has not listed them yet."""
        ...

    async def refresh(self, keys: list[Key], urls: list[str]) -> None:
        """Make these apps (all of one repository) re-check now; ``urls`` are the
        ``core.repourl`` keys of the pushed repository's URL forms, as the payloads
        named them (untrusted: a host may only use them to forget cached state)."""
        ...


class _RefusedError(Exception):
    def __init__(
        self, status: int, outcome: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message
        self.headers = headers


_CODES: Final = {
    400: "Invalid",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    408: "Timeout",
    413: "Invalid",
    503: "Unavailable",
}


class Receiver:
    def __init__(
        self,
        secrets: WebhookSecrets,
        refresher: Refresher,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = secrets
        self.refresher = refresher
        self.max_body = max_body
        self.max_in_flight = max_in_flight
        self.read_timeout = read_timeout
        self.in_flight = 0
        self.clock = clock
        self.replays = forges.ReplayGuard()
        self.coalescer = Coalescer(refresher.refresh)

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self.handle, methods=["POST"], name="webhook")]

    async def close(self) -> None:
        """Stop the refresh rounds in flight."""
        await self.coalescer.close()

    async def handle(self, request: Request) -> Response:
        raw = str(request.path_params.get("provider", ""))
        provider = forges.canonical_provider(raw)
        try:
            if provider is None:
                raise _RefusedError(404, "unknown_provider", f"no webhook provider {raw[:64]!r}")
            status, answer, outcome = await self._handle(provider, request)
        except _RefusedError as refusal:
            REQUESTS.labels(provider or "unknown", refusal.outcome).inc()
            log.info("webhook %s refused: %s", provider or "unknown", refusal.message)
            body = {
                "error": {"code": _CODES.get(refusal.status, "Invalid"), "message": refusal.message}
            }
            return JSONResponse(body, status_code=refusal.status, headers=refusal.headers)
        REQUESTS.labels(provider, outcome).inc()
        return JSONResponse(answer, status_code=status)

    async def _handle(self, provider: str, request: Request) -> tuple[int, dict[str, Any], str]:
        secret = await self.secrets.get(provider)
        if secret is None:
            raise _RefusedError(403, "no_secret", f"no secret configured for {provider}")
        if self.in_flight >= self.max_in_flight:
            raise _RefusedError(
                503,
                "busy",
                "too many webhook deliveries at once; retry later",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.in_flight += 1  # no await between the check and this: the loop is ours
        try:
            return self._answer(provider, request, secret, await self._body(request))
        finally:
            self.in_flight -= 1

    def _answer(
        self, provider: str, request: Request, secret: bytes, body: bytes
    ) -> tuple[int, dict[str, Any], str]:
        try:
            delivery = forges.read(
                provider, request.headers, body, secret, now=self.clock(), replays=self.replays
            )
        except forges.SignatureError as exc:
            raise _RefusedError(401, "unauthorized", str(exc)) from None
        except forges.DeliveryError as exc:
            raise _RefusedError(400, "malformed", str(exc)) from None
        if isinstance(delivery, forges.Ping):
            return 200, {"ping": "ok"}, "ping"
        if isinstance(delivery, forges.Ignored):
            return 200, {"ignored": delivery.event}, "ignored"
        self._refresh(provider, delivery)
        return 202, {"status": "accepted"}, "refreshed"

    def _refresh(self, provider: str, pushes: tuple[forges.Push, ...]) -> None:
        if not pushes:
            return
        try:
            apps = matching.matched(pushes, self.refresher.apps())
        except UnavailableError as exc:
            raise _RefusedError(503, "unavailable", str(exc)) from None
        first = pushes[0]
        shown = first.repo_urls[0] if first.repo_urls else first.repo_paths[0]
        log.info("webhook %s push to %r (%r) accepted", provider, shown, first.ref)
        log.debug("webhook push to %r: %d apps to refresh", shown, len(apps))
        urls = list(dict.fromkeys(url for push in pushes for url in push.repo_urls))
        by_repo: dict[str, list[Key]] = {}
        for app in apps:  # coalesced by the apps' repository, never by a payload's URL
            by_repo.setdefault(matching.folded(app.repo), []).append(app.key)
        for repo, keys in by_repo.items():
            self.coalescer.submit(repo, keys, urls)

    async def _body(self, request: Request) -> bytes:
        try:
            async with asyncio.timeout(self.read_timeout):
                return await self._read(request)
        except TimeoutError:
            raise _RefusedError(
                408, "timeout", f"the body did not arrive within {self.read_timeout:g}s"
            ) from None

    async def _read(self, request: Request) -> bytes:
        too_large = _RefusedError(
            413, "too_large", f"request body larger than {self.max_body} bytes"
        )
        length = request.headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise _RefusedError(400, "malformed", "Content-Length is not a number")
            if int(length) > self.max_body:
                raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    raise too_large
                chunks.append(chunk)
        except ClientDisconnect:
            raise _RefusedError(400, "malformed", "the client left before the body ended") from None
        return b"".join(chunks)
