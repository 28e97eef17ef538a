"""The server's memory of Applications and Projects, kept current by watches.

``Caches`` runs one ``kube.cache.WatchCache`` with two informers
(Applications in every namespace, or in ``apps_namespace``; Projects) and
keeps, beside the objects, one ``rows.Row`` per Application, updated on every
watch event. A list request filters and sorts these rows in memory
(``apps_query``); no request lists anything against the API server.

Contract:

* ``start()`` runs until ``close()``: it asks the WatchCache for both kinds
  and retries (every ``RETRY_SECONDS``) while a kind is not served (the CRDs
  are missing) or the API server is down; ``problem`` says why it is not
  ready yet, for ``/readyz``.
* ``ready`` is true once both kinds have been listed once; from then on
  ``rows()``, ``app()`` and ``projects()`` answer from memory and never block.
* ``subscribe(listener)``: the listener is called synchronously on every
  change of an Application as ``listener(row, None)`` (added or changed) or
  ``listener(None, key)`` (deleted, ``key`` = (namespace, name)); keep it
  cheap (a stream enqueues).
* Objects returned are the watch's own dicts: callers must not mutate them
  (``rows.redacted`` copies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.core.repourl import redact
from driftless.kube.cache import WatchCache
from driftless.kube.client import KubeApiError, KubeClient, UnknownKindError
from driftless.server.rows import Row, app_key, app_row

__all__ = ["RETRY_SECONDS", "Caches", "Listener"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
Listener = Callable[[Row | None, tuple[str, str] | None], None]
RETRY_SECONDS = 3.0


class Caches:
    def __init__(
        self,
        client: KubeClient,
        *,
        controller_namespace: str,
        apps_namespace: str | None = None,
    ) -> None:
        self.controller_namespace = controller_namespace
        self.watch = WatchCache(client, namespace=apps_namespace)
        self._rows: dict[tuple[str, str], Row] = {}
        self._projects: set[str] = set()
        self._listeners: list[Listener] = []
        self._ready = False
        self.problem = "starting: Applications and Projects not listed yet"
        self.generation = 0  # bumped on every change of a row
        self.watch.subscribe(self._on_event)

    # -- reads (memory only) -------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready

    def rows(self) -> list[Row]:
        return list(self._rows.values())

    def app(self, namespace: str, name: str) -> JSON | None:
        return self.watch.get(API_VERSION, APPLICATION_KIND, namespace, name)

    def projects(self) -> list[JSON]:
        """Projects of the controller's namespace (the only ones the controller reads)."""
        found = [
            self.watch.get(API_VERSION, PROJECT_KIND, self.controller_namespace, name)
            for name in sorted(self._projects)
        ]
        return [p for p in found if p is not None]

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- lifecycle -----------------------------------------------------

    async def start(self) -> None:
        """Start both informers, retrying until they are listed (see the module contract)."""
        while True:
            try:
                await self.watch.ensure(API_VERSION, APPLICATION_KIND)
                await self.watch.ensure(API_VERSION, PROJECT_KIND)
            except UnknownKindError:
                self.problem = "the driftless CRDs are not installed: run driftless install"
            except (KubeApiError, TimeoutError) as exc:
                self.problem = f"cannot list Applications and Projects: {redact(str(exc))}"
            else:
                self._ready = True
                self.problem = ""
                log.info("caches ready: %d applications", len(self._rows))
                return
            log.warning("not ready: %s", self.problem)
            await asyncio.sleep(RETRY_SECONDS)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.watch.close()

    # -- watch events --------------------------------------------------

    def _on_event(self, event_type: str, obj: JSON) -> None:
        kind = obj.get("kind")
        if kind == PROJECT_KIND:
            self._on_project(event_type, obj)
        elif kind == APPLICATION_KIND:
            self._on_app(event_type, obj)

    def _on_project(self, event_type: str, obj: JSON) -> None:
        namespace, name = app_key(obj)
        if namespace != self.controller_namespace:
            return
        if event_type == "DELETED":
            self._projects.discard(name)
        else:
            self._projects.add(name)

    def _on_app(self, event_type: str, obj: JSON) -> None:
        key = app_key(obj)
        self.generation += 1
        if event_type == "DELETED":
            if self._rows.pop(key, None) is not None:
                self._tell(None, key)
            return
        row = app_row(obj)
        self._rows[key] = row
        self._tell(row, None)

    def _tell(self, row: Row | None, key: tuple[str, str] | None) -> None:
        for listener in self._listeners:
            try:
                listener(row, key)
            except Exception:  # one bad listener must not starve the others
                log.exception("application listener failed")
