"""Which addresses a notification may reach, and which Secrets a service may use."""

from __future__ import annotations

import ipaddress

import pytest

from driftless.notifications.engine import notification_secret, secret_not_found
from driftless.notifications.services.egress import Egress, Reach, classify, is_loopback_host


@pytest.mark.parametrize(
    ("address", "category"),
    [
        ("8.8.8.8", "public"),
        ("2606:4700::1111", "public"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: judged as the IPv4 address
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("172.32.0.1", "public"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("169.254.169.254", "forbidden"),  # cloud metadata
        ("fe80::1", "forbidden"),
        ("0.0.0.0", "forbidden"),
        ("0.1.2.3", "forbidden"),
        ("::", "forbidden"),
        ("224.0.0.1", "forbidden"),
        ("ff02::1", "forbidden"),
        ("255.255.255.255", "forbidden"),
        ("::ffff:169.254.169.254", "forbidden"),
        ("240.0.0.1", "forbidden"),  # reserved
    ],
)
def test_classify(address: str, category: str) -> None:
    assert classify(ipaddress.ip_address(address)) == category


def test_reach_by_namespace_and_flag() -> None:
    strict = Egress(allow_private=False, home="driftless")
    assert strict.for_namespace("team-a") == Reach(loopback=False, private=False)
    assert strict.for_namespace("driftless") == Reach(loopback=False, private=True)
    assert Egress(allow_private=True, home="driftless").for_namespace("team-a") == Reach(
        loopback=True, private=True
    )
    everything = Reach(loopback=True, private=True)
    assert not everything.permits(ipaddress.ip_address("169.254.169.254"))
    assert everything.permits(ipaddress.ip_address("127.0.0.1"))
    assert not Reach(private=True).permits(ipaddress.ip_address("127.0.0.1"))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("127.0.0.1", True),
        ("[::1]", True),
        ("::1", True),
        ("localhost.evil.test", False),
        ("127.0.0.1.nip.io", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


LABEL = {"driftless.dev/secret-type": "notification"}


def _secret(name: str, labels: dict[str, str] | None = None, type_: str = "Opaque") -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "type": type_, "data": {}}


@pytest.mark.parametrize(
    ("listed", "found"),
    [
        ([_secret("hook", LABEL)], True),
        ([_secret("other", LABEL), _secret("hook", LABEL)], True),
        ([], False),
        ([_secret("other", LABEL)], False),
        # Hostile: a list that still holds an unlabelled or wrongly labelled Secret.
        ([_secret("hook")], False),
        ([_secret("hook", {"driftless.dev/secret-type": "repository"})], False),
        ([_secret("hook", LABEL, "kubernetes.io/service-account-token")], False),
    ],
)
def test_notification_secret_only_labelled_never_a_token(listed: list, found: bool) -> None:
    assert (notification_secret(listed, "hook") is not None) is found


def test_missing_and_unlabelled_read_the_same() -> None:
    assert secret_not_found("hook", "team-a") == (
        "Secret 'hook' not found in team-a or not labelled driftless.dev/secret-type: notification"
    )
