"""The app list's query as tables: rows in, page out; hostile parameters refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.redaction import redacted
from driftless.server import apps_query
from driftless.server.apps_query import QueryError, Requirement, parse, parse_selector, run
from driftless.server.rows import Row, app_row


def app(
    name: str,
    *,
    namespace: str = "apps",
    project: str = "default",
    sync: str = "Synced",
    health: str = "Healthy",
    repo: str = "https://git.example.com/team/app.git",
    server: str = "https://kubernetes.default.svc",
    labels: dict[str, str] | None = None,
    reconciled: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    return {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "project": project,
            "source": {"repoURL": repo, "path": "deploy", "targetRevision": "main"},
            "destination": {"server": server, "namespace": name},
        },
        "status": {
            "sync": {"status": sync, "revision": "abc123"},
            "health": {"status": health},
            "conditions": [{"type": "Ready", "lastTransitionTime": reconciled}],
        },
    }


ROWS: list[Row] = [
    app_row(a)
    for a in [
        app("web", project="team-a", labels={"tier": "front", "env": "prod"},
            reconciled="2026-01-03T00:00:00Z"),
        app("api", project="team-a", sync="OutOfSync", health="Degraded",
            labels={"tier": "back", "env": "prod"}, reconciled="2026-01-02T00:00:00Z"),
        app("db", project="team-b", sync="OutOfSync", health="Healthy", labels={"tier": "back"},
            repo="git@git.example.com:team/db.git", reconciled="2026-01-05T00:00:00Z"),
        app("cache", namespace="other", project="team-b", health="Progressing",
            server="https://east.example.com", reconciled="2026-01-04T00:00:00Z"),
        app("web", namespace="other", project="team-c", sync="Unknown", health="Missing"),
    ]
]  # fmt: skip


def names(query: dict[str, Any]) -> list[str]:
    page = run(ROWS, parse(**query))
    return [f"{r['namespace']}/{r['name']}" for r in page["items"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["apps/api", "other/cache", "apps/db", "apps/web", "other/web"]),
        ({"project": ["team-a"]}, ["apps/api", "apps/web"]),
        ({"project": ["team-a,team-c"]}, ["apps/api", "apps/web", "other/web"]),
        ({"project": ["team-a", "team-c"]}, ["apps/api", "apps/web", "other/web"]),
        ({"sync": ["OutOfSync"]}, ["apps/api", "apps/db"]),
        ({"sync": ["OutOfSync"], "health": ["Healthy"]}, ["apps/db"]),
        ({"namespace": ["other"]}, ["other/cache", "other/web"]),
        ({"repo": ["ssh://git@GIT.example.com/team/db"]}, ["apps/db"]),
        ({"repo": ["https://git.example.com/team/app"]},
         ["apps/api", "other/cache", "apps/web", "other/web"]),
        ({"destination": ["https://east.example.com"]}, ["other/cache"]),
        ({"selector": ["tier=back"]}, ["apps/api", "apps/db"]),
        ({"selector": ["tier==back,env=prod"]}, ["apps/api"]),
        ({"selector": ["tier!=back"]}, ["other/cache", "apps/web", "other/web"]),
        ({"selector": ["env"]}, ["apps/api", "apps/web"]),
        ({"selector": ["!tier"]}, ["other/cache", "other/web"]),
        ({"search": "WE"}, ["apps/web", "other/web"]),
        ({"search": "other/"}, ["other/cache", "other/web"]),
        ({"search": "nothing"}, []),
        ({"sort": "-name"}, ["other/web", "apps/web", "apps/db", "other/cache", "apps/api"]),
        ({"sort": "namespace"}, ["apps/api", "apps/db", "apps/web", "other/cache", "other/web"]),
        ({"sort": "project"}, ["apps/api", "apps/web", "apps/db", "other/cache", "other/web"]),
        ({"sort": "sync"}, ["apps/api", "apps/db", "other/web", "apps/web", "other/cache"]),
        ({"sort": "health"}, ["apps/api", "other/web", "other/cache", "apps/db", "apps/web"]),
        ({"sort": "-reconciledAt"},
         ["apps/db", "other/cache", "apps/web", "apps/api", "other/web"]),
        ({"limit": 2}, ["apps/api", "other/cache"]),
        ({"limit": 2, "offset": 2}, ["apps/db", "apps/web"]),
        ({"offset": 4}, ["other/web"]),
        ({"offset": 10**9}, []),
    ],
)  # fmt: skip
def test_filter_sort_page(query: dict[str, Any], expected: list[str]) -> None:
    assert names(query) == expected


@pytest.mark.parametrize(
    ("destination", "wanted"),
    [
        ({"namespace": "x"}, ["in-cluster", "https://kubernetes.default.svc"]),
        ({"server": "https://kubernetes.default.svc"}, ["in-cluster"]),
        ({"name": "in-cluster"}, ["https://kubernetes.default.svc"]),
        ({"name": "edge"}, ["edge"]),
        ({"server": "https://edge.example.com"}, ["https://edge.example.com"]),
    ],
)
def test_a_destination_matches_each_name_of_its_cluster(
    destination: dict[str, str], wanted: list[str]
) -> None:
    """The local cluster answers to its URL and to in-cluster; an empty destination is local."""
    obj = app("one")
    obj["spec"]["destination"] = destination
    row = app_row(obj)
    for value in wanted:
        assert run([row], parse(destination=[value]))["total"] == 1, value
    others = ["edge", "https://edge.example.com"] if "edge" not in str(destination) else []
    for value in [*others, "https://elsewhere.example.com"]:
        assert run([row], parse(destination=[value]))["total"] == 0, value


def test_total_and_faceted_counts() -> None:
    page = run(ROWS, parse(sync=["OutOfSync"], project=["team-a", "team-b"], limit=1))
    assert page["total"] == 2
    assert len(page["items"]) == 1
    assert (page["offset"], page["limit"]) == (0, 1)
    # sync counts ignore the sync filter (what each sync button would give) ...
    assert page["counts"]["sync"] == {"Synced": 2, "OutOfSync": 2, "Unknown": 0}
    # ... health counts apply it.
    assert page["counts"]["health"] == {
        "Healthy": 1, "Progressing": 0, "Degraded": 1, "Suspended": 0, "Missing": 0, "Unknown": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"limit": 10**9}, "limit", "between 1 and 1000"),
        ({"limit": 0}, "limit", "between 1 and 1000"),
        ({"limit": -5}, "limit", "between 1 and 1000"),
        ({"offset": -1}, "offset", "0 or more"),
        ({"sort": "password"}, "sort", "unknown sort field"),
        ({"sort": "--name"}, "sort", "unknown sort field"),
        ({"sort": "-"}, "sort", "unknown sort field"),
        ({"sync": ["Fine"]}, "sync", "unknown value 'Fine'"),
        ({"health": ["healthy"]}, "health", "unknown value 'healthy'"),
        ({"health": ["x" * 5000]}, "health", "longer than"),
        ({"selector": ["env in (prod,dev)"]}, "selector", "set-based"),
        ({"selector": ["-bad-=x"]}, "selector", "label key"),
        ({"selector": ["=x"]}, "selector", "label key"),
        ({"selector": ["k=not valid"]}, "selector", "label value"),
        ({"selector": ["k=" + "v" * 64]}, "selector", "label value"),
        ({"selector": ["k" * 2000]}, "selector", "longer than"),
        ({"search": "s" * 2000}, "search", "longer than"),
        ({"project": [",".join(f"p{i}" for i in range(500))]}, "project", "more than 100"),
    ],
)
def test_hostile_parameters_are_refused_by_name(
    query: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(QueryError) as raised:
        parse(**query)
    assert raised.value.field == field
    assert says in raised.value.message
    assert len(raised.value.message) < 200  # never echoes a huge input


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app=web", (Requirement("app", "=", "web"),)),
        (" app == web , !old ,", (Requirement("app", "=", "web"), Requirement("old", "!exists"))),
        ("example.com/team!=a", (Requirement("example.com/team", "!=", "a"),)),
        ("k=", (Requirement("k", "=", ""),)),
        ("", ()),
    ],
)
def test_selector_grammar(text: str, expected: tuple[Requirement, ...]) -> None:
    assert parse_selector(text) == expected


def test_defaults() -> None:
    query = parse()
    assert (query.sort, query.descending, query.limit, query.offset) == ("name", False, 100, 0)
    assert apps_query.MAX_LIMIT == 1000


def test_a_row_has_exactly_the_contract_fields_and_no_credentials() -> None:
    obj = app("x", repo="https://deploy:hunter2@git.example.com/team/x.git?token=abc")
    obj["status"]["operationState"] = {"phase": "Running"}
    data = app_row(obj).data
    assert sorted(data) == sorted([
        "namespace", "name", "project", "repoURL", "path", "chart", "targetRevision",
        "destination", "sync", "health", "revision", "operationPhase", "labels", "reconciledAt",
    ])  # fmt: skip
    assert "hunter2" not in str(data)
    assert "abc" not in data["repoURL"]
    assert data["repoURL"].startswith("https://git.example.com/team/x.git")
    assert data["operationPhase"] == "Running"
    assert data["reconciledAt"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"metadata": None, "spec": [], "status": "x"},
        {
            "metadata": {"name": 5, "labels": {"a": 1, "b": "ok"}},
            "spec": {"source": {"repoURL": 7}},
        },
        {"metadata": {"name": "n"}, "status": {"conditions": [None, 3, {"lastTransitionTime": 9}]}},
    ],
)
def test_a_hostile_object_still_makes_a_row(obj: dict[str, Any]) -> None:
    row = app_row(obj)
    assert row.data["sync"] == "Unknown" and row.data["health"] == "Unknown"
    assert all(isinstance(v, str) for v in row.data["labels"].values())


def test_redacted_objects_drop_credentials_everywhere_and_managed_fields() -> None:
    url = "https://deploy:hunter2@git.example.com/x.git"
    obj = app("x", repo=url)
    obj["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": url}
    obj["status"]["history"] = [{"id": 1, "source": {"repoURL": url}}]
    obj["status"]["conditions"][0]["message"] = f"cannot fetch {url}"
    out = redacted(obj)
    assert "hunter2" not in str(out)
    assert "managedFields" not in out["metadata"]
    assert "managedFields" in obj["metadata"]  # the cache's object is not touched
    assert out["spec"]["source"]["repoURL"] == "https://git.example.com/x.git"
