"""What the reconciler keeps of its last status write per app (``Reconciler._freshest``).

The watch may deliver our own status write after the next pass started; that
pass must see the written status (or it would start a running sync again).
Only the resourceVersion and the status are kept, not the whole object the
write returned (its managedFields and spec were ~18 KB per app at 1,000 apps),
and the copy is dropped once the watch shows the write.
"""

from __future__ import annotations

from typing import Any

from driftless.controller.reconciler import Reconciler, _Written

RUNNING = {"operationState": {"phase": "Running", "revision": "a" * 40}}


def app(version: str, status: dict[str, Any] | None = None, spec: str = "old") -> dict[str, Any]:
    meta = {"namespace": "apps", "name": "demo", "resourceVersion": version, "generation": 1}
    meta["managedFields"] = [{"manager": "driftless", "fieldsV1": {"f:status": {}}}]
    return {"metadata": meta, "spec": {"path": spec}, "status": status or {}}


def reconciler() -> Reconciler:
    # Only the bookkeeping under test: no client, planner or watch is needed.
    made = Reconciler.__new__(Reconciler)
    made._written = {}
    return made


def test_the_kept_copy_is_the_version_and_status_only() -> None:
    kept = _Written.of(app("12", RUNNING, spec="new"))
    assert kept == _Written("12", RUNNING)


def test_a_stale_watch_copy_gets_the_written_status_and_keeps_its_own_metadata() -> None:
    made = reconciler()
    made._written[("apps", "demo")] = _Written.of(app("12", RUNNING))
    stale = app("10")
    fresh = made._freshest(stale)
    assert fresh["status"] == RUNNING
    assert fresh["metadata"] is stale["metadata"] and fresh["spec"] == {"path": "old"}
    assert stale["status"] == {}, "the watch's copy is not mutated"
    assert ("apps", "demo") in made._written


def test_a_watch_copy_as_new_as_the_write_wins_and_the_copy_is_dropped() -> None:
    for version in ("12", "13"):
        made = reconciler()
        made._written[("apps", "demo")] = _Written.of(app("12", RUNNING))
        shown = app(version, {"operationState": {"phase": "Succeeded"}})
        assert made._freshest(shown) is shown
        assert made._written == {}


def test_seen_drops_the_copy_only_once_the_watch_shows_the_write() -> None:
    made = reconciler()
    made._written[("apps", "demo")] = _Written.of(app("12", RUNNING))
    made.seen(app("11"))
    assert ("apps", "demo") in made._written
    made.seen(app("12"))
    assert made._written == {}
    made.seen(app("13"))  # nothing kept: nothing to do


def test_versions_that_are_not_integers_trust_the_watch() -> None:
    made = reconciler()
    made._written[("apps", "demo")] = _Written.of(app("x1", RUNNING))
    shown = app("x0")
    assert made._freshest(shown) is shown
