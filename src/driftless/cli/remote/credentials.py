"""The servers one is logged in to: ``$XDG_CONFIG_HOME/driftless/servers.json``.

``~/.config`` stands in for an unset (or relative) ``$XDG_CONFIG_HOME``. The
directory is made (and kept) 0700, the file is written 0600 -- a new file
beside it, then renamed over it, so a crash never leaves half a file and no
moment exists where it is readable by others. A file that group or others
may read, or that is not a regular file, is refused rather than used: it may
have leaked, and the way out (log in again) is said.

The file (JSON, ``"version": 1``)::

    {"version": 1, "current": "https://driftless.example.com",
     "servers": {"https://driftless.example.com": {
         "user": "admin", "method": "password",
         "cookie": "driftless_session", "secret": "<session id>",
         "insecureSkipTLSVerify": false, "caFile": null}}}

``method`` is ``password`` (``secret`` is the session id, sent as the cookie
named ``cookie``) or ``token`` (``secret`` is a project token, sent as
``Authorization: Bearer``). Keys are server URLs as ``server_url``
normalizes them. Nothing here ever prints a secret: ``Entry.__repr__`` hides it.

``server_url`` and ``parse``/``serialize`` are pure; ``load``/``save`` do the I/O.
"""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from driftless.cli.exits import UsageFailedError
from driftless.core.errors import DriftlessError

__all__ = [
    "PASSWORD",
    "TOKEN",
    "Credentials",
    "CredentialsFileError",
    "Entry",
    "credentials_path",
    "is_loopback",
    "load",
    "parse",
    "save",
    "serialize",
    "server_url",
]

PASSWORD = "password"
TOKEN = "token"
VERSION = 1
MAX_FILE = 1024 * 1024
FILE_NAME = "servers.json"


class CredentialsFileError(DriftlessError):
    """The credentials file cannot be used (mode, type, content); the message says what to do."""


@dataclass(frozen=True)
class Entry:
    """How to reach and authenticate to one server."""

    url: str
    user: str
    method: str  # PASSWORD or TOKEN
    secret: str = field(repr=False)
    cookie: str = ""  # the session cookie's name (PASSWORD)
    insecure: bool = False  # --insecure-skip-tls-verify
    ca_file: str | None = None


@dataclass(frozen=True)
class Credentials:
    current: str | None = None
    servers: dict[str, Entry] = field(default_factory=dict)

    def with_entry(self, entry: Entry) -> Credentials:
        """These credentials with ``entry`` stored (replacing the server's) and made current."""
        return Credentials(entry.url, {**self.servers, entry.url: entry})

    def without(self, url: str) -> Credentials:
        """These credentials without ``url``; it is no longer current if it was."""
        servers = {k: v for k, v in self.servers.items() if k != url}
        return replace(self, servers=servers, current=None if self.current == url else self.current)

    def current_entry(self) -> Entry | None:
        return self.servers.get(self.current) if self.current is not None else None


def credentials_path(environ: dict[str, str] | None = None) -> Path:
    """Where the file is: under ``$XDG_CONFIG_HOME`` (absolute) or ``~/.config``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "driftless" / FILE_NAME


def is_loopback(host: str) -> bool:
    """Whether ``host`` (no brackets) is this machine: ``localhost`` or a loopback address. Pure."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_url(text: str) -> str:
    """The server's URL as stored and compared: ``scheme://host[:port][/path]``. Pure.

    ``https://`` is assumed when no scheme is given. Refused (a usage error):
    another scheme, credentials, a query or fragment, no host, a bad port,
    and ``http://`` to anything but this machine (the password and the
    session would cross the network in clear).
    """
    raw = text.strip()
    if "://" not in raw:
        raw = f"https://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise UsageFailedError(f"invalid server URL {text!r}: {exc}") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise UsageFailedError(f"invalid server URL {text!r}: use https://HOST[:PORT]")
    if parts.username is not None or parts.password is not None:
        raise UsageFailedError("put no credentials in the server URL: use --username")
    if parts.query or parts.fragment:
        raise UsageFailedError(f"invalid server URL {text!r}: no query or fragment")
    if parts.scheme == "http" and not is_loopback(host):
        raise UsageFailedError(
            f"http://{host} would send the password and session in clear: use https://"
            " (plain http only to localhost)"
        )
    shown = f"[{host}]" if ":" in host else host
    netloc = shown if port is None else f"{shown}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _entry(url: str, raw: Any) -> Entry:
    if not isinstance(raw, dict):
        raise ValueError(f"server {url}: not an object")
    method, secret, user = raw.get("method"), raw.get("secret"), raw.get("user", "")
    cookie, insecure, ca_file = (
        raw.get("cookie", ""),
        raw.get("insecureSkipTLSVerify"),
        raw.get("caFile"),
    )
    if method not in (PASSWORD, TOKEN):
        raise ValueError(f"server {url}: unknown method")
    if not isinstance(secret, str) or not secret or not isinstance(user, str):
        raise ValueError(f"server {url}: no credential")
    if not isinstance(cookie, str) or (method == PASSWORD and not cookie):
        raise ValueError(f"server {url}: no cookie name")
    if not isinstance(insecure, bool | None) or not isinstance(ca_file, str | None):
        raise ValueError(f"server {url}: bad TLS settings")
    return Entry(url, user, method, secret, cookie, bool(insecure), ca_file)


def parse(text: str) -> Credentials:
    """The credentials of the file's text; ``ValueError`` naming what is wrong (never a value)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError(f"not a version {VERSION} credentials file")
    servers, current = data.get("servers"), data.get("current")
    if not isinstance(servers, dict) or not isinstance(current, str | None):
        raise ValueError("no servers")
    entries = {str(url): _entry(str(url), raw) for url, raw in servers.items()}
    if current is not None and current not in entries:
        current = None
    return Credentials(current, entries)


def serialize(credentials: Credentials) -> str:
    """The file's text. Pure."""
    servers = {
        url: {
            "user": e.user,
            "method": e.method,
            "cookie": e.cookie,
            "secret": e.secret,
            "insecureSkipTLSVerify": e.insecure,
            "caFile": e.ca_file,
        }
        for url, e in sorted(credentials.servers.items())
    }
    body = {"version": VERSION, "current": credentials.current, "servers": servers}
    return json.dumps(body, indent=2) + "\n"


def load(path: Path | None = None) -> Credentials:
    """The stored credentials (none when there is no file); ``CredentialsFileError`` if unusable."""
    where = path or credentials_path()
    try:
        info = where.lstat()
    except FileNotFoundError:
        return Credentials()
    again = f"remove it and run `driftless login` again ({where})"
    if not stat.S_ISREG(info.st_mode):
        raise CredentialsFileError(f"the credentials file is not a regular file: {again}")
    if info.st_mode & 0o077:
        raise CredentialsFileError(
            f"the credentials file may be read by others (mode {stat.S_IMODE(info.st_mode):04o}):"
            f" its sessions may have leaked; {again}"
        )
    if info.st_size > MAX_FILE:
        raise CredentialsFileError(f"the credentials file is too large: {again}")
    try:
        return parse(where.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CredentialsFileError(f"the credentials file is not valid ({exc}): {again}") from None


def save(credentials: Credentials, path: Path | None = None) -> Path:
    """Write the file 0600 in a 0700 directory, atomically; returns its path."""
    where = path or credentials_path()
    where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    where.parent.chmod(0o700)
    temporary = where.with_name(f".{where.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(serialize(credentials))
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(where)
    finally:
        temporary.unlink(missing_ok=True)
    return where
