"""Apps to shards to replicas: stable, moves about 1/N, a pin wins."""

from __future__ import annotations

import pytest

from driftless.controller import sharding
from driftless.controller.sharding import SHARD_LABEL


def test_the_hash_is_stable_across_processes_and_releases() -> None:
    # Fixed values: a change here re-shuffles every installation's apps on upgrade.
    assert sharding.hashed_shard("team-a", "web", 32) == sharding.hashed_shard("team-a", "web", 32)
    assert [sharding.hashed_shard("apps", f"app-{i}", 32) for i in range(5)] == EXPECTED_FIRST_FIVE
    assert sharding.owner(0, ["r-a", "r-b", "r-c"]) == EXPECTED_OWNER_OF_0


EXPECTED_FIRST_FIVE = [10, 28, 26, 28, 3]
EXPECTED_OWNER_OF_0 = "r-b"


def test_apps_spread_over_the_shards() -> None:
    counts = [0] * 32
    for i in range(3200):
        counts[sharding.hashed_shard("apps", f"app-{i}", 32)] += 1
    assert min(counts) > 50 and max(counts) < 150


def test_the_owner_does_not_depend_on_the_members_order() -> None:
    members = ["r-a", "r-b", "r-c"]
    assert sharding.assignment(64, members) == sharding.assignment(64, list(reversed(members)))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_adding_a_member_moves_about_one_in_n_plus_one_and_only_to_it(n: int) -> None:
    shards = 1024
    members = [f"replica-{i}" for i in range(n)]
    before = sharding.assignment(shards, members)
    after = sharding.assignment(shards, [*members, "newcomer"])
    moved = {k for k in before if before[k] != after[k]}
    assert all(after[k] == "newcomer" for k in moved)
    share = len(moved) / shards
    assert abs(share - 1 / (n + 1)) < 0.06, share


def test_removing_a_member_moves_only_its_shards() -> None:
    members = ["r-a", "r-b", "r-c", "r-d"]
    before = sharding.assignment(256, members)
    after = sharding.assignment(256, ["r-a", "r-b", "r-d"])
    moved = {k for k in before if before[k] != after[k]}
    assert moved == {k for k, who in before.items() if who == "r-c"}
    assert 30 < len(moved) < 100


def test_every_shard_has_exactly_one_owner_and_none_without_members() -> None:
    owners = sharding.assignment(32, ["r-a", "r-b"])
    assert set(owners) == set(range(32))
    assert sharding.owned_by("r-a", 32, ["r-b"]) | sharding.owned_by("r-b", 32, ["r-a"]) == set(
        range(32)
    )
    assert sharding.assignment(32, []) == {}
    assert sharding.owner(0, []) is None


def test_one_shard_is_leader_election() -> None:
    members = ["r-a", "r-b", "r-c"]
    leaders = [m for m in members if sharding.owned_by(m, 1, members) == {0}]
    assert len(leaders) == 1


def test_a_pin_wins_over_the_hash() -> None:
    hashed = sharding.hashed_shard("apps", "web", 32)
    pin = (hashed + 1) % 32
    assert sharding.shard_of("apps", "web", {SHARD_LABEL: str(pin)}, 32) == pin
    assert sharding.shard_of("apps", "web", {"other": "1"}, 32) == hashed
    assert sharding.shard_of("apps", "web", None, 32) == hashed


@pytest.mark.parametrize(
    "value",
    ["32", "-1", "1.5", "", " 3", "٣", "1" * 5000, "0x1", "abc", 3, None, ["1"]],
)
def test_a_hostile_or_out_of_range_pin_is_ignored(value: object) -> None:
    hashed = sharding.hashed_shard("apps", "web", 32)
    assert sharding.pinned_shard({SHARD_LABEL: value}, 32) is None
    assert sharding.shard_of("apps", "web", {SHARD_LABEL: value}, 32) == hashed


@pytest.mark.parametrize(
    ("value", "ok"), [(0, False), (1, True), (32, True), (1024, True), (1025, False)]
)
def test_the_number_of_shards_is_bounded(value: int, ok: bool) -> None:
    assert sharding.valid_shards(value) is ok
