"""The webhooks' shared secrets: the Secret ``driftless-webhooks``, one key per provider.

The Secret lives in the controller's namespace (``namespace``); its keys are
the providers of ``forges.PROVIDERS`` (``github``, ``gitlab``, ``bitbucket``,
``bitbucket-server``, ``gitea`` -- Forgejo's too -- and ``generic``); each
value is the secret typed into the forge (surrounding whitespace and a
trailing newline of ``--from-file`` dropped).

Contract:

* ``WebhookSecrets.get(provider)`` is the secret as bytes, or ``None`` when
  the Secret or its key is missing or empty: the receiver then refuses that
  provider (never accepts it unsigned).
* The Secret is read by name (a GET, never a list: that is all RBAC needs to
  grant) at most once per ``ttl`` seconds, whatever the request rate, so a
  flood of forged deliveries costs the API server nothing; a rotated secret
  takes effect within ``ttl``. A failed read keeps the last secrets known
  (and is logged without any value).
* Values never reach a log line, an exception or a response.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from driftless.kube.client import KubeApiError, KubeClient

__all__ = ["SECRET_NAME", "TTL_SECONDS", "WebhookSecrets", "decode"]

log = logging.getLogger(__name__)

SECRET_NAME: Final = "driftless-webhooks"
TTL_SECONDS: Final = 10.0

JSON = dict[str, Any]
Reader = Callable[[], Awaitable[JSON | None]]


def decode(secret: Mapping[str, Any] | None) -> dict[str, bytes]:
    """The non-empty secrets of a Secret object, by key. Pure; never raises."""
    data = (secret or {}).get("data")
    string_data = (secret or {}).get("stringData")
    values: dict[str, bytes] = {}
    if isinstance(data, dict):
        for key, raw in data.items():
            if isinstance(key, str) and isinstance(raw, str):
                try:
                    values[key] = base64.b64decode(raw, validate=True).strip()
                except (binascii.Error, ValueError):
                    log.warning("webhook secret key %r is not base64; ignored", key[:64])
    if isinstance(string_data, dict):  # never returned by the API, but harmless to read
        for key, raw in string_data.items():
            if isinstance(key, str) and isinstance(raw, str):
                values[key] = raw.encode().strip()
    return {key: value for key, value in values.items() if value}


class WebhookSecrets:
    """The secrets of ``SECRET_NAME`` in ``namespace``, re-read at most every ``ttl`` s."""

    def __init__(self, read: Reader, *, ttl: float = TTL_SECONDS) -> None:
        self._read = read
        self.ttl = ttl
        self._values: dict[str, bytes] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, client: KubeClient, namespace: str, *, ttl: float = TTL_SECONDS) -> WebhookSecrets:
        """Secrets read through ``client`` from ``namespace``."""

        async def read() -> JSON | None:
            return await client.get("v1", "Secret", SECRET_NAME, namespace)

        return cls(read, ttl=ttl)

    @classmethod
    def fixed(cls, values: Mapping[str, bytes]) -> WebhookSecrets:
        """Constant secrets (tests, and hosts that have them already)."""
        secret = {"data": {k: base64.b64encode(v).decode() for k, v in values.items()}}

        async def read() -> JSON | None:
            return secret

        return cls(read, ttl=float("inf"))

    async def get(self, provider: str) -> bytes | None:
        async with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self.ttl:
                self._read_at = now
                await self._refresh()
        return self._values.get(provider)

    async def _refresh(self) -> None:
        try:
            secret = await self._read()
        except KubeApiError as exc:
            log.warning("cannot read Secret %s: %s", SECRET_NAME, type(exc).__name__)
            return
        self._values = decode(secret)
