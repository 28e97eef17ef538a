"""The webhook endpoint: ``POST /api/v1/webhooks/{provider}``, as Starlette routes.

``Receiver(secrets, refresher).routes()`` are plain Starlette routes, so
``driftless server`` adds them to its FastAPI application (outside login and
RBAC: the signature is the authentication) and ``driftless controller
--webhook-address`` serves them from a bare Starlette application.

A delivery is handled in this order, each step answering in the API's error
shape ``{"error": {"code", "message"}}`` when it refuses:

1. ``{provider}`` is one of ``forges.PROVIDERS`` (or ``forgejo``), else 404;
2. the body is read up to ``max_body`` bytes (default 1 MiB), counted while
   it streams (a ``Content-Length`` above the cap is refused before
   reading, a chunked body once it passes it): 413;
3. the provider's secret (``secrets.WebhookSecrets``): none configured is
   403 "no secret configured for <provider>" -- never accepted unsigned;
4. ``forges.read``: a bad or missing signature 401, a malformed payload 400;
5. a ping is 200 ``{"ping": "ok"}``, another event 200 ``{"ignored":
   <event>}``; a push is 202 ``{"refreshed": n}``, ``n`` the apps
   ``matching.refreshed`` picks from ``refresher.apps()``, or 503 while the
   host has not listed its Applications yet (``apps()`` raises
   ``UnavailableError``: the forge shows a failed delivery to redeliver,
   not a silent 0). The answer does
   not wait for the refresh: the apps go to the ``coalesce.Coalescer`` of
   the pushed repository, which calls ``refresher.refresh(keys, repo)``.

Every delivery counts in ``driftless_webhook_requests_total{provider,
outcome}`` (``outcome``: ``refreshed``, ``ping``, ``ignored``,
``unknown_provider``, ``too_large``, ``no_secret``, ``unauthorized``,
``malformed``, ``unavailable``; ``provider`` is ``unknown`` for a provider that is not one,
so a caller cannot grow the label set). Refusals are logged at info with the
provider and the reason, never a secret or a signature.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
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
DEFAULT_MAX_BODY: Final = 1024 * 1024

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

    async def refresh(self, keys: list[Key], repo: str) -> None:
        """Make these apps re-check now; ``repo`` is the pushed repository's key."""
        ...


class _RefusedError(Exception):
    def __init__(self, status: int, outcome: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message


_CODES: Final = {
    400: "Invalid",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = secrets
        self.refresher = refresher
        self.max_body = max_body
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
            return JSONResponse(body, status_code=refusal.status)
        REQUESTS.labels(provider, outcome).inc()
        return JSONResponse(answer, status_code=status)

    async def _handle(self, provider: str, request: Request) -> tuple[int, dict[str, Any], str]:
        body = await self._body(request)
        secret = await self.secrets.get(provider)
        if secret is None:
            raise _RefusedError(403, "no_secret", f"no secret configured for {provider}")
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
        return 202, {"refreshed": self._refresh(delivery)}, "refreshed"

    def _refresh(self, pushes: tuple[forges.Push, ...]) -> int:
        if not pushes:
            return 0
        try:
            keys = matching.refreshed(pushes, self.refresher.apps())
        except UnavailableError as exc:
            raise _RefusedError(503, "unavailable", str(exc)) from None
        repo = pushes[0].repo_urls[0]
        log.info("webhook push to %s (%s): %d apps to refresh", repo, pushes[0].ref, len(keys))
        if keys:
            self.coalescer.submit(repo, keys)
        return len(keys)

    async def _body(self, request: Request) -> bytes:
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
