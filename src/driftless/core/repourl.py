"""Repository URLs: one parse, one canonical spelling, one match key, redaction (pure).

Why this lives in ``core``: the Project allow-list (``core.project``) and the
credential matcher (``sources.credentials``) must compare URLs the *same*
way, and what they compare must be what git fetches. A URL checked in one
spelling and fetched in another is how ``https://host/team-a/../team-b/x``
passes a ``team-a/*`` rule: git and curl collapse the ``..``.

Contract:

* ``parse_repo_url(text)`` accepts ``http(s)://``, ``git://``, ``ssh://``,
  scp-like ``user@host:path``, ``file://``, absolute paths and — for
  matching only — ``oci://`` (a Helm chart registry, normalized like https,
  default port 443; ``check_fetchable`` refuses it), and returns a
  ``RepoURL`` or raises ``SourceError`` (message redacted). It refuses what
  stays ambiguous between git, curl and a server: raw backslashes, control
  characters and whitespace, more than one ``@`` in the authority, a query or
  fragment, percent-encoded ``/``, ``\\``, ``%`` or control characters, hosts and
  users starting with ``-`` (ssh would read them as options) and unknown
  schemes (git's ``ext::`` runs commands).
* Normalization, applied once in ``parse_repo_url``: scheme and host
  lower-cased, a trailing dot of the host and default ports dropped,
  percent-encoded unreserved characters decoded (so ``%2e%2e`` *is* ``..``),
  ``.``/``..`` segments resolved (``..`` stops at the root, as curl does),
  duplicate and trailing ``/`` removed, userinfo dropped except an ssh user.
* ``RepoURL.check_fetchable()`` returns ``fetch_url`` but refuses an
  ``oci://`` URL (never git's to fetch) and a URL written with a password
  (credentials belong in a repository Secret, not in a spec every reader of
  the Application sees).
* ``RepoURL.fetch_url`` is what git is given — the canonical form, so what a
  Project or credential was checked against is exactly what is fetched.
  ``RepoURL.identity`` is that without the ssh user (scp-like read as
  ``ssh://host/path``): one cache clone per repository. ``RepoURL.key`` is
  the identity without a trailing ``.git``: what allow-lists and credential
  prefixes match, so ``git@host:o/r.git`` and ``ssh://git@host/o/r`` are one
  repository.
* ``pattern_key(glob)`` normalizes an allow-list glob the same way, leaving
  ``*``, ``?`` and ``[...]`` alone; a glob that is not URL-shaped (``*``) is
  returned as written. ``glob_matches(pattern_key, key)`` matches the scheme,
  the host and the path each on its own, so a ``*`` in the host never spans
  into the path: ``https://*.example.com/*`` does not match
  ``https://evil.test/.example.com/x``. A pattern without a path whose host
  ends in ``*`` (``https://*``) still covers every path.
* ``redact(text)`` removes the userinfo of every ``scheme://`` URL in a text
  (it ends at the *last* ``@`` before the first ``/``, so a password holding
  ``@`` is removed whole) and the values of query parameters (``?token=``,
  ``?private_token=``, any name but a few harmless ones).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import quote, unquote

from driftless.core.errors import SourceError

__all__ = [
    "MATCH_ONLY_SCHEMES",
    "NETWORK_SCHEMES",
    "RepoURL",
    "glob_matches",
    "parse_repo_url",
    "pattern_key",
    "redact",
]

NETWORK_SCHEMES = frozenset({"http", "https", "ssh", "git"})
# Parsed so Project allow-lists can match OCI chart sources; git never fetches them.
MATCH_ONLY_SCHEMES = frozenset({"oci"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418, "oci": 443}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
# [user@]host:path — the host part holds no "/", so a relative path with a
# colon in it is not mistaken for one; "::" is git's transport syntax (ext::).
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>\[[^\]/]+\]|[^:/\[\]]+):(?P<path>.*)$")
_HOST_LABELS = re.compile(r"^[a-z0-9_](?:[a-z0-9_\-]*)(?:\.[a-z0-9_](?:[a-z0-9_\-]*))*$")
_HOST_GLOB = re.compile(r"^[a-z0-9_*?\[\]!.\-]+$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")
_SSH_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._~\-]*$")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Escapes that mean something different to git, curl and the server behind them.
_AMBIGUOUS_ESCAPES = frozenset({0x2F, 0x5C, 0x25, 0x7F, *range(0x20)})
# Characters that may stay literal in a path (RFC 3986 pchar, minus "%").
_PATH_SAFE = "/-._~!$&'()*+,;=:@"
_GLOB_SAFE = _PATH_SAFE + "*?[]"

# -- redaction -------------------------------------------------------------------

# A URL in free text: up to whitespace or a quote that closes it.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>`]*")
# Up to the last "@" before the query, fragment or end of the URL: a password
# may hold a "/" (then no parser finds the host, but the secret must still go).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^\s?#]*@")
_QUERY_PARAM = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&;#\s]+)=(?P<value>[^&;#\s]*)")
# Query parameters that never carry a secret and make messages readable.
_HARMLESS_PARAMS = frozenset({"service", "ref", "version", "format"})
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with the userinfo and query values of every URL in it removed."""
    # The userinfo pass runs on the raw text first: a password may hold a
    # quote or other character that ends ``_URL_IN_TEXT`` early.
    text = _USERINFO.sub(r"\g<scheme>", text)
    return _URL_IN_TEXT.sub(lambda m: _redact_query(m.group(0)), text)


def _redact_query(url: str) -> str:
    base, question, query = url.partition("?")
    if not question:
        return url

    def hide(match: re.Match[str]) -> str:
        if match.group("name").lower() in _HARMLESS_PARAMS:
            return match.group(0)
        return f"{match.group('sep')}{match.group('name')}={REDACTED}"

    return base + _QUERY_PARAM.sub(hide, "?" + query)


# -- the parsed URL ----------------------------------------------------------------


@dataclass(frozen=True)
class RepoURL:
    """A repository URL after normalization. Build it with ``parse_repo_url``.

    ``path`` starts with ``/`` except for a home-relative scp-like path;
    ``host`` is ``""`` for local repositories.
    """

    scheme: str
    host: str = ""
    port: int | None = None
    user: str = ""
    path: str = ""
    scp: bool = False
    has_password: bool = False  # the URL as written held one; it is never kept

    def check_fetchable(self) -> str:
        """``fetch_url``, or ``SourceError`` when the URL as written held a password.

        A password in ``repoURL`` would be readable by everyone who can read
        the Application; credentials belong in a repository Secret.
        """
        if self.scheme in MATCH_ONLY_SCHEMES:
            raise SourceError(
                f"repository URL {self.identity!r} is an OCI registry, not a git repository"
                " (set spec.source.chart to deploy a chart from it)"
            )
        if self.has_password:
            raise SourceError(
                f"repository URL {self.identity!r} was given with a password: put"
                " credentials in a repository Secret (`driftless repo add`), not in repoURL"
            )
        return self.fetch_url

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    @property
    def hostport(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def fetch_url(self) -> str:
        """The spelling git is given."""
        if self.is_local:
            return "file://" + quote(self.path, safe=_PATH_SAFE)
        if self.scp:
            user = f"{self.user}@" if self.user else ""
            return f"{user}{self.host}:{self.path}"
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{user}{self.hostport}{self.path}"

    @property
    def identity(self) -> str:
        """The repository, whoever logs in: the fetch URL without the ssh user."""
        if self.is_local:
            return self.fetch_url
        path = "/" + self.path.lstrip("/") if self.path else ""
        return f"{self.scheme}://{self.hostport}{path}"

    @property
    def key(self) -> str:
        """What allow-lists and credential prefixes are matched against."""
        return _strip_git_suffix(self.identity) if not self.is_local else self.identity


def parse_repo_url(text: str) -> RepoURL:
    """Validate and normalize a repository URL; ``SourceError`` when git must not get it."""
    return _parse(text, glob=False)


def pattern_key(pattern: str) -> str:
    """The comparable form of an allow-list glob (see the module docstring)."""
    raw = pattern.strip()
    try:
        parsed = _parse(raw, glob=True)
    except SourceError:
        return raw
    return parsed.key


def glob_matches(pattern: str, key: str) -> bool:
    """Does the normalized glob ``pattern`` allow the repository ``key``?"""
    p_scheme, p_sep, p_rest = pattern.partition("://")
    k_scheme, k_sep, k_rest = key.partition("://")
    if not p_sep or not k_sep:
        return fnmatchcase(key, pattern)
    p_host, p_slash, p_path = p_rest.partition("/")
    k_host, _, k_path = k_rest.partition("/")
    if not fnmatchcase(k_scheme, p_scheme):
        return False
    if not p_slash and p_host.endswith("*"):
        # "https://*": any host, any path (the spelling admins use for "all of https").
        return fnmatchcase(k_rest, p_rest)
    return fnmatchcase(k_host, p_host) and fnmatchcase(k_path, p_path)


# -- parsing -------------------------------------------------------------------------


def _parse(text: str, *, glob: bool) -> RepoURL:
    url = text.strip()
    shown = redact(url)
    if not url:
        raise SourceError("repository URL is empty")
    if url.startswith("-"):
        raise SourceError(f"repository URL {shown!r} is not valid (it starts with '-')")
    scheme_match = _SCHEME.match(url)
    scp = None
    if scheme_match is None and not url.startswith("/") and "::" not in url:
        scp = _SCP_LIKE.match(url)
    if scheme_match is None and scp is None and not url.startswith("/"):
        raise SourceError(
            f"repository URL {shown!r} is neither an absolute path nor a"
            " supported URL (https://, http://, ssh://, git@host:path, file://)"
        )
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url) or "\\" in url:
        raise SourceError(
            f"repository URL {shown!r} contains whitespace, control characters or backslashes"
        )
    if scp is not None:
        return _parse_scp(scp, shown, glob=glob)
    if scheme_match is None:
        return RepoURL("file", path=_local_path(url, shown, decode=False))
    scheme = scheme_match.group(1).lower()
    rest = url[scheme_match.end() :]
    if scheme == "file":
        return _parse_file(rest, shown)
    if scheme in NETWORK_SCHEMES or scheme in MATCH_ONLY_SCHEMES:
        return _parse_network(scheme, rest, shown, glob=glob)
    raise SourceError(
        f"repository URL {shown!r} uses the unsupported scheme {scheme!r}"
        " (supported: https, http, ssh, git, file)"
    )


def _parse_network(scheme: str, rest: str, shown: str, *, glob: bool) -> RepoURL:
    if not glob and ("?" in rest or "#" in rest):
        raise SourceError(
            f"repository URL {shown!r} has a query or fragment; git repository URLs take neither"
        )
    authority, slash, path = rest.partition("/")
    if authority.count("@") > 1:
        raise SourceError(
            f"repository URL {shown!r} has more than one '@' before the host;"
            " git and curl disagree on which host that is"
        )
    userinfo, at, hostport = authority.rpartition("@")
    user = _user(scheme, userinfo, shown) if at else ""
    host, port = _host_port(scheme, hostport, shown, glob=glob)
    clean = _url_path(slash + path, shown, glob=glob)
    secret = bool(userinfo.partition(":")[2])
    return RepoURL(scheme, host=host, port=port, user=user, path=clean, has_password=secret)


def _parse_scp(scp: re.Match[str], shown: str, *, glob: bool = False) -> RepoURL:
    user = _user("ssh", scp.group("user") or "", shown) if scp.group("user") else ""
    host, _ = _host_port("ssh", scp.group("host"), shown, glob=glob, allow_port=False)
    raw_path = scp.group("path")
    if raw_path.startswith("-"):
        raise SourceError(f"repository URL {shown!r} is not valid (its path starts with '-')")
    absolute = raw_path.startswith("/")
    clean = _url_path("/" + raw_path, shown, glob=glob)
    if not absolute:
        # Home-relative, as git reads it; ".." may not climb out of the home.
        segments = [s for s in raw_path.split("/") if s not in ("", ".")]
        depth = 0
        for segment in segments:
            depth += -1 if segment == ".." else 1
            if depth < 0:
                raise SourceError(f"repository URL {shown!r} climbs above the home directory")
        clean = clean.lstrip("/")
    if not clean.strip("/"):
        raise SourceError(f"repository URL {shown!r} names no repository path")
    return RepoURL("ssh", host=host, user=user, path=clean, scp=True)


def _parse_file(rest: str, shown: str) -> RepoURL:
    authority, slash, path = rest.partition("/")
    if authority.lower() not in ("", "localhost"):
        raise SourceError(f"repository URL {shown!r} names a remote host in a file:// URL")
    if "?" in rest or "#" in rest:
        raise SourceError(f"repository URL {shown!r} has a query or fragment")
    return RepoURL("file", path=_local_path(slash + path, shown, decode=True))


def _user(scheme: str, userinfo: str, shown: str) -> str:
    name, _, _ = userinfo.partition(":")
    if scheme != "ssh":
        # Over http(s) the user name is only a hint for credentials, which come
        # from repository Secrets: dropping it changes nothing git does.
        return ""
    user = unquote(name)
    if not _SSH_USER.match(user):
        raise SourceError(f"repository URL {shown!r} has an invalid ssh user name")
    return user


def _host_port(
    scheme: str, hostport: str, shown: str, *, glob: bool, allow_port: bool = True
) -> tuple[str, int | None]:
    if "%" in hostport:
        raise SourceError(f"repository URL {shown!r} has a percent-encoded host")
    if hostport.startswith("["):
        host, _, after = hostport.partition("]")
        host += "]"
        port_text = after.removeprefix(":") if after.startswith(":") else after
        if after and not after.startswith(":"):
            raise SourceError(f"repository URL {shown!r} has an invalid host")
    else:
        host, _, port_text = hostport.partition(":")
    host = _ascii_host(host.lower().rstrip("."), shown)
    valid = (
        _IPV6.match(host)
        or _HOST_LABELS.match(host)
        or (glob and _HOST_GLOB.match(host) is not None)
    )
    if not valid or host.startswith("-"):
        raise SourceError(f"repository URL {shown!r} has no valid host")
    if not port_text:
        return host, None
    if not allow_port or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SourceError(f"repository URL {shown!r} has an invalid port")
    port = int(port_text)
    return host, None if _DEFAULT_PORTS.get(scheme) == port else port


def _ascii_host(host: str, shown: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise SourceError(f"repository URL {shown!r} has an invalid host") from None


def _url_path(path: str, shown: str, *, glob: bool) -> str:
    """Decode unreserved escapes, resolve dot segments, re-encode what must be."""
    decoded = [_decode_unreserved(raw, shown) for raw in path.split("/")]
    safe = (_GLOB_SAFE if glob else _PATH_SAFE) + "%"
    segments = [quote(segment, safe=safe) for segment in _resolve_dots(decoded)]
    return "/" + "/".join(segments) if segments else ""


def _resolve_dots(segments: list[str]) -> list[str]:
    """Path segments with empty and ``.`` ones dropped and ``..`` applied (never above root)."""
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    return kept


def _decode_unreserved(segment: str, shown: str) -> str:
    if "%" not in segment:
        return segment
    if re.search(r"%(?![0-9A-Fa-f]{2})", segment):
        raise SourceError(f"repository URL {shown!r} has a malformed percent-escape")

    def decode(match: re.Match[str]) -> str:
        value = int(match.group(1), 16)
        if value in _AMBIGUOUS_ESCAPES:
            raise SourceError(
                f"repository URL {shown!r} percent-encodes '/', '\\', '%' or a control"
                " character, which servers read differently"
            )
        char = chr(value)
        return char if char in _UNRESERVED else f"%{value:02X}"

    return _PERCENT.sub(decode, segment)


def _local_path(path: str, shown: str, *, decode: bool) -> str:
    """An absolute local path, lexically normalized (git decodes file:// escapes)."""
    if decode:
        if re.search(r"%(?![0-9A-Fa-f]{2})", path) or re.search(r"%(2[fF]|00)", path):
            raise SourceError(f"repository URL {shown!r} has an invalid percent-escape")
        path = unquote(path)
    segments = _resolve_dots(path.split("/"))
    if not segments:
        raise SourceError(f"repository URL {shown!r} names the root directory")
    return "/" + "/".join(segments)


def _strip_git_suffix(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    while path.endswith(".git"):
        path = path.removesuffix(".git").rstrip("/")
    return f"{scheme}{sep}{host}{slash if path else ''}{path}"
