"""How one ``driftless server`` runs: address, TLS, auth, namespaces. Pure.

``ServerSettings`` is built once by the ``driftless server`` command (or a
test) and never changes. ``check(settings)`` states the one rule that is not
a type: anonymous access (``--insecure-no-auth``) is refused unless the
server listens on a loopback address, so nobody opens the API to a network
by accident. A TLS certificate comes with its key, or not at all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from driftless.core.errors import DriftlessError
from driftless.core.resources import DEFAULT_APP_NAMESPACE

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_PORT",
    "DEFAULT_SESSION_SECONDS",
    "STATIC_DIR",
    "ServerSettings",
    "SettingsError",
    "check",
    "is_loopback",
]

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_SESSION_SECONDS = 12 * 3600
# Where the UI's build lands (``make ui``); shipped inside the Python package.
STATIC_DIR = Path(__file__).parent / "static"


class SettingsError(DriftlessError):
    """A combination of server options that must not run."""


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server's wiring reads.

    ``auth``: every ``/api/v1`` route except ``POST /session`` needs a
    session (``False`` only with ``--insecure-no-auth`` on loopback).
    ``secure_cookies``: the session cookie carries ``Secure`` (served over TLS).
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

    @property
    def secure_cookies(self) -> bool:
        return self.tls_cert is not None

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


def check(settings: ServerSettings) -> None:
    """Raise ``SettingsError`` for a combination that must not run."""
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
