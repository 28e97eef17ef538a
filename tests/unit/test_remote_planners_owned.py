"""With sharding, a remote cluster's watches stay only where an owned app deploys to it."""

from __future__ import annotations

from driftless.controller.reconciler import unused_remote

EAST = ("apps", "https://east.example")
WEST = ("apps", "https://west.example")
WEST_OTHER_NS = ("team", "https://west.example")


def test_a_planner_no_owned_app_uses_is_dropped() -> None:
    planner_of = {("apps", "a"): EAST, ("apps", "b"): WEST, ("team", "c"): WEST_OTHER_NS}
    planners = {EAST, WEST, WEST_OTHER_NS}
    owned = {("apps", "a"), ("team", "c")}
    assert unused_remote(planner_of, planners, owned.__contains__) == {WEST}


def test_one_owned_app_keeps_a_shared_planner() -> None:
    planner_of = {("apps", "a"): EAST, ("apps", "b"): EAST}
    assert unused_remote(planner_of, {EAST}, {("apps", "b")}.__contains__) == set()


def test_nothing_owned_drops_every_planner() -> None:
    planner_of = {("apps", "a"): EAST}
    assert unused_remote(planner_of, {EAST, WEST}, lambda _: False) == {EAST, WEST}
