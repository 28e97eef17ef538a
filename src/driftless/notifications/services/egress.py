"""Where notifications may connect: each resolved address checked when connecting.

Why: a NotificationService is a tenant's object and names any host. Without a
check the controller would POST (with a token) to its own metadata service,
the API server's loopback, or any pod of the cluster: server-side request
forgery. The check is made on the *resolved* address at connect time, so a
name that resolves elsewhere later (DNS rebinding) gains nothing.

Contract:

* ``classify(ip)`` (pure) is ``"forbidden"`` (link-local 169.254.0.0/16 and
  fe80::/10, unspecified, multicast, broadcast/reserved, 0.0.0.0/8),
  ``"loopback"``, ``"private"`` (10/8, 172.16/12, 192.168/16, 100.64/10,
  fc00::/7, fec0::/10) or ``"public"``; an IPv6 address carrying an IPv4 one
  (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``) is judged by that one.
* ``Egress(allow_private, home)`` is the controller's policy:
  ``policy.for_namespace(ns)`` is the ``Reach`` of a service in ``ns``:
  forbidden addresses never; loopback only with ``allow_private``
  (``--notifications-allow-private-networks``); private ranges with
  ``allow_private`` or for a service in the controller's own namespace
  ``home`` (an admin's); public addresses always.
* ``GuardedBackend`` wraps httpcore's network backend: ``connect_tcp``
  resolves the host, keeps the addresses the ``Reach`` permits and connects
  to one of them (TLS still verifies the name: httpcore wraps the socket with
  the request's host name). None permitted: ``EgressRefused`` (a
  ``httpcore.ConnectError``). ``guard(transport, reach)`` installs it on an
  ``httpx.AsyncHTTPTransport``; one transport per ``Reach``, so a pooled
  connection is never reused by a service of another reach.
* ``connect(host, port, timeout, reach)`` is the same check for blocking
  sockets (SMTP): a connected ``socket.socket`` or ``EgressRefused``.
  ``CURRENT`` (a context variable, strict by default) is the ``Reach`` of
  the send in progress; ``delivery`` sets it.
* ``is_loopback_host(host)`` (pure): a literal loopback address or
  ``localhost``, where a credential may go over plain http.
* Refusals are logged for the controller's admins (host and category); the
  messages services put in Events say only "cannot connect", as for a refused
  or unreachable port, so a tenant cannot map the network with them.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import httpcore
import httpx

__all__ = [
    "CURRENT",
    "STRICT",
    "Egress",
    "EgressRefused",
    "GuardedBackend",
    "Reach",
    "classify",
    "connect",
    "guard",
    "is_loopback_host",
]

log = logging.getLogger(__name__)

Category = Literal["forbidden", "loopback", "private", "public"]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address

_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
        "fec0::/10",
    )
)
_FORBIDDEN = tuple(
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "169.254.0.0/16", "fe80::/10", "255.255.255.255/32")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(httpcore.ConnectError):
    """No address of the host may be reached by this service (the log says why)."""


def classify(ip: IP) -> Category:
    """The category of one address (see the module docstring)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return classify(ip.ipv4_mapped)
        if ip in _NAT64:
            return classify(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.is_unspecified or ip.is_multicast or any(ip in n for n in _FORBIDDEN):
        return "forbidden"
    if ip.is_loopback:
        return "loopback"
    if any(ip in n for n in _PRIVATE):
        return "private"
    if ip.is_reserved or ip.is_link_local:
        return "forbidden"
    return "public"


@dataclass(frozen=True)
class Reach:
    """What one service may connect to."""

    loopback: bool = False
    private: bool = False

    def permits(self, ip: IP) -> bool:
        category = classify(ip)
        if category == "public":
            return True
        if category == "private":
            return self.private
        if category == "loopback":
            return self.loopback
        return False


STRICT = Reach()


@dataclass(frozen=True)
class Egress:
    """The controller's policy (``--notifications-allow-private-networks``)."""

    allow_private: bool = False
    home: str | None = None  # the controller's namespace: its services are the admins'

    def for_namespace(self, namespace: str) -> Reach:
        private = self.allow_private or (self.home is not None and namespace == self.home)
        return Reach(loopback=self.allow_private, private=private)


CURRENT: contextvars.ContextVar[Reach] = contextvars.ContextVar(
    "driftless_notifications_reach", default=STRICT
)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is literally this machine (``localhost``, 127.x, ::1)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _permitted(host: str, infos: Iterable[tuple[Any, ...]], reach: Reach) -> list[str]:
    """The resolved addresses ``reach`` permits, in resolver order, without repeats."""
    out: list[str] = []
    refused: set[str] = set()
    for info in infos:
        address = str(info[4][0]).partition("%")[0]
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            continue
        if reach.permits(ip):
            if address not in out:
                out.append(address)
        else:
            refused.add(f"{address} ({classify(ip)})")
    if refused and not out:
        log.warning(
            "notifications: connection to %s refused by the egress policy: %s"
            " (see --notifications-allow-private-networks)",
            host,
            ", ".join(sorted(refused)),
        )
    return out


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's backend, connecting only to addresses a ``Reach`` permits."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, reach: Reach) -> None:
        self._inner = inner
        self._reach = reach

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as error:
            raise httpcore.ConnectError(type(error).__name__) from None
        addresses = _permitted(host, infos, self._reach)
        if not addresses:
            raise EgressRefused("address not permitted")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("unix sockets are not permitted")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guard(transport: httpx.AsyncHTTPTransport, reach: Reach) -> httpx.AsyncHTTPTransport:
    """``transport`` connecting through a ``GuardedBackend`` (its pool's backend replaced)."""
    pool = transport._pool  # httpx exposes no backend parameter
    pool._network_backend = GuardedBackend(pool._network_backend, reach)
    return transport


def connect(host: str, port: int, timeout: float, reach: Reach) -> socket.socket:
    """A blocking TCP connection to a permitted address of ``host`` (see the docstring)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = _permitted(host, infos, reach)
    if not addresses:
        raise EgressRefused("address not permitted")
    last: OSError | None = None
    for address in addresses:
        ip = ipaddress.ip_address(address)
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((address, port))
            return sock
        except OSError as error:
            sock.close()
            last = error
    assert last is not None
    raise last
