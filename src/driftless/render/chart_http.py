"""Plain HTTP GETs for chart repositories and OCI registries (blocking; run in a thread).

Contract:

* ``get(url, ...)`` returns the body of a ``200`` answer, at most
  ``max_bytes`` long, following redirects. It speaks the anonymous token
  dance of OCI registries: a ``401`` with ``WWW-Authenticate: Bearer
  realm=…,service=…,scope=…`` fetches a token from the realm and retries
  once with it.
* Failures are typed for the controller: the server not reachable, timing
  out, or answering 5xx/429 → ``SourceUnavailableError`` (transient); any
  other 4xx → ``SourceError`` (the URL, chart or version is wrong); a body
  over the limit → ``SourceError``.
* Messages never contain URL credentials (``redact``).
* No cookies, no proxies from the environment: chart downloads go where the
  spec says and nowhere else.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message

from driftless.core.errors import SourceError, SourceUnavailableError

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_USER_AGENT = "driftless"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    """A successful answer: its body and headers."""

    body: bytes
    headers: Message


def redact(url: str) -> str:
    """``url`` without user info (``https://user:token@host`` → ``https://host``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def get(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    accept: str | None = None,
    what: str = "",
) -> Response:
    """GET ``url`` (see the module contract); ``what`` names the thing in messages."""
    headers = {"User-Agent": _USER_AGENT}
    if accept:
        headers["Accept"] = accept
    url, basic = _split_userinfo(url)
    if basic is not None:
        headers["Authorization"] = basic
    try:
        return _get_once(url, headers, timeout, max_bytes)
    except urllib.error.HTTPError as exc:
        if exc.code != 401:
            raise _http_error(exc, url, what) from None
        challenge = exc.headers.get("WWW-Authenticate", "")
        exc.close()
        token = _bearer_token(challenge, timeout, url, what)
        if token is None:
            raise SourceError(f"{what or redact(url)}: the server requires credentials") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise _network_error(exc, url, what) from None
    try:
        return _get_once(url, {**headers, "Authorization": f"Bearer {token}"}, timeout, max_bytes)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise SourceError(f"{what or redact(url)}: the server requires credentials") from None
        raise _http_error(exc, url, what) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise _network_error(exc, url, what) from None


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


def _split_userinfo(url: str) -> tuple[str, str | None]:
    """``https://user:pw@host/x`` → (``https://host/x``, a Basic Authorization value)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, None
    pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return redact(url), "Basic " + base64.b64encode(pair.encode()).decode()


def _get_once(url: str, headers: Mapping[str, str], timeout: float, max_bytes: int) -> Response:
    request = urllib.request.Request(url, headers=dict(headers))
    with _OPENER.open(request, timeout=timeout) as answer:
        body = answer.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise SourceError(f"{redact(url)}: answer larger than {max_bytes} bytes")
        return Response(body=body, headers=answer.headers)


def _bearer_token(challenge: str, timeout: float, url: str, what: str) -> str | None:
    """An anonymous token for the realm of ``challenge``, or ``None`` if there is none."""
    params = parse_challenge(challenge)
    if not params or "realm" not in params:
        return None
    query: dict[str, str] = {k: params[k] for k in ("service", "scope") if k in params}
    token_url = params["realm"]
    if query:
        token_url += ("&" if "?" in token_url else "?") + urllib.parse.urlencode(query)
    try:
        answer = _get_once(token_url, {"User-Agent": _USER_AGENT}, timeout, 1024 * 1024)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return None
        raise _http_error(exc, url, what) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise _network_error(exc, url, what) from None
    try:
        data = json.loads(answer.body)
    except ValueError:
        return None
    token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None


def _http_error(exc: urllib.error.HTTPError, url: str, what: str) -> Exception:
    shown = what or redact(url)
    exc.close()
    if exc.code >= 500 or exc.code == 429:
        return SourceUnavailableError(f"{shown}: server error (HTTP {exc.code})")
    if exc.code == 404:
        return SourceError(f"{shown}: not found (HTTP 404 from {redact(url)})")
    return SourceError(f"{shown}: refused (HTTP {exc.code} from {redact(url)})")


def _network_error(exc: BaseException, url: str, what: str) -> Exception:
    reason = getattr(exc, "reason", None) or exc
    return SourceUnavailableError(f"{what or redact(url)}: cannot reach {redact(url)}: {reason}")
