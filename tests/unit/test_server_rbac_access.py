"""server.access and server.rbac_source: every route has a rule; the ConfigMap's keys; the
stream's filter; a bad ConfigMap keeps the last good policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from driftless.kube.client import KubeClient
from driftless.server import access, rbac, rbac_source, stream
from driftless.server.app import create_app
from driftless.server.apps_query import AppQuery
from driftless.server.rbac_source import RbacSource
from driftless.server.rows import app_row
from driftless.server.settings import ServerSettings
from tests.fixtures.server_http import idle_state

# Routes anyone may call (login and its methods): no authorization after the guard.
PUBLIC = {"/api/v1/session", "/api/v1/auth/methods"}


async def test_every_protected_route_has_a_rule(tmp_path: Path) -> None:
    settings = ServerSettings(static_dir=tmp_path)
    app = create_app(settings, idle_state(settings))
    routes = {
        (method.upper(), path.removeprefix(access.PREFIX))
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(access.PREFIX) and path not in PUBLIC
        for method in operations
    }
    assert routes == set(access.ROUTES)


@pytest.mark.parametrize(
    ("data", "config"),
    [
        (None, rbac.Config("", "")),
        ({"data": {"policy.csv": "g, a, b\n", "policy.default": " role:readonly \n"}},
         rbac.Config("g, a, b\n", "role:readonly")),
        ({"data": {"policy.csv": 3, "policy.default": ["x"]}}, rbac.Config("", "")),
        ({"data": "nonsense"}, rbac.Config("", "")),
    ],
)  # fmt: skip
def test_config_of(data: Any, config: rbac.Config) -> None:
    assert rbac_source.config_of(data) == config


def _app(name: str, project: str) -> dict[str, Any]:
    return {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"namespace": "apps", "name": name},
        "spec": {"project": project, "source": {"repoURL": "https://git.example/x"}},
    }


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def record(self, obj: dict[str, Any], type_: str, reason: Any, message: str) -> None:
        self.events.append((obj["kind"], message))


async def test_a_bad_configmap_keeps_the_last_good_policy_and_is_reported_once() -> None:
    source = RbacSource(cast(KubeClient, None), "driftless", lambda: [])
    recorder = _Recorder()
    source._events = recorder  # type: ignore[assignment]
    good = {"metadata": {"name": "driftless-rbac"}, "data": {"policy.csv": "g, bob, role:readonly"}}
    bob = rbac.Who("bob", (), "oidc")
    source._take(good)
    assert source.policy().allows(bob, "applications", "get", "a/b")
    bad = {"metadata": {"name": "driftless-rbac"}, "data": {"policy.csv": "g, bob\n"}}
    source._take(bad)
    source._take(bad)
    assert source.policy().allows(bob, "applications", "get", "a/b")
    for task in list(source._pending):
        await task
    assert recorder.events == [
        ("ConfigMap", "the policy was not loaded, the last good one stays: "
                      "policy.csv line 1: a g line has 3 fields: g, <user or group>, <role>: "
                      "'g, bob'"),
    ]  # fmt: skip
    source._take(None)  # deleted: the built-in roles only
    assert not source.policy().allows(bob, "applications", "get", "a/b")


async def test_project_roles_follow_the_projects_and_report_lines_left_out() -> None:
    projects: list[dict[str, Any]] = []
    source = RbacSource(cast(KubeClient, None), "driftless", lambda: projects)
    recorder = _Recorder()
    source._events = recorder  # type: ignore[assignment]
    ci = rbac.Who("proj:team-a:ci", (), "token")
    assert not source.policy().allows(ci, "applications", "sync", "team-a/web")
    projects.append(
        {
            "kind": "Project",
            "metadata": {"name": "team-a", "resourceVersion": "1"},
            "spec": {
                "roles": [
                    {
                        "name": "ci",
                        "policies": [
                            "p, proj:team-a:ci, applications, sync, team-a/*, allow",
                            "p, proj:team-a:ci, applications, sync, team-b/*, allow",
                        ],
                    }
                ]
            },
        }
    )
    assert source.policy().allows(ci, "applications", "sync", "team-a/web")
    assert not source.policy().allows(ci, "applications", "sync", "team-b/web")
    for task in list(source._pending):
        await task
    ((kind, message),) = recorder.events
    assert kind == "Project"
    assert "line 2: names objects outside project team-a" in message


def test_a_stream_client_sees_only_what_it_may() -> None:
    policy, _ = rbac.build(rbac.Config("p, bob, applications, get, team-a/*, allow\n"), [])
    who = rbac.Who("bob", (), "oidc")
    client = stream._Client(AppQuery(), sees=lambda row: access.Access(policy, who).sees_row(row))
    mine, other = app_row(_app("web", "team-a")), app_row(_app("db", "team-b"))
    assert client.offer(None, other, other.key) and client.queue.empty()
    assert client.offer(None, mine, mine.key)
    assert client.queue.get_nowait().name == "app"  # type: ignore[union-attr]
    moved = app_row(_app("web", "team-b"))  # moved to a project bob may not see
    assert client.offer(mine, moved, mine.key)
    assert client.queue.get_nowait().name == "deleted"  # type: ignore[union-attr]
