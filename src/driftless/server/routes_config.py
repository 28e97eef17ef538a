"""Read routes of ``/api/v1`` for the configuration around apps: repositories and clusters.

What ``driftless repo list`` and ``driftless cluster list`` show, as JSON,
and never more: no password, token, SSH key or known-hosts text of a
repository credential; no token, client key, client certificate, CA data or
password of a cluster. Both are served from watch caches (``SecretViews``)
of the labelled Secrets in the controller's namespace, which keep only these
views: a request never lists anything against the API server. Until a cache
is listed its route answers 503 ``Unavailable``.

* ``GET /repositories``: ``{"items": [Repository]}`` by URL, then name. A
  Secret the controller cannot use is listed with ``status: "Invalid"`` and
  the reason in ``message`` (type ``invalid``, URL ``-``).
* ``GET /clusters``: ``{"items": [Cluster]}``: the built-in ``in-cluster``
  destination first (``namespace`` and ``secret`` null), then the registered
  clusters by name; an unusable cluster Secret as for repositories.

The views are ``pipeline.config_views`` summaries, those the CLI lists show,
built with the controller's own parsers: what is listed as ``Ok`` is what the
controller accepts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from driftless.kube import clusters
from driftless.kube.client import KubeClient
from driftless.pipeline import config_views
from driftless.server import access
from driftless.server.errors import UnavailableError
from driftless.server.secrets_cache import SecretViews
from driftless.sources import credentials as creds

__all__ = ["ConfigCaches", "cluster_view", "new_caches", "repository_view", "router"]

JSON = dict[str, Any]
OK = "Ok"
INVALID = "Invalid"


class RepositoryModel(BaseModel):
    """A repository credential as listed: never its secret values."""

    name: str = Field(description="The credential Secret's name.")
    namespace: str
    url: str = Field(description="The URL prefix it covers, without userinfo; '-' when invalid.")
    type: str = Field(description="https, ssh, or invalid.")
    knownHosts: str = Field(  # noqa: N815 (the API's spelling)
        description="SSH host keys: set, not set, ignored (insecure), or '-'."
    )
    status: str = Field(description="Ok, or Invalid when the controller cannot use it.")
    message: str = Field(description="Why it is invalid; empty when Ok.")
    created: str | None


class RepositoryListModel(BaseModel):
    items: list[RepositoryModel]


class ClusterModel(BaseModel):
    """A destination cluster as listed: never its credentials."""

    name: str = Field(description="What applications name as destination.name.")
    server: str = Field(description="The API server URL; '-' when invalid.")
    namespace: str | None = Field(description="The cluster Secret's namespace (null: built in).")
    secret: str | None = Field(description="The cluster Secret's name (null: built in).")
    auth: str = Field(
        description="client-certificate, token, basic, none, service-account or invalid."
    )
    status: str = Field(description="Ok, or Invalid when the controller cannot use it.")
    message: str = Field(description="Why it is invalid; empty when Ok.")
    created: str | None


class ClusterListModel(BaseModel):
    items: list[ClusterModel]


def _meta(secret: JSON) -> JSON:
    meta = secret.get("metadata")
    return meta if isinstance(meta, dict) else {}


def repository_view(secret: JSON) -> JSON:
    """What the API shows of a repository credential Secret (see ``RepositoryModel``). Pure."""
    meta = _meta(secret)
    summary = config_views.repository_summary(secret)
    message = summary.pop("message")
    return {
        "name": str(meta.get("name", "")),
        "namespace": str(meta.get("namespace", "")),
        **summary,
        "status": INVALID if message else OK,
        "message": message,
        "created": meta.get("creationTimestamp"),
    }


def cluster_view(secret: JSON) -> JSON:
    """What the API shows of a cluster Secret (see ``ClusterModel``). Pure."""
    meta = _meta(secret)
    summary = config_views.cluster_summary(secret)
    return {
        "name": summary["name"],
        "server": summary["server"],
        "namespace": str(meta.get("namespace", "")),
        "secret": str(meta.get("name", "")),
        "auth": summary["auth"],
        "status": INVALID if summary["message"] else OK,
        "message": summary["message"],
        "created": meta.get("creationTimestamp"),
    }


IN_CLUSTER: JSON = {
    "name": clusters.IN_CLUSTER_NAME,
    "server": clusters.IN_CLUSTER_SERVER,
    "namespace": None,
    "secret": None,
    "auth": "service-account",
    "status": OK,
    "message": "",
    "created": None,
}


@dataclass
class ConfigCaches:
    """The two Secret caches these routes read; ``run()`` follows both until cancelled."""

    repositories: SecretViews
    clusters: SecretViews

    async def run(self) -> None:
        await asyncio.gather(self.repositories.run(), self.clusters.run())


def new_caches(client: KubeClient, namespace: str) -> ConfigCaches:
    """The caches of the credential and cluster Secrets in ``namespace``; nothing started."""
    return ConfigCaches(
        repositories=SecretViews(
            client,
            namespace=namespace,
            selector=creds.REPOSITORY_SECRET_LABEL,
            what="repository credentials",
            view=repository_view,
        ),
        clusters=SecretViews(
            client,
            namespace=namespace,
            selector=clusters.CLUSTER_SECRET_SELECTOR,
            what="cluster Secrets",
            view=cluster_view,
        ),
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"description": "The Secrets are not listed yet."},
}


def _views(cache: SecretViews) -> list[JSON]:
    if not cache.synced:
        raise UnavailableError(f"the server is starting: {cache.problem}")
    return cache.views()


def router(caches: ConfigCaches) -> APIRouter:
    routes = APIRouter()

    @routes.get(
        "/repositories",
        response_model=RepositoryListModel,
        tags=["repositories"],
        responses=_ERRORS,
    )
    async def list_repositories(request: Request) -> Any:
        """Repository credentials (never their secret values) one may see, by URL."""
        sees = access.of(request).sees
        shown = [r for r in _views(caches.repositories) if sees("repositories", r["url"])]
        items = sorted(shown, key=lambda r: (r["url"], r["name"]))
        return {"items": items}

    @routes.get("/clusters", response_model=ClusterListModel, tags=["clusters"], responses=_ERRORS)
    async def list_clusters(request: Request) -> Any:
        """Destination clusters (never their credentials) one may see: in-cluster, then by
        name."""
        sees = access.of(request).sees
        stored = sorted(_views(caches.clusters), key=lambda c: (c["name"], c["secret"] or ""))
        return {"items": [c for c in (IN_CLUSTER, *stored) if sees("clusters", c["name"])]}

    return routes
