"""How one ``driftless server`` runs: address, TLS, auth, cookies, namespaces. Pure.

``ServerSettings`` is built once by the ``driftless server`` command (or a
test) and never changes. ``check(settings)`` states the rules that are not
types: ``--address`` is an IP address or a host name (``address_problem``),
checked before anything connects; anonymous access (``--insecure-no-auth``)
is refused unless the server listens on a loopback address, so nobody opens
the API to a network by accident; a TLS certificate comes with its key, or
not at all.

Cookies: browsers reach the server over HTTPS either because it serves TLS
itself or because a TLS-terminating proxy (an ingress) is in front of it
(``--secure-cookies``). In both cases the session cookie is ``Secure`` and
named with the ``__Host-`` prefix (the browser then also refuses it unless
it was set over HTTPS for this very host, path ``/``, no ``Domain``), and
responses carry HSTS; plain HTTP without the flag (a loopback server, the
quickstart) keeps the plain name.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from driftless.core.errors import DriftlessError
from driftless.core.resources import DEFAULT_APP_NAMESPACE

__all__ = [
    "COOKIE",
    "DEFAULT_ADDRESS",
    "DEFAULT_PORT",
    "DEFAULT_SESSION_SECONDS",
    "STATIC_DIR",
    "ServerSettings",
    "SettingsError",
    "address_problem",
    "check",
    "is_loopback",
]

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_SESSION_SECONDS = 12 * 3600
COOKIE = "driftless_session"
SECURE_COOKIE = f"__Host-{COOKIE}"
_HOST_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Where the UI's build lands (``make ui``); shipped inside the Python package.
STATIC_DIR = Path(__file__).parent / "static"


class SettingsError(DriftlessError):
    """A combination of server options that must not run."""


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server's wiring reads.

    ``auth``: every ``/api/v1`` route except ``POST /session`` needs a
    session (``False`` only with ``--insecure-no-auth`` on loopback).
    ``https_proxy``: browsers reach this server through a TLS-terminating
    proxy (``--secure-cookies``) although it serves plain HTTP itself.
    ``controller_namespace``: where the admin Secrets and Projects live.
    """

    address: str = DEFAULT_ADDRESS
    port: int = DEFAULT_PORT
    controller_namespace: str = DEFAULT_APP_NAMESPACE
    auth: bool = True
    tls_cert: Path | None = None
    tls_key: Path | None = None
    static_dir: Path = STATIC_DIR
    session_seconds: float = DEFAULT_SESSION_SECONDS
    https_proxy: bool = False

    @property
    def secure_cookies(self) -> bool:
        """Browsers reach the server over HTTPS: ``Secure`` cookie, ``__Host-`` name, HSTS."""
        return self.tls_cert is not None or self.https_proxy

    @property
    def cookie(self) -> str:
        """The session cookie's name (see the module docstring)."""
        return SECURE_COOKIE if self.secure_cookies else COOKIE

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    def url(self) -> str:
        """Where a browser on this machine reaches the server (no trailing ``/``)."""
        host = self.address
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"


def is_loopback(address: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and ``localhost``; everything else may face a network."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def address_problem(address: str) -> str | None:
    """Why ``address`` is neither an IP address nor a host name (RFC 1123), or ``None``. Pure."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        pass
    else:
        return None
    name = address[:-1] if address.endswith(".") else address
    if not name or len(name) > 253:
        return "is not an IP address or a host name"
    if all(_HOST_LABEL.match(label) for label in name.split(".")):
        return None
    return "is not an IP address or a host name (letters, digits, '-' and '.' only)"


def check(settings: ServerSettings) -> None:
    """Raise ``SettingsError`` for a combination that must not run."""
    problem = address_problem(settings.address)
    if problem is not None:
        shown = settings.address if len(settings.address) <= 64 else settings.address[:61] + "..."
        raise SettingsError(f"--address {shown!r} {problem}")
    if not settings.auth and not is_loopback(settings.address):
        raise SettingsError(
            f"--insecure-no-auth is refused on {settings.address}: anyone who can reach it"
            " could sync or delete every application; use it only with a loopback --address"
            " (127.0.0.1, ::1)"
        )
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise SettingsError("--tls-cert and --tls-key go together")
    if not 0 <= settings.port <= 65535:
        raise SettingsError(f"--port {settings.port} is not a TCP port (0-65535)")
