"""The repository credentials of a cluster, kept fresh, handed to the git cache.

``CredentialStore(client, namespace)`` reads the Secrets labelled
``driftless.dev/secret-type: repository`` in ``namespace`` (default
``driftless``) through ``KubeClient``.

Contract:

* ``refresh()`` re-lists the Secrets and replaces the known credentials at
  once. A Secret that cannot be used is skipped with a warning naming it and
  the problem (never a value); the others still work.
* ``auth(url)`` is the ``CredentialEnv`` hook of ``GitCache``: it refreshes
  when the last list is older than ``max_age`` seconds (so a ``driftless repo
  add`` takes effect within that time without any watch), picks the
  credential with the longest prefix matching ``url`` and yields its
  ``GitAuth`` (see ``gitauth``), removing key files afterwards.
* When the API server cannot be read, the last known credentials keep being
  used and the failure is logged; a reconcile never fails only because a
  refresh did.

Wire it into the controller with ``GitCache(root, credentials=store.auth)``,
and ``chart_credentials(url)`` (the https user name and password for a chart
repository, refreshed the same way) into ``RenderTools.chart_credentials``.
``static_auth(credentials)`` is the same hook over a fixed list, for tools
and tests that run without a cluster.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from driftless.core.resources import DEFAULT_APP_NAMESPACE
from driftless.kube.client import KubeApiError, KubeClient
from driftless.sources import credentials as creds
from driftless.sources.gitauth import GitAuth, git_auth

__all__ = ["DEFAULT_MAX_AGE", "DEFAULT_NAMESPACE", "CredentialStore", "static_auth"]

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = DEFAULT_APP_NAMESPACE
DEFAULT_MAX_AGE = 15.0


class CredentialStore:
    """Repository credentials read from labelled Secrets of one namespace."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.max_age = max_age
        self._credentials: tuple[creds.RepoCredential, ...] = ()
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def credentials(self) -> tuple[creds.RepoCredential, ...]:
        """The credentials as of the last successful refresh."""
        return self._credentials

    async def refresh(self) -> None:
        """List the Secrets now; raises ``KubeApiError`` when the API server fails."""
        secrets = await self.client.list(
            "v1", "Secret", self.namespace, label_selector=creds.REPOSITORY_SECRET_LABEL
        )
        loaded = []
        for secret in secrets:
            try:
                loaded.append(creds.parse_secret(secret))
            except creds.CredentialError as exc:
                log.warning("ignoring repository credential: %s", exc)
        self._credentials = tuple(loaded)
        self._loaded_at = time.monotonic()

    def lookup(self, url: str) -> creds.RepoCredential | None:
        """The credential for ``url`` among the known ones (no refresh)."""
        return creds.match_credential(self._credentials, url)

    async def chart_credentials(self, url: str) -> tuple[str, str] | None:
        """``RenderTools.chart_credentials``: the user name and password for a chart
        repository or registry ``url`` (an https credential matched like git's), if any."""
        await self._refresh_if_stale()
        found = self.lookup(url)
        if found is None or found.kind is not creds.AuthKind.HTTPS or not found.password:
            return None
        return (found.username or creds.DEFAULT_USERNAME, found.password)

    @asynccontextmanager
    async def auth(self, url: str) -> AsyncIterator[GitAuth]:
        """``GitCache``'s hook: what git needs for ``url``, valid inside the context."""
        await self._refresh_if_stale()
        async with git_auth(self.lookup(url), url) as auth:
            yield auth

    async def _refresh_if_stale(self) -> None:
        # One refresh at a time: N apps reconciling at once cause one list.
        async with self._lock:
            now = time.monotonic()
            if self._loaded_at is not None and now - self._loaded_at < self.max_age:
                return
            try:
                await self.refresh()
            except KubeApiError as exc:
                log.warning("cannot read repository credentials in %s: %s", self.namespace, exc)
                # Do not hammer the API server: try again after max_age.
                self._loaded_at = now


def static_auth(
    known: Iterable[creds.RepoCredential],
) -> Callable[[str], AbstractAsyncContextManager[GitAuth]]:
    """A ``CredentialEnv`` hook over a fixed set of credentials (no cluster needed)."""
    fixed = tuple(known)

    def auth(url: str) -> AbstractAsyncContextManager[GitAuth]:
        return git_auth(creds.match_credential(fixed, url), url)

    return auth
