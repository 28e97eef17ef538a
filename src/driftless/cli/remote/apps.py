"""Where the app commands read and write: the cluster (a kubeconfig) or a driftless server.

``Apps`` is what ``app list|get|diff|sync|wait|history|rollback|refresh``
need; ``KubeApps`` does it with the Kubernetes API (``pipeline.requests``,
the CLI's own planner), ``ServerApps`` with the server's ``/api/v1`` (which
writes through the same ``pipeline.requests``: one engine). Both return the
same shapes -- Application objects, ``ResourceDiff``s, ``Rollback`` facts --
and fail alike, so a command prints the same and exits with the same code
either way:

* an unknown app: ``Error: application "x" not found in namespace ns`` (1);
* a refused request (an operation runs, no such history id): the message of
  ``pipeline.requests`` (1) -- the server answers it as 404/409 with that text;
  a termination with nothing running is ``NoRunningOperationError`` either way;
* a diff whose source cannot be fetched or rendered: ``SourceFailedError``
  (5); the server answers 422 (cannot be planned) or 502 (repository or
  render did not answer) for it;
* anything else from the server: ``client.ServerError`` (1), a 401 saying to
  run ``driftless login``.

``ServerApps.list_apps`` reads the filtered list (pages of ``PAGE`` rows) and
then each Application (at most ``PARALLEL`` at a time): the table's AGE and
READY, and ``-o yaml``, need the whole object, which the list does not carry.
``full=False`` (what ``-o name`` asks) stops at the list: objects holding only
``metadata.name`` and ``namespace``. Through the server
``--controller-namespace`` of ``app diff`` is the server's own (its
Projects); the flag is not sent.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import click

from driftless.cli.diffs import app_diffs
from driftless.cli.exits import SourceFailedError
from driftless.cli.remote.client import Remote, ServerError
from driftless.core import names
from driftless.core.models import API_VERSION, APPLICATION_KIND, Application
from driftless.core.resources import ResourceRef
from driftless.diff.report import ResourceDiff
from driftless.kube.client import KubeClient
from driftless.pipeline import requests

__all__ = ["PAGE", "PARALLEL", "Apps", "KubeApps", "Rollback", "ServerApps", "not_found"]

JSON = dict[str, Any]
T = TypeVar("T")
API = "/api/v1/applications"
PAGE = 500
PARALLEL = 8
BAD_GATEWAY = 502
CONFLICT = 409
MAX_NAME = 253


@dataclass(frozen=True)
class Rollback:
    revision: str
    automation_disabled: bool


def not_found(name: str, namespace: str) -> click.ClickException:
    return click.ClickException(f'application "{name}" not found in namespace {namespace}')


class Apps(Protocol):
    async def list_apps(self, namespace: str | None, *, full: bool = True) -> list[JSON]: ...

    async def get(self, name: str, namespace: str) -> JSON: ...

    async def diffs(self, name: str, namespace: str, *, home: str) -> list[ResourceDiff]: ...

    async def sync(self, name: str, namespace: str, operation: JSON) -> None: ...

    async def refresh(self, name: str, namespace: str, *, hard: bool) -> None: ...

    async def rollback(self, name: str, namespace: str, history_id: int) -> Rollback: ...

    async def terminate(self, name: str, namespace: str) -> str: ...

    async def close(self) -> None: ...


class KubeApps:
    """The app commands on the Kubernetes API, with the rights of the kubeconfig."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def list_apps(self, namespace: str | None, *, full: bool = True) -> list[JSON]:
        return await self.client.list(API_VERSION, APPLICATION_KIND, namespace)

    async def get(self, name: str, namespace: str) -> JSON:
        app = await self.client.get(API_VERSION, APPLICATION_KIND, name, namespace)
        if app is None:
            raise not_found(name, namespace)
        return app

    async def diffs(self, name: str, namespace: str, *, home: str) -> list[ResourceDiff]:
        app = Application.model_validate(await self.get(name, namespace))
        return await app_diffs(self.client, app, home=home)

    async def sync(self, name: str, namespace: str, operation: JSON) -> None:
        await requests.request_sync(self.client, namespace, name, operation)

    async def refresh(self, name: str, namespace: str, *, hard: bool) -> None:
        await requests.request_refresh(self.client, namespace, name, datetime.now(UTC), hard=hard)

    async def rollback(self, name: str, namespace: str, history_id: int) -> Rollback:
        done = await requests.request_rollback(
            self.client, namespace, name, history_id, getpass.getuser(), datetime.now(UTC)
        )
        return Rollback(done.revision, done.automation_disabled)

    async def terminate(self, name: str, namespace: str) -> str:
        return await requests.request_terminate(self.client, namespace, name, datetime.now(UTC))

    async def close(self) -> None:
        await self.client.close()


class ServerApps:
    """The app commands through a driftless server, with the rights of the logged-in user."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    async def list_apps(self, namespace: str | None, *, full: bool = True) -> list[JSON]:
        keys: list[tuple[str, str]] = []
        while True:
            params: JSON = {"limit": PAGE, "offset": len(keys), "sort": "name"}
            if namespace is not None:
                params["namespace"] = namespace
            page = await self.remote.call("GET", API, params=params)
            rows = page.get("items") if isinstance(page, dict) else None
            if not isinstance(rows, list):
                raise ServerError(f"the list of {self.remote.url} has no items")
            keys += [_key(row) for row in rows]
            if not rows or len(keys) >= int(page.get("total") or 0):
                break
        if not full:
            return [{"metadata": {"name": name, "namespace": ns}} for ns, name in keys]
        gate = asyncio.Semaphore(PARALLEL)

        async def one(ns: str, name: str) -> JSON | None:
            async with gate:
                try:
                    return await self._object(name, ns)
                except ServerError as exc:
                    if exc.status == 404:  # deleted since the list was read
                        return None
                    raise

        found = await asyncio.gather(*(one(ns, name) for ns, name in keys))
        return [app for app in found if app is not None]

    async def _object(self, name: str, namespace: str) -> JSON:
        app = await self.remote.call("GET", f"{API}/{namespace}/{name}")
        if not isinstance(app, dict) or not isinstance(app.get("metadata"), dict):
            raise ServerError(f"{self.remote.url} answered with no Application")
        return app

    async def get(self, name: str, namespace: str) -> JSON:
        return await self._missing_as_not_found(name, namespace, self._object(name, namespace))

    async def diffs(self, name: str, namespace: str, *, home: str) -> list[ResourceDiff]:
        try:
            answer = await self.remote.call("GET", f"{API}/{namespace}/{name}/diff")
        except ServerError as exc:
            if exc.status == 404:
                raise not_found(name, namespace) from None
            if exc.status in (422, BAD_GATEWAY):
                raise SourceFailedError(exc.message) from None
            raise
        resources = answer.get("resources") if isinstance(answer, dict) else None
        if not isinstance(resources, list):
            raise ServerError(f"the diff of {self.remote.url} has no resources")
        return [_resource_diff(r) for r in resources]

    async def sync(self, name: str, namespace: str, operation: JSON) -> None:
        wanted = operation["sync"]
        body = {
            "revision": wanted.get("revision"),
            "prune": wanted.get("prune", False),
            "dryRun": wanted.get("dryRun", False),
            "resources": wanted.get("resources") or [],
        }
        await self.remote.call("POST", f"{API}/{namespace}/{name}/sync", body=body)

    async def refresh(self, name: str, namespace: str, *, hard: bool) -> None:
        params = {"hard": "true"} if hard else None
        await self.remote.call("POST", f"{API}/{namespace}/{name}/refresh", params=params)

    async def rollback(self, name: str, namespace: str, history_id: int) -> Rollback:
        path = f"{API}/{namespace}/{name}/rollback"
        answer = await self.remote.call("POST", path, body={"id": history_id})
        revision = answer.get("revision") if isinstance(answer, dict) else None
        if not isinstance(revision, str):
            raise ServerError(f"{self.remote.url} accepted the rollback but named no revision")
        return Rollback(revision, bool(answer.get("automationDisabled")))

    async def terminate(self, name: str, namespace: str) -> str:
        try:
            answer = await self.remote.call("POST", f"{API}/{namespace}/{name}/terminate")
        except ServerError as exc:
            if exc.status != CONFLICT:
                raise
            # The one refusal of a termination: nothing runs. As with a kubeconfig,
            # the app as read says why (e.g. no controller ever reported on it).
            app = await self.get(name, namespace)
            raise requests.NoRunningOperationError(exc.message, app) from None
        started_at = answer.get("terminate") if isinstance(answer, dict) else None
        if not isinstance(started_at, str):
            raise ServerError(f"{self.remote.url} accepted the termination but named no operation")
        return started_at

    async def close(self) -> None:
        await self.remote.close()

    async def _missing_as_not_found(self, name: str, namespace: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except ServerError as exc:
            if exc.status == 404:
                raise not_found(name, namespace) from None
            raise


def _key(row: Any) -> tuple[str, str]:
    """(namespace, name) of a list row; a name that is no Kubernetes name (``..``) is refused."""
    namespace = row.get("namespace") if isinstance(row, dict) else None
    name = row.get("name") if isinstance(row, dict) else None
    if (
        not isinstance(namespace, str)
        or not isinstance(name, str)
        or names.namespace_problem(namespace) is not None
        or len(name) > MAX_NAME
        or not names.matches(names.RELEASE_NAME_PATTERN, name)
    ):
        raise ServerError("the server's list holds a row without a valid namespace and name")
    return namespace, name


def _resource_diff(raw: Any) -> ResourceDiff:
    """One resource of the server's diff as the CLI's ``ResourceDiff`` (``to_json``'s inverse)."""
    if not isinstance(raw, dict):
        raise ServerError("the server's diff holds something that is not a resource")
    fields = [raw.get(k) for k in ("group", "kind", "namespace", "name", "status", "diff")]
    if not all(isinstance(value, str) for value in fields):
        raise ServerError("the server's diff holds a resource without its fields")
    group, kind, namespace, name, status, text = (str(value) for value in fields)
    return ResourceDiff(ResourceRef(group, kind, namespace, name), status, text)


async def using(apps: Apps, body: Callable[[Apps], Awaitable[T]]) -> T:
    """Run ``body`` with ``apps``, closed afterwards."""
    try:
        return await body(apps)
    finally:
        await apps.close()
