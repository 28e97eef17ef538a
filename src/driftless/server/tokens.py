"""Bearer tokens on ``/api/v1``: a project API token becomes a ``Principal``, or 401.

``BearerTokens`` keeps the token table (``pipeline.tokens``: signing keys and
records, in Secret ``deployment.TOKENS_SECRET`` of the controller's namespace)
current with a watch of that Secret (``run``), so a revocation
(``driftless project token revoke``) or a key rotation is in force within one
watch event. ``principal(header)`` checks an ``Authorization`` value:
``Bearer <token>`` (the scheme is case-insensitive), a token the table
verifies now (``pipeline.tokens.verify``: signature by a key still valid,
ES256 only, audience, issuer, expiry with a few seconds of leeway, its record
unrevoked), and a role that still exists in its Project's ``spec.roles``
(a role deleted from the Project ends its tokens at once). The principal's
subject is ``proj:<project>:<role>``, its method ``"token"``, no groups, and
the token's record id (its ``jti``, what ``project token list`` shows) for
the audit trail.

Every refusal is ``UnauthorizedError`` with one message for all reasons (a
caller learns nothing about which check failed); the reason alone is logged
at INFO, never the token. Until the Secret was read once, or without a
Secret, every token is refused.

Bearer requests carry no cookie, so the shield's CSRF rules (which guard what
a browser sends on its own) have nothing to protect there: a browser never
adds an ``Authorization`` header to a cross-site request by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Final

from driftless.kube.client import KubeApiError, KubeClient, KubeExpiredError
from driftless.pipeline import token_store, tokens
from driftless.server.errors import UnauthorizedError

__all__ = ["METHOD", "BearerTokens", "Identity", "bearer_token"]

log = logging.getLogger(__name__)

METHOD: Final = "token"
REFUSED: Final = "invalid or expired API token"
RETRY_SECONDS: Final = 1.0
JSON = dict[str, Any]
Identity = tuple[str, str, str]  # (subject, method, the token's record id)


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or ``None``. Pure."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def role_exists(projects: list[JSON], project: str, role: str) -> bool:
    """Whether Project ``project`` declares ``role`` in ``spec.roles``. Pure."""
    for obj in projects:
        if (obj.get("metadata") or {}).get("name") != project:
            continue
        roles = (obj.get("spec") or {}).get("roles") or []
        return any(isinstance(r, dict) and r.get("name") == role for r in roles)
    return False


class BearerTokens:
    """The token table as the Secret says now, and the check of a bearer header."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        projects: Callable[[], list[JSON]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.projects = projects
        self.clock = clock
        self.table = tokens.TokenTable()

    def principal(self, header: str) -> Identity:
        """``(subject, "token", record id)`` of a valid bearer header; ``UnauthorizedError``
        otherwise."""
        token = bearer_token(header)
        try:
            if token is None:
                raise tokens.TokenRefusedError("not a bearer token")
            record = tokens.verify(token, self.table, namespace=self.namespace, now=self.clock())
            if not role_exists(self.projects(), record.project, record.role):
                raise tokens.TokenRefusedError(
                    f"token {record.id}: role {record.role} is not in project {record.project}"
                )
        except tokens.TokenRefusedError as refused:
            log.info("API token refused: %s", refused.message)
            raise UnauthorizedError(REFUSED) from None
        return tokens.subject(record.project, record.role), METHOD, record.id

    def update(self, secret: JSON | None) -> None:
        """Take the table of the Secret (``None``: deleted, every token refused)."""
        self.table = tokens.table_of(None if secret is None else secret.get("data"))

    async def run(self) -> None:
        """List and watch the Secret until cancelled; errors are retried after a second."""
        while True:
            try:
                await self._follow()
            except KubeExpiredError:
                continue
            except KubeApiError as exc:
                log.warning("cannot watch the API tokens' Secret: %s", type(exc).__name__)
            await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self) -> None:
        found, version = await self.client.list_with_version(
            "v1", "Secret", self.namespace, label_selector=token_store.TOKENS_SECRET_SELECTOR
        )
        mine = [s for s in found if s["metadata"]["name"] == token_store.SECRET]
        self.update(mine[0] if mine else None)
        async for event in self.client.watch(
            "v1",
            "Secret",
            self.namespace,
            resource_version=version,
            label_selector=token_store.TOKENS_SECRET_SELECTOR,
        ):
            if event.type == "BOOKMARK" or event.obj["metadata"]["name"] != token_store.SECRET:
                continue
            self.update(None if event.type == "DELETED" else event.obj)
