"""API discovery: which kinds a cluster serves, under which plural, at which scope.

Uses aggregated discovery (``apidiscovery.k8s.io/v2``, two requests for the
whole cluster) and falls back to the per-group documents older servers serve.

Contract: ``lookup`` answers from the cache; on a miss it refreshes the cache
(at most once per ``min_refresh_interval`` seconds, so a truly unknown kind
does not hammer the server) and raises ``UnknownKindError`` if the kind is
still not served — the caller turns that into a precise condition.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]
GetJson = Callable[[str, str | None], Awaitable[JSON]]

_AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


class UnknownKindError(LookupError):
    """The cluster serves no resource for this apiVersion and kind."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"the cluster does not serve kind {kind!r} in apiVersion {api_version!r}")
        self.api_version = api_version
        self.kind = kind


@dataclass(frozen=True)
class ResourceType:
    """One served resource: enough to build its REST paths."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection path, or the object path when ``name`` is given."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base = f"{base}/namespaces/{quote(namespace, safe='')}"
        base = f"{base}/{self.plural}"
        if name is not None:
            base = f"{base}/{quote(name, safe=':')}"
        return base


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    group, _, version = api_version.rpartition("/")
    return group, version


class Discovery:
    """A refreshable cache of the kinds one cluster serves."""

    def __init__(self, get_json: GetJson, *, min_refresh_interval: float = 2.0) -> None:
        self._get_json = get_json
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._refreshed_at = float("-inf")
        self._min_refresh_interval = min_refresh_interval
        self._lock = asyncio.Lock()

    async def lookup(self, api_version: str, kind: str) -> ResourceType:
        group, version = split_api_version(api_version)
        key = (group, version, kind)
        found = self._types.get(key)
        if found is not None:
            return found
        await self.refresh(force=False)
        found = self._types.get(key)
        if found is None:
            raise UnknownKindError(api_version, kind)
        return found

    async def refresh(self, *, force: bool = True) -> None:
        """Reload discovery; without ``force``, skipped if it ran very recently."""
        async with self._lock:
            recent = time.monotonic() - self._refreshed_at < self._min_refresh_interval
            if recent and not force:
                return
            types: dict[tuple[str, str, str], ResourceType] = {}
            for root in ("/api", "/apis"):
                for rtype in await self._discover_root(root):
                    types[(rtype.group, rtype.version, rtype.kind)] = rtype
            self._types = types
            self._refreshed_at = time.monotonic()

    def served(self) -> list[ResourceType]:
        """Every resource type known after the last refresh."""
        return list(self._types.values())

    async def _discover_root(self, root: str) -> list[ResourceType]:
        doc = await self._get_json(root, _AGGREGATED)
        if doc.get("kind") == "APIGroupDiscoveryList":
            return list(parse_aggregated(doc))
        return await self._discover_legacy(root, doc)

    async def _discover_legacy(self, root: str, doc: JSON) -> list[ResourceType]:
        paths: list[str] = []
        if root == "/api":
            paths = [f"/api/{v}" for v in doc.get("versions", [])]
        else:
            for group in doc.get("groups", []):
                paths += [f"/apis/{v['groupVersion']}" for v in group.get("versions", [])]
        found: list[ResourceType] = []
        for path in paths:
            found += parse_resource_list(await self._get_json(path, None))
        return found


def parse_aggregated(doc: JSON) -> list[ResourceType]:
    """Resource types from an ``APIGroupDiscoveryList`` document."""
    found: list[ResourceType] = []
    for group in doc.get("items", []):
        group_name = group.get("metadata", {}).get("name", "")
        for version in group.get("versions", []):
            for res in version.get("resources", []):
                kind = res.get("responseKind", {}).get("kind")
                if not kind:
                    continue
                found.append(
                    ResourceType(
                        group=group_name,
                        version=version["version"],
                        kind=kind,
                        plural=res["resource"],
                        namespaced=res.get("scope") == "Namespaced",
                    )
                )
    return found


def parse_resource_list(doc: JSON) -> list[ResourceType]:
    """Resource types from a legacy ``APIResourceList`` document (subresources skipped)."""
    group, version = split_api_version(doc.get("groupVersion", ""))
    return [
        ResourceType(
            group=group,
            version=version,
            kind=res["kind"],
            plural=res["name"],
            namespaced=bool(res.get("namespaced")),
        )
        for res in doc.get("resources", [])
        if "/" not in res["name"]
    ]
