"""Plain HTTP GETs for chart repositories and OCI registries (blocking; run in a thread).

Contract:

* ``get(url, ..., auth=...)`` returns the body of a ``200`` answer, at most
  ``max_bytes`` long, following redirects. It speaks the token dance of OCI
  registries: a ``401`` with ``WWW-Authenticate: Bearer
  realm=…,service=…,scope=…`` fetches a token from the realm and retries
  once with it.
* Only ``http://`` and ``https://``: any other scheme (``file://``, ``ftp://``,
  ``data:``), as the URL asked for, a redirect target, a token realm or a
  pagination link, is a ``SourceError``; the opener has no handler that could
  read a local file.
* Credentials go only to the origin they were registered for. ``BasicAuth``
  is bound to one scheme + host + port (``split_credentials`` takes it from a
  URL's user info and binds it to that URL's origin). Its header is sent only
  on requests to that origin: not to a chart URL of an index that points at
  another host, not across a redirect to another origin (the class of Helm's
  CVE-2021-32690: the redirect handler removes ``Authorization``), not to a
  token realm on another origin (that realm is asked anonymously). A bearer
  token obtained for a registry is likewise dropped on a cross-origin
  redirect (registries redirect blob downloads to storage that needs none).
* Failures are typed for the controller: the server not reachable, timing
  out, or answering 5xx/429 → ``SourceUnavailableError`` (transient); any
  other 4xx → ``SourceError`` (the URL, chart or version is wrong, or the
  credentials are missing or refused); a body over the limit → ``SourceError``.
* Messages never contain URL credentials (``redact``) or header values.
  ``redact`` is for messages only: what is fetched is the URL as given minus
  its user info (``strip_userinfo``), query included (registry pagination
  ``?last=…``, signed archive URLs).
* A URL no parser can take apart (a bad or out-of-range port, a broken IPv6
  bracket, a ``/`` inside the password) is a ``SourceError`` that quotes no
  parser message (those echo URL fragments, possibly of a password).
* No cookies, no proxies from the environment: chart downloads go where the
  spec says and nowhere else.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import IO, Any

from driftless.core import repourl
from driftless.core.errors import SourceError, SourceUnavailableError

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_USER_AGENT = "driftless"
_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_AUTHORIZATION = "Authorization"


@dataclass(frozen=True)
class BasicAuth:
    """A user name and password for exactly one origin (``scheme://host:port``)."""

    origin: str
    username: str = field(repr=False)
    password: str = field(repr=False)

    def header(self) -> str:
        pair = f"{self.username}:{self.password}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def allows(self, url: str) -> bool:
        """Whether this credential may be sent to ``url`` (same origin only)."""
        return origin(url) == self.origin


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but never carries ``Authorization`` to another origin."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and origin(new.full_url) != origin(req.full_url):
            new.remove_header(_AUTHORIZATION)
        return new

    def http_error_302(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
    ) -> Any:
        # Checked before the stdlib's own check, so the message says why.
        location = headers.get("Location") or headers.get("URI") or ""
        target = urllib.parse.urljoin(req.full_url, location)
        if location and urllib.parse.urlsplit(target).scheme.lower() not in _SCHEMES:
            fp.close()
            raise SourceError(f"{redact(req.full_url)}: redirected to a non-http(s) URL; refused")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener() -> urllib.request.OpenerDirector:
    """An opener for http(s) only: no file/ftp/data handlers, no proxies, no cookies."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _SameOriginRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


_OPENER = _opener()


@dataclass(frozen=True)
class Response:
    """A successful answer: its body and headers."""

    body: bytes
    headers: Message


def redact(url: str) -> str:
    """``url`` without user info or query values (``core.repourl.redact``: one rule)."""
    return repourl.redact(url)


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@`` and nothing else changed (what is fetched)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, lower-cased, default port explicit."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        port = 0
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def split_credentials(url: str) -> tuple[str, BasicAuth | None]:
    """``https://user:pw@host/x`` → (``https://host/x``, credentials bound to its origin)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, None
    clean = strip_userinfo(url)
    auth = BasicAuth(
        origin=origin(clean),
        username=urllib.parse.unquote(parts.username),
        password=urllib.parse.unquote(parts.password or ""),
    )
    return clean, auth


def check_scheme(url: str, what: str) -> None:
    """Refuse anything but ``http(s)://`` (``SourceError`` naming ``what``).

    Also refuses what an HTTP request line cannot carry (non-ASCII text,
    spaces, control characters), which ``http.client`` would otherwise raise
    as ``UnicodeEncodeError``/``InvalidURL`` deep inside the request.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad or out-of-range port
    except ValueError:
        # The parser's message may quote a piece of the password: never shown.
        raise SourceError(f"{what}: {redact(url)!r} is not a valid URL") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise SourceError(f"{what}: {redact(url)!r} is not an http(s) URL; refused")
    if any(not 0x21 <= ord(char) <= 0x7E for char in url):
        raise SourceError(
            f"{what}: {redact(url)!r} is not a valid URL (spaces, control characters or"
            " non-ASCII text must be percent-encoded)"
        )


def get(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    accept: str | None = None,
    what: str = "",
    auth: BasicAuth | None = None,
) -> Response:
    """GET ``url`` (see the module contract); ``what`` names the thing in messages."""
    check_scheme(url, what or "download")
    url = strip_userinfo(url)  # user info in a URL is never a credential here: ``auth`` is
    headers = {"User-Agent": _USER_AGENT}
    if accept:
        headers["Accept"] = accept
    sent = auth if auth is not None and auth.allows(url) else None
    if sent is not None:
        headers[_AUTHORIZATION] = sent.header()
    try:
        return _get_once(url, headers, timeout, max_bytes)
    except urllib.error.HTTPError as exc:
        if exc.code != 401:
            raise _http_error(exc, url, what) from None
        challenge = exc.headers.get("WWW-Authenticate", "")
        exc.close()
        token = _bearer_token(challenge, timeout, url, what, auth)
        if token is None:
            raise _unauthorized(url, what, sent) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise _network_error(exc, url, what) from None
    except (http.client.HTTPException, ValueError) as exc:
        raise _invalid(exc, url, what) from None
    try:
        return _get_once(url, {**headers, _AUTHORIZATION: f"Bearer {token}"}, timeout, max_bytes)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise _unauthorized(url, what, sent) from None
        raise _http_error(exc, url, what) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise _network_error(exc, url, what) from None
    except (http.client.HTTPException, ValueError) as exc:
        raise _invalid(exc, url, what) from None


def parse_challenge(header: str) -> dict[str, str] | None:
    """The parameters of a ``Bearer`` challenge; ``None`` for other schemes."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return dict(_CHALLENGE_PARAM.findall(rest))


def next_link(headers: Message, base: str) -> str | None:
    """The absolute URL of a ``Link: <…>; rel="next"`` header (registry pagination)."""
    link = headers.get("Link")
    if not link:
        return None
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    return urllib.parse.urljoin(base, match.group(1)) if match else None


def _get_once(url: str, headers: Mapping[str, str], timeout: float, max_bytes: int) -> Response:
    request = urllib.request.Request(url, headers=dict(headers))
    with _OPENER.open(request, timeout=timeout) as answer:
        body = answer.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise SourceError(f"{redact(url)}: answer larger than {max_bytes} bytes")
        return Response(body=body, headers=answer.headers)


def _bearer_token(
    challenge: str, timeout: float, url: str, what: str, auth: BasicAuth | None
) -> str | None:
    """A token for the realm of ``challenge``, or ``None`` if there is none.

    The realm gets the Basic credentials only when it is on their own origin;
    a realm elsewhere is asked anonymously (it may still grant public pulls).
    """
    params = parse_challenge(challenge)
    if not params or "realm" not in params:
        return None
    query: dict[str, str] = {k: params[k] for k in ("service", "scope") if k in params}
    check_scheme(params["realm"], f"{what or redact(url)}: token realm")
    token_url = strip_userinfo(params["realm"])
    if query:
        token_url += ("&" if "?" in token_url else "?") + urllib.parse.urlencode(query)
    headers = {"User-Agent": _USER_AGENT}
    if auth is not None and auth.allows(token_url):
        headers[_AUTHORIZATION] = auth.header()
    try:
        answer = _get_once(token_url, headers, timeout, 1024 * 1024)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            exc.close()
            return None
        raise _http_error(exc, url, what) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise _network_error(exc, url, what) from None
    except (http.client.HTTPException, ValueError) as exc:
        raise _invalid(exc, url, what) from None
    try:
        data: Any = json.loads(answer.body)
    except ValueError:
        return None
    token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None


def _unauthorized(url: str, what: str, sent: BasicAuth | None) -> SourceError:
    shown = what or redact(url)
    if sent is None:
        return SourceError(f"{shown}: the server requires credentials")
    return SourceError(f"{shown}: the server refused the credentials (HTTP 401)")


def _http_error(exc: urllib.error.HTTPError, url: str, what: str) -> Exception:
    shown = what or redact(url)
    exc.close()
    if exc.code >= 500 or exc.code == 429:
        return SourceUnavailableError(f"{shown}: server error (HTTP {exc.code})")
    if exc.code == 404:
        return SourceError(f"{shown}: not found (HTTP 404 from {redact(url)})")
    return SourceError(f"{shown}: refused (HTTP {exc.code} from {redact(url)})")


def _invalid(exc: Exception, url: str, what: str) -> Exception:
    """A URL (a redirect's, say) ``http.client`` cannot use, or an answer that is not HTTP.

    The exception's own text is not shown: it may quote part of a URL's user info.
    """
    shown = what or redact(url)
    if isinstance(exc, http.client.InvalidURL | ValueError):
        return SourceError(f"{shown}: {redact(url)} or a URL it redirects to is not a valid URL")
    return SourceUnavailableError(
        f"{shown}: {redact(url)} did not answer valid HTTP ({type(exc).__name__})"
    )


def _network_error(exc: BaseException, url: str, what: str) -> Exception:
    reason = getattr(exc, "reason", None) or exc
    return SourceUnavailableError(f"{what or redact(url)}: cannot reach {redact(url)}: {reason}")
