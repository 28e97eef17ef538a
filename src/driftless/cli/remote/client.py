"""The HTTP client of a driftless server's ``/api/v1`` (httpx), for the CLI.

Exceptions (every one a ``DriftlessError``, so a command ends with one line
and exit code 1 through ``context.run_async``)::

    ServerError              status 0 when the server did not answer at all
    +-- NotLoggedInError     401: "not logged in to URL ...: run driftless login URL"

``ServerError.status`` is the HTTP status, so a caller can say more (a 404 on
``app get`` reads as the kubeconfig path's "not found"). The message of the
server's error shape (``{"error": {"message"}}``) is shown, cut to
``MAX_MESSAGE`` characters, control characters (terminal escapes) removed
and URLs redacted: a hostile server cannot paint the terminal.

What a hostile or wrong server cannot make the client do: follow a redirect
(a 3xx is an error naming where it pointed: the credential would go to that
host); send the credential anywhere but ``url`` (the cookie or bearer token
is a header of each request, never a cookie jar's: a ``Set-Cookie`` of the
server is not kept); read more than ``MAX_BODY`` bytes of an answer; pass an
answer that is not JSON as data. ``$HTTPS_PROXY`` and ``~/.netrc`` are not
read (``trust_env=False``): nothing but this module decides what is sent.
A transport may be passed (``httpx.MockTransport`` in unit tests).
"""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import dataclass
from typing import Any, Final

import httpx

from driftless.cli.remote.credentials import PASSWORD, Entry
from driftless.core.errors import DriftlessError
from driftless.core.repourl import redact

__all__ = [
    "MAX_BODY",
    "SESSION_COOKIES",
    "NotLoggedInError",
    "Remote",
    "ServerError",
    "Session",
    "auth_headers",
    "shown",
]

MAX_BODY: Final = 32 * 1024 * 1024
MAX_MESSAGE: Final = 500
# The server's session cookie: ``__Host-`` prefixed when it is Secure.
SESSION_COOKIES: Final = ("__Host-driftless_session", "driftless_session")
TIMEOUT: Final = httpx.Timeout(30.0, read=180.0)  # a diff renders the app: minutes at worst
_SESSION_VALUE = re.compile(r"^[A-Za-z0-9._~+/=-]{16,512}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


class ServerError(DriftlessError):
    """The server refused, failed, or did not answer (``status`` 0)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotLoggedInError(ServerError):
    """401: no credential, or the server no longer takes it."""


@dataclass(frozen=True)
class Session:
    """What a password login gives: the cookie (name, value) and the user the server names."""

    cookie: str
    value: str
    user: str


def shown(text: str) -> str:
    """Text from the server fit for the terminal: no control characters, redacted, bounded. Pure."""
    clean = _CONTROL.sub(" ", text).strip()
    if len(clean) > MAX_MESSAGE:
        clean = clean[:MAX_MESSAGE] + "..."
    return redact(clean)


def auth_headers(entry: Entry | None, token: str | None = None) -> dict[str, str]:
    """The header that authenticates: ``token`` (bearer) first, else the stored entry's. Pure."""
    if token:
        return {"Authorization": f"Bearer {token}"}
    if entry is None:
        return {}
    if entry.method == PASSWORD:
        return {"Cookie": f"{entry.cookie}={entry.secret}"}
    return {"Authorization": f"Bearer {entry.secret}"}


def _verify(insecure: bool, ca_file: str | None) -> bool | ssl.SSLContext:
    if insecure:
        return False
    if ca_file:
        try:
            return ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ServerError(f"cannot use --ca-file {ca_file}: {exc}") from None
    return True


class Remote:
    """One server: ``call`` sends a request and returns its JSON, or raises ``ServerError``."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        insecure: bool = False,
        ca_file: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self._auth = dict(headers or {})
        self.http = httpx.AsyncClient(
            base_url=url,
            verify=_verify(insecure, ca_file),
            follow_redirects=False,
            timeout=TIMEOUT,
            trust_env=False,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        authenticated: bool = True,
    ) -> Any:
        """The JSON of a 2xx answer (``None`` when empty); any other answer raises."""
        status, _, content = await self._send(method, path, params, body, authenticated)
        return self._decode(status, content)

    async def login(self, username: str, password: str) -> Session:
        """``POST /api/v1/session``: the session cookie the server set, or ``ServerError``."""
        body = {"username": username, "password": password}
        return await self._session("/api/v1/session", body, username)

    async def exchange(self, code: str, state: str) -> Session:
        """``POST /api/v1/auth/cli/exchange``: a single sign-on's one-time code for its session."""
        return await self._session("/api/v1/auth/cli/exchange", {"code": code, "state": state}, "")

    async def _session(self, path: str, body: dict[str, str], user: str) -> Session:
        """POST ``body`` to ``path`` (no credential): the session cookie set, or ``ServerError``."""
        status, cookies, content = await self._send("POST", path, None, body, authenticated=False)
        answer = self._decode(status, content, login=True)
        for name in SESSION_COOKIES:
            value = cookies.get(name)
            if value and _SESSION_VALUE.match(value):
                named = answer.get("user") if isinstance(answer, dict) else None
                return Session(name, value, named if isinstance(named, str) else user)
        raise ServerError(f"{self.url} accepted the login but set no session cookie for itself")

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Any,
        authenticated: bool,
    ) -> tuple[int, dict[str, str], bytes]:
        headers = dict(self._auth) if authenticated else {}
        if method not in ("GET", "HEAD"):
            headers["Content-Type"] = "application/json"
        content = None if body is None else json.dumps(body).encode()
        try:
            async with self.http.stream(
                method, path, params=params, content=content, headers=headers
            ) as response:
                self._refuse_redirect(response)
                data = await self._read(response)
                # Only the cookies the jar's policy takes for this very host.
                cookies = {c.name: c.value or "" for c in response.cookies.jar}
                return response.status_code, cookies, data
        except httpx.TimeoutException:
            raise ServerError(f"the server {self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            hint = (
                ": `driftless login --ca-file` names the CA that signed it"
                if _untrusted_certificate(exc)
                else ""
            )
            raise ServerError(
                f"cannot reach the server {self.url}: {shown(str(exc))}{hint}"
            ) from None
        finally:
            self.http.cookies.clear()

    def _refuse_redirect(self, response: httpx.Response) -> None:
        if not response.is_redirect:
            return
        where = shown(response.headers.get("location", ""))
        raise ServerError(
            f"{self.url} answered {response.status_code}, a redirect to {where or '(nowhere)'}:"
            " not followed (the credential would go there); log in to the URL it names if it"
            " is the server",
            status=response.status_code,
        )

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        too_large = ServerError(
            f"the answer of {self.url} is larger than {MAX_BODY // (1024 * 1024)} MiB: refused",
            status=response.status_code,
        )
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise too_large
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, status: int, content: bytes, *, login: bool = False) -> Any:
        if 200 <= status < 300:
            if not content:
                return None
            try:
                return json.loads(content)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ServerError(
                    f"the answer of {self.url} is not JSON: is it a driftless server?",
                    status=status,
                ) from None
        said = _error_message(content)
        if status == 401 and not login:
            raise NotLoggedInError(
                f"not logged in to {self.url} (or the session ended):"
                f" run `driftless login {self.url}`",
                status=status,
            )
        if status == 403:
            raise ServerError(f"forbidden: {said}", status=status)
        if 400 <= status < 500:
            raise ServerError(said, status=status)
        raise ServerError(f"the server {self.url} failed ({status}): {said}", status=status)


def _untrusted_certificate(exc: BaseException) -> bool:
    """Whether the failure is a certificate this machine does not trust (anywhere in the chain)."""
    seen: BaseException | None = exc
    for _ in range(10):  # a chain may loop
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _error_message(content: bytes) -> str:
    """The message of the API's error shape, shown safely; a fixed text for anything else."""
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "(no message: the answer is not the API's error shape)"
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message.strip():
        return "(no message)"
    return shown(message)
