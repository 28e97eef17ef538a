"""Which cluster an app deploys to, and a client for it.

The local cluster (the one holding the Applications) is the destination when
``spec.destination`` names no server, names ``https://kubernetes.default.svc``
or the name ``in-cluster``. Any other destination must be registered with
``driftless cluster add``: a Secret labelled ``driftless.dev/secret-type:
cluster`` in the app's namespace, matched by ``destination.name`` or by
``destination.server``. An unknown destination is a ``StallingError``
naming it. Clients are cached per app namespace, server and Secret version
(two namespaces may register one server with different credentials), so
rotated credentials are picked up without a restart; the user of a replaced
client ``release``s it once nothing uses it any more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from driftless.core.errors import StallingError
from driftless.core.models import Application
from driftless.core.reasons import Reason
from driftless.kube.client import KubeApiError, KubeClient
from driftless.kube.clusters import (
    CLUSTER_SECRET_SELECTOR,
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    ClusterConfigError,
    ClusterConnection,
    connect,
    connection_from_secret,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Destination:
    server: str
    client: KubeClient
    local: bool


def is_local(app: Application) -> bool:
    server = (app.spec.destination.server or "").rstrip("/")
    name = app.spec.destination.name or ""
    return server in ("", IN_CLUSTER_SERVER) and name in ("", IN_CLUSTER_NAME)


class Destinations:
    def __init__(self, control: KubeClient) -> None:
        self.control = control
        self._clients: dict[tuple[str, str, str], KubeClient] = {}

    async def resolve(self, app: Application) -> Destination:
        if is_local(app):
            return Destination(IN_CLUSTER_SERVER, self.control, local=True)
        connection, version = await self._find(app)
        key = (app.namespace, connection.server, version)
        client = self._clients.get(key)
        if client is None:
            client = await connect(connection)
            raced = self._clients.get(key)  # another worker connected meanwhile
            if raced is not None:
                await client.close()
                client = raced
            self._clients[key] = client
        return Destination(connection.server, client, local=False)

    async def _find(self, app: Application) -> tuple[ClusterConnection, str]:
        wanted_name = app.spec.destination.name
        wanted_server = (app.spec.destination.server or "").rstrip("/")
        try:
            secrets = await self.control.list(
                "v1", "Secret", app.namespace, label_selector=CLUSTER_SECRET_SELECTOR
            )
        except KubeApiError as exc:
            raise exc.in_context("cannot read registered clusters") from None
        for secret in secrets:
            try:
                connection = connection_from_secret(secret)
            except ClusterConfigError as exc:
                log.warning("skipping cluster secret %s: %s", secret["metadata"]["name"], exc)
                continue
            by_name = wanted_name and connection.name == wanted_name
            by_server = wanted_server and connection.server.rstrip("/") == wanted_server
            if by_name or by_server:
                return connection, str(secret["metadata"].get("resourceVersion", ""))
        shown = wanted_name or wanted_server
        raise StallingError(
            f"destination cluster {shown} is not registered in namespace {app.namespace}; "
            "register it with `driftless cluster add`",
            reason=Reason.VALIDATION_FAILED,
        )

    async def release(self, client: KubeClient) -> None:
        """Forget and close a client replaced by a newer one (its Secret changed)."""
        stale = [key for key, cached in self._clients.items() if cached is client]
        for key in stale:
            del self._clients[key]
        await client.close()

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
