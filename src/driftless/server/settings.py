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

Single sign-on (``OidcSettings``, ``--oidc-*``): the provider's issuer URL,
the client id, the Secret of the controller's namespace holding the client
secret (never a command-line value, which ``ps`` shows), scopes, the claim
carrying groups and the one naming the user, and the redirect URL when
browsers reach the server under another URL than its own (an ingress).
``local_admin=False`` (``--no-local-admin``) turns the ``admin`` account off:
password login is 404 and only single sign-on logs in.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from driftless.core.errors import DriftlessError
from driftless.core.resources import DEFAULT_APP_NAMESPACE

__all__ = [
    "COOKIE",
    "DEFAULT_ADDRESS",
    "DEFAULT_PORT",
    "DEFAULT_SESSION_SECONDS",
    "OIDC_CALLBACK_PATH",
    "STATIC_DIR",
    "OidcSettings",
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
OIDC_CALLBACK_PATH = "/api/v1/auth/oidc/callback"


class SettingsError(DriftlessError):
    """A combination of server options that must not run."""


@dataclass(frozen=True)
class OidcSettings:
    """One OpenID Connect provider: where it is and how driftless is registered there.

    ``client_secret_ref``: ``NAME`` or ``NAME:KEY`` of a Secret in the
    controller's namespace (key ``clientSecret`` by default); read at start.
    ``redirect_url``: the callback URL registered at the provider; ``None``
    means this server's own URL + ``OIDC_CALLBACK_PATH``.
    """

    issuer: str
    client_id: str
    client_secret_ref: str
    scopes: tuple[str, ...] = ("openid", "profile", "email", "groups")
    groups_claim: str = "groups"
    username_claim: str = "email"
    redirect_url: str | None = None

    @property
    def secret_name_and_key(self) -> tuple[str, str]:
        """The Secret's name and data key of the client secret."""
        name, _, key = self.client_secret_ref.partition(":")
        return name, key or "clientSecret"


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
    local_admin: bool = True
    oidc: OidcSettings | None = None
    # ``--metrics-address``: (host, port) of the /metrics listener (``server.metrics``), or off.
    metrics_address: tuple[str, int] | None = None
    # ``--webhook-max-body``: git webhook bodies above this many bytes are refused (413);
    # None: the receiver's default (``webhooks.receiver.DEFAULT_MAX_BODY``, 4 MiB).
    webhook_max_body: int | None = None

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
    if settings.auth and not settings.local_admin and settings.oidc is None:
        raise SettingsError(
            "--no-local-admin needs single sign-on (--oidc-issuer): nobody could log in"
        )
    if settings.oidc is not None:
        _check_oidc(settings.oidc)


def _check_oidc(oidc: OidcSettings) -> None:
    issuer = urlsplit(oidc.issuer)
    if issuer.scheme not in ("https", "http") or not issuer.hostname or issuer.query:
        raise SettingsError("--oidc-issuer must be an http(s) URL without a query")
    if issuer.scheme == "http" and not is_loopback(issuer.hostname):
        raise SettingsError("--oidc-issuer must be https:// unless the provider is on loopback")
    if not oidc.client_id or not oidc.secret_name_and_key[0]:
        raise SettingsError("--oidc-client-id and --oidc-client-secret-ref are required")
    if "openid" not in oidc.scopes:
        raise SettingsError("--oidc-scopes must include openid")
