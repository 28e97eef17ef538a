"""Routes of one application's live side: its resource tree, an object's manifest, its Events.

Every answer comes from memory: the Application from ``Caches``, live
objects and Events from the ``LiveObjects`` of the app's destination cluster
(this one's, or a remote one's: ``server.remote_live``; the Application's
own Events always from this cluster). A tree request has followed (or
keeps following) only what that tree needs (``follows``): each managed
object's kind in its namespace, and in that namespace the kinds its
controller makes (``live.child_kinds``: a Deployment's ReplicaSets and their
Pods, a Service's EndpointSlices, every ``CHILD_KINDS`` for a custom kind)
-- an object owned by the app's objects in another namespace is not shown.
What no request needs for 10 minutes is dropped, and at most 60
kinds-in-a-namespace are followed at once per cluster (the least recently
asked make room). Only custom health
checks are read from the API (``pipeline.health_config``, at most every
10 s per namespace), as the controller reads them.

* ``GET .../{namespace}/{name}/tree`` -> ``{"nodes": [...]}`` (``server.tree``),
  plus ``"partial": "<reason>"`` when the tree is not whole: a destination
  cluster not registered or not answering (the managed objects from the
  status only), a kind not served, not allowed or still listing, or too many
  nodes.
* ``GET .../resource?group=&version=&kind=&namespace=&name=`` ->
  ``{"live": object}`` for an object of that app's tree only (else 404 naming
  it: the API never reads an arbitrary cluster object); slim and masked as
  ``live`` keeps it (no managedFields, no last-applied annotation, Secret
  values masked).
* ``GET .../events`` -> ``{"items": [...]}``: the Events of the Application
  and of the objects of its tree, newest first, at most ``MAX_EVENTS``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from driftless.controller.destinations import Destinations, is_local
from driftless.core.models import APPLICATION_KIND, Application
from driftless.diff.secrets import mask
from driftless.kube.client import KubeClient
from driftless.pipeline.health_config import HealthConfig
from driftless.server.caches import Caches
from driftless.server.errors import NotFoundError, UnavailableError
from driftless.server.live import CHILD_KINDS, LiveObjects, Scope, api_version, child_kinds
from driftless.server.planning import Leases
from driftless.server.remote_live import RemoteLive
from driftless.server.tree import Tree, build_tree, managed_refs

__all__ = ["MAX_EVENTS", "AppViews", "follows", "router"]

JSON = dict[str, Any]
MAX_EVENTS: Final = 200
Name = Annotated[str, Path(min_length=1, max_length=253)]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such application, or the object is not in its tree."},
    503: {"description": "The caches are not listed yet."},
}


class TreeModel(BaseModel):
    nodes: list[dict[str, Any]]
    partial: str | None = None


class LiveModel(BaseModel):
    live: dict[str, Any]


class EventsModel(BaseModel):
    items: list[dict[str, Any]]
    partial: str | None = None


class AppViews:
    """The answers of one app's live side, from memory: the routes below and the app's
    stream (``server.stream``) both ask it, so a pushed tree is the one a GET gives.

    ``live`` follows this cluster; ``remote`` the apps' other clusters (default:
    its own, with clients of its own; ``driftless server`` shares the diffs'
    clients, see ``server.app``)."""

    def __init__(
        self,
        caches: Caches,
        live: LiveObjects,
        client: KubeClient,
        remote: RemoteLive | None = None,
    ) -> None:
        self.caches = caches
        self.live = live
        self.health = HealthConfig(client)
        self.remote = remote or RemoteLive(Destinations(client), Leases(), live.tell)

    def app_or_404(self, namespace: str, name: str) -> JSON:
        if not self.caches.ready:
            raise UnavailableError(f"the server is starting: {self.caches.problem}")
        app = self.caches.app(namespace, name)
        if app is None:
            raise NotFoundError(f"application {namespace}/{name} not found")
        return app

    async def live_of(self, app: JSON) -> LiveObjects | str:
        """The live objects of the app's destination cluster, or why there are none."""
        try:
            model = Application.model_validate(app)
        except ValidationError:
            return "the application's destination cannot be read"
        return self.live if is_local(model) else await self.remote.live_for(model)

    async def tree_of(self, app: JSON) -> tuple[Tree, list[str], LiveObjects | None]:
        """The app's tree, the reasons it is partial, and the live objects it was built
        from (None: from the status only, its cluster cannot be read)."""
        namespace = str(app["metadata"].get("namespace", ""))
        managed = managed_refs(app.get("status"))
        live = await self.live_of(app)
        if isinstance(live, str):
            tree = build_tree(managed, lambda *_: None, lambda _: (), lambda _: _never())
            return tree, [f"{live}; the managed objects, from the status"], None
        problems = await live.ensure(follows(managed))
        registry = await self.health.registry(namespace)
        tree = build_tree(managed, live.lookup, live.dependents, registry.assess)
        if tree.truncated:
            problems.append(f"only the first {len(tree.nodes)} objects")
        return tree, problems, live

    async def tree_body(self, app: JSON) -> JSON:
        """``GET .../tree``'s answer."""
        tree, problems, _ = await self.tree_of(app)
        body: JSON = {"nodes": tree.nodes}
        if problems:
            body["partial"] = "; ".join(problems)
        return body

    async def events_body(self, app: JSON) -> JSON:
        """``GET .../events``'s answer: the Application's Events from this cluster, its
        objects' from theirs."""
        namespace, name = str(app["metadata"].get("namespace", "")), app["metadata"]["name"]
        tree, reasons, live = await self.tree_of(app)
        nodes = [n for n in tree.nodes if not n["uid"].startswith("missing:")]
        own: _Wanted = (
            {namespace},
            {str(app["metadata"].get("uid", ""))},
            {(APPLICATION_KIND, namespace, name)},
        )
        theirs: _Wanted = (
            {n["namespace"] for n in nodes if n["namespace"]},
            {n["uid"] for n in nodes},
            {(n["kind"], n["namespace"], n["name"]) for n in nodes},
        )
        if live is None:
            asks, problems = [(self.live, own)], reasons
        elif live is self.live:
            asks, problems = [(live, _union(own, theirs))], []
        else:
            asks, problems = [(self.live, own), (live, theirs)], []
        items: list[JSON] = []
        for source, (namespaces, uids, named) in asks:
            problems = [*problems, *await source.ensure_events(namespaces)]
            items += [
                {k: v for k, v in event.items() if k not in ("uid", "metadata")}
                for event in source.events(namespaces)
                if (event["uid"] in uids if event["uid"] else _named(event) in named)
            ]
        items.sort(key=lambda e: (e["lastTimestamp"], e["firstTimestamp"]), reverse=True)
        body: JSON = {"items": items[:MAX_EVENTS]}
        if problems:
            body["partial"] = "; ".join(problems)
        return body


def router(views: AppViews) -> APIRouter:
    routes = APIRouter(tags=["applications"])
    app_or_404, tree_of = views.app_or_404, views.tree_of

    @routes.get(
        "/applications/{namespace}/{name}/tree", response_model=TreeModel, responses=_NOT_FOUND
    )
    async def get_tree(namespace: Name, name: Name) -> Any:
        """The app's managed objects and what they own, down to Pods, with health and sync."""
        return JSONResponse(await views.tree_body(app_or_404(namespace, name)))

    @routes.get(
        "/applications/{namespace}/{name}/resource", response_model=LiveModel, responses=_NOT_FOUND
    )
    async def get_resource(
        namespace: Name,
        name: Name,
        kind: Annotated[str, Query(min_length=1, max_length=63)],
        object_name: Annotated[str, Query(alias="name", min_length=1, max_length=253)],
        group: Annotated[str, Query(max_length=253)] = "",
        version: Annotated[str, Query(max_length=63)] = "",
        object_namespace: Annotated[str, Query(alias="namespace", max_length=63)] = "",
    ) -> Any:
        """The live object of one node of the app's tree (slim; Secret values masked)."""
        tree, _, live = await tree_of(app_or_404(namespace, name))
        wanted = (group, kind, object_namespace, object_name)
        shown = f"{kind} {object_namespace + '/' if object_namespace else ''}{object_name}"
        for node in tree.nodes:
            same = (node["group"], node["kind"], node["namespace"], node["name"]) == wanted
            if not same or (version and node["version"] != version):
                continue
            api = api_version(node["group"], node["version"])
            obj = None if live is None else live.object(api, kind, object_namespace, object_name)
            if obj is None or node["uid"].startswith("missing:"):
                raise NotFoundError(f"{shown} of application {namespace}/{name} has no live object")
            return JSONResponse({"live": mask(obj) if obj.get("kind") == "Secret" else obj})
        raise NotFoundError(f"{shown} is not in the tree of application {namespace}/{name}")

    @routes.get(
        "/applications/{namespace}/{name}/events", response_model=EventsModel, responses=_NOT_FOUND
    )
    async def get_events(namespace: Name, name: Name) -> Any:
        """Events of the Application and of its tree's objects, newest first."""
        return JSONResponse(await views.events_body(app_or_404(namespace, name)))

    return routes


def follows(managed: list[JSON]) -> list[Scope]:
    """What a tree of ``managed`` objects needs followed: each managed object's kind in its
    namespace (cluster-wide when it has none), and the ``child_kinds`` of the kinds managed
    in a namespace, there -- never a namespace the app has no object in, nor a child kind
    no managed kind of that namespace can own."""
    scopes: list[Scope] = [
        ((api_version(str(r.get("group", "")), str(r["version"])), str(r["kind"])),
         str(r.get("namespace", "")))
        for r in managed
        if r.get("version")
    ]  # fmt: skip
    children: dict[str, set[tuple[str, str]]] = {}
    for kind, namespace in scopes:
        if namespace:
            children.setdefault(namespace, set()).update(child_kinds(kind))
    return [
        *scopes,
        *((kind, namespace)
          for namespace in sorted(children) for kind in CHILD_KINDS if kind in children[namespace]),
    ]  # fmt: skip


# (namespaces, involved uids, involved (kind, namespace, name)) of the Events wanted
_Wanted = tuple[set[str], set[str], set[tuple[str, str, str]]]


def _union(a: _Wanted, b: _Wanted) -> _Wanted:
    return a[0] | b[0], a[1] | b[1], a[2] | b[2]


def _named(event: JSON) -> tuple[str, str, str]:
    target = event["object"]
    return target["kind"], target["namespace"], target["name"]


def _never() -> Any:
    raise AssertionError("no live object is judged for a tree from the status")
