"""``HOST:PORT`` of a listener (``--metrics-address``, ``--webhook-address``). Pure.

Accepted: ``HOST:PORT``, ``:PORT`` (every interface, as Kubernetes
components write it), ``[IPv6]:PORT``; PORT is 0..65535 (0: any free port).
The host is not resolved here: binding it says whether it exists.

``:PORT`` parses to ``ANY_HOST``, which the binder
(``controller.endpoints.bind``: sockets are no business of ``core``) serves
as every interface, IPv6 and IPv4 alike: one dual-stack socket on ``::``
(what a Go server does for ``:PORT``), or ``0.0.0.0`` on a host without
IPv6. ``0.0.0.0`` written out means the same; another host binds its own
family only (``::`` written out is IPv6 only).
"""

from __future__ import annotations

ANY_HOST = "0.0.0.0"  # every interface: what ":PORT" asks for (IPv4 and IPv6, see above)


class AddressError(ValueError):
    """The text is not ``HOST:PORT``; the message says why, in one line."""


def parse_listen_address(text: str) -> tuple[str, int]:
    """``(host, port)`` of ``text`` (see the module contract)."""
    shown = text if len(text) <= 64 else text[:61] + "..."
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise AddressError(f"{shown!r} is not HOST:PORT (for example :8080 or 127.0.0.1:8080)")
    port = int(port_text)
    if port > 65535:
        raise AddressError(f"{shown!r}: port {port} is not in 0..65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not host or ":" not in host:
            raise AddressError(f"{shown!r}: brackets hold an IPv6 address")
    elif ":" in host:
        raise AddressError(f"{shown!r}: write an IPv6 address in brackets, [::1]:8080")
    if any(c.isspace() or c in "/@?#" for c in host):
        raise AddressError(f"{shown!r}: the host is not an address or a host name")
    return host or ANY_HOST, port
