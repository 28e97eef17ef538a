"""The watch cache keeps managedFields compact (``kube.cache.FieldsInterner``).

Every consumer of the live side still finds what it reads (managers,
operations, subresources, fieldsV1 trees: diff prediction, ignore rules by
manager, the dry-run verdict's fingerprint); only each entry's ``time``
goes, and objects applied alike share one list.
"""

from __future__ import annotations

import copy
from typing import Any

from driftless.diff.predict import applied
from driftless.kube.cache import FieldsInterner, _Informer
from driftless.kube.client import WatchEvent
from driftless.sync.live import live_fingerprint

FIELDS = {
    "f:data": {"f:v": {}},
    "f:metadata": {"f:annotations": {"f:driftless.dev/tracking-id": {}}},
}


def cm(name: str, value: str, *, time: str = "2026-12-03T23:45:01Z") -> dict[str, Any]:
    entry = {"manager": "driftless", "operation": "Apply", "apiVersion": "v1", "time": time,
             "fieldsType": "FieldsV1", "fieldsV1": copy.deepcopy(FIELDS)}  # fmt: skip
    kube = {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1", "time": time,
            "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:extra": {}}}}  # fmt: skip
    meta = {"name": name, "namespace": "ns", "resourceVersion": "7", "managedFields": [entry, kube]}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


def test_objects_applied_alike_share_one_list_without_time() -> None:
    interner = FieldsInterner()
    a = interner.compact(cm("a", "1", time="2026-12-03T23:45:01Z"))
    b = interner.compact(cm("b", "2", time="2026-12-03T23:59:59Z"))
    assert a["metadata"]["managedFields"] is b["metadata"]["managedFields"]
    [mine, theirs] = a["metadata"]["managedFields"]
    assert "time" not in mine and "time" not in theirs
    assert mine["fieldsV1"] == FIELDS and theirs["manager"] == "kubectl-edit"
    assert len(interner) == 1


def test_what_the_consumers_read_is_unchanged() -> None:
    whole = cm("a", "1")
    kept = FieldsInterner().compact(copy.deepcopy(whole))
    # The verdict fingerprint ignores times already: the same verdict either way.
    assert live_fingerprint(kept) == live_fingerprint(whole)
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {}}
    assert (
        applied(kept, desired, "driftless")["data"] == applied(whole, desired, "driftless")["data"]
    )


def test_different_ownership_is_not_shared() -> None:
    interner = FieldsInterner()
    a = interner.compact(cm("a", "1"))
    other = cm("b", "1")
    other["metadata"]["managedFields"][0]["fieldsV1"]["f:data"]["f:w"] = {}
    b = interner.compact(other)
    assert a["metadata"]["managedFields"] != b["metadata"]["managedFields"]
    assert len(interner) == 2


def test_the_table_is_bounded() -> None:
    interner = FieldsInterner(limit=3)
    for i in range(10):
        obj = cm(f"o{i}", "1")
        obj["metadata"]["managedFields"][0]["manager"] = f"m{i}"
        interner.compact(obj)
        assert len(interner) <= 3


def test_hostile_or_odd_shapes_are_kept_as_they_are() -> None:
    interner = FieldsInterner()
    odd: list[dict[str, Any]] = [
        {"kind": "ConfigMap"},
        {"metadata": "not a dict"},
        {"metadata": {"managedFields": "not a list"}},
        {"metadata": {"managedFields": []}},
        {"metadata": {"managedFields": ["not an entry", 3, None]}},
        {"metadata": {"managedFields": [{"manager": "x", "time": "t", "fieldsV1": {"f:a": {}}}]}},
        {"metadata": {"managedFields": [{"fieldsV1": {"set"}}]}},  # not JSON
    ]
    for obj in odd:
        interner.compact(obj)
    assert odd[4]["metadata"]["managedFields"] == ["not an entry", 3, None]
    assert odd[5]["metadata"]["managedFields"] == [{"manager": "x", "fieldsV1": {"f:a": {}}}]
    assert odd[6]["metadata"]["managedFields"] == [{"fieldsV1": {"set"}}]


def test_the_informer_keeps_compact_objects_and_tells_subscribers() -> None:
    told: list[tuple[str, dict[str, Any]]] = []
    informer = _Informer(None, ("v1", "ConfigMap"), lambda t, o: told.append((t, o)))  # type: ignore[arg-type]
    informer._apply(WatchEvent("ADDED", cm("a", "1")))
    informer._apply(WatchEvent("ADDED", cm("b", "2")))
    a, b = informer.objects[("ns", "a")], informer.objects[("ns", "b")]
    assert (
        a["data"] == {"v": "1"} and a["metadata"]["managedFields"] is b["metadata"]["managedFields"]
    )
    assert [t for t, _ in told] == ["ADDED", "ADDED"]
    informer._apply(WatchEvent("DELETED", cm("a", "1")))
    assert ("ns", "a") not in informer.objects
