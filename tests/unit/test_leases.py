"""Leases judged by our own clock; odd Lease bodies and replica ids are handled."""

from __future__ import annotations

import click
import pytest

from driftless.cli.replicas import Replicas, replicas_from
from driftless.controller import leases, membership


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def _lease(
    name: str, holder: str, version: str, role: str = "shard", duration: int = 10
) -> leases.Lease:
    return leases.Lease(name=name, holder=holder, duration=duration, version=version, role=role)


def test_a_lease_unchanged_for_its_duration_is_expired_by_our_clock() -> None:
    clock = Clock()
    seen = leases.Observations(clock)
    seen.observe([_lease("s-0", "r-a", "1")])
    assert seen.held("s-0")  # first sight counts as fresh, whatever its renewTime says
    clock.now += 9
    seen.observe([_lease("s-0", "r-a", "1")])
    assert seen.held("s-0")
    clock.now += 1
    assert not seen.held("s-0")
    seen.observe([_lease("s-0", "r-a", "2")])  # renewed: fresh again
    assert seen.held("s-0")


def test_a_free_or_vanished_lease_is_not_held() -> None:
    seen = leases.Observations(Clock())
    seen.observe([_lease("s-0", "", "1"), _lease("s-1", "r-a", "1")])
    assert not seen.held("s-0")
    seen.observe([])
    assert not seen.held("s-1") and seen.get("s-1") is None


def test_live_members_are_the_holders_of_unexpired_member_leases() -> None:
    clock = Clock()
    seen = leases.Observations(clock)
    seen.observe([_lease("m-a", "r-a", "1", "member"), _lease("s-0", "r-x", "1", "shard")])
    clock.now += 5
    seen.observe([_lease("m-a", "r-a", "1", "member"), _lease("m-b", "r-b", "1", "member")])
    clock.now += 6
    assert seen.holders("member") == {"r-b"}


def test_a_member_lease_renewed_long_ago_is_expired_at_first_sight_a_shard_lease_never() -> None:
    clock = Clock()
    seen = leases.Observations(clock, wall=lambda: 5000.0, trust_wall_clock=frozenset({"member"}))
    old_member = leases.Lease("m-x", "r-x", 10, "1", role="member", renewed=4900.0)
    old_shard = leases.Lease("s-0", "r-x", 10, "1", role="shard", renewed=4900.0)
    recent = leases.Lease("m-y", "r-y", 10, "1", role="member", renewed=4995.0)
    seen.observe([old_member, old_shard, recent])
    assert seen.holders("member") == {"r-y"}
    assert seen.held("s-0")  # clock skew must never free a shard early
    clock.now += 5
    assert seen.holders("member") == set()


def test_renew_times_are_read_as_the_api_writes_them() -> None:
    obj = leases.body("x", "ns", "member", "r-a", 10)
    assert leases.lease_of(obj).renewed is not None
    for stamp in ["2026-12-03T18:15:43.583000Z", "2026-12-03T18:15:43Z"]:
        assert leases.lease_of({"spec": {"renewTime": stamp}}).renewed is not None
    for odd in ["yesterday", "2026-12-03T18:15:43", 5, "9" * 100]:
        assert leases.lease_of({"spec": {"renewTime": odd}}).renewed is None


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"metadata": None, "spec": None},
        {"metadata": {"name": "x"}, "spec": {"leaseDurationSeconds": "10", "holderIdentity": 5}},
        {"metadata": {"name": "x"}, "spec": {"leaseDurationSeconds": 10**9}},
        {"metadata": {"name": "x"}, "spec": {"leaseDurationSeconds": -3}},
    ],
)
def test_an_odd_lease_body_reads_as_something_bounded(obj: dict[str, object]) -> None:
    lease = leases.lease_of(obj)
    assert leases.MIN_DURATION <= lease.duration <= leases.MAX_DURATION


def test_the_body_of_a_lease_is_what_the_api_wants() -> None:
    obj = leases.body("driftless-shard-3", "driftless", "shard", "r-a", 10)
    assert obj["metadata"]["labels"] == {leases.LEASE_LABEL: "shard"}
    assert obj["spec"]["holderIdentity"] == "r-a"
    assert obj["spec"]["renewTime"].endswith("Z") and "." in obj["spec"]["renewTime"]
    assert leases.release()["holderIdentity"] == ""


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("driftless-controller-7d9f8-abcde", True),
        ("host.example-123", True),
        ("Upper", False),
        ("-lead", False),
        ("trail-", False),
        ("has space", False),
        ("../../etc", False),
        ("a" * 201, False),
        ("", False),
    ],
)
def test_replica_ids(value: str, ok: bool) -> None:
    assert membership.valid_replica_id(value) is ok


def test_the_default_replica_id_is_valid() -> None:
    assert membership.valid_replica_id(membership.default_replica_id())


def test_the_replica_options() -> None:
    assert replicas_from(None, False, None) == Replicas(0, "")
    assert replicas_from(None, True, "r-1") == Replicas(1, "r-1")
    assert replicas_from(8, False, None) == Replicas(8, "")
    for shards, ha, rid in [
        (3, True, None),
        (0, False, None),
        (5000, False, None),
        (2, False, "Bad Id"),
    ]:
        with pytest.raises(click.BadParameter):
            replicas_from(shards, ha, rid)


def test_replicas_disagreeing_on_the_number_of_shards_are_named() -> None:
    members = [
        leases.Lease("m-a", "r-a", 10, "1", role="member", shards="32"),
        leases.Lease("m-b", "r-b", 10, "1", role="member", shards="16"),
        leases.Lease("m-c", "r-c", 10, "1", role="member", shards=""),  # an older release
    ]
    assert membership.disagreeing(members, 32) == {"r-b": "16"}
    assert membership.disagreeing(members, 16) == {"r-a": "32"}
    obj = leases.body("m-a", "ns", "member", "r-a", 10, labels={leases.SHARDS_LABEL: "32"})
    assert leases.lease_of(obj).shards == "32"
    assert obj["metadata"]["labels"][leases.LEASE_LABEL] == "member"
