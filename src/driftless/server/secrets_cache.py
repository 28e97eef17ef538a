"""The server's memory of one kind of labelled Secret, kept as views only.

``SecretViews(client, namespace, selector, view)`` lists the Secrets of
``namespace`` that ``selector`` (a label selector) picks, then watches them
from the list's resourceVersion, re-listing when the watch expires -- the
same follow loop as ``caches``, one list at start, none per request.

It keeps, per Secret, only ``view(secret)``: what the API may show of it.
The Secret itself (its ``data``) is dropped as soon as it is projected, so no
credential stays in the server's memory, let alone reaches a response.

Contract:

* ``run()`` follows until cancelled; while the API server refuses or is down
  it retries every ``RETRY_SECONDS``, and ``problem`` says why it is not
  synced yet.
* ``synced`` is true once the first list is in; from then on ``views()``
  answers from memory (the last state seen, if a watch breaks later).
* ``view`` must be pure and must not raise for a malformed Secret (it shows
  why the Secret is unusable instead); should it raise anyway, that Secret is
  left out and the failure logged without the Secret's values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from driftless.core.repourl import redact
from driftless.kube.client import KubeApiError, KubeClient, WatchEvent
from driftless.kube.errors import KubeExpiredError

__all__ = ["RETRY_SECONDS", "SecretViews"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
Key = tuple[str, str]
View = Callable[[JSON], JSON]
RETRY_SECONDS = 3.0
WATCH_SECONDS = 300


def _key(obj: JSON) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _version(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class SecretViews:
    def __init__(
        self, client: KubeClient, *, namespace: str, selector: str, what: str, view: View
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.selector = selector
        self.what = what
        self._view = view
        self._views: dict[Key, JSON] = {}
        self.synced = False
        self.problem = f"starting: {what} not listed yet"

    def views(self) -> list[JSON]:
        """The views of every selected Secret (in no particular order)."""
        return list(self._views.values())

    async def run(self) -> None:
        """Follow the selected Secrets until cancelled (see the module contract)."""
        while True:
            try:
                version = await self._relist()
                if not self.synced:
                    self.synced, self.problem = True, ""
                while True:
                    async for event in self.client.watch(
                        "v1",
                        "Secret",
                        self.namespace,
                        resource_version=version,
                        timeout_seconds=WATCH_SECONDS,
                        label_selector=self.selector,
                    ):
                        version = self._apply(event) or version
            except KubeExpiredError:
                continue  # 410: the watch's resource version is gone; re-list now
            except KubeApiError as exc:
                self._trouble(f"cannot list or watch {self.what}: {redact(str(exc))}")
            except Exception as exc:  # a bug here must not leave the list silently stale
                log.error("following %s failed: %s", self.what, type(exc).__name__)
                self._trouble(f"following {self.what} failed; see the server's log")
            await asyncio.sleep(RETRY_SECONDS)

    def _trouble(self, problem: str) -> None:
        if not self.synced:
            self.problem = problem
        log.warning("%s", problem)

    async def _relist(self) -> str:
        seen: set[Key] = set()
        version = ""
        async for page, page_version in self.client.list_pages(
            "v1", "Secret", self.namespace, label_selector=self.selector
        ):
            for obj in page:
                self._upsert(obj)
                seen.add(_key(obj))
            version = page_version
        for key in set(self._views) - seen:
            del self._views[key]
        return version

    def _apply(self, event: WatchEvent) -> str:
        if event.type == "BOOKMARK":
            return _version(event.obj)
        if event.type == "DELETED":
            self._views.pop(_key(event.obj), None)
        else:
            self._upsert(event.obj)
        return _version(event.obj)

    def _upsert(self, secret: JSON) -> None:
        key = _key(secret)
        try:
            self._views[key] = self._view(secret)
        except Exception as exc:  # never log the Secret: only which one and the error's type
            self._views.pop(key, None)
            log.error("cannot show %s %s/%s: %s", self.what, *key, type(exc).__name__)
