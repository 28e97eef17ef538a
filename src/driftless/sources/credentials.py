"""Repository credentials: the model, its Secret encoding, and URL matching (pure, no I/O).

A repository credential is a Kubernetes Secret in the driftless namespace
labelled ``driftless.dev/secret-type: repository``. Its ``data`` keys:

==========================  ===================================================
``url``                     URL prefix of the repositories it opens (required)
``username``, ``password``  https basic auth; a token is a password (with any
                            username; ``git`` when none is given)
``sshPrivateKey``           an unencrypted private key (OpenSSH or PEM)
``knownHosts``              ``known_hosts`` lines of the SSH servers to trust
``insecureIgnoreHostKey``   ``"true"`` to trust any SSH host key (never implied)
==========================  ===================================================

Contract:

* ``parse_secret`` turns a Secret body into a ``RepoCredential`` or raises
  ``CredentialError`` naming the Secret and the offending key, never a value.
* ``normalize_prefix`` and ``match_credential``: an app's ``repoURL`` gets the
  credential with the **longest** matching prefix. Both sides are normalized
  the same way, by ``core.repourl`` (scheme and host lower-cased, userinfo
  and default ports dropped, ``..``/``.`` segments and duplicate ``/``
  resolved, escapes of unreserved characters decoded, trailing ``/`` and
  ``.git`` removed, scp-like ``git@host:path`` read as ``ssh://host/path``),
  exactly as Project allow-lists do, and a prefix only matches on a path-segment
  boundary, so ``https://host/org`` never hands its token to
  ``https://host/organisation``. Local repositories (``file://``, paths) never
  match anything.
* Secret values never appear in a ``repr`` (the fields are ``repr=False``),
  in ``summary`` output, or in any error message of this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from driftless.core.errors import SourceError
from driftless.core.wellknown import REPOSITORY_SECRET_TYPE, SECRET_TYPE_LABEL
from driftless.sources.urls import parse_repo_url, redact

__all__ = [
    "DEFAULT_USERNAME",
    "REPOSITORY_SECRET_LABEL",
    "AuthKind",
    "CredentialError",
    "RepoCredential",
    "match_credential",
    "normalize_prefix",
    "parse_secret",
    "repository_secret",
    "secret_name_for",
    "summary",
]

JSON = dict[str, Any]

REPOSITORY_SECRET_LABEL = f"{SECRET_TYPE_LABEL}={REPOSITORY_SECRET_TYPE}"
# Forges accept any username with a token; git needs one to send basic auth.
DEFAULT_USERNAME = "git"
# Shorter usernames ("git", "oauth2") are common words: scrubbing them from
# messages would garble the messages while protecting nothing.
_MIN_SCRUBBED_USERNAME = 8
_SECRET_NAME_MAX = 63


class CredentialError(ValueError):
    """A repository Secret is malformed. The message never contains a secret value."""


class AuthKind(StrEnum):
    """How a credential authenticates."""

    HTTPS = "https"
    SSH = "ssh"


@dataclass(frozen=True)
class RepoCredential:
    """One repository credential, decoded. Fields holding secrets are kept out of ``repr``."""

    name: str
    url: str
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    ssh_private_key: str = field(default="", repr=False)
    known_hosts: str = ""
    insecure_ignore_host_key: bool = False

    @property
    def kind(self) -> AuthKind:
        return AuthKind.SSH if self.ssh_private_key else AuthKind.HTTPS

    @property
    def prefix(self) -> str:
        """The normalized URL prefix this credential applies to."""
        return normalize_prefix(self.url)

    def secret_values(self) -> tuple[str, ...]:
        """Every string that must be scrubbed from any text leaving driftless."""
        values = [self.password]
        if len(self.username) >= _MIN_SCRUBBED_USERNAME:
            values.append(self.username)
        # A key is multi-line: scrub each body line, since a tool may print one.
        values.extend(
            line.strip()
            for line in self.ssh_private_key.splitlines()
            if line.strip() and not line.startswith("-----")
        )
        return tuple(v for v in values if v)


# -- URL matching ---------------------------------------------------------------


def normalize_prefix(url: str) -> str:
    """The comparable form of a repository URL or credential prefix.

    This is ``core.repourl``'s match key, the same one Project allow-lists
    use, computed on the spelling git fetches (``..`` resolved, escapes of
    unreserved characters decoded, ``@`` tricks read as git reads them).
    Raises ``SourceError`` for strings git could not use as a repository URL.
    """
    return parse_repo_url(url).key


def match_credential(credentials: Iterable[RepoCredential], repo_url: str) -> RepoCredential | None:
    """The credential with the longest prefix matching ``repo_url``, if any.

    Ties (two Secrets with the same prefix) go to the alphabetically first
    Secret name, so the choice never depends on list order.
    """
    try:
        key = normalize_prefix(repo_url)
    except SourceError:
        return None
    if key.startswith("file://"):
        return None
    matching = [c for c in credentials if _prefix_matches(c, key)]
    return min(matching, key=lambda c: (-len(c.prefix), c.name), default=None)


def _prefix_matches(credential: RepoCredential, key: str) -> bool:
    """``credential``'s prefix names ``key`` or a parent of it (path-segment boundary)."""
    try:
        prefix = credential.prefix
    except SourceError:
        return False
    return key == prefix or key.startswith(prefix + "/")


# -- Secrets ----------------------------------------------------------------------


def parse_secret(secret: Mapping[str, Any]) -> RepoCredential:
    """Decode a repository Secret; ``CredentialError`` when it cannot be used."""
    name = str((secret.get("metadata") or {}).get("name") or "<unnamed>")
    data = _decoded_data(secret, name)
    url = data.get("url", "").strip()
    if not url:
        raise CredentialError(f"repository Secret {name}: data.url is missing")
    kind = _url_kind(url, name)
    key = data.get("sshPrivateKey", "")
    password = data.get("password", "")
    insecure = data.get("insecureIgnoreHostKey", "").strip().lower()
    if insecure not in ("", "true", "false"):
        raise CredentialError(
            f'repository Secret {name}: insecureIgnoreHostKey must be "true" or "false"'
        )
    if key and password:
        raise CredentialError(
            f"repository Secret {name}: set either password or sshPrivateKey, not both"
        )
    if key and kind != AuthKind.SSH:
        raise CredentialError(f"repository Secret {name}: sshPrivateKey needs an ssh:// URL")
    if password and kind == AuthKind.SSH:
        raise CredentialError(
            f"repository Secret {name}: an ssh URL needs sshPrivateKey (passwords are https only)"
        )
    if key and "PRIVATE KEY" not in key:
        raise CredentialError(f"repository Secret {name}: sshPrivateKey is not a private key")
    if not key and not password:
        raise CredentialError(f"repository Secret {name}: set password or sshPrivateKey")
    return RepoCredential(
        name=name,
        url=url,
        username=data.get("username", "").strip() or (DEFAULT_USERNAME if password else ""),
        password=password.strip(),
        # ssh rejects a key file without a final newline ("invalid format").
        ssh_private_key=key.strip() + "\n" if key else "",
        known_hosts=data.get("knownHosts", "").strip(),
        insecure_ignore_host_key=insecure == "true",
    )


def _decoded_data(secret: Mapping[str, Any], name: str) -> dict[str, str]:
    """``data`` base64-decoded, with ``stringData`` (not yet merged by a server) on top."""
    out: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialError(
                f"repository Secret {name}: data.{key} is not base64-encoded UTF-8"
            ) from None
    out.update({k: str(v) for k, v in (secret.get("stringData") or {}).items()})
    return out


def _url_kind(url: str, name: str) -> AuthKind:
    try:
        scheme = parse_repo_url(url).scheme
    except SourceError as exc:
        raise CredentialError(f"repository Secret {name}: {exc}") from None
    if scheme in ("http", "https"):
        return AuthKind.HTTPS
    if scheme == "ssh":
        return AuthKind.SSH
    raise CredentialError(
        f"repository Secret {name}: credentials apply to https:// and ssh:// URLs, not {scheme}://"
    )


def secret_name_for(url: str) -> str:
    """A stable, valid Secret name for ``url``: ``repo-<host-and-path>-<hash>``."""
    prefix = normalize_prefix(url)
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:8]
    readable = re.sub(r"[^a-z0-9]+", "-", prefix.partition("://")[2].lower()).strip("-")
    room = _SECRET_NAME_MAX - len("repo--") - len(digest)
    readable = readable[:room].strip("-")
    return f"repo-{readable}-{digest}" if readable else f"repo-{digest}"


def repository_secret(credential: RepoCredential, namespace: str) -> JSON:
    """The Secret body that stores ``credential`` (values base64-encoded, empty keys left out)."""
    values = {
        "url": credential.url,
        "username": credential.username if credential.password else "",
        "password": credential.password,
        "sshPrivateKey": credential.ssh_private_key,
        "knownHosts": credential.known_hosts,
        "insecureIgnoreHostKey": "true" if credential.insecure_ignore_host_key else "",
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": credential.name,
            "namespace": namespace,
            "labels": {SECRET_TYPE_LABEL: REPOSITORY_SECRET_TYPE},
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items() if v},
    }


def summary(credential: RepoCredential) -> dict[str, str]:
    """What may be shown about a credential: never a secret value."""
    if credential.kind == AuthKind.HTTPS:
        host_keys = "-"
    elif credential.insecure_ignore_host_key:
        host_keys = "ignored (insecure)"
    else:
        host_keys = "set" if credential.known_hosts else "not set"
    return {
        "name": credential.name,
        "url": redact(credential.url),
        "type": credential.kind.value,
        "knownHosts": host_keys,
    }
