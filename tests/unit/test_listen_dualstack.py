"""``:PORT`` listens on every interface, IPv6 and IPv4 alike (``controller.endpoints.bind``)."""

from __future__ import annotations

import errno
import socket
from typing import Any

import pytest

from driftless.controller import endpoints
from driftless.controller.endpoints import EndpointError, bind, listen
from driftless.core.listen import ANY_HOST, parse_listen_address


def reachable(family: socket.AddressFamily, host: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(2)
        try:
            client.connect((host, port))
        except OSError:
            return False
        return True


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_every_interface_takes_ipv4_and_ipv6() -> None:
    host, port = parse_listen_address(":0")
    with bind(host, port) as sock:
        port = sock.getsockname()[1]
        assert reachable(socket.AF_INET, "127.0.0.1", port)
        if ipv6_loopback():
            assert sock.family == socket.AF_INET6
            assert reachable(socket.AF_INET6, "::1", port)


def test_a_named_ipv4_host_is_ipv4_only() -> None:
    with bind("127.0.0.1", 0) as sock:
        assert sock.family == socket.AF_INET


def test_without_ipv6_every_interface_is_ipv4(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.create_server

    def no_ipv6(address: Any, *, family: int = socket.AF_INET, **kw: Any) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        return real(address, family=family, **kw)

    monkeypatch.setattr(endpoints.socket, "create_server", no_ipv6)
    with bind(ANY_HOST, 0) as sock:
        assert sock.family == socket.AF_INET
        assert reachable(socket.AF_INET, "127.0.0.1", sock.getsockname()[1])


def test_a_port_in_use_is_one_line_and_not_retried_on_ipv4() -> None:
    with bind(ANY_HOST, 0) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(EndpointError, match=f"cannot listen on 0.0.0.0:{port} for webhooks"):
            listen(ANY_HOST, port, "webhooks")
