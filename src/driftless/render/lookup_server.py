"""The lookup proxy's server: per-render tokens, answers read from the destination.

The design and what is answered are ``render.lookup_proxy``'s docstring; this
module is the I/O around it.

Contract:

* ``LookupProxy(client)`` serves the cluster ``client`` reaches. It starts
  on first use (``grant``), listening on ``127.0.0.1`` at a port the kernel
  picks, over TLS with a certificate made for it then (an EC key that never
  touches a file but for the instant ``ssl`` loads it from a private
  directory), with no access log (nothing of a request is logged).
  ``close()`` stops it; a later ``grant`` starts it again, with a new key.
* ``async with proxy.grant(scope, lifetime) as grant`` mints a random token
  (256 bits) for ``scope``; ``grant.access`` is what the render needs. The
  token is revoked when the block exits and refused past ``lifetime``
  seconds from its first use anyway (the clock starts at first use because
  a render may queue for the render server long after its grant). Requests
  with no token, another or an old one get 401; a render whose own token
  expired fails with a ``TransientError`` (it is retried), not a
  ``RenderError``.
* A list is read ``LIST_PAGE`` objects at a time, each encoded as it comes
  and held only as those bytes; past ``MAX_LIST_ITEMS`` objects or
  ``MAX_LIST_BYTES`` of them it is refused (403), so a namespace of huge
  ConfigMaps cannot blow up the planning process.
* Every answer is read with the proxy's client through ``kube.client``
  (typed get and list, discovery from its cache): no request is forwarded
  as sent, so nothing but what ``lookup_proxy.parse_request`` accepts can
  reach the destination.
* The grant records what happened for the render's error: ``refusals`` (the
  403 messages, in order) and ``unavailable`` (why the destination could not
  be reached). ``explain(error)`` turns a failed render into the error to
  report (``lookup_proxy``'s docstring).
* ``granting(proxy, scope)`` makes the pair the current context's
  (``current()``), so the render pipeline, several calls below whoever knows
  the Project and the cluster, finds it; it mirrors
  ``chart_deps.checking_repositories``.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import os
import secrets
import socket
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from driftless.core.errors import DriftlessError, RenderError, TransientError
from driftless.kube.client import (
    KubeApiError,
    KubeClient,
    KubeForbiddenError,
    KubeNotFoundError,
    KubeUnavailableError,
)
from driftless.render import lookup_proxy
from driftless.render.lookup_proxy import ApiPath, LookupAccess, LookupScope, RefusedError

JSON = dict[str, Any]
HOST = "127.0.0.1"
# Objects per page read from the destination: a page is held parsed while it is
# encoded, and the API server lets an object be ~1.5 MiB.
LIST_PAGE = 50


@dataclass
class Grant:
    """One render's access: its token, scope, lifetime and what the proxy saw.

    The lifetime runs from the token's first use, not from the grant: a render
    waits for a slot of the render server after it got its grant (behind up to
    ``max_in_flight`` others), and a clock started then would expire under load
    before helm asked anything. The token is revoked when the render ends anyway.
    """

    access: LookupAccess
    scope: LookupScope
    lifetime: float
    first_use: float | None = None
    requests: int = 0
    refusals: list[str] = field(default_factory=list)
    unavailable: str | None = None
    expired: bool = False

    def valid(self, now: float) -> bool:
        """Whether a request at ``now`` may use the token (starting its clock if first)."""
        if self.first_use is None:
            self.first_use = now
        if now - self.first_use > self.lifetime:
            self.expired = True
            return False
        return True

    def explain(self, error: DriftlessError) -> DriftlessError:
        """The error to report for a render that failed with ``error``."""
        if self.unavailable is not None:
            return TransientError(f"Helm lookup could not read the destination: {self.unavailable}")
        if self.expired:
            # Helm got 401 because the render outlived its token: its input was not wrong.
            return TransientError(
                f"Helm lookup: the render ran past its token's {self.lifetime:.0f} s lifetime"
            )
        if self.refusals and isinstance(error, RenderError):
            return RenderError(
                f"Helm lookup refused: {self.refusals[0]}", file=error.file, line=error.line
            )
        return error


class LookupProxy:
    """A read-only proxy to the cluster ``client`` reaches (see the module contract)."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._grants: dict[str, Grant] = {}
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._ca = ""
        self._lock = asyncio.Lock()

    async def url(self) -> str:
        """The proxy's base URL (starting it if needed)."""
        async with self._lock:
            if self._url is None:
                self._url = await self._start()
            return self._url

    @asynccontextmanager
    async def grant(self, scope: LookupScope, lifetime: float) -> AsyncIterator[Grant]:
        """A fresh token for ``scope``, valid inside the block and for ``lifetime`` s
        from its first use."""
        token = secrets.token_urlsafe(32)
        url = await self.url()
        grant = Grant(LookupAccess(url, self._ca, token), scope, lifetime)
        self._grants[token] = grant
        try:
            yield grant
        finally:
            self._grants.pop(token, None)

    async def close(self) -> None:
        async with self._lock:
            runner, self._runner, self._url = self._runner, None, None
            self._grants.clear()
            if runner is not None:
                await runner.cleanup()

    async def _start(self) -> str:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        # Bound here, so the port the kernel picked is known without aiohttp's internals.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            context, self._ca = await asyncio.to_thread(_tls)
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
            await web.SockSite(runner, sock, ssl_context=context).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        return f"https://{HOST}:{port}"

    # ---------------------------------------------------------- requests

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        grant = self._grant_of(request.headers.get("Authorization", ""))
        if grant is None:
            return _json(lookup_proxy.status(401, "Unauthorized"), 401)
        grant.requests += 1
        try:
            if grant.requests > lookup_proxy.MAX_REQUESTS:
                too_many = f"more than {lookup_proxy.MAX_REQUESTS} lookups in one render"
                raise RefusedError(403, too_many)
            path = lookup_proxy.parse_request(request.method, request.raw_path)
            answer = await self._answer(grant, path)
            if isinstance(answer, Chunks):
                return await _stream(request, answer)
            return _json(answer, 200)
        except RefusedError as exc:
            if exc.status == 403:
                grant.refusals.append(exc.message)
            return _json(lookup_proxy.status(exc.status, exc.message), exc.status)
        except KubeUnavailableError as exc:
            grant.unavailable = exc.message
            return _json(lookup_proxy.status(503, "the destination cluster is unavailable"), 503)
        except KubeForbiddenError:
            message = "the destination refused the read to driftless itself (its RBAC)"
            grant.refusals.append(message)
            return _json(lookup_proxy.status(403, message), 403)
        except KubeNotFoundError:
            return _json(lookup_proxy.status(404, "not found"), 404)
        except KubeApiError as exc:
            code = exc.status if 400 <= exc.status < 600 else 500
            return _json(lookup_proxy.status(code, "the destination failed the read"), code)

    def _grant_of(self, header: str) -> Grant | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        grant = self._grants.get(token.strip())
        if grant is None or not grant.valid(time.monotonic()):
            return None
        return grant

    async def _answer(self, grant: Grant, path: ApiPath) -> JSON | Chunks:
        if path.what == "version":
            return await self.client.version()
        await self.client.discovery.refresh(force=False)
        served: list[lookup_proxy.ServedType] = list(self.client.discovery.served())
        if path.what == "api":
            return lookup_proxy.api_versions(served)
        if path.what == "apis":
            return lookup_proxy.api_groups(served)
        if path.what == "discovery":
            found = lookup_proxy.resource_list(path.group, path.version, served)
            if not found["resources"]:
                raise RefusedError(404, "the server could not find the requested resource")
            return found
        rtype = lookup_proxy.served_type(path, served)
        lookup_proxy.check_read(grant.scope, rtype, path.namespace)
        api_version = f"{rtype.group}/{rtype.version}" if rtype.group else rtype.version
        if path.name is not None:
            obj = await self.client.get(api_version, rtype.kind, path.name, path.namespace)
            if obj is None:
                raise RefusedError(404, f'{rtype.plural} "{path.name}" not found')
            return obj
        return await self._list(rtype, api_version, path.namespace)

    async def _list(
        self, rtype: lookup_proxy.ServedType, api_version: str, namespace: str | None
    ) -> Chunks:
        """The list, its items encoded as they arrive: one page of objects is held
        parsed at a time, and all of them once, as the bytes that are sent."""
        items: list[bytes] = []
        size, version = 0, ""
        where = f" in namespace {namespace}" if namespace else ""
        pages = self.client.list_pages(api_version, rtype.kind, namespace, page_size=LIST_PAGE)
        async for page, page_version in pages:
            version = page_version or version
            for item in page:
                items.append(lookup_proxy.encoded_item(item))
                size += len(items[-1])
            page.clear()
            if len(items) > lookup_proxy.MAX_LIST_ITEMS:
                raise RefusedError(
                    403,
                    f"{rtype.kind} list{where} has more than {lookup_proxy.MAX_LIST_ITEMS} objects",
                )
            if size > lookup_proxy.MAX_LIST_BYTES:
                limit = lookup_proxy.MAX_LIST_BYTES // (1024 * 1024)
                raise RefusedError(403, f"{rtype.kind} list{where} is larger than {limit} MiB")
        return Chunks(lookup_proxy.list_chunks(rtype, items, version))


@dataclass(frozen=True)
class Chunks:
    """An answer already encoded, written out piece by piece (a list)."""

    parts: Iterable[bytes]


def _json(body: JSON, code: int) -> web.Response:
    return web.json_response(body, status=code)


async def _stream(request: web.Request, answer: Chunks) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    await response.prepare(request)
    for part in answer.parts:
        await response.write(part)
    await response.write_eof()
    return response


def _tls() -> tuple[ssl.SSLContext, str]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and its PEM."""
    # Imported here, on the first Helm lookup: ``cryptography`` adds ~9 MiB to
    # a controller, and most never serve a lookup.
    from driftless.core.selfsigned import self_signed_pem

    # The key lives in memory as long as the proxy; a restart makes a new one.
    cert_pem, key_pem = self_signed_pem(
        "driftless lookup proxy", [], [HOST], datetime.timedelta(days=3650)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # ``ssl`` loads keys from files only: a private directory, removed at once.
    with tempfile.TemporaryDirectory(prefix="driftless-lookup-") as private:
        cert_file, key_file = Path(private) / "tls.crt", Path(private) / "tls.key"
        cert_file.write_bytes(cert_pem)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context, cert_pem.decode()


# ----------------------------------------------------------- the context


@dataclass(frozen=True)
class Granter:
    """The proxy and scope renders in this context get their lookup grants from."""

    proxy: LookupProxy
    scope: LookupScope


_CURRENT: contextvars.ContextVar[Granter | None] = contextvars.ContextVar(
    "driftless_lookup_granter", default=None
)


@contextmanager
def granting(proxy: LookupProxy, scope: LookupScope) -> Iterator[None]:
    """Renders in this block may grant Helm lookups for ``scope`` through ``proxy``."""
    token = _CURRENT.set(Granter(proxy, scope))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> Granter | None:
    """The granter of the current context, if any."""
    return _CURRENT.get()
