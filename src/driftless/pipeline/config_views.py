"""What may be shown of a repository credential or cluster Secret (CLI and server).

``driftless repo list``, ``driftless cluster list`` and the API's
``/repositories`` and ``/clusters`` all show these summaries, built with the
parsers the controller uses (``sources.credentials``, ``kube.clusters``): what
is listed as usable is what the controller accepts. No I/O.

A summary never holds a secret value: no password, token, SSH key,
known-hosts text, client key or certificate, CA data. A Secret that cannot be
used is summarized with why (``message``, itself free of values: the parsers'
errors name fields, never contents) instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftless.core.repourl import redact
from driftless.kube import clusters
from driftless.sources import credentials as creds

__all__ = ["INVALID", "cluster_summary", "repository_summary"]

INVALID = "invalid"


def repository_summary(secret: Mapping[str, Any]) -> dict[str, str]:
    """``url`` (no userinfo), ``type`` (https, ssh or invalid), ``knownHosts``, ``message``.

    ``message`` is empty when the credential is usable, else why not (``url``
    and ``knownHosts`` are then ``-``).
    """
    try:
        summary = creds.summary(creds.parse_secret(secret))
    except creds.CredentialError as exc:
        return {"url": "-", "type": INVALID, "knownHosts": "-", "message": redact(str(exc))}
    return {
        "url": summary["url"],
        "type": summary["type"],
        "knownHosts": summary["knownHosts"],
        "message": "",
    }


def cluster_summary(secret: Mapping[str, Any]) -> dict[str, str]:
    """``name`` (destination.name), ``server``, ``auth`` (kind of credential), ``message``.

    ``message`` is empty when the Secret is usable, else why not (``name`` is
    then the Secret's name, ``server`` ``-`` and ``auth`` ``invalid``).
    """
    try:
        connection = clusters.connection_from_secret(secret)
    except clusters.ClusterConfigError as exc:
        meta = secret.get("metadata") or {}
        name = str(meta.get("name", "")) if isinstance(meta, Mapping) else ""
        return {"name": name, "server": "-", "auth": INVALID, "message": redact(str(exc))}
    return {
        "name": connection.name,
        "server": redact(connection.server),
        "auth": connection.auth_type,
        "message": "",
    }
