"""``driftless controller --webhook-address HOST:PORT``: git webhooks without the server.

For installs without ``driftless server`` (Flux-style): the controller serves
``POST /api/v1/webhooks/{provider}`` (``webhooks.receiver``, and nothing
else) on a listener of its own, off by default.

``ControllerRefresher``:

* ``apps()``: what the Applications in the controller's memory follow
  (``matching.followed``); ``UnavailableError`` (503) until they are listed;
* ``refresh(keys, repo)``: makes the GitCache forget ``repo``'s cached refs
  (so ``--revision-cache`` never delays a push), then puts the keys in the
  work queue now. No API write: the pass that follows asks the repository
  for its refs and syncs what changed. A key already queued or in a pass is
  not doubled (``WorkQueue``): a flood of pushes costs one more pass per app
  at most.

The Secret ``driftless-webhooks`` is read by name from the controller's own
namespace (``ControllerSettings.home``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from starlette.applications import Starlette

from driftless.controller.endpoints import HttpListener, listen
from driftless.controller.manager import Controller
from driftless.webhooks.matching import Followed, Key, followed
from driftless.webhooks.receiver import Receiver, UnavailableError
from driftless.webhooks.secrets import WebhookSecrets

__all__ = ["ControllerRefresher", "WebhookListener", "serve_webhooks"]

log = logging.getLogger(__name__)


class ControllerRefresher:
    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def apps(self) -> Iterator[Followed]:
        if self.controller.not_ready is not None:
            raise UnavailableError(f"the controller is starting: {self.controller.not_ready}")
        for obj in list(self.controller.apps.values()):
            entry = followed(obj)
            if entry is not None:
                yield entry

    async def refresh(self, keys: list[Key], repo: str) -> None:
        self.controller.reconciler.git.forget_refs(repo)
        for key in keys:
            if key in self.controller.apps:
                self.controller.queue.add(key)


class WebhookListener:
    """The receiver and its HTTP listener; ``stop()`` ends both."""

    def __init__(self, receiver: Receiver, listener: HttpListener) -> None:
        self.receiver = receiver
        self.listener = listener

    @property
    def port(self) -> int:
        return self.listener.port

    async def stop(self) -> None:
        await self.listener.stop()
        await self.receiver.close()


def serve_webhooks(controller: Controller, host: str, port: int) -> WebhookListener:
    """Bind ``host:port`` (``EndpointError`` if it cannot be) and serve the webhooks there."""
    secrets = WebhookSecrets.of(controller.client, controller.settings.home)
    receiver = Receiver(secrets, ControllerRefresher(controller))
    listener = HttpListener(Starlette(routes=receiver.routes()), listen(host, port, "webhooks"))
    listener.start()
    shown = f"[{host}]" if ":" in host else host
    log.info("serving git webhooks on http://%s:%d/api/v1/webhooks/", shown, listener.port)
    return WebhookListener(receiver, listener)
