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
  each app with a merge patch (``webhooks.annotate``: the write ``app
  refresh`` makes, at most ``CONCURRENCY`` at a time over every round of
  every repository). The annotation reaches whichever controller replica
  owns the app.

The Secret ``driftless-webhooks`` is read by name in the controller's
namespace (``webhooks.secrets``): the install's RBAC lets the server read
Secrets of its own namespace.
"""

from __future__ import annotations

from collections.abc import Iterator

from driftless.kube.client import KubeClient
from driftless.server.caches import Caches
from driftless.webhooks.annotate import CONCURRENCY, Annotator, refresh_value
from driftless.webhooks.matching import Followed, Key
from driftless.webhooks.receiver import DEFAULT_MAX_BODY, Receiver, UnavailableError
from driftless.webhooks.secrets import WebhookSecrets

__all__ = ["CONCURRENCY", "WebhookRefresher", "receiver", "refresh_value"]


class WebhookRefresher:
    def __init__(self, client: KubeClient, caches: Caches) -> None:
        self.client = client
        self.caches = caches
        self.annotator = Annotator(client)  # one gate over every round

    def apps(self) -> Iterator[Followed]:
        if not self.caches.ready:
            raise UnavailableError("the server is starting: Applications not listed yet")
        for row in self.caches.rows():
            if row.data["chart"]:
                continue  # a Helm repository follows no git push
            yield Followed(row.key, row.repo, row.data["targetRevision"])

    async def refresh(self, keys: list[Key], urls: list[str]) -> None:
        await self.annotator.refresh(keys)


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
