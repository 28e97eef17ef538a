"""The application list's query: parse, filter, count, sort, paginate. Pure.

``parse(...)`` turns the query parameters of ``GET /api/v1/applications``
(and of the stream, which filters the same way) into an ``AppQuery`` or
raises ``QueryError`` naming the parameter (the route answers 422
``query.<name>: ...``). ``run(rows, query)`` returns the page body.

Parameters (the repeatable ones also take comma-separated values; values of
one parameter are alternatives, parameters are all required):

* ``project``, ``namespace``: exact names.
* ``sync``: ``Synced|OutOfSync|Unknown``; ``health``: ``Healthy|Progressing|
  Degraded|Suspended|Missing|Unknown`` -- another value is refused.
* ``repo``: a repository URL, compared as ``core.repourl`` compares them
  (``https://Git.example.com/a/b.git`` is ``https://git.example.com/a/b``).
* ``destination``: a destination server URL or cluster name. The local
  cluster answers to both of its names (``in-cluster`` and its URL), and an
  app naming neither server nor cluster deploys there too.
* ``selector``: labels, ``k=v``, ``k==v``, ``k!=v``, ``k`` (has the label),
  ``!k`` (lacks it), comma-separated, all required; set-based forms
  (``in``, ``notin``) are refused.
* ``search``: case-insensitive substring of ``namespace/name``.
* ``sort``: ``name``, ``namespace``, ``project``, ``sync``, ``health`` or
  ``reconciledAt``, ``-`` in front for descending; ties by namespace/name.
  Statuses sort worst first (``OutOfSync`` before ``Synced``; ``Degraded``,
  ``Missing``, ``Unknown``, ``Progressing``, ``Suspended``, ``Healthy``).
* ``limit``: 1 to ``MAX_LIMIT`` (default 100); ``offset``: from 0.

The body: ``items`` (the page's ``AppRow``s), ``total`` (rows matching every
filter), ``offset``, ``limit``, and ``counts``: ``counts.sync`` counts the
rows matching every filter *but* ``sync`` by sync status, and likewise
``counts.health`` (faceted counts: the list's filter buttons show how many
each choice would give). Every status value is present, 0 when none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from driftless.core import names
from driftless.core.models import HealthStatusCode, SyncStatusCode
from driftless.core.project import LOCAL_NAME, LOCAL_SERVER
from driftless.server.rows import AppRow, Row, repo_key

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SORT_FIELDS",
    "AppList",
    "AppQuery",
    "QueryError",
    "Requirement",
    "parse",
    "parse_selector",
    "run",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_VALUES = 100  # values of one parameter
MAX_TEXT = 1024  # characters of one value
SYNC_VALUES = tuple(str(v) for v in SyncStatusCode)
HEALTH_VALUES = tuple(str(v) for v in HealthStatusCode)
SORT_FIELDS = ("name", "namespace", "project", "sync", "health", "reconciledAt")


class QueryError(ValueError):
    """A query parameter that cannot be used; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``op`` is ``=``, ``!=``, ``exists`` or ``!exists``."""

    key: str
    op: str
    value: str = ""

    def holds(self, labels: dict[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


@dataclass(frozen=True)
class AppQuery:
    project: frozenset[str] = frozenset()
    namespace: frozenset[str] = frozenset()
    sync: frozenset[str] = frozenset()
    health: frozenset[str] = frozenset()
    repo: frozenset[str] = frozenset()
    destination: frozenset[str] = frozenset()
    selector: tuple[Requirement, ...] = ()
    search: str = ""
    sort: str = "name"
    descending: bool = False
    limit: int = DEFAULT_LIMIT
    offset: int = 0


class Counts(TypedDict):
    sync: dict[str, int]
    health: dict[str, int]


class AppList(TypedDict):
    items: list[AppRow]
    total: int
    counts: Counts
    offset: int
    limit: int


def _values(field: str, raw: Sequence[str] | None) -> frozenset[str]:
    out: set[str] = set()
    for item in raw or ():
        for part in item.split(","):
            value = part.strip()
            if len(value) > MAX_TEXT:
                raise QueryError(field, f"a value is longer than {MAX_TEXT} characters")
            if value:
                out.add(value)
    if len(out) > MAX_VALUES:
        raise QueryError(field, f"more than {MAX_VALUES} values")
    return frozenset(out)


def _closed(field: str, raw: Sequence[str] | None, allowed: Sequence[str]) -> frozenset[str]:
    values = _values(field, raw)
    unknown = sorted(values - set(allowed))
    if unknown:
        shown = unknown[0] if len(unknown[0]) <= 40 else unknown[0][:40] + "..."
        raise QueryError(field, f"unknown value {shown!r}; use one of {', '.join(allowed)}")
    return values


def parse_selector(text: str) -> tuple[Requirement, ...]:
    """``app=web,tier!=db,canary,!legacy`` as requirements; ``QueryError`` names ``selector``."""
    if len(text) > MAX_TEXT:
        raise QueryError("selector", f"longer than {MAX_TEXT} characters")
    requirements: list[Requirement] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if " in " in f" {part} " or " notin " in f" {part} " or "(" in part:
            raise QueryError(
                "selector", "set-based requirements (in, notin) are not supported; use k=v"
            )
        if "!=" in part:
            key, _, value = part.partition("!=")
            op = "!="
        elif "=" in part:
            key, _, value = part.partition("=")
            value = value.removeprefix("=")  # k==v
            op = "="
        elif part.startswith("!"):
            key, value, op = part[1:], "", "!exists"
        else:
            key, value, op = part, "", "exists"
        key, value = key.strip(), value.strip()
        problem = names.label_key_problem(key)
        if problem:
            raise QueryError("selector", f"label key {key[:63]!r} is {problem}")
        if len(value) > names.LABEL_VALUE_MAX or not names.matches(
            names.LABEL_VALUE_PATTERN, value
        ):
            raise QueryError("selector", f"label value {value[:63]!r} of {key!r} is not valid")
        requirements.append(Requirement(key, op, value))
    return tuple(requirements)


def parse(
    *,
    project: Sequence[str] | None = None,
    namespace: Sequence[str] | None = None,
    sync: Sequence[str] | None = None,
    health: Sequence[str] | None = None,
    repo: Sequence[str] | None = None,
    destination: Sequence[str] | None = None,
    selector: Sequence[str] | None = None,
    search: str | None = None,
    sort: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> AppQuery:
    """The query these parameters ask for; ``QueryError`` names the first bad one."""
    limit = DEFAULT_LIMIT if limit is None else limit
    offset = 0 if offset is None else offset
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError("limit", f"must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise QueryError("offset", "must be 0 or more")
    sort = sort or "name"
    field = sort.removeprefix("-")
    if field not in SORT_FIELDS:
        raise QueryError(
            "sort", f"unknown sort field; use one of {', '.join(SORT_FIELDS)} (- for descending)"
        )
    search = (search or "").strip()
    if len(search) > MAX_TEXT:
        raise QueryError("search", f"longer than {MAX_TEXT} characters")
    requirements: tuple[Requirement, ...] = ()
    for text in selector or ():
        requirements += parse_selector(text)
    return AppQuery(
        project=_values("project", project),
        namespace=_values("namespace", namespace),
        sync=_closed("sync", sync, SYNC_VALUES),
        health=_closed("health", health, HEALTH_VALUES),
        repo=frozenset(repo_key(url) for url in _values("repo", repo)),
        destination=_values("destination", destination),
        selector=requirements,
        search=search.lower(),
        sort=field,
        descending=sort.startswith("-"),
        limit=limit,
        offset=offset,
    )


def matches(row: Row, query: AppQuery) -> bool:
    """Whether ``row`` passes every filter of ``query`` (what a stream sends)."""
    return (
        _matches_base(row, query)
        and _status_ok(row, query, "sync")
        and _status_ok(row, query, "health")
    )


def _matches_base(row: Row, q: AppQuery) -> bool:
    data = row.data
    if q.project and data["project"] not in q.project:
        return False
    if q.namespace and data["namespace"] not in q.namespace:
        return False
    if q.repo and row.repo not in q.repo:
        return False
    if q.destination and not q.destination & _destinations(data):
        return False
    if q.search and q.search not in row.search:
        return False
    return all(r.holds(data["labels"]) for r in q.selector)


_IN_CLUSTER = frozenset({LOCAL_SERVER, LOCAL_NAME})


def _destinations(data: AppRow) -> frozenset[str]:
    """The names a row's destination cluster answers to."""
    server, name = data["destination"]["server"], data["destination"]["name"]
    if server in _IN_CLUSTER or name in _IN_CLUSTER or not (server or name):
        return _IN_CLUSTER  # an empty destination means this cluster (ApplicationDestination)
    return frozenset({server, name}) - {""}


def _status_ok(row: Row, q: AppQuery, facet: str) -> bool:
    wanted = q.sync if facet == "sync" else q.health
    return not wanted or row.data[facet] in wanted  # type: ignore[literal-required]


# Worst first: sorting by status puts what needs attention at the top.
SYNC_ORDER = {v: i for i, v in enumerate(("OutOfSync", "Unknown", "Synced"))}
HEALTH_ORDER = {
    v: i
    for i, v in enumerate(("Degraded", "Missing", "Unknown", "Progressing", "Suspended", "Healthy"))
}


def _sort(rows: list[Row], field: str, descending: bool) -> None:
    """Sort in place by ``field``, ties by namespace/name (ascending even when descending)."""
    if field == "name":
        rows.sort(key=lambda r: (r.data["name"], r.key[0]), reverse=descending)
        return
    rows.sort(key=lambda r: r.key)
    if field == "namespace":
        key: Any = lambda r: r.key[0]  # noqa: E731
    elif field == "sync":
        key = lambda r: SYNC_ORDER.get(r.data["sync"], len(SYNC_ORDER))  # noqa: E731
    elif field == "health":
        key = lambda r: HEALTH_ORDER.get(r.data["health"], len(HEALTH_ORDER))  # noqa: E731
    else:
        key = lambda r: r.data[field]  # noqa: E731
    rows.sort(key=key, reverse=descending)  # stable: ties keep the namespace/name order


def run(rows: Iterable[Row], query: AppQuery) -> AppList:
    """The page of ``rows`` ``query`` asks for, with the total and the faceted counts."""
    sync_counts = dict.fromkeys(SYNC_VALUES, 0)
    health_counts = dict.fromkeys(HEALTH_VALUES, 0)
    selected: list[Row] = []
    for row in rows:
        if not _matches_base(row, query):
            continue
        sync_ok = _status_ok(row, query, "sync")
        health_ok = _status_ok(row, query, "health")
        if health_ok:
            sync_counts[row.data["sync"]] = sync_counts.get(row.data["sync"], 0) + 1
        if sync_ok:
            health_counts[row.data["health"]] = health_counts.get(row.data["health"], 0) + 1
        if sync_ok and health_ok:
            selected.append(row)
    _sort(selected, query.sort, query.descending)
    page = selected[query.offset : query.offset + query.limit]
    return {
        "items": [row.data for row in page],
        "total": len(selected),
        "counts": {"sync": sync_counts, "health": health_counts},
        "offset": query.offset,
        "limit": query.limit,
    }
