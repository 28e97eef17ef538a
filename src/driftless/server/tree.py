"""An application's resource tree: its managed objects and what they own. Pure.

``build_tree(managed, lookup, dependents, assess)`` returns the nodes the
``/tree`` route sends, as plain dicts:

``{"uid", "group", "version", "kind", "namespace", "name", "parents",
"managed", "health", "sync", "createdAt"}``

Rules:

* Roots are the app's managed objects (its ``status.resources``, first entry
  wins for a repeated (group, kind, namespace, name)), in status order. Their
  ``health`` and ``sync`` come from the status; ``parents`` is empty (the app
  is their parent). A managed object ``lookup`` does not find is a node with
  the synthetic uid ``missing:<group>/<kind>/<namespace>/<name>`` -- with
  health Missing when ``lookup`` is sure it is absent (``MISSING``), else
  the status's health (the kind could not be read); so is a second entry
  naming an object (uid) already in the tree.
* Below them, breadth first, every object ``dependents(uid)`` names whose
  ``metadata.ownerReferences`` hold the uid of a node already in the tree:
  ReplicaSets, Pods, Jobs, ControllerRevisions, EndpointSlices... Owners
  are only followed downwards: an object of the tree that names an owner
  outside it never pulls that owner in. An ownerReference from another
  namespace to a namespaced owner is ignored (the garbage collector does the
  same): a forged reference cannot graft another namespace's objects on.
* ``parents`` of a dependent are its owners in the tree that are nearer the
  app (fewer hops): the graph is acyclic even when ownerReferences form a
  cycle. Dependents have ``managed`` false, ``sync`` null and the health
  ``assess`` gives them.
* A uid is one node: a second object claiming a uid already in the tree is
  left out. The tree stops growing at ``max_nodes``; ``build_tree`` returns
  whether it did (the route says so as ``partial``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from driftless.core.models import HealthStatusCode, SyncStatusCode
from driftless.health import HealthResult, group_kind

__all__ = [
    "MAX_NODES",
    "MISSING",
    "Missing",
    "Tree",
    "build_tree",
    "managed_refs",
    "missing_uid",
]

JSON = dict[str, Any]
Ref = tuple[str, str, str, str]  # (group, kind, namespace, name)
MAX_NODES: Final = 2000
_SHOWN_SYNC: Final = (SyncStatusCode.SYNCED.value, SyncStatusCode.OUT_OF_SYNC.value)


class Missing:
    """``lookup``'s answer for an object known not to exist."""


MISSING: Final = Missing()
Lookup = Callable[[str, str, str, str, str], "JSON | Missing | None"]
"""``lookup(group, version, kind, namespace, name)``: the live object,
``MISSING`` (surely absent) or ``None`` (cannot tell)."""


@dataclass(frozen=True)
class Tree:
    nodes: list[JSON]
    truncated: bool


def missing_uid(group: str, kind: str, namespace: str, name: str) -> str:
    return f"missing:{group}/{kind}/{namespace}/{name}"


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def managed_refs(status: Mapping[str, Any] | None) -> list[JSON]:
    """The well-formed entries of ``status.resources`` (kind and name set), deduplicated."""
    resources = (status or {}).get("resources")
    out: list[JSON] = []
    seen: set[Ref] = set()
    for entry in resources if isinstance(resources, list) else []:
        if not isinstance(entry, Mapping):
            continue
        group, kind = _str(entry.get("group")), _str(entry.get("kind"))
        namespace, name = _str(entry.get("namespace")), _str(entry.get("name"))
        if not kind or not name or (group, kind, namespace, name) in seen:
            continue
        seen.add((group, kind, namespace, name))
        out.append(dict(entry))
    return out


def _health(value: Any) -> JSON | None:
    if not isinstance(value, Mapping) or not _str(value.get("status")):
        return None
    return {"status": _str(value.get("status")), "message": _str(value.get("message"))}


def _node(obj: Mapping[str, Any], parents: list[str]) -> JSON:
    meta = _meta(obj)
    group, kind = group_kind(obj)
    version = _str(obj.get("apiVersion")).rpartition("/")[2]
    return {
        "uid": _str(meta.get("uid")),
        "group": group,
        "version": version,
        "kind": kind,
        "namespace": _str(meta.get("namespace")),
        "name": _str(meta.get("name")),
        "parents": parents,
        "managed": False,
        "health": None,
        "sync": None,
        "createdAt": _str(meta.get("creationTimestamp")) or None,
    }


def _owner_uids(obj: Mapping[str, Any]) -> list[str]:
    refs = _meta(obj).get("ownerReferences")
    uids: list[str] = []
    for ref in refs if isinstance(refs, list) else []:
        uid = _str(ref.get("uid")) if isinstance(ref, Mapping) else ""
        if uid and uid not in uids:
            uids.append(uid)
    return uids


def _sort_key(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = _meta(obj)
    group, kind = group_kind(obj)
    return kind, group, _str(meta.get("namespace")), _str(meta.get("name"))


def build_tree(
    managed: Sequence[Mapping[str, Any]],
    lookup: Lookup,
    dependents: Callable[[str], Iterable[Mapping[str, Any]]],
    assess: Callable[[Mapping[str, Any]], HealthResult],
    *,
    max_nodes: int = MAX_NODES,
) -> Tree:
    """The nodes of one app's tree (see the module contract)."""
    nodes: list[JSON] = []
    depth: dict[str, int] = {}  # uid -> hops from the app
    namespace_of: dict[str, str] = {}
    frontier: list[str] = []
    live_uids: set[str] = set()  # nodes of live objects: the only possible owners
    for entry in managed:
        if len(nodes) >= max_nodes:
            return Tree(nodes, truncated=True)
        group, version = _str(entry.get("group")), _str(entry.get("version"))
        kind, name = _str(entry.get("kind")), _str(entry.get("name"))
        namespace = _str(entry.get("namespace"))
        live = lookup(group, version, kind, namespace, name)
        uid = _str(_meta(live).get("uid")) if isinstance(live, Mapping) else ""
        health = _health(entry.get("health"))
        if live is MISSING or (isinstance(live, Mapping) and not uid):
            health = {"status": HealthStatusCode.MISSING.value, "message": "not in the cluster"}
        if not uid or uid in depth:  # absent, unknown, or an object already in the tree
            uid = missing_uid(group, kind, namespace, name)
            live = None
        sync = _str(entry.get("status"))
        nodes.append(
            {
                "uid": uid,
                "group": group,
                "version": version,
                "kind": kind,
                "namespace": namespace,
                "name": name,
                "parents": [],
                "managed": True,
                "health": health,
                "sync": sync if sync in _SHOWN_SYNC else None,
                "createdAt": (
                    _str(_meta(live).get("creationTimestamp")) or None
                    if isinstance(live, Mapping)
                    else None
                ),
            }
        )
        depth[uid] = 0
        namespace_of[uid] = namespace
        if isinstance(live, Mapping):
            frontier.append(uid)
            live_uids.add(uid)
    level = 0
    while frontier:
        level += 1
        found: dict[str, Mapping[str, Any]] = {}
        for owner in frontier:
            for child in dependents(owner):
                uid = _str(_meta(child).get("uid"))
                if uid and uid not in depth and uid not in found:
                    found[uid] = child
        frontier = []
        for uid, child in sorted(found.items(), key=lambda item: _sort_key(item[1])):
            namespace = _str(_meta(child).get("namespace"))
            parents = [
                owner
                for owner in _owner_uids(child)
                if owner in live_uids
                and depth[owner] < level
                and namespace_of[owner] in ("", namespace)
            ]
            if not parents:
                continue  # named by the index, but not validly owned by this tree
            if len(nodes) >= max_nodes:
                return Tree(nodes, truncated=True)
            node = _node(child, parents)
            verdict = assess(child)
            node["health"] = {"status": verdict.status.value, "message": verdict.message}
            nodes.append(node)
            depth[uid] = level
            namespace_of[uid] = namespace
            frontier.append(uid)
            live_uids.add(uid)
    return Tree(nodes, truncated=False)
