"""One HTTP POST for every HTTP notification service, and how its failures read.

Contract:

* ``post(http, url, service=..., content=..., headers=...)`` sends one POST and
  returns an ``Answer`` (status, headers, at most ``MAX_ANSWER`` bytes of body)
  for a 2xx; anything else raises ``DeliveryError``:
  429 retriable with the server's ``Retry-After``; 408, 425 and 5xx retriable;
  other statuses permanent; connection errors and timeouts retriable, except a
  server certificate that does not verify (permanent: it needs a fix, Secret
  key ``ca.crt`` or ``insecureSkipTLS``).
* The whole exchange is bounded by ``TOTAL_TIMEOUT`` (httpx's timeouts are per
  read: a server dripping bytes would hold a lane forever otherwise).
* A refused, unreachable or silent server, and an address the egress policy
  refuses (``egress``), all read ``"<service>: delivery failed: cannot
  connect"`` (retriable): one text, so a tenant cannot scan ports with it.
* Credentials (an ``Authorization`` or ``PRIVATE-TOKEN`` header) never go over
  plain ``http://`` to a host other than loopback: refused before sending.
* Redirects: a 307/308 to the same origin (scheme, host, port) is followed, up
  to three times; any other redirect fails permanently. A webhook URL or a
  token must never be carried to a host it was not written for.
* Messages name the service object and the HTTP status only
  (``"slack service team-a/alerts: HTTP 404"``) — never the URL (a Slack or
  Teams webhook URL *is* a credential), never the answer's body.
* httpx logs every request's URL at INFO. While ``post`` runs, a filter on the
  ``httpx`` logger cuts that URL to its origin (a context variable marks our
  requests, so other httpx users in the process are left alone).
* ``http_url(text, service, what)`` checks a configured URL is absolute
  http(s) with a host, or fails permanently naming ``what`` (``"Secret key
  url"``), never the value. ``header_secret(service, key)`` is a Secret's value
  fit for an HTTP header (visible ASCII, surrounding whitespace stripped), or a
  permanent failure naming the key. ``under(base, path)`` appends an
  already-encoded API path to a base URL's path (its query dropped, its
  percent-encoding kept: GitLab's ``group%2Fproject`` must stay one segment).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from driftless.notifications.message import DeliveryError, Target
from driftless.notifications.pacing import parse_retry_after
from driftless.notifications.services.egress import is_loopback_host

__all__ = [
    "CANNOT_CONNECT",
    "MAX_ANSWER",
    "TOTAL_TIMEOUT",
    "Answer",
    "header_secret",
    "http_url",
    "label",
    "post",
    "under",
]

#: Seconds one POST may take, redirects included.
TOTAL_TIMEOUT = 30.0
#: Bytes of an answer kept (Slack's JSON verdict fits many times over).
MAX_ANSWER = 64 * 1024
_MAX_REDIRECTS = 3
_RETRIABLE = frozenset({408, 425, 429})
_USER_AGENT = "driftless-notifications"
_CREDENTIAL_HEADERS = frozenset({"authorization", "private-token"})
#: The one text of every failure to reach a server (no port-scanning oracle).
CANNOT_CONNECT = "delivery failed: cannot connect"

_HIDING_URLS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "driftless_notifications_hiding_urls", default=False
)


class _OriginOnly(logging.Filter):
    """Cuts the URL of httpx's request line to its origin during our sends."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _HIDING_URLS.get() and isinstance(record.args, tuple):
            record.args = tuple(
                _origin(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}/[hidden]"


logging.getLogger("httpx").addFilter(_OriginOnly())


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def label(target: Target) -> str:
    """How messages name a service: its type and its object."""
    return f"{target.type} service {target.namespace}/{target.name}"


def http_url(text: str | None, service: Target, what: str) -> httpx.URL:
    """``text`` as an absolute http(s) URL, or a permanent ``DeliveryError`` naming ``what``."""
    if not text:
        raise DeliveryError(f"{label(service)}: {what} is not set", retriable=False)
    try:
        url = httpx.URL(text.strip())
    except (httpx.InvalidURL, ValueError, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise DeliveryError(f"{label(service)}: {what} is not an http(s) URL", retriable=False)
    return url


def under(base: httpx.URL, path: str) -> httpx.URL:
    """``base`` with ``path`` (percent-encoded, starting with ``/``) appended."""
    raw = base.raw_path.decode("ascii").partition("?")[0]
    return base.copy_with(raw_path=(raw.rstrip("/") + path).encode("ascii"))


def header_secret(service: Target, key: str) -> str:
    """The Secret's ``key`` as an HTTP header value, or a permanent ``DeliveryError``."""
    value = service.secrets.get(key, "").strip()
    if not value:
        raise DeliveryError(f"{label(service)}: Secret key {key} is not set", retriable=False)
    if not all(0x21 <= ord(c) <= 0x7E for c in value):
        raise DeliveryError(
            f"{label(service)}: Secret key {key} holds characters a header cannot carry",
            retriable=False,
        )
    return value


async def post(
    http: httpx.AsyncClient,
    url: httpx.URL,
    *,
    service: Target,
    content: bytes,
    headers: Mapping[str, str],
) -> Answer:
    """POST ``content`` to ``url``; an ``Answer`` for a 2xx, ``DeliveryError`` otherwise."""
    _refuse_plain_credentials(url, service, headers)
    token = _HIDING_URLS.set(True)
    try:
        async with asyncio.timeout(TOTAL_TIMEOUT):
            return await _post_following(http, url, service, content, headers)
    except TimeoutError:
        raise DeliveryError(f"{label(service)}: {CANNOT_CONNECT}", retriable=True) from None
    except httpx.HTTPError as error:
        if _untrusted_certificate(error):
            raise DeliveryError(
                f"{label(service)}: the server's TLS certificate is not trusted", retriable=False
            ) from None
        if isinstance(error, httpx.TransportError):
            raise DeliveryError(f"{label(service)}: {CANNOT_CONNECT}", retriable=True) from None
        # The type only: httpx's messages may quote the URL.
        raise DeliveryError(f"{label(service)}: {type(error).__name__}", retriable=True) from None
    finally:
        _HIDING_URLS.reset(token)


def _refuse_plain_credentials(url: httpx.URL, service: Target, headers: Mapping[str, str]) -> None:
    if url.scheme != "http" or is_loopback_host(url.host):
        return
    if any(name.lower() in _CREDENTIAL_HEADERS for name in headers):
        raise DeliveryError(
            f"{label(service)}: refusing to send a token over plain http (use https)",
            retriable=False,
        )


def _untrusted_certificate(error: BaseException) -> bool:
    """Whether a verification failure is behind ``error`` (retrying will not help)."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _post_following(
    http: httpx.AsyncClient,
    url: httpx.URL,
    service: Target,
    content: bytes,
    headers: Mapping[str, str],
) -> Answer:
    all_headers = {"User-Agent": _USER_AGENT, **headers}
    for _ in range(_MAX_REDIRECTS + 1):
        answer = await _post_once(http, url, content, all_headers)
        if answer.status in (307, 308):
            url = _same_origin_location(url, answer, service)
            continue
        return _verdict(answer, service)
    raise DeliveryError(f"{label(service)}: too many redirects", retriable=False)


async def _post_once(
    http: httpx.AsyncClient, url: httpx.URL, content: bytes, headers: Mapping[str, str]
) -> Answer:
    request = http.build_request("POST", url, content=content, headers=headers)
    response = await http.send(request, stream=True, follow_redirects=False)
    try:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk[: MAX_ANSWER - len(body)]
            if len(body) >= MAX_ANSWER:
                break
    finally:
        await response.aclose()
    return Answer(response.status_code, dict(response.headers), bytes(body))


def _same_origin_location(url: httpx.URL, answer: Answer, service: Target) -> httpx.URL:
    location = answer.headers.get("location")
    target = url.join(location) if location else None
    if target is None or (target.scheme, target.host, target.port) != (
        url.scheme,
        url.host,
        url.port,
    ):
        raise DeliveryError(
            f"{label(service)}: HTTP {answer.status} redirect to another host refused",
            retriable=False,
        )
    return target


def _verdict(answer: Answer, service: Target) -> Answer:
    status = answer.status
    if 200 <= status < 300:
        return answer
    retriable = status in _RETRIABLE or status >= 500
    retry_after = parse_retry_after(answer.headers.get("retry-after"), time.time())
    raise DeliveryError(
        f"{label(service)}: HTTP {status}",
        retriable=retriable,
        retry_after=retry_after if retriable else None,
    )
