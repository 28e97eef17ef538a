"""A git push's refresh as an API write: ``driftless.dev/refresh: webhook:<ms>`` on each app.

The write ``driftless app refresh`` makes, as a merge patch on the
Application: whichever controller replica owns the app serves it as a normal
refresh (it asks the repository for its refs now, whatever its
``--revision-cache``). Used by the server's webhook route for every app, and
by a sharded controller's own route for the apps another replica owns.

``Annotator.refresh(keys)`` writes at most ``CONCURRENCY`` patches at a time
over every call (one gate per annotator: many repositories pushed at once do
not become a burst of API writes). An app deleted meanwhile is skipped;
another failure is logged with its type only and does not stop the others.
``refresh_value`` is pure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Final

from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.wellknown import REFRESH_ANNOTATION
from driftless.kube.client import KubeApiError, KubeClient
from driftless.kube.errors import KubeNotFoundError

__all__ = ["CONCURRENCY", "Annotator", "refresh_value"]

log = logging.getLogger(__name__)

CONCURRENCY: Final = 4

Key = tuple[str, str]


def refresh_value(now: float) -> str:
    """The refresh annotation a webhook writes: unique per round (milliseconds). Pure."""
    return f"webhook:{int(now * 1000)}"


class Annotator:
    """Writes the refresh annotation on apps, ``CONCURRENCY`` at a time."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.gate = asyncio.Semaphore(CONCURRENCY)  # shared by every round

    async def refresh(self, keys: Iterable[Key]) -> None:
        patch = {"metadata": {"annotations": {REFRESH_ANNOTATION: refresh_value(time.time())}}}

        async def one(namespace: str, name: str) -> None:
            async with self.gate:
                try:
                    await self.client.merge_patch(
                        API_VERSION, APPLICATION_KIND, name, patch, namespace=namespace
                    )
                except KubeNotFoundError:
                    pass  # deleted since the push was matched
                except KubeApiError as exc:
                    log.warning(
                        "webhook: cannot refresh app %s/%s: %s", namespace, name, type(exc).__name__
                    )

        await asyncio.gather(*(one(*key) for key in keys))
