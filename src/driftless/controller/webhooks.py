"""``driftless controller --webhook-address HOST:PORT``: git webhooks without the server.

For installs without ``driftless server`` (Flux-style): the controller serves
``POST /api/v1/webhooks/{provider}`` (``webhooks.receiver``, and nothing
else) on a listener of its own, off by default.

``ControllerRefresher``:

* ``apps()``: what the Applications in the controller's memory follow
  (``matching.followed``); ``UnavailableError`` (503) until they are listed;
* ``refresh(keys, urls)``: makes the GitCache forget the cached refs of
  every refreshed app's ``repoURL`` as the app wrote it (``git@host:o/r``
  and ``https://host/O/R`` are different cache entries) and of every pushed
  URL form (so ``--revision-cache`` never delays a push), then puts the keys
  in the work queue now. No API write: the pass that follows asks the
  repository for its refs and syncs what changed. A key already queued or in
  a pass is not doubled (``WorkQueue``): a flood of pushes costs one more
  pass per app at most.
* with sharding (``install --replicas N``) only the apps this replica owns
  are queued; on each of the others it writes the refresh annotation
  (``webhooks.annotate``, as the server's route does), which the owner
  serves as a refresh (it forgets its own cached refs then). So any replica
  may receive the delivery and no push waits for the next poll.

The Secret ``driftless-webhooks`` is read by name from the controller's own
namespace (``ControllerSettings.home``). The listener (uvicorn) admits at
most ``MAX_CONNECTIONS`` connections at once (503 past them) and drops an
idle keep-alive connection after ``KEEP_ALIVE_SECONDS``; the receiver bounds
the bodies (``max_body``, deliveries in flight, a read deadline).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Final

from starlette.applications import Starlette

from driftless.controller.endpoints import HttpListener, listen
from driftless.controller.manager import Controller
from driftless.webhooks.annotate import Annotator
from driftless.webhooks.matching import Followed, Key, followed
from driftless.webhooks.receiver import DEFAULT_MAX_BODY, Receiver, UnavailableError
from driftless.webhooks.secrets import WebhookSecrets

__all__ = ["ControllerRefresher", "WebhookListener", "serve_webhooks"]

log = logging.getLogger(__name__)

MAX_CONNECTIONS: Final = 64
KEEP_ALIVE_SECONDS: Final = 5


class ControllerRefresher:
    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.annotator = Annotator(controller.client)  # one gate over every round

    def apps(self) -> Iterator[Followed]:
        if self.controller.not_ready is not None:
            raise UnavailableError(f"the controller is starting: {self.controller.not_ready}")
        for obj in list(self.controller.apps.values()):
            entry = followed(obj)
            if entry is not None:
                yield entry

    async def refresh(self, keys: list[Key], urls: list[str]) -> None:
        git = self.controller.reconciler.git
        for url in dict.fromkeys([*urls, *self._repo_urls(keys)]):
            git.forget_refs(url)  # compares core.repourl keys; a bad URL forgets nothing
        elsewhere = []
        for key in keys:
            if key not in self.controller.apps:
                continue  # deleted since the push was matched
            if self.controller.owned(key):
                self.controller.queue.add(key)
            else:  # another replica's (or, between two holders, nobody's yet): it stays on the app
                elsewhere.append(key)
        if elsewhere:
            await self.annotator.refresh(elsewhere)

    def _repo_urls(self, keys: list[Key]) -> Iterator[str]:
        """Each app's ``repoURL`` as written: the form its cached refs are kept under."""
        for key in keys:
            spec: Any = (self.controller.apps.get(key) or {}).get("spec")
            source = spec.get("source") if isinstance(spec, dict) else None
            url = source.get("repoURL") if isinstance(source, dict) else None
            if isinstance(url, str):
                yield url


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


def serve_webhooks(
    controller: Controller, host: str, port: int, *, max_body: int = DEFAULT_MAX_BODY
) -> WebhookListener:
    """Bind ``host:port`` (``EndpointError`` if it cannot be) and serve the webhooks there;
    bodies above ``max_body`` bytes are refused (413)."""
    secrets = WebhookSecrets.of(controller.client, controller.settings.home)
    receiver = Receiver(secrets, ControllerRefresher(controller), max_body=max_body)
    listener = HttpListener(
        Starlette(routes=receiver.routes()),
        listen(host, port, "webhooks"),
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    listener.start()
    shown = f"[{host}]" if ":" in host else host
    log.info("serving git webhooks on http://%s:%d/api/v1/webhooks/", shown, listener.port)
    return WebhookListener(receiver, listener)
