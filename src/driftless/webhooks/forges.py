"""Each forge's webhook delivery: signature check, then the push it reports (pure).

``read(provider, headers, body, secret, now=..., replays=...)`` checks the
delivery's signature with the provider's shared ``secret`` and returns what
it says:

* ``tuple[Push, ...]``: the refs a push moved (GitHub, GitLab and Gitea send
  one per delivery; Bitbucket may send several; a generic ``revision``
  names both ``refs/heads/<r>`` and ``refs/tags/<r>``);
* ``Ping``: the forge checks the hook is reachable;
* ``Ignored(event)``: any other event (pull requests, issues...).

Providers and what they send (``headers`` has lower-case names):

==================  ================================  =========================================
provider            event header                      signature
==================  ================================  =========================================
github              X-GitHub-Event: push | ping       X-Hub-Signature-256: sha256=<hex HMAC>
gitlab              X-Gitlab-Event: Push Hook |       X-Gitlab-Token: the secret itself
                    Tag Push Hook | System Hook       (compared in constant time)
bitbucket (Cloud)   X-Event-Key: repo:push            X-Hub-Signature: sha256=<hex HMAC>
bitbucket-server    X-Event-Key: repo:refs_changed |  X-Hub-Signature: sha256=<hex HMAC>
                    diagnostics:ping
gitea (forgejo)     X-Gitea-Event / X-Forgejo-Event   X-Gitea-Signature / X-Forgejo-Signature:
                    / X-Gogs-Event: push              <hex HMAC> (no prefix)
generic             (none: always a push)             X-Driftless-Signature: sha256=<hex of
                                                      HMAC(secret, timestamp + "." + body)>,
                                                      X-Driftless-Timestamp: unix seconds
==================  ================================  =========================================

HMACs are SHA-256 over the raw body, compared in constant time. Any other
algorithm (``sha1=``) is refused. The generic timestamp must be within
``GENERIC_SKEW`` seconds of ``now``, and a signature already accepted is
refused while it could still be valid (``ReplayGuard``): a captured request
cannot be sent again.

A ``Push`` carries the ``core.repourl`` key of every URL form the payload names
(``clone_url``, ``ssh_url``, ``git_http_url``, ``html_url``...; Bitbucket
Cloud names only its web page, from which the https and ssh forms are made),
only those that parse as repository URLs (``core.repourl``); ``matching``
compares their keys. A Bitbucket Server payload without ``repository.links``
(Server 5.x, Atlassian's own examples) names the repository by project key
and slug only: ``repo_paths`` (``"<key>/<slug>"``), no URL. One whose
``refLimitExceeded`` is true or whose change list is empty does not say
which refs moved: one ``Push`` with ``ref=None``.

Errors (``DeliveryError``: ``status``, and a message that never quotes the
secret, a signature or a URL's credentials): ``SignatureError`` 401 (missing,
malformed, wrong algorithm, mismatch, stale or replayed), ``MalformedError``
400 (not JSON, not an object, too deep, a field of the wrong type, no
repository URL, no ref).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from driftless.core.errors import SourceError
from driftless.core.repourl import parse_repo_url

__all__ = [
    "ALIASES",
    "GENERIC_SKEW",
    "PROVIDERS",
    "Delivery",
    "DeliveryError",
    "Ignored",
    "MalformedError",
    "Ping",
    "Push",
    "ReplayGuard",
    "SignatureError",
    "canonical_provider",
    "read",
    "sign",
]

PROVIDERS: Final = ("github", "gitlab", "bitbucket", "bitbucket-server", "gitea", "generic")
# Forgejo is a Gitea fork and sends Gitea's headers and payload (and its own names).
ALIASES: Final = {"forgejo": "gitea"}
GENERIC_SKEW: Final = 300.0
# Repository URL forms and refs kept of one delivery; no forge sends more.
MAX_URLS: Final = 16
MAX_REFS: Final = 64
MAX_TEXT: Final = 2048
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_ZERO_SHA = re.compile(r"^0+$")

JSON = dict[str, Any]
Headers = Mapping[str, str]


@dataclass(frozen=True)
class Push:
    """One ref a push moved, in ``repo_urls`` (every URL form the forge sent)."""

    repo_urls: tuple[str, ...]
    # "refs/heads/x" | "refs/tags/y"; None: the forge did not say which refs moved
    # (Bitbucket Server's ``refLimitExceeded``), so every app of the repository re-checks.
    ref: str | None
    after: str | None  # the new commit; None when deleted or unknown
    default_branch: str | None  # the repository's default branch, when the payload says
    # "<project key>/<slug>" of a Bitbucket Server payload without ``links``: an app whose
    # repository path ends with it (``scm/<key>/<slug>`` or ``<key>/<slug>``) follows it.
    repo_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ping:
    """The forge checks that the hook answers."""


@dataclass(frozen=True)
class Ignored:
    """An event that is not a push; ``event`` as the forge named it (cut short)."""

    event: str


Delivery = tuple[Push, ...] | Ping | Ignored


class DeliveryError(Exception):
    """A delivery refused; ``status`` is the HTTP answer. The message is safe to return."""

    status = 400


class SignatureError(DeliveryError):
    status = 401


class MalformedError(DeliveryError):
    status = 400


def canonical_provider(name: str) -> str | None:
    """The provider a route's ``{provider}`` names (aliases resolved), or ``None``."""
    name = ALIASES.get(name, name)
    return name if name in PROVIDERS else None


def sign(secret: bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` (what forges send, and what tests sign with)."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


class ReplayGuard:
    """Signatures accepted within the generic skew window: one delivery, one use.

    Bounded: past ``limit`` entries the oldest go (an attacker cannot grow it).
    """

    def __init__(self, window: float = 2 * GENERIC_SKEW, limit: int = 10_000) -> None:
        self.window = window
        self.limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_use(self, signature: str, now: float) -> bool:
        """Record ``signature``; False when it was already used within the window."""
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at <= self.window and len(self._seen) < self.limit:
                break
            del self._seen[oldest]
        if signature in self._seen:
            return False
        self._seen[signature] = now
        return True


def read(
    provider: str,
    headers: Headers,
    body: bytes,
    secret: bytes,
    *,
    now: float | None = None,
    replays: ReplayGuard | None = None,
) -> Delivery:
    """Check the signature, then read the delivery (see the module docstring)."""
    name = canonical_provider(provider)
    if name is None:
        raise MalformedError(f"unknown provider {provider[:64]!r}")
    _CHECKS[name](headers, body, secret, time.time() if now is None else now, replays)
    return _PARSERS[name](headers, body)


# -- signatures ------------------------------------------------------------------------


def _hmac_header(header: str, prefix: str) -> Callable[..., None]:
    def check(headers: Headers, body: bytes, secret: bytes, *_: object) -> None:
        _check_hmac(headers, header, prefix, sign(secret, body))

    return check


def _check_hmac(headers: Headers, header: str, prefix: str, expected: str) -> None:
    shown = "-".join(part.capitalize() for part in header.split("-"))
    value = headers.get(header)
    if value is None:
        raise SignatureError(f"missing {shown}: the webhook must be signed with its secret")
    value = value.strip()
    if prefix:
        algorithm, _, value = value.partition("=")
        if f"{algorithm.lower()}=" != prefix:
            raise SignatureError(f"{shown} must be {prefix}<hex> (HMAC-SHA256)")
    if not _HEX64.match(value) or not hmac.compare_digest(value.lower(), expected):
        raise SignatureError(f"{shown} does not match: wrong secret or altered body")


def _check_gitlab(headers: Headers, body: bytes, secret: bytes, *_: object) -> None:
    token = headers.get("x-gitlab-token")
    if token is None:
        raise SignatureError("missing X-Gitlab-Token: set the webhook's secret token")
    if not hmac.compare_digest(token.strip().encode(), secret):
        raise SignatureError("X-Gitlab-Token does not match the configured secret")


def _check_gitea(headers: Headers, body: bytes, secret: bytes, *_: object) -> None:
    header = "x-gitea-signature"
    if header not in headers and "x-forgejo-signature" in headers:
        header = "x-forgejo-signature"
    _check_hmac(headers, header, "", sign(secret, body))


def _check_generic(
    headers: Headers, body: bytes, secret: bytes, now: float, replays: ReplayGuard | None
) -> None:
    stamp = (headers.get("x-driftless-timestamp") or "").strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("missing or malformed X-Driftless-Timestamp (unix seconds)")
    if abs(now - int(stamp)) > GENERIC_SKEW:
        raise SignatureError(
            f"X-Driftless-Timestamp is more than {GENERIC_SKEW:g}s from this server's clock"
        )
    expected = sign(secret, stamp.encode() + b"." + body)
    _check_hmac(headers, "x-driftless-signature", "sha256=", expected)
    if replays is not None and not replays.first_use(expected, now):
        raise SignatureError("this signed delivery was already received (replay refused)")


_CHECKS: Final[dict[str, Callable[[Headers, bytes, bytes, float, ReplayGuard | None], None]]] = {
    "github": _hmac_header("x-hub-signature-256", "sha256="),
    "gitlab": _check_gitlab,
    "bitbucket": _hmac_header("x-hub-signature", "sha256="),
    "bitbucket-server": _hmac_header("x-hub-signature", "sha256="),
    "gitea": _check_gitea,
    "generic": _check_generic,
}


# -- payloads ----------------------------------------------------------------------------


def _json(body: bytes, headers: Headers | None = None) -> JSON:
    """The body's JSON object (GitHub may send it form-encoded as ``payload=``)."""
    kind = (headers or {}).get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if kind == "application/x-www-form-urlencoded":
            text = parse_qs(text, strict_parsing=True, max_num_fields=8).get("payload", [""])[0]
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: nesting deeper than the interpreter's limit (no forge sends that).
        raise MalformedError("the body is not a JSON object") from None
    if not isinstance(value, dict):
        raise MalformedError("the body is JSON but not an object")
    return value


def _obj(parent: JSON, key: str, where: str) -> JSON:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedError(f"{where}{key} is not an object")
    return value


def _text(parent: JSON, key: str, where: str, *, required: bool = False) -> str | None:
    value = parent.get(key)
    if value is None or value == "":
        if required:
            raise MalformedError(f"{where}{key} is missing")
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise MalformedError(f"{where}{key} is not a string (or is too long)")
    return value


def _urls(candidates: list[str | None]) -> tuple[str, ...]:
    """The candidates that are repository URLs, credentials dropped, once each."""
    kept: list[str] = []
    for url in candidates:
        if url is None:
            continue
        try:
            parsed = parse_repo_url(url)
        except SourceError:
            continue
        if parsed.is_local or parsed.scheme == "oci":
            continue  # a payload never names this machine's disk
        if parsed.key not in kept:
            kept.append(parsed.key)
    if not kept:
        raise MalformedError("the payload names no repository URL driftless can read")
    return tuple(kept[:MAX_URLS])


def _after(value: str | None) -> str | None:
    return None if value is None or _ZERO_SHA.match(value) else value


def _ref(value: str, where: str) -> str:
    if not value.startswith(("refs/heads/", "refs/tags/")):
        raise MalformedError(f"{where} is not a branch or tag ref (refs/heads/..., refs/tags/...)")
    return value


def _event(headers: Headers, name: str) -> str:
    value = headers.get(name)
    if value is None:
        shown = "-".join(part.capitalize() for part in name.split("-"))
        raise MalformedError(f"missing {shown}")
    return value.strip()[:64]


def _parse_github(headers: Headers, body: bytes) -> Delivery:
    event = _event(headers, "x-github-event")
    if event == "ping":
        return Ping()
    if event != "push":
        return Ignored(event)
    payload = _json(body, headers)
    repo = _obj(payload, "repository", "")
    where = "repository."
    urls = _urls(
        [_text(repo, key, where) for key in ("clone_url", "ssh_url", "git_url", "html_url", "url")]
    )
    ref = _ref(_text(payload, "ref", "", required=True) or "", "ref")
    default = _text(repo, "default_branch", where) or _text(repo, "master_branch", where)
    return (Push(urls, ref, _after(_text(payload, "after", "")), default),)


_GITLAB_PUSH_EVENTS: Final = frozenset({"Push Hook", "Tag Push Hook"})
_GITLAB_PUSH_KINDS: Final = frozenset({"push", "tag_push"})


def _parse_gitlab(headers: Headers, body: bytes) -> Delivery:
    event = _event(headers, "x-gitlab-event")
    if event not in _GITLAB_PUSH_EVENTS and event != "System Hook":
        return Ignored(event)
    payload = _json(body)
    kind = _text(payload, "object_kind", "") or _text(payload, "event_name", "")
    if kind not in _GITLAB_PUSH_KINDS:
        return Ignored(f"{event}: {kind or '?'}"[:64])
    project = _obj(payload, "project", "")
    repo = _obj(payload, "repository", "")
    candidates = [
        _text(project, key, "project.")
        for key in ("git_http_url", "git_ssh_url", "http_url", "ssh_url", "web_url")
    ]
    candidates += [
        _text(repo, key, "repository.") for key in ("git_http_url", "git_ssh_url", "url")
    ]
    ref = _ref(_text(payload, "ref", "", required=True) or "", "ref")
    default = _text(project, "default_branch", "project.")
    return (Push(_urls(candidates), ref, _after(_text(payload, "after", "")), default),)


def _parse_gitea(headers: Headers, body: bytes) -> Delivery:
    name = next(
        (h for h in ("x-gitea-event", "x-forgejo-event", "x-gogs-event") if h in headers),
        "x-gitea-event",
    )
    event = _event(headers, name)
    if event != "push":
        return Ignored(event)
    payload = _json(body)
    repo = _obj(payload, "repository", "")
    where = "repository."
    urls = _urls([_text(repo, key, where) for key in ("clone_url", "ssh_url", "html_url")])
    ref = _ref(_text(payload, "ref", "", required=True) or "", "ref")
    default = _text(repo, "default_branch", where)
    return (Push(urls, ref, _after(_text(payload, "after", "")), default),)


def _parse_bitbucket(headers: Headers, body: bytes) -> Delivery:
    event = _event(headers, "x-event-key")
    if event == "diagnostics:ping":
        return Ping()
    if event != "repo:push":
        return Ignored(event)
    payload = _json(body)
    repo = _obj(payload, "repository", "")
    html = _text(_obj(_obj(repo, "links", "repository."), "html", "repository.links."), "href", "")
    full_name = _text(repo, "full_name", "repository.")
    urls = _urls([html, *_bitbucket_forms(html, full_name)])
    default = _text(_obj(repo, "mainbranch", "repository."), "name", "repository.mainbranch.")
    changes = _obj(payload, "push", "").get("changes")
    if not isinstance(changes, list):
        raise MalformedError("push.changes is not a list")
    pushes: list[Push] = []
    for index, change in enumerate(changes[:MAX_REFS]):
        if not isinstance(change, dict):
            raise MalformedError(f"push.changes[{index}] is not an object")
        where = f"push.changes[{index}]."
        # ``new`` is null when the ref was deleted; ``old`` then names it.
        side = _obj(change, "new", where) or _obj(change, "old", where)
        kind = _text(side, "type", where + "new.")
        name = _text(side, "name", where + "new.")
        if kind not in ("branch", "tag") or name is None:
            continue
        prefix = "refs/heads/" if kind == "branch" else "refs/tags/"
        target = _obj(_obj(change, "new", where), "target", where + "new.")
        pushes.append(Push(urls, prefix + name, _after(_text(target, "hash", "")), default))
    return tuple(pushes)


def _bitbucket_forms(html: str | None, full_name: str | None) -> list[str]:
    """The https and ssh clone URLs of a Bitbucket Cloud repository (its payload names only
    the web page)."""
    if html is None or full_name is None:
        return []
    parts = urlsplit(html)
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return []
    return [
        f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/{full_name}.git",
        f"git@{parts.hostname}:{full_name}.git",
    ]


def _parse_bitbucket_server(headers: Headers, body: bytes) -> Delivery:
    event = _event(headers, "x-event-key")
    if event == "diagnostics:ping":
        return Ping()
    if event != "repo:refs_changed":
        return Ignored(event)
    payload = _json(body)
    repo = _obj(payload, "repository", "")
    urls, paths = _bitbucket_server_repo(repo)
    changes = payload.get("changes")
    if changes is None:
        changes = []
    if not isinstance(changes, list):
        raise MalformedError("changes is not a list")
    if payload.get("refLimitExceeded") is True or not changes:
        # Too many refs moved to list them (or none listed): every app of the repository.
        return (Push(urls, None, None, None, paths),)
    pushes: list[Push] = []
    for index, change in enumerate(changes[:MAX_REFS]):
        if not isinstance(change, dict):
            raise MalformedError(f"changes[{index}] is not an object")
        where = f"changes[{index}]."
        ref = _text(change, "refId", where) or _text(
            _obj(change, "ref", where), "id", where + "ref."
        )
        if ref is None or not ref.startswith(("refs/heads/", "refs/tags/")):
            continue
        after = None if change.get("type") == "DELETE" else _text(change, "toHash", where)
        pushes.append(Push(urls, ref, _after(after), None, paths))
    return tuple(pushes)


# A Bitbucket Server project key (``PROJ``, ``~user`` for a personal one) or slug.
_BITBUCKET_NAME = re.compile(r"^~?[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _bitbucket_server_repo(repo: JSON) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(urls, paths)`` of the payload's repository: its clone links' keys when it has
    links, else ``("<key>/<slug>",)`` from ``project.key`` and ``slug``."""
    links = _obj(repo, "links", "repository.")
    clones = links.get("clone") or []
    if not isinstance(clones, list):
        raise MalformedError("repository.links.clone is not a list")
    if clones:
        candidates = [
            _text(c, "href", "repository.links.clone[].")
            for c in clones[:MAX_URLS]
            if isinstance(c, dict)
        ]
        return _urls(candidates), ()
    key = _text(_obj(repo, "project", "repository."), "key", "repository.project.")
    slug = _text(repo, "slug", "repository.")
    if key is None or slug is None:
        raise MalformedError("the payload names no repository (links, or project.key and slug)")
    if not _BITBUCKET_NAME.match(key) or not _BITBUCKET_NAME.match(slug):
        raise MalformedError("repository.project.key or repository.slug is not a Bitbucket name")
    return (), (f"{key}/{slug}",)


def _parse_generic(headers: Headers, body: bytes) -> Delivery:
    payload = _json(body)
    url = _text(payload, "repoURL", "", required=True)
    urls = _urls([url])
    default = _text(payload, "defaultBranch", "")
    after = _text(payload, "after", "")
    ref = _text(payload, "ref", "")
    if ref is not None:
        return (Push(urls, _ref(ref, "ref"), after, default),)
    revision = _text(payload, "revision", "")
    if revision is None or revision.startswith("refs/") or revision.strip() != revision:
        raise MalformedError('the payload needs "ref" (refs/heads/x, refs/tags/y) or "revision"')
    return tuple(
        Push(urls, prefix + revision, after, default) for prefix in ("refs/heads/", "refs/tags/")
    )


_PARSERS: Final[dict[str, Callable[[Headers, bytes], Delivery]]] = {
    "github": _parse_github,
    "gitlab": _parse_gitlab,
    "bitbucket": _parse_bitbucket,
    "bitbucket-server": _parse_bitbucket_server,
    "gitea": _parse_gitea,
    "generic": _parse_generic,
}
