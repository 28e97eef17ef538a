"""The server's side of git webhooks: its apps from the caches, a refresh as an annotation.

``receiver(client, caches, namespace)`` is the ``webhooks.receiver.Receiver``
``create_app`` mounts at ``/api/v1/webhooks/{provider}``, outside login and
RBAC (the forge's signature is the authentication; the server's CSRF and
Host checks still apply, its body cap does not: the receiver has its own).

``WebhookRefresher``:

* ``apps()`` reads the caches' rows (``rows.Row``: the repository key and
  ``targetRevision`` are there already), so matching a push over 10,000 apps
  parses nothing and decompresses nothing; before the caches are listed it
  raises ``UnavailableError`` (503);
* ``refresh(keys, urls)`` writes ``driftless.dev/refresh: webhook:<ms>`` on
  each app with a merge patch (the write ``app refresh`` makes; the
  controller serves it as a normal refresh: it asks the repository for its
  refs now, whatever its ``--revision-cache``), at most ``CONCURRENCY`` at a
  time over every round of every repository (one gate per refresher: many
  repositories pushed at once do not become a burst of API writes). An app
  deleted meanwhile is skipped; another failure is logged with its type only
  and does not stop the others. The annotation reaches whichever controller
  replica owns the app, so with ``install --replicas N`` this route is the one
  to point forges at.

The Secret ``driftless-webhooks`` is read by name in the controller's
namespace (``webhooks.secrets``): the install's RBAC lets the server read
Secrets of its own namespace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Final

from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.wellknown import REFRESH_ANNOTATION
from driftless.kube.client import KubeApiError, KubeClient
from driftless.kube.errors import KubeNotFoundError
from driftless.server.caches import Caches
from driftless.webhooks.matching import Followed, Key
from driftless.webhooks.receiver import DEFAULT_MAX_BODY, Receiver, UnavailableError
from driftless.webhooks.secrets import WebhookSecrets

__all__ = ["CONCURRENCY", "WebhookRefresher", "receiver", "refresh_value"]

log = logging.getLogger(__name__)

CONCURRENCY: Final = 4


def refresh_value(now: float) -> str:
    """The refresh annotation a webhook writes: unique per round (milliseconds)."""
    return f"webhook:{int(now * 1000)}"


class WebhookRefresher:
    def __init__(self, client: KubeClient, caches: Caches) -> None:
        self.client = client
        self.caches = caches
        self.gate = asyncio.Semaphore(CONCURRENCY)  # shared by every round

    def apps(self) -> Iterator[Followed]:
        if not self.caches.ready:
            raise UnavailableError("the server is starting: Applications not listed yet")
        for row in self.caches.rows():
            if row.data["chart"]:
                continue  # a Helm repository follows no git push
            yield Followed(row.key, row.repo, row.data["targetRevision"])

    async def refresh(self, keys: list[Key], urls: list[str]) -> None:
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


def receiver(
    client: KubeClient, caches: Caches, namespace: str, *, max_body: int | None = None
) -> Receiver:
    """The webhook receiver of a server whose controller lives in ``namespace``; bodies
    above ``max_body`` bytes (``--webhook-max-body``; None: 4 MiB) are refused."""
    return Receiver(
        WebhookSecrets.of(client, namespace),
        WebhookRefresher(client, caches),
        max_body=DEFAULT_MAX_BODY if max_body is None else max_body,
    )
