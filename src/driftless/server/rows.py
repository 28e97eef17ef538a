"""What the API lists of an Application: its row. Pure.

``app_row(obj)`` projects an Application (the API server's dict, possibly
hostile: any field may be missing or of the wrong type) to a ``Row``: the
JSON ``AppRow`` a list returns (``row.data``, exactly the fields of the API
contract, nothing more) and the few values filters and sorts read, computed
once so a query over 10,000 rows does no parsing. A row never fails: a
field of the wrong type reads as empty.

A whole object as a client may see it, and as the server keeps it, is
``core.redaction.redacted`` (the CLI prints the same).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, TypedDict

from driftless.core.errors import SourceError
from driftless.core.repourl import parse_repo_url, redact

__all__ = ["AppRow", "Destination", "Row", "app_key", "app_row", "repo_key"]

JSON = dict[str, Any]


class Destination(TypedDict):
    server: str
    name: str
    namespace: str


class AppRow(TypedDict):
    namespace: str
    name: str
    project: str
    repoURL: str
    path: str
    chart: str
    targetRevision: str
    destination: Destination
    sync: str
    health: str
    revision: str
    operationPhase: str
    labels: dict[str, str]
    reconciledAt: str


@dataclass(frozen=True, slots=True)
class Row:
    """One Application as the list sees it: ``data`` is what is sent."""

    data: AppRow
    key: tuple[str, str]
    repo: str  # repo_key of repoURL: what ?repo= compares
    search: str  # "namespace/name", lower-cased: what ?search= looks in


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _shared(value: object) -> str:
    """``_str`` for values many rows repeat (statuses, projects, servers): one copy in memory."""
    return sys.intern(value) if isinstance(value, str) and len(value) <= 256 else _str(value)


def _dict(value: object) -> JSON:
    return value if isinstance(value, dict) else {}


def app_key(obj: JSON) -> tuple[str, str]:
    meta = _dict(obj.get("metadata"))
    return _str(meta.get("namespace")), _str(meta.get("name"))


def repo_key(url: str) -> str:
    """The comparable form of a repository URL (``core.repourl``), or the text as written."""
    try:
        return parse_repo_url(url).key
    except SourceError:
        return redact(url)


def _reconciled_at(status: JSON) -> str:
    """The latest of ``lastSyncedAt`` and the conditions' transition times (RFC 3339, UTC)."""
    times = [_str(status.get("lastSyncedAt"))]
    conditions = status.get("conditions")
    if isinstance(conditions, list):
        times += [_str(_dict(c).get("lastTransitionTime")) for c in conditions]
    return max(times)


def app_row(obj: JSON) -> Row:
    meta = _dict(obj.get("metadata"))
    spec = _dict(obj.get("spec"))
    status = _dict(obj.get("status"))
    source = _dict(spec.get("source"))
    destination = _dict(spec.get("destination"))
    labels = {k: v for k, v in _dict(meta.get("labels")).items() if isinstance(v, str)}
    operation = _dict(status.get("operationState"))
    namespace, name = _str(meta.get("namespace")), _str(meta.get("name"))
    repo_url = redact(_str(source.get("repoURL")))
    data: AppRow = {
        "namespace": _shared(namespace),
        "name": name,
        "project": _shared(spec.get("project")) or "default",
        "repoURL": repo_url,
        "path": _str(source.get("path")),
        "chart": _str(source.get("chart")),
        "targetRevision": _shared(source.get("targetRevision")),
        "destination": {
            "server": _shared(destination.get("server")),
            "name": _shared(destination.get("name")),
            "namespace": _str(destination.get("namespace")),
        },
        "sync": _shared(_dict(status.get("sync")).get("status")) or "Unknown",
        "health": _shared(_dict(status.get("health")).get("status")) or "Unknown",
        "revision": _shared(_dict(status.get("sync")).get("revision")),
        "operationPhase": _shared(operation.get("phase")),
        "labels": labels,
        "reconciledAt": _reconciled_at(status),
    }
    return Row(
        data=data,
        key=(namespace, name),
        repo=repo_key(_str(source.get("repoURL"))),
        search=f"{namespace}/{name}".lower(),
    )
