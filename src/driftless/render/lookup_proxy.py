"""Helm ``lookup`` through a read-only proxy: the pure half (requests, decisions, kubeconfig).

Why: ``helm template`` answers ``lookup`` with empty maps unless it runs with
``--dry-run=server`` and a kubeconfig; charts that read a live object (an
existing ConfigMap, a generated password they must not regenerate) then
render wrong objects. Handing the renderer the controller's credentials is
out of the question (it runs code a repository author wrote), so it gets a
token for a proxy that answers only what the app's Project lets it see.

The design, end to end:

* Opt-in twice. The app sets ``spec.source.helm.lookup: true``; its Project
  sets ``allowHelmLookup: true``. The Project default is *refused*: reading
  live objects is a grant of its own, distinct from deploying, and an
  administrator who never heard of it must not find tenants reading their
  cluster. Without the opt-in ``helm template`` runs exactly as before: no
  ``--dry-run=server``, no kubeconfig, ``lookup`` returns empty maps.
* Whoever plans the app (the controller, ``driftless app diff``, the API
  server) runs a ``LookupProxy`` (``render.lookup_server``) on
  ``127.0.0.1`` at a random port, in its own process. Each render that opted
  in gets a fresh random bearer token bound to a ``LookupScope`` (the
  destination cluster's client, the Project, the destination server URL and
  the protected namespaces). The token is revoked when that render ends and
  expires at its deadline anyway; it is worth nothing anywhere but at the
  proxy, and nothing at the proxy after its render.
* The proxy speaks HTTPS with a self-signed certificate made at its start
  (client-go sends a bearer token over TLS only); the kubeconfig trusts that
  certificate alone.
* The render request (``render.wire``) carries the proxy URL, its
  certificate and the token.
  The render server's child writes a kubeconfig holding only those into
  helm's private temporary directory (mode 0600) and runs ``helm template
  --dry-run=server --kubeconfig=...``. In a cluster the renderer container
  shares the controller Pod's network namespace, so loopback reaches the
  proxy; the renderer still holds no other credential.
* What the proxy answers: ``GET`` only. ``/version``, ``/api``, ``/apis``,
  a group version's discovery (``/api/v1``, ``/apis/G/V``), and get or list
  of a resource (``[/namespaces/NS]/RESOURCE[/NAME]``). Everything else is
  refused with 403: other verbs, subresources (``pods/log``, ``*/proxy``,
  ``exec``: reads that are not object reads), ``watch`` and every other
  query parameter (``timeout``, which clients add, is ignored),
  percent-encoded bytes (no ``%2F`` smuggling a slash), empty, ``.`` or
  ``..`` segments. ``parse_request`` decides this from the raw request line.
* What may be read (``check_read``): a namespaced kind only in a namespace
  that is a destination of the Project on this cluster (the controller's own
  namespace never, unless named literally, as for deploying), never across
  all namespaces, never a kind of ``namespaceResourceDenyList``; a
  cluster-scoped kind only if ``clusterResourceAllowList`` allows it. Either
  way the Project must have a destination on this cluster (its ``server``
  glob matching the destination's URL): a Project confined to one cluster
  reads nothing of another, cluster-scoped kinds included.
  **Secrets never**, and there is no opt-in: lookup output is rendered
  output, so a tenant's chart could copy any Secret it can name (other
  apps' credentials, ServiceAccount tokens, which live in Secrets) into a
  ConfigMap, an annotation or the diff that everyone who reads the app sees.
  Token requests are creates, refused as every write is.
* Answers: the object or list as the destination serves it (a list of at
  most ``MAX_LIST_ITEMS`` objects and ``MAX_LIST_BYTES`` of them serialized,
  refused with 403 past either, which fails the render naming the limit);
  404 for a missing object (``lookup`` then gives an empty map, as Helm
  documents); 401 for an unknown, revoked or expired token; 403 with a
  Kubernetes ``Status`` naming the kind and namespace for a refusal; 503
  when the destination cannot be reached; at most ``MAX_REQUESTS`` requests
  per render.
* The render's outcome: the proxy notes every refusal and every
  unreachable destination on the grant. A refused lookup fails the render
  with a ``RenderError`` "Helm lookup refused: ..." (a silent empty map would
  render wrong objects); an unreachable destination makes the failure a
  ``TransientError``. Renders with lookup are never cached: their output
  depends on live state.

Everything in this module is pure: it decides, ``render.lookup_server`` does
the I/O.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Protocol
from urllib.parse import parse_qsl

from driftless.core.project import (
    Project,
    ProjectViolationError,
    allows_kind,
    check_destination,
)

JSON = dict[str, Any]
MAX_LIST_ITEMS = 2000
# A list answer's objects, serialized, at most (the render server caps a render's
# output at 16 MiB too): 2,000 ConfigMaps of 1 MiB each would otherwise be 2 GiB
# in the planning process. Past it the list is refused (403), the render fails.
MAX_LIST_BYTES = 16 * 1024 * 1024
MAX_REQUESTS = 500
# Path segments as the API server's object and resource names need them;
# anything else (``%``, ``.``/``..``, empty) is refused before any routing.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,252}")
# Query parameters clients add on their own and that change nothing we answer.
_IGNORED_QUERY = frozenset({"timeout"})
# ``/namespaces/NAME/status`` is the Namespace's subresource, not a list (as the API server parses).
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


class RefusedError(Exception):
    """The proxy does not answer this request: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ServedType(Protocol):
    """A resource type the destination serves (``kube.discovery.ResourceType`` is one)."""

    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def plural(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...


@dataclass(frozen=True)
class LookupAccess:
    """Where a render's helm reaches the proxy: URL, the proxy's certificate (PEM),
    and the render's token (never shown)."""

    url: str
    ca: str
    token: str = field(repr=False)

    def to_json(self) -> JSON:
        return {"url": self.url, "ca": self.ca, "token": self.token}

    @classmethod
    def from_json(cls, data: Any) -> LookupAccess:
        if not isinstance(data, dict):
            raise TypeError("lookup is not an object")
        url, ca, token = data["url"], data["ca"], data["token"]
        if not isinstance(url, str) or not url.startswith("https://127.0.0.1:"):
            raise ValueError("lookup url is not a loopback URL")
        if not isinstance(ca, str) or "BEGIN CERTIFICATE" not in ca:
            raise ValueError("lookup certificate is missing")
        if not isinstance(token, str) or not token:
            raise ValueError("lookup token is missing")
        return cls(url, ca, token)


@dataclass(frozen=True)
class LookupScope:
    """What one app's renders may read: its Project's rules on one destination."""

    project: Project
    server_url: str
    protected: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ApiPath:
    """One request the proxy may answer, parsed as the API server would."""

    what: str  # "version", "api", "apis", "discovery" or "resource"
    group: str = ""
    version: str = ""
    resource: str = ""
    namespace: str | None = None
    name: str | None = None


def parse_request(method: str, raw_path: str) -> ApiPath:
    """The request ``method raw_path`` (path and query as sent); ``RefusedError`` otherwise."""
    if method != "GET":
        raise RefusedError(403, f"{_shown(method)} is not allowed: Helm lookup is read-only")
    path, _, query = raw_path.partition("?")
    _check_query(query)
    if not path.startswith("/"):
        raise RefusedError(403, "malformed request path")
    parts = path[1:].split("/")
    if not all(_SEGMENT.fullmatch(part) for part in parts):
        raise RefusedError(403, "request path has an empty, dot, encoded or unsupported segment")
    if parts in (["version"], ["api"], ["apis"]):
        return ApiPath(parts[0])
    if parts[0] == "api" and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise RefusedError(403, "only discovery and object reads are served")
    if not rest:
        return ApiPath("discovery", group, version)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 2:
        raise RefusedError(403, f"subresource {'/'.join(rest[2:])} of {rest[0]} is not readable")
    name = rest[1] if len(rest) == 2 else None
    return ApiPath("resource", group, version, rest[0], namespace, name)


def _check_query(query: str) -> None:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise RefusedError(403, "malformed query string") from None
    names = sorted({name for name, _ in pairs} - _IGNORED_QUERY)
    if "watch" in names:
        raise RefusedError(403, "watch is not allowed: Helm lookup reads, it does not watch")
    if names:
        raise RefusedError(403, f"query parameter {_shown(names[0])} is not supported")


def served_type(path: ApiPath, served: Sequence[ServedType]) -> ServedType:
    """The served type ``path`` names; ``RefusedError(404)`` when there is none at that scope."""
    for rtype in served:
        if (rtype.group, rtype.version, rtype.plural) == (path.group, path.version, path.resource):
            if path.namespace is not None and not rtype.namespaced:
                break  # the API server has no such path either
            return rtype
    raise RefusedError(404, "the server could not find the requested resource")


def check_read(scope: LookupScope, rtype: ServedType, namespace: str | None) -> None:
    """Raise ``RefusedError(403)`` unless the scope may read ``rtype`` there (module contract)."""
    kind = _kind(rtype)
    where = f" in namespace {namespace}" if namespace else ""
    if rtype.group == "" and rtype.kind == "Secret":
        raise RefusedError(
            403,
            f"Secret{where}: Secrets are never readable through Helm lookup"
            " (their data would end up in rendered output)",
        )
    project = scope.project
    # Reading a cluster is a grant of that cluster: the Project must deploy there
    # (a destination whose server matches), whatever the kind's scope. Without this a
    # cluster-scoped read would rest on clusterResourceAllowList alone, which names
    # kinds, not clusters: any registered cluster would do.
    if not on_destination_server(project, scope.server_url):
        raise RefusedError(
            403,
            f"{kind}{where}: cluster {scope.server_url} is not a destination of project"
            f" {project.name}",
        )
    if rtype.namespaced:
        if not namespace:
            raise RefusedError(403, f"{kind}: lookup across all namespaces is not allowed")
        try:
            check_destination(project, scope.server_url, namespace, protected=scope.protected)
        except ProjectViolationError:
            raise RefusedError(
                403,
                f"{kind}{where}: namespace {namespace} is not a destination of project"
                f" {project.name}",
            ) from None
    if not allows_kind(project, rtype.group, rtype.kind, rtype.namespaced):
        scoped = "" if rtype.namespaced else "cluster-scoped "
        message = f"{kind}{where}: {scoped}kind {kind} is not allowed in project {project.name}"
        raise RefusedError(403, message)


def on_destination_server(project: Project, server_url: str) -> bool:
    """Whether any destination of ``project`` is on the cluster at ``server_url``
    (its server glob matched as ``core.project.check_destination`` does)."""
    return any(fnmatchcase(server_url, dest.server) for dest in project.spec.destinations)


def status(code: int, message: str) -> JSON:
    """A Kubernetes ``Status`` body: client-go turns it into the error Helm prints."""
    reasons = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"driftless lookup: {message}" if code == 403 else message,
        "reason": reasons.get(code, "ServiceUnavailable" if code == 503 else "InternalError"),
        "code": code,
    }


def resource_list(group: str, version: str, served: Sequence[ServedType]) -> JSON:
    """The discovery document of one group version (``APIResourceList``), read verbs only."""
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [
            {
                "name": rtype.plural,
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": ["get", "list"],
            }
            for rtype in served
            if (rtype.group, rtype.version) == (group, version)
        ],
    }


def api_versions(served: Sequence[ServedType]) -> JSON:
    """``/api``: the core group's versions."""
    versions = sorted({rtype.version for rtype in served if rtype.group == ""})
    return {"kind": "APIVersions", "versions": versions, "serverAddressByClientCIDRs": []}


def api_groups(served: Sequence[ServedType]) -> JSON:
    """``/apis``: every named group and its versions (the first seen preferred)."""
    groups: dict[str, list[str]] = {}
    for rtype in served:
        if rtype.group:
            seen = groups.setdefault(rtype.group, [])
            if rtype.version not in seen:
                seen.append(rtype.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": name,
                "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                "preferredVersion": {
                    "groupVersion": f"{name}/{versions[0]}",
                    "version": versions[0],
                },
            }
            for name, versions in sorted(groups.items())
        ],
    }


def list_body(rtype: ServedType, items: list[JSON], resource_version: str) -> JSON:
    """A list as the API server sends it (items without apiVersion and kind)."""
    api_version = f"{rtype.group}/{rtype.version}" if rtype.group else rtype.version
    return {
        "apiVersion": api_version,
        "kind": f"{rtype.kind}List",
        "metadata": {"resourceVersion": resource_version},
        "items": items,
    }


def encoded_item(item: JSON) -> bytes:
    """One list item as it goes on the wire (its size is what ``MAX_LIST_BYTES`` counts)."""
    return json.dumps(item, separators=(",", ":")).encode()


def list_chunks(rtype: ServedType, items: list[bytes], resource_version: str) -> Iterator[bytes]:
    """``list_body`` of already encoded items, in pieces: the answer is written out
    as they come, never joined into a second copy of every object."""
    head = list_body(rtype, [], resource_version)
    del head["items"]
    # ``{...head}`` reopened for the items: ``{...head,"items":[`` item, item ``]}``.
    yield json.dumps(head, separators=(",", ":")).encode()[:-1] + b',"items":['
    for index, item in enumerate(items):
        yield b"," + item if index else item
    yield b"]}"


def kubeconfig(access: LookupAccess) -> str:
    """A kubeconfig naming the proxy, its certificate and the render's token, nothing
    else (JSON is YAML). The proxy speaks TLS because client-go sends a token over
    HTTPS only; the certificate is the proxy's own, so only it is trusted."""
    authority = base64.b64encode(access.ca.encode()).decode()
    cluster = {"server": access.url, "certificate-authority-data": authority}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "lookup", "cluster": cluster}],
            "users": [{"name": "lookup", "user": {"token": access.token}}],
            "contexts": [{"name": "lookup", "context": {"cluster": "lookup", "user": "lookup"}}],
            "current-context": "lookup",
        }
    )


def _kind(rtype: ServedType) -> str:
    return f"{rtype.kind}.{rtype.group}" if rtype.group else rtype.kind


def _shown(text: str) -> str:
    """Request text in a message: bounded and printable."""
    return repr(text[:40]) if not text.isprintable() or len(text) > 40 else text
