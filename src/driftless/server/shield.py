"""What every request passes before a route sees it, and what every answer carries.

``Shield`` is ASGI middleware (outermost, so it also covers the UI's files
and the error handlers' answers). Refusals use the API's error shape:

- DNS rebinding (only with ``--insecure-no-auth``, where no cookie guards the
  API): 403 unless the ``Host`` header names ``127.0.0.1``, ``localhost`` or
  ``[::1]`` (any port). A page of ``evil.example`` whose name later resolves
  to 127.0.0.1 sends ``Host: evil.example`` and is refused.
- Cross-site requests (CSRF): a request under ``/api/`` other than GET, HEAD
  and OPTIONS is 403 when ``Sec-Fetch-Site`` is present and neither
  ``same-origin`` nor ``none``, or when ``Origin`` is present and its
  host:port is not the ``Host`` header's (``Origin: null`` included). The
  web UI's requests are same-origin; a CLI sends neither header.
- Bodies: 413 above ``MAX_BODY`` bytes, by ``Content-Length`` before reading,
  and by counting for a body without one (chunked); at most ``MAX_BODY``
  bytes of a body are ever held. Except under the path prefixes given as
  ``own_body`` (the git webhooks: a forge's push payload is larger): those
  routes read and cap their bodies themselves. The other checks apply there
  too (a forge sends neither ``Origin`` nor ``Sec-Fetch-Site``).

Every response gets ``SECURITY_HEADERS`` (CSP, no framing, no sniffing, no
referrer), ``Cache-Control: no-store`` under ``/api/`` (unless the route set
one), and HSTS when served over TLS.

``host_of``, ``is_local_host`` and ``csrf_refusal`` are pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from driftless.server.errors import ErrorCode, error_body

__all__ = [
    "CSP",
    "HSTS",
    "MAX_BODY",
    "SECURITY_HEADERS",
    "Shield",
    "csrf_refusal",
    "host_of",
    "is_local_host",
]

MAX_BODY: Final = 64 * 1024
CSP: Final = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
HSTS: Final = "max-age=31536000"
LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "[::1]"})
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_SITE_FETCH: Final = frozenset({"same-origin", "none"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def host_of(host: str, scheme: str = "http") -> tuple[str, int] | None:
    """``(host, port)`` of a ``Host`` value (``name[:port]``, ``[v6][:port]``), or ``None``. Pure.

    The host is lowercased, an IPv6 address keeps its brackets; a missing
    port is ``scheme``'s default. Anything malformed (empty, bad port, stray
    brackets, userinfo, paths) is ``None``.
    """
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None
        name, rest = host[: end + 1], host[end + 1 :]
        if not rest:
            port_text = ""
        elif rest.startswith(":"):
            port_text = rest[1:]
        else:
            return None
    else:
        name, _, port_text = host.partition(":")
        if ":" in port_text or "[" in name or "]" in name:
            return None
    if not name or any(c in name for c in "/@?#\\ "):
        return None
    if not port_text:
        default = _DEFAULT_PORTS.get(scheme)
        return None if default is None else (name, default)
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        return None
    port = int(port_text)
    return (name, port) if 0 < port <= 65535 else None


def is_local_host(host: str | None) -> bool:
    """Whether a ``Host`` header names this machine's loopback (any port). Pure."""
    parsed = host_of(host) if host is not None else None
    return parsed is not None and parsed[0] in LOCAL_HOSTS


def csrf_refusal(method: str, path: str, headers: Mapping[str, str], scheme: str) -> str | None:
    """Why a request is refused as cross-site, or ``None`` to let it through. Pure.

    ``headers`` has lowercase names.
    """
    if method.upper() in SAFE_METHODS or not (path == "/api" or path.startswith("/api/")):
        return None
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() not in _SAME_SITE_FETCH:
        return "cross-site request refused (Sec-Fetch-Site)"
    origin = headers.get("origin")
    if origin is not None:
        host = host_of(headers.get("host", ""), scheme)
        if host is None or _origin_of(origin) != host:
            return "cross-origin request refused (Origin is not this server)"
    return None


def _origin_of(origin: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or parts.path not in ("", "/") or "@" in parts.netloc:
        return None
    return host_of(parts.netloc, parts.scheme)


def _refuse(code: ErrorCode, message: str, status: int) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status)


class _TooLargeError(Exception):
    pass


class Shield:
    """ASGI middleware: the refusals and headers of the module contract."""

    def __init__(
        self, app: ASGIApp, *, local_only: bool, tls: bool, own_body: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.local_only = local_only
        self.tls = tls
        self.own_body = own_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(scope, send)
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if self._own_body(scope):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except _TooLargeError:
            too_large = _refuse(
                ErrorCode.INVALID, f"request body larger than {MAX_BODY} bytes", 413
            )
            await too_large(scope, receive, send)
            return
        if body is None:
            return
        await self.app(scope, _replay(body, receive), send)

    def _refusal(self, scope: Scope, headers: Headers) -> JSONResponse | None:
        if self.local_only and not is_local_host(headers.get("host")):
            return _refuse(
                ErrorCode.FORBIDDEN,
                "this server (--insecure-no-auth) answers only to 127.0.0.1, localhost or [::1]",
                403,
            )
        lowered = {k.lower(): v for k, v in headers.items()}
        why = csrf_refusal(scope["method"], scope["path"], lowered, scope.get("scheme", "http"))
        if why is not None:
            return _refuse(ErrorCode.FORBIDDEN, why, 403)
        length = headers.get("content-length")
        if (
            length is not None
            and not self._own_body(scope)
            and (not length.strip().isdigit() or int(length) > MAX_BODY)
        ):
            return _refuse(ErrorCode.INVALID, f"request body larger than {MAX_BODY} bytes", 413)
        return None

    def _own_body(self, scope: Scope) -> bool:
        path: str = scope["path"]
        return any(path.startswith(prefix) for prefix in self.own_body)

    def _with_headers(self, scope: Scope, send: Send) -> Send:
        api = scope["path"] == "/api" or scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if api and "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                if self.tls:
                    headers["strict-transport-security"] = HSTS
            await send(message)

        return send_with_headers


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (at most ``MAX_BODY`` bytes); ``None``: the client left.

    Raises ``_TooLargeError`` past ``MAX_BODY``.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # the client left
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying
