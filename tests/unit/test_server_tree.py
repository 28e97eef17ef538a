"""The resource tree builder (``server.tree``) and what ``server.live`` keeps of objects.

Tables: owner chains, cycles, missing owners, duplicate uids, forged
ownerReferences (another namespace, an upward reference to another app's
object), missing managed objects, the node cap; the slim, masked copy of
a Secret, which never holds a value; and what ``LiveObjects`` follows for a
set of trees (only their namespaces and the child kinds their kinds can own,
cluster-scoped kinds once), that a follow nobody asks for is stopped, the cap
on objects kept per follow and on follows at once (three apps' trees in three
namespaces fit), and the follows' own connection pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, cast

import pytest
from kubernetes_asyncio import client as k8s_client

from driftless.health import assess
from driftless.kube.client import KubeClient, WatchEvent
from driftless.kube.discovery import ResourceType, UnknownKindError
from driftless.server.live import (
    CHILD_KINDS,
    EVENT_KIND,
    LAST_APPLIED,
    POOL_SIZE,
    LiveObjects,
    child_kinds,
    slim,
    slim_event,
)
from driftless.server.routes_tree import follows
from driftless.server.tree import MISSING, Missing, Tree, build_tree, managed_refs, missing_uid

JSON = dict[str, Any]


def obj(
    kind: str,
    name: str,
    uid: str,
    *owners: str,
    namespace: str = "ns",
    api: str = "v1",
    status: JSON | None = None,
) -> JSON:
    meta: JSON = {"name": name, "uid": uid, "creationTimestamp": "2026-12-03T12:00:00Z"}
    if namespace:
        meta["namespace"] = namespace
    if owners:
        meta["ownerReferences"] = [{"uid": o, "kind": "X", "name": o} for o in owners]
    out: JSON = {"apiVersion": api, "kind": kind, "metadata": meta}
    if status is not None:
        out["status"] = status
    return out


def entry(kind: str, name: str, *, group: str = "", namespace: str = "ns", **extra: Any) -> JSON:
    return {"group": group, "version": "v1", "kind": kind, "namespace": namespace,
            "name": name, "status": "Synced", "health": {"status": "Healthy"}, **extra}  # fmt: skip


class Cluster:
    """Live objects as ``LiveObjects`` answers for them: by key, and by owner uid."""

    def __init__(self, objects: Iterable[JSON], unreadable: Iterable[str] = ()) -> None:
        self.objects = list(objects)
        self.unreadable = set(unreadable)

    def lookup(
        self, group: str, version: str, kind: str, ns: str, name: str
    ) -> JSON | Missing | None:
        if kind in self.unreadable:
            return None
        for o in self.objects:
            meta = o["metadata"]
            if o["kind"] == kind and meta.get("namespace", "") == ns and meta["name"] == name:
                return o
        return MISSING

    def dependents(self, uid: str) -> list[JSON]:
        return [
            o for o in self.objects
            if any(r["uid"] == uid for r in o["metadata"].get("ownerReferences", []))
        ]  # fmt: skip

    def build(self, managed: list[JSON], **kwargs: Any) -> Tree:
        return build_tree(managed, self.lookup, self.dependents, assess, **kwargs)


def shape(tree: Tree) -> dict[str, list[str]]:
    """uid -> parents, the graph a user sees."""
    return {n["uid"]: n["parents"] for n in tree.nodes}


DEPLOY = obj("Deployment", "web", "d1", api="apps/v1")
RS = obj("ReplicaSet", "web-1", "r1", "d1", api="apps/v1")
POD_A = obj(
    "Pod",
    "web-1-a",
    "p1",
    "r1",
    status={"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
)
POD_B = obj("Pod", "web-1-b", "p2", "r1", status={"phase": "Pending"})

CASES: list[tuple[str, list[JSON], list[JSON], dict[str, list[str]]]] = [
    (
        "owner chain Deployment -> ReplicaSet -> Pods",
        [entry("Deployment", "web", group="apps")],
        [DEPLOY, RS, POD_A, POD_B],
        {"d1": [], "r1": ["d1"], "p1": ["r1"], "p2": ["r1"]},
    ),
    (
        "an owner cycle below a managed object stays acyclic (parents are nearer the app)",
        [entry("ConfigMap", "root")],
        [obj("ConfigMap", "root", "m"), obj("A", "a", "a", "m", "b"), obj("B", "b", "b", "a")],
        {"m": [], "a": ["m"], "b": ["a"]},
    ),
    (
        "a self-owning object is one node without itself as parent",
        [entry("ConfigMap", "root")],
        [obj("ConfigMap", "root", "m"), obj("A", "a", "a", "m", "a")],
        {"m": [], "a": ["m"]},
    ),
    (
        "an object whose owner is not in the cluster is not in the tree",
        [entry("ConfigMap", "root")],
        [obj("ConfigMap", "root", "m"), obj("Pod", "orphan", "o", "gone")],
        {"m": []},
    ),
    (
        "two owners in the tree: both are parents",
        [entry("ConfigMap", "one"), entry("ConfigMap", "two")],
        [
            obj("ConfigMap", "one", "m1"),
            obj("ConfigMap", "two", "m2"),
            obj("A", "a", "a", "m1", "m2"),
        ],
        {"m1": [], "m2": [], "a": ["m1", "m2"]},
    ),
    (
        "a second object with a uid already in the tree is left out",
        [entry("ConfigMap", "root")],
        [obj("ConfigMap", "root", "m"), obj("A", "a", "dup", "m"), obj("B", "b", "dup", "m")],
        {"m": [], "dup": ["m"]},
    ),
    (
        "a forged ownerReference from another namespace is ignored",
        [entry("ConfigMap", "root")],
        [obj("ConfigMap", "root", "m"), obj("Secret", "theirs", "s", "m", namespace="other")],
        {"m": []},
    ),
    (
        "a reference to a missing managed object's synthetic uid is no parent",
        [entry("ConfigMap", "root"), entry("ConfigMap", "gone")],
        [obj("ConfigMap", "root", "m"), obj("A", "a", "a", "m", "missing:/ConfigMap/ns/gone")],
        {"m": [], "missing:/ConfigMap/ns/gone": [], "a": ["m"]},
    ),
    (
        "a cluster-scoped managed object may own namespaced objects",
        [entry("Namespace", "ns", namespace="")],
        [obj("Namespace", "ns", "n", namespace=""), obj("A", "a", "a", "n")],
        {"n": [], "a": ["n"]},
    ),
    (
        "an upward reference to another app's object never pulls it (or its other children) in",
        [entry("ConfigMap", "mine")],
        [
            obj("ConfigMap", "mine", "m", "theirs"),
            obj("ConfigMap", "theirs", "t"),
            obj("Pod", "their-pod", "tp", "t"),
        ],
        {"m": []},
    ),
    (
        "another app's object owned by a node of this tree is part of it",
        [entry("ConfigMap", "mine")],
        [obj("ConfigMap", "mine", "m"), obj("ConfigMap", "theirs", "t", "m")],
        {"m": [], "t": ["m"]},
    ),
    (
        "a managed object owned by another managed one keeps the app as its only parent",
        [entry("ConfigMap", "a"), entry("ConfigMap", "b")],
        [obj("ConfigMap", "a", "a1"), obj("ConfigMap", "b", "b1", "a1")],
        {"a1": [], "b1": []},
    ),
]


@pytest.mark.parametrize(
    ("why", "managed", "objects", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_tree_shape(why: str, managed: list[JSON], objects: list[JSON], expected: JSON) -> None:
    tree = Cluster(objects).build(managed)
    assert shape(tree) == expected, why
    assert not tree.truncated


def test_nodes_carry_status_of_managed_and_assessed_health_of_children() -> None:
    tree = Cluster([DEPLOY, RS, POD_A, POD_B]).build(
        [
            entry(
                "Deployment",
                "web",
                group="apps",
                status="OutOfSync",
                health={"status": "Progressing", "message": "rolling out"},
            )
        ]
    )
    by_uid = {n["uid"]: n for n in tree.nodes}
    assert by_uid["d1"] == {
        "uid": "d1", "group": "apps", "version": "v1", "kind": "Deployment", "namespace": "ns",
        "name": "web", "parents": [], "managed": True,
        "health": {"status": "Progressing", "message": "rolling out"},
        "sync": "OutOfSync", "createdAt": "2026-12-03T12:00:00Z",
    }  # fmt: skip
    assert by_uid["r1"]["managed"] is False and by_uid["r1"]["sync"] is None
    assert (by_uid["r1"]["group"], by_uid["r1"]["version"]) == ("apps", "v1")
    assert by_uid["p1"]["health"]["status"] == "Healthy"
    assert by_uid["p2"]["health"]["status"] == "Progressing"


def test_missing_managed_object_has_synthetic_uid_and_health_missing() -> None:
    tree = Cluster([]).build([entry("Deployment", "web", group="apps")])
    (node,) = tree.nodes
    assert node["uid"] == missing_uid("apps", "Deployment", "ns", "web")
    assert node["uid"] == "missing:apps/Deployment/ns/web"
    assert node["health"]["status"] == "Missing"
    assert node["createdAt"] is None


def test_unreadable_kind_keeps_the_status_health() -> None:
    tree = Cluster([DEPLOY], unreadable={"Deployment"}).build(
        [entry("Deployment", "web", group="apps")]
    )
    (node,) = tree.nodes
    assert node["uid"] == "missing:apps/Deployment/ns/web"
    assert node["health"] == {"status": "Healthy", "message": ""}


def test_two_managed_entries_for_one_object_are_two_nodes_one_live() -> None:
    managed = [
        entry("Deployment", "web", group="apps"),
        entry("Deployment", "web", group="extensions"),
    ]
    tree = Cluster([DEPLOY, RS]).build(managed)
    assert [n["uid"] for n in tree.nodes] == ["d1", "missing:extensions/Deployment/ns/web", "r1"]


def test_the_tree_stops_at_max_nodes() -> None:
    pods = [obj("Pod", f"p{i}", f"p{i}", "m") for i in range(10)]
    tree = Cluster([obj("ConfigMap", "root", "m"), *pods]).build(
        [entry("ConfigMap", "root")], max_nodes=4
    )
    assert len(tree.nodes) == 4 and tree.truncated


@pytest.mark.parametrize(
    "status",
    [None, {}, {"resources": "nope"}, {"resources": [1, None, {"kind": "X"}, {"name": "y"}]}],
)
def test_hostile_status_gives_no_managed_entries(status: Mapping[str, Any] | None) -> None:
    assert managed_refs(status) == []


def test_managed_refs_deduplicates() -> None:
    status = {
        "resources": [entry("ConfigMap", "a"), entry("ConfigMap", "a"), entry("ConfigMap", "b")]
    }
    assert [r["name"] for r in managed_refs(status)] == ["a", "b"]


def test_slim_secret_holds_no_value_managed_fields_or_last_applied() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "creds", "namespace": "ns", "managedFields": [{"manager": "x"}],
            "annotations": {LAST_APPLIED: '{"stringData":{"password":"hunter2"}}', "keep": "me"},
        },
        "data": {"password": "aHVudGVyMg=="},
        "stringData": {"token": "hunter2"},
    }  # fmt: skip
    kept = slim(secret, ("v1", "Secret"))
    text = repr(kept)
    assert "hunter2" not in text and "aHVudGVyMg" not in text
    assert set(kept["data"]) == {"password"} and set(kept["stringData"]) == {"token"}
    assert "managedFields" not in kept["metadata"]
    assert kept["metadata"]["annotations"] == {"keep": "me"}
    assert "managedFields" in secret["metadata"]  # the original is not changed


def test_slim_sets_kind_of_list_items() -> None:
    kept = slim({"metadata": {"name": "a"}}, ("apps/v1", "ReplicaSet"))
    assert (kept["apiVersion"], kept["kind"]) == ("apps/v1", "ReplicaSet")


def test_slim_event_reads_both_event_shapes_and_redacts() -> None:
    core = slim_event({
        "metadata": {"name": "e", "namespace": "ns", "creationTimestamp": "T0"},
        "type": "Warning", "reason": "SyncFailed", "count": 3,
        "message": "cannot fetch https://user:tok@git.example/r.git",
        "firstTimestamp": "T1", "lastTimestamp": "T2",
        "involvedObject": {"kind": "Application", "namespace": "ns", "name": "a", "uid": "u"},
    })  # fmt: skip
    assert (core["count"], core["firstTimestamp"], core["lastTimestamp"]) == (3, "T1", "T2")
    assert "tok" not in core["message"]
    assert core["object"] == {"kind": "Application", "namespace": "ns", "name": "a"}
    series = slim_event({
        "metadata": {"name": "e", "namespace": "ns", "creationTimestamp": "T0"},
        "eventTime": "T5", "series": {"count": 7, "lastObservedTime": "T9"},
        "involvedObject": "hostile",
    })  # fmt: skip
    assert (series["count"], series["firstTimestamp"], series["lastTimestamp"]) == (7, "T5", "T9")
    assert series["object"] == {"kind": "", "namespace": "", "name": ""}


CLUSTER_SCOPED = {"Namespace", "ClusterRole"}


class ScriptedClient:
    """Lists answer what ``objects`` holds for the kind (in the namespace asked, if any);
    watches read a queue per kind. Kinds not in ``objects`` are not served."""

    def __init__(self, objects: dict[str, list[JSON]]) -> None:
        self.objects = objects
        self.events: dict[str, asyncio.Queue[WatchEvent]] = {}
        self.listed: list[tuple[str, str | None]] = []
        self.pools: list[int] = []
        self.closed = 0

    async def with_pool(self, pool_size: int) -> ScriptedClient:
        """The follows' pool: the same script, the pool's size noted."""
        self.pools.append(pool_size)
        return self

    async def close(self) -> None:
        self.closed += 1

    async def resource_type(self, api_version: str, kind: str) -> ResourceType:
        if kind not in self.objects:
            raise UnknownKindError(api_version, kind)
        group, _, version = api_version.rpartition("/")
        return ResourceType(group, version, kind, kind.lower() + "s", kind not in CLUSTER_SCOPED)

    async def list_pages(
        self, api_version: str, kind: str, namespace: str | None = None, *, page_size: int = 500
    ) -> AsyncIterator[tuple[list[JSON], str]]:
        self.listed.append((kind, namespace))
        if kind not in self.objects:
            raise UnknownKindError(api_version, kind)
        yield [
            dict(o) for o in self.objects[kind]
            if namespace is None or o["metadata"].get("namespace") == namespace
        ], "1"  # fmt: skip

    async def watch(
        self, api_version: str, kind: str, *_: Any, **__: Any
    ) -> AsyncIterator[WatchEvent]:
        queue = self.events.setdefault(kind, asyncio.Queue())
        while True:
            yield await queue.get()


async def eventually(check: Any) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    assert check()


async def test_live_objects_follow_kinds_index_owners_and_say_what_they_cannot_read() -> None:
    secret = {"kind": "Secret", "metadata": {"name": "creds", "namespace": "ns", "uid": "s"},
              "data": {"password": "aHVudGVyMg=="}}  # fmt: skip
    client = ScriptedClient({"Deployment": [DEPLOY], "ReplicaSet": [RS], "Secret": [secret]})
    live = LiveObjects(cast(KubeClient, client), wait_seconds=5)
    try:
        scopes = [
            (("apps/v1", "Deployment"), "ns"),
            (("apps/v1", "ReplicaSet"), "ns"),
            (("v1", "Secret"), "ns"),
        ]
        problems = await live.ensure([*scopes, (("x.example/v1", "Thing"), "ns")])
        assert problems == ["Thing (x.example/v1) is not served by the cluster"]
        assert live.lookup("apps", "v1", "Deployment", "ns", "web") == DEPLOY
        assert live.lookup("apps", "v1", "Deployment", "ns", "other") is MISSING
        assert live.lookup("apps", "v1", "Deployment", "elsewhere", "web") is None  # not followed
        assert live.lookup("x.example", "v1", "Thing", "ns", "t") is None  # cannot tell
        assert live.lookup("apps", "", "Deployment", "ns", "web") is None
        assert [o["metadata"]["uid"] for o in live.dependents("d1")] == ["r1"]
        kept = live.object("v1", "Secret", "ns", "creds")
        assert kept is not None and "aHVudGVyMg" not in repr(kept)

        assert await live.ensure(scopes) == []
        assert client.listed.count(("Deployment", "ns")) == 1  # kept, not listed again
        client.objects["Thing"] = []
        assert await live.ensure([(("x.example/v1", "Thing"), "ns")]) == []  # served now

        client.events["ReplicaSet"].put_nowait(WatchEvent("DELETED", RS))
        await eventually(lambda: not live.dependents("d1"))
    finally:
        await live.close()


TREES: list[tuple[str, list[JSON], set[tuple[tuple[str, str], str]], list[str]]] = [
    (
        "an app in one namespace: its kinds and what a Deployment owns there, nothing else",
        [entry("Deployment", "web", group="apps"), entry("ConfigMap", "settings")],
        {(("apps/v1", "Deployment"), "ns"), (("v1", "ConfigMap"), "ns")}
        | {(("apps/v1", "ReplicaSet"), "ns"), (("v1", "Pod"), "ns")},
        [],
    ),
    (
        "each namespace follows only the child kinds of the kinds managed there",
        [
            entry("StatefulSet", "db", group="apps", namespace="one"),
            entry("Service", "db", namespace="two"),
        ],
        {(("apps/v1", "StatefulSet"), "one"), (("v1", "Service"), "two")}
        | {(("apps/v1", "ControllerRevision"), "one"), (("v1", "Pod"), "one")}
        | {(("discovery.k8s.io/v1", "EndpointSlice"), "two")},
        [],
    ),
    (
        "a custom kind may own anything an operator makes: every child kind",
        [entry("Rollout", "web", group="argoproj.io")],
        {(("argoproj.io/v1", "Rollout"), "ns")} | {(kind, "ns") for kind in CHILD_KINDS},
        [],
    ),
    (
        "two namespaces of kinds owning nothing: no child kind; a cluster-scoped kind once",
        [
            entry("ConfigMap", "a", namespace="one"),
            entry("ConfigMap", "b", namespace="two"),
            entry("Namespace", "one", namespace=""),
            entry("ClusterRole", "r", group="rbac.authorization.k8s.io", namespace="one"),
        ],
        {(("v1", "ConfigMap"), "one"), (("v1", "ConfigMap"), "two"), (("v1", "Namespace"), "")}
        | {(("rbac.authorization.k8s.io/v1", "ClusterRole"), "")},
        [],
    ),
    (
        "a namespaced kind named without a namespace is never followed across namespaces",
        [entry("ConfigMap", "stray", namespace="")],
        set(),
        ["ConfigMap (v1) is namespaced: not followed without a namespace"],
    ),
]


@pytest.mark.parametrize(
    ("why", "managed", "expected", "problems"), TREES, ids=[t[0] for t in TREES]
)
async def test_a_tree_follows_only_its_kinds_in_its_namespaces(
    why: str, managed: list[JSON], expected: set[Any], problems: list[str]
) -> None:
    kinds = {"Deployment", "StatefulSet", "Service", "Rollout", "ConfigMap", "Namespace"}
    kinds |= {"ClusterRole"} | {k for _, k in CHILD_KINDS}
    client = ScriptedClient({kind: [] for kind in kinds})
    live = LiveObjects(cast(KubeClient, client), wait_seconds=5)
    try:
        assert await live.ensure(follows(managed)) == problems, why
        assert live.followed == expected, why
        assert all(ns is not None or kind in CLUSTER_SCOPED for kind, ns in client.listed), why
        assert len(client.listed) == len(expected)  # each listed once
    finally:
        await live.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_follow_nobody_asks_for_is_stopped_and_forgotten() -> None:
    pod = obj("Pod", "web-1-a", "p1", "r1")
    event = {"metadata": {"name": "e", "namespace": "ns"}, "reason": "Pulled",
             "involvedObject": {"kind": "Pod", "namespace": "ns", "name": "web-1-a"}}  # fmt: skip
    client = ScriptedClient({"ReplicaSet": [RS], "Pod": [pod], "Event": [event]})
    clock = Clock()
    live = LiveObjects(cast(KubeClient, client), wait_seconds=5, idle_seconds=600, clock=clock)
    rs, pods = (("apps/v1", "ReplicaSet"), "ns"), (("v1", "Pod"), "ns")
    try:
        assert await live.ensure([rs, pods]) == []
        assert await live.ensure_events(["ns"]) == []
        clock.now += 300
        assert await live.ensure([pods]) == []  # the Pods are asked for again
        assert live.sweep() == []  # nothing idle for 600 s yet
        clock.now += 300
        assert sorted(live.sweep()) == [rs, (EVENT_KIND, "ns")]
        assert live.followed == {pods}
        assert live.lookup("apps", "v1", "ReplicaSet", "ns", "web-1") is None
        assert live.dependents("d1") == [] and live.events(["ns"]) == []
        assert [o["metadata"]["uid"] for o in live.dependents("r1")] == ["p1"]

        assert await live.ensure([rs]) == []  # asked again: listed again
        assert client.listed.count(("ReplicaSet", "ns")) == 2
        assert [o["metadata"]["uid"] for o in live.dependents("d1")] == ["r1"]
    finally:
        await live.close()


async def test_a_follow_keeps_at_most_max_objects_and_says_so() -> None:
    pods = [obj("Pod", f"p{i}", f"p{i}") for i in range(3)]
    client = ScriptedClient({"Pod": pods})
    live = LiveObjects(cast(KubeClient, client), wait_seconds=5, max_objects=2)
    scope = (("v1", "Pod"), "ns")
    try:
        assert await live.ensure([scope]) == ["more than 2 Pod of ns: only 2 kept"]
        kept = [live.lookup("", "v1", "Pod", "ns", f"p{i}") for i in range(3)]
        assert [isinstance(k, dict) for k in kept] == [True, True, False]
        assert kept[2] is None  # not kept: cannot tell, never "missing"
        assert live.lookup("", "v1", "Pod", "ns", "never-was") is None
        client.events["Pod"].put_nowait(WatchEvent("ADDED", obj("Pod", "p9", "p9")))
        client.events["Pod"].put_nowait(WatchEvent("DELETED", pods[0]))
        await eventually(lambda: live.lookup("", "v1", "Pod", "ns", "p0") is None)
        assert live.lookup("", "v1", "Pod", "ns", "p9") is None  # refused while full
        assert await live.ensure([scope]) == ["more than 2 Pod of ns: only 2 kept"]
    finally:
        await live.close()


class BrokenWatch(ScriptedClient):
    """Lists answer; every watch fails with an error whose text holds a credential."""

    async def watch(
        self, api_version: str, kind: str, *_: Any, **__: Any
    ) -> AsyncIterator[WatchEvent]:
        raise RuntimeError("cannot follow https://bot:hunter2@api.example.com/apis")
        yield  # an async generator


async def test_a_failing_follow_is_logged_redacted(caplog: pytest.LogCaptureFixture) -> None:
    live = LiveObjects(cast(KubeClient, BrokenWatch({"Deployment": [DEPLOY]})), wait_seconds=5)
    try:
        assert await live.ensure([(("apps/v1", "Deployment"), "ns")]) == []
        for _ in range(500):
            if "following Deployment of ns failed" in caplog.text:
                break
            await asyncio.sleep(0.01)
        assert "following Deployment of ns failed: RuntimeError" in caplog.text
        assert "hunter2" not in caplog.text and "api.example.com" in caplog.text
    finally:
        await live.close()


async def test_at_most_max_follows_run_the_least_recently_asked_is_stopped() -> None:
    client = ScriptedClient({"Pod": [], "ConfigMap": [], "Event": []})
    clock = Clock()
    live = LiveObjects(cast(KubeClient, client), wait_seconds=5, max_follows=2, clock=clock)
    a, b, c = ((("v1", "Pod"), ns) for ns in ("a", "b", "c"))
    try:
        assert await live.ensure([a]) == []
        clock.now += 1
        assert await live.ensure([b]) == []
        clock.now += 1
        assert await live.ensure([a]) == []  # a is asked again: b is now the oldest
        clock.now += 1
        assert await live.ensure([c]) == []
        assert live.followed == {a, c}
        clock.now += 1
        problems = await live.ensure([c, a, (("v1", "ConfigMap"), "a")])
        assert problems == ["ConfigMap of a not followed: the server follows 2 at most"]
        assert live.followed == {a, c}  # never one the same call asks for
        clock.now += 1
        assert await live.ensure_events(["b"]) == []
        assert live.followed == {c, (EVENT_KIND, "b")}  # a was the least recently asked
    finally:
        await live.close()


@pytest.mark.parametrize(
    ("owner", "children"),
    [
        (("apps/v1", "Deployment"), {"ReplicaSet", "Pod"}),
        (("apps/v1", "StatefulSet"), {"ControllerRevision", "Pod"}),
        (("apps/v1", "DaemonSet"), {"ControllerRevision", "Pod"}),
        (("batch/v1", "CronJob"), {"Job", "Pod"}),
        (("batch/v1", "Job"), {"Pod"}),
        (("v1", "Service"), {"EndpointSlice"}),
        (("v1", "ConfigMap"), set()),
        (("networking.k8s.io/v1", "Ingress"), set()),
        (("example.com/v1", "Thing"), {k for _, k in CHILD_KINDS}),
    ],
)
def test_child_kinds_are_what_the_owner_s_controller_makes_down_to_pods(
    owner: tuple[str, str], children: set[str]
) -> None:
    assert {kind for _, kind in child_kinds(owner)} == children


APP_KINDS = [("Deployment", "apps"), ("StatefulSet", "apps"), ("Service", ""), ("ConfigMap", "")]


async def test_three_apps_in_three_namespaces_keep_whole_trees_without_re_listing() -> None:
    kinds = {kind for kind, _ in APP_KINDS} | {k for _, k in CHILD_KINDS} | {"Event"}
    client = ScriptedClient({kind: [] for kind in kinds})
    live = LiveObjects(cast(KubeClient, client), wait_seconds=5)
    apps = {
        ns: [
            entry(kind, f"{kind.lower()}-{ns}", group=group, namespace=ns)
            for kind, group in APP_KINDS
        ]
        for ns in ("one", "two", "three")
    }
    try:
        for _ in range(3):  # the three trees open at once, each asked again and again
            for namespace, managed in apps.items():
                assert await live.ensure(follows(managed)) == []
                assert await live.ensure_events([namespace]) == []
        per_app = len(follows(apps["one"])) + 1  # its kinds, their child kinds, its Events
        assert len(live.followed) == 3 * per_app
        # Each kind of each namespace listed once: no follow made room for another.
        assert sorted(set(client.listed)) == sorted(client.listed)
        assert len(client.listed) == 3 * per_app
    finally:
        await live.close()


async def test_the_follows_have_a_pool_of_their_own_closed_with_them() -> None:
    client = ScriptedClient({"Pod": [], "Event": []})
    live = LiveObjects(cast(KubeClient, client), wait_seconds=5)
    assert await live.ensure([]) == [] and client.pools == []  # no follow, no pool
    assert await live.ensure([(("v1", "Pod"), "a")]) == []
    assert await live.ensure_events(["a", "b"]) == []
    assert client.pools == [POOL_SIZE]  # one pool for every follow
    await live.close()
    assert client.closed == 1
    try:
        assert await live.ensure([(("v1", "Pod"), "a")]) == []
        assert client.pools == [POOL_SIZE, POOL_SIZE]  # followed again: a new pool
    finally:
        await live.close()


async def test_a_client_with_a_pool_of_its_own_shares_the_configuration() -> None:
    configuration = k8s_client.Configuration()
    configuration.host = "https://cluster.example:6443"
    configuration.connection_pool_maxsize = 32
    client = KubeClient(k8s_client.ApiClient(configuration))
    watcher = await client.with_pool(POOL_SIZE)
    try:
        assert watcher.server == client.server
        assert watcher._api.configuration is configuration  # a refreshed token is shared
        pools = [c._api.rest_client.pool_manager.connector for c in (watcher, client)]
        assert [getattr(pool, "limit", None) for pool in pools] == [POOL_SIZE, 32]
    finally:
        await watcher.close()
        await client.close()


class Pooled(ScriptedClient):
    """Each ``with_pool`` a pool of its own (sharing the script) that refuses once closed."""

    def __init__(self, objects: dict[str, list[JSON]]) -> None:
        super().__init__(objects)
        self.made: list[Pooled] = []
        self.shut = False

    async def with_pool(self, pool_size: int) -> ScriptedClient:
        pool = Pooled(self.objects)
        self.made.append(pool)
        return pool

    async def close(self) -> None:
        self.shut = True

    async def list_pages(
        self, api_version: str, kind: str, namespace: str | None = None, *, page_size: int = 500
    ) -> AsyncIterator[tuple[list[JSON], str]]:
        assert not self.shut, "listed on a closed pool"
        async for page in super().list_pages(api_version, kind, namespace, page_size=page_size):
            yield page


async def test_a_tree_asked_while_the_follows_close_is_followed_on_a_new_pool() -> None:
    client = Pooled({"Pod": []})
    live = LiveObjects(cast(KubeClient, client), wait_seconds=5)
    a, b = ((("v1", "Pod"), ns) for ns in ("a", "b"))
    try:
        assert await live.ensure([a]) == []
        closing = asyncio.create_task(live.close())
        await asyncio.sleep(0)  # close() waits for the follows' tasks to end
        assert await live.ensure([b]) == []
        await closing
        assert live.followed == {b}
        assert live.lookup("", "v1", "Pod", "b", "web") is MISSING  # listed, on an open pool
        assert [pool.shut for pool in client.made] == [True, False]
    finally:
        await live.close()
