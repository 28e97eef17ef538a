"""The one place where driftless talks to a Kubernetes API server.

``KubeClient`` is a thin, typed layer over ``kubernetes_asyncio``: that library
loads kubeconfigs (client certificates, tokens, exec plugins, OIDC) and owns the
HTTP connection pool; this module builds the request paths, speaks raw JSON
dicts (a GitOps engine handles arbitrary kinds, so generated model classes
would only get in the way) and turns API failures into the ``KubeApiError``
classes of ``kube.errors`` (re-exported here).

Contracts:

* Objects go in and come out as plain ``dict`` bodies, exactly as the API
  server sends them.
* ``apply`` is server-side apply and refuses to run without a field manager.
* ``get`` returns ``None`` for a missing object instead of raising.
* Every failure of the API server is one of ``KubeUnavailableError``,
  ``KubeRefusedError``, ``KubeNotFoundError``, ``KubeConflictError`` carrying
  the HTTP status and the server's own message — this module is the one place
  that looks at status codes and connection errors; unknown kinds raise
  ``UnknownKindError`` from discovery.
* Every request is counted by verb and status code (``kube.metrics``).
* An answer asking to come back later (429, or a 5xx with ``Retry-After``) is
  sent again after the wait it names, as client-go does (``kube.retry_after``).
* The proxy for the API server comes from the environment (``HTTPS_PROXY``,
  ``NO_PROXY``...) as aiohttp reads it, but looked up once per client
  (``_env_once``), not per request.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client import rest as k8s_rest
from kubernetes_asyncio.client.exceptions import ApiException
from yarl import URL

from driftless.kube import metrics
from driftless.kube.discovery import Discovery, ResourceType, UnknownKindError
from driftless.kube.errors import (
    KubeApiError,
    KubeConflictError,
    KubeExpiredError,
    KubeForbiddenError,
    KubeInvalidError,
    KubeNotFoundError,
    KubeRefusedError,
    KubeTooLargeError,
    KubeUnavailableError,
    api_error,
    unavailable,
)
from driftless.kube.retry_after import retry_wait

__all__ = [
    "KubeApiError",
    "KubeClient",
    "KubeConflictError",
    "KubeExpiredError",
    "KubeForbiddenError",
    "KubeInvalidError",
    "KubeNotFoundError",
    "KubeRefusedError",
    "KubeTooLargeError",
    "KubeUnavailableError",
    "ResourceType",
    "UnknownKindError",
    "WatchEvent",
]

JSON = dict[str, Any]

_MERGE_PATCH = "application/merge-patch+json"
_APPLY_PATCH = metrics.APPLY_PATCH
_JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch stream: ``type`` is ADDED, MODIFIED, DELETED or BOOKMARK."""

    type: str
    obj: JSON


class KubeClient:
    """An async client for one cluster. Close it with ``await client.close()``."""

    def __init__(self, api: k8s_client.ApiClient) -> None:
        self._api = api
        _env_once(api.rest_client, str(api.configuration.host))
        self.discovery = Discovery(self._get_json)

    # -- construction -------------------------------------------------

    @classmethod
    async def from_kubeconfig(
        cls, path: str | None = None, context: str | None = None, *, pool_size: int = 32
    ) -> KubeClient:
        """Connect with a kubeconfig file (``None``: ``$KUBECONFIG`` or ``~/.kube/config``)."""
        configuration = k8s_client.Configuration()
        await k8s_config.load_kube_config(
            config_file=path, context=context, client_configuration=configuration
        )
        configuration.connection_pool_maxsize = pool_size
        return cls(k8s_client.ApiClient(configuration))

    @classmethod
    async def in_cluster(cls, *, pool_size: int = 32) -> KubeClient:
        """Connect with the service account of the Pod this process runs in."""
        configuration = k8s_client.Configuration()
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        configuration.connection_pool_maxsize = pool_size
        return cls(k8s_client.ApiClient(configuration))

    @classmethod
    async def connect(cls, path: str | None = None, context: str | None = None) -> KubeClient:
        """Kubeconfig when one is given or found, else the in-cluster service account."""
        try:
            return await cls.from_kubeconfig(path, context)
        except k8s_config.ConfigException:
            if path is not None:
                raise
            return await cls.in_cluster()

    async def close(self) -> None:
        await self._api.close()

    async def with_pool(self, pool_size: int) -> KubeClient:
        """Another client of the same cluster over a connection pool of its own, of
        ``pool_size`` connections: long watches there leave this client's pool to
        requests. The configuration (server, credentials, a refreshed token) is shared,
        not copied. Close it apart."""
        configuration = self._api.configuration
        api = k8s_client.ApiClient(configuration)
        await api.rest_client.close()  # the pool sized by the configuration, never used
        api.rest_client = k8s_rest.RESTClientObject(configuration, maxsize=pool_size)
        return KubeClient(api)  # its __init__ applies _env_once to the new pool

    @property
    def server(self) -> str:
        return str(self._api.configuration.host)

    # -- raw transport ------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float | aiohttp.ClientTimeout | None = 60,
    ) -> aiohttp.ClientResponse:
        """Send one request; an answer that asks to come back later (429 or 5xx with
        ``Retry-After``) is sent again after that wait (``kube.retry_after``)."""
        call = _Call(method, path, dict(query or {}), body, content_type, accept, timeout)
        attempt = 1
        while True:
            try:
                return await self._send(call)
            except _AnswerError as answer:
                wait = retry_wait(answer.error.status, answer.retry_after, attempt)
                if wait is None:
                    raise answer.error from None
            await asyncio.sleep(wait)
            attempt += 1

    async def _send(self, call: _Call) -> aiohttp.ClientResponse:
        verb = metrics.verb_of(call.method, call.query, call.content_type)
        dry_run = call.query.get("dryRun") == "All"
        started = time.perf_counter()
        try:
            response = await self._api.call_api(
                call.path,
                call.method,
                query_params=list(call.query.items()),
                header_params={"Accept": call.accept, "Content-Type": call.content_type},
                body=call.body,
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _preload_content=False,
                _request_timeout=call.timeout,
            )
        except ApiException as exc:
            metrics.observe(verb, exc.status or 0, time.perf_counter() - started, dry_run=dry_run)
            raise api_error(exc.status or 0, exc.body, exc.reason or "") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            metrics.observe(verb, 0, time.perf_counter() - started, dry_run=dry_run)
            where = f"cannot reach the API server at {self.server}"
            raise unavailable(f"{where}: {_why(exc)}") from None
        resp = cast(aiohttp.ClientResponse, response)
        metrics.observe(verb, resp.status, time.perf_counter() - started, dry_run=dry_run)
        if resp.status >= 400:
            payload = await resp.read()
            resp.release()
            error = api_error(resp.status, payload, resp.reason or "")
            raise _AnswerError(error, resp.headers.get("Retry-After"))
        return resp

    async def _json(self, method: str, path: str, **kwargs: Any) -> JSON:
        resp = await self._request(method, path, **kwargs)
        try:
            return cast(JSON, await resp.json(content_type=None))
        finally:
            resp.release()

    async def _get_json(self, path: str, accept: str | None = None) -> JSON:
        """GET used by discovery; ``accept`` selects aggregated discovery documents."""
        return await self._json("GET", path, accept=accept or "application/json")

    # -- typed operations ---------------------------------------------

    async def resource_type(self, api_version: str, kind: str) -> ResourceType:
        """Discovery lookup; raises ``UnknownKindError`` if the server does not serve it."""
        return await self.discovery.lookup(api_version, kind)

    async def version(self) -> JSON:
        return await self._json("GET", "/version")

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        rtype = await self.resource_type(api_version, kind)
        try:
            return await self._json("GET", rtype.path(namespace, name))
        except KubeNotFoundError:
            return None

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[JSON]:
        """Every object of a kind (all namespaces when ``namespace`` is None)."""
        objects, _ = await self.list_with_version(
            api_version, kind, namespace, label_selector=label_selector
        )
        return objects

    async def list_with_version(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> tuple[builtins.list[JSON], str]:
        """Like ``list`` plus the list's resourceVersion, to start a watch from."""
        items: builtins.list[JSON] = []
        version = ""
        async for page, page_version in self.list_pages(
            api_version, kind, namespace, label_selector=label_selector
        ):
            items += page
            version = page_version
        return items, version

    async def list_pages(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        page_size: int = 500,
    ) -> AsyncIterator[tuple[builtins.list[JSON], str]]:
        """``list_with_version`` one page at a time: ``(items, version)`` per page.

        ``version`` is the list's resourceVersion on the last page and ``""``
        before it. For callers that keep less than whole objects: only one
        page of them is in memory at a time.
        """
        rtype = await self.resource_type(api_version, kind)
        query: dict[str, str] = {"limit": str(page_size)}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            page = await self._json("GET", rtype.path(namespace), query=query)
            items: builtins.list[JSON] = page.get("items", [])
            for item in items:
                # List items omit apiVersion/kind; put them back so callers see whole objects.
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
            token = page.get("metadata", {}).get("continue")
            if not token:
                yield items, str(page.get("metadata", {}).get("resourceVersion", ""))
                return
            yield items, ""
            query["continue"] = token

    async def apply(
        self,
        obj: JSON,
        *,
        field_manager: str,
        force: bool = True,
        dry_run: bool = False,
    ) -> JSON:
        """Server-side apply ``obj``; returns the object as the server now holds it."""
        if not field_manager:
            raise ValueError("server-side apply needs a field manager")
        rtype = await self.resource_type(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata", {})
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            query["dryRun"] = "All"
        namespace = meta.get("namespace") if rtype.namespaced else None
        path = rtype.path(namespace, meta["name"])
        return await self._json("PATCH", path, query=query, body=obj, content_type=_APPLY_PATCH)

    async def merge_patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: JSON,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> JSON:
        """JSON merge patch (RFC 7386) of an object or one of its subresources."""
        path = await self._object_path(api_version, kind, name, namespace, subresource)
        return await self._json("PATCH", path, body=patch, content_type=_MERGE_PATCH)

    async def json_patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        operations: builtins.list[JSON],
        *,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> JSON:
        """JSON patch (RFC 6902); a failing ``test`` operation raises ``KubeRefusedError`` (422)."""
        path = await self._object_path(api_version, kind, name, namespace, subresource)
        return await self._json("PATCH", path, body=operations, content_type=_JSON_PATCH)

    async def _object_path(
        self, api_version: str, kind: str, name: str, namespace: str | None, subresource: str | None
    ) -> str:
        rtype = await self.resource_type(api_version, kind)
        path = rtype.path(namespace, name)
        return f"{path}/{subresource}" if subresource else path

    async def replace(self, obj: JSON) -> JSON:
        """PUT the whole object (create it when missing): for fields apply cannot change."""
        rtype = await self.resource_type(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") if rtype.namespaced else None
        live = await self.get(obj["apiVersion"], obj["kind"], meta["name"], namespace)
        if live is None:
            return await self.create(obj)
        body = {**obj, "metadata": {**meta, "resourceVersion": live["metadata"]["resourceVersion"]}}
        return await self._json("PUT", rtype.path(namespace, meta["name"]), body=body)

    async def create(self, obj: JSON) -> JSON:
        rtype = await self.resource_type(obj["apiVersion"], obj["kind"])
        namespace = obj.get("metadata", {}).get("namespace") if rtype.namespaced else None
        return await self._json("POST", rtype.path(namespace), body=obj)

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
    ) -> bool:
        """Delete an object; ``False`` when it was already gone."""
        rtype = await self.resource_type(api_version, kind)
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        try:
            await self._json("DELETE", rtype.path(namespace, name), body=body)
        except KubeNotFoundError:
            return False
        return True

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        timeout_seconds: int = 300,
        label_selector: str | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """Stream events after ``resource_version`` until the server closes the stream.

        ``label_selector`` watches only the objects it selects (as ``list`` does).

        Callers re-list and re-watch when this ends or raises
        ``KubeExpiredError`` (410: the resource version is too old); a plain
        ``KubeNotFoundError`` (404) means the kind itself is gone.
        """
        rtype = await self.resource_type(api_version, kind)
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if resource_version:
            query["resourceVersion"] = resource_version
        if label_selector:
            query["labelSelector"] = label_selector
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=timeout_seconds + 30)
        resp = await self._request("GET", rtype.path(namespace), query=query, timeout=timeout)
        try:
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    raise _watch_error(event.get("object"))
                yield WatchEvent(type=str(event["type"]), obj=event["object"])
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise unavailable(f"watch of {kind} interrupted: {_why(exc)}") from None
        finally:
            resp.release()


@dataclass(frozen=True)
class _Call:
    """One request as ``_request`` was asked for it, sent once or more by ``_send``."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    content_type: str
    accept: str
    timeout: float | aiohttp.ClientTimeout | None


class _AnswerError(Exception):
    """An error answer (``error``) and its ``Retry-After`` header: ``_request``
    either sends the request again or raises ``error``."""

    def __init__(self, error: KubeApiError, retry_after: str | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _env_once(rest: k8s_rest.RESTClientObject, host: str) -> None:
    """Look the API server's proxy up in the environment once, not for every request.

    kubernetes_asyncio's session has ``trust_env=True``, so aiohttp, for every
    request, parses ``~/.netrc`` and reads the proxy variables, each in a
    thread-pool job: two thread hops and a file read per request, among the top
    costs of a controller's cold start (``bench/scale_bench.py``'s profile).
    The server is one URL, so its proxy is the same each time: it is resolved
    here (the same ``get_env_proxy_for_url`` aiohttp uses, so ``NO_PROXY`` is
    honoured) and set on the client, and the session stops asking. A proxy
    that needs credentials keeps aiohttp's per-request lookup (kubernetes_asyncio
    passes no proxy credentials). A proxy set in the kubeconfig is kept as is;
    netrc credentials are never sent to an API server.
    """
    session = rest.pool_manager
    if not session.trust_env:
        return
    if rest.proxy is None:
        try:
            proxy, auth = get_env_proxy_for_url(URL(host))
        except (LookupError, ValueError):
            pass  # no proxy for this server
        else:
            if auth is not None or proxy.user:
                return
            rest.proxy = str(proxy)
    session._trust_env = False  # one of aiohttp's ATTRS: settable on purpose


def _watch_error(status: object) -> KubeApiError:
    """The error of a watch's ERROR event, whose object is a ``Status``."""
    if not isinstance(status, dict):
        return api_error(0, None, "watch error")
    code = status.get("code")
    return api_error(code if isinstance(code, int) else 0, json.dumps(status), "watch error")


def _why(exc: BaseException) -> str:
    """A connection failure in words (a bare ``TimeoutError`` says nothing)."""
    return str(exc) or type(exc).__name__


def quote_name(name: str) -> str:
    """Percent-encode one path segment (object names may hold ':' for RBAC objects)."""
    return quote(name, safe=":")
