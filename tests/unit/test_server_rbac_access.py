"""server.access and server.rbac_source: every route has a rule; the ConfigMap's keys; the
stream's filter; a bad ConfigMap keeps the last good policy."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from driftless.kube.client import KubeClient
from driftless.kube.errors import KubeUnavailableError
from driftless.pipeline import tokens as pipeline_tokens
from driftless.server import access, audit, rbac, rbac_source, stream
from driftless.server.app import ServerState, create_app, new_state
from driftless.server.apps_query import AppQuery
from driftless.server.rbac_source import RbacSource
from driftless.server.rows import app_row
from driftless.server.settings import ServerSettings
from driftless.server.tokens import BearerTokens
from tests.fixtures.server_http import idle_planning, idle_state, running

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


# -- authorization never guesses (cold caches, a failed read) --------------------------

NOW = 1_800_000_000


class _WriteRecorder:
    """A client that records every call; ``get`` answers ``found`` (or raises it)."""

    def __init__(self, found: Any = None) -> None:
        self.found = found
        self.calls: list[str] = []
        self.created: list[dict[str, Any]] = []

    def __getattr__(self, method: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(method)
            if method == "create":
                self.created.append(args[0])
            if isinstance(self.found, Exception):
                raise self.found
            return self.found if method == "get" else {"metadata": {}, "spec": {}}

        return call


def _token_app(
    tmp_path: Path, client: _WriteRecorder, project: str = "other", *policies: str
) -> tuple[Any, str, ServerState]:
    """The server app with ``client``, and a valid token (id ``ci``) of role ``ci`` of
    ``project``, whose policies are ``policies``."""
    settings = ServerSettings(static_dir=tmp_path)
    kube = cast(KubeClient, client)
    state = new_state(settings, kube, None, idle_planning(kube))
    table, token, _ = pipeline_tokens.issue(
        pipeline_tokens.TokenTable(), namespace=settings.controller_namespace,
        project=project, role="ci", now=NOW, expires_in=3600, token_id="ci",
    )  # fmt: skip
    projects = [
        {
            "metadata": {"name": project, "resourceVersion": "1"},
            "spec": {"roles": [{"name": "ci", "policies": list(policies)}]},
        }
    ]
    bearer = BearerTokens(
        cast(KubeClient, None), settings.controller_namespace, lambda: projects,
        clock=lambda: NOW + 1,
    )  # fmt: skip
    bearer.update({"data": pipeline_tokens.data_of(table)})
    state.auth.tokens = bearer
    state.rbac = RbacSource(cast(KubeClient, None), settings.controller_namespace, lambda: projects)
    return create_app(settings, state), token, state


async def _sync(server: Any, token: str) -> tuple[int, dict[str, Any]]:
    """POST .../apps/web/sync with the token: (status, body)."""
    async with (
        running(server) as base,
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/api/v1/applications/apps/web/sync",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        return resp.status, await resp.json()


def _stored_app() -> dict[str, Any]:
    app = _app("web", "team-a")
    app["metadata"]["resourceVersion"] = "7"
    return app


async def test_cold_caches_answer_503_and_never_reach_the_write(tmp_path: Path) -> None:
    client = _WriteRecorder(found=_stored_app())
    server, token, state = _token_app(tmp_path, client)
    assert not state.caches.ready
    status, body = await _sync(server, token)
    assert (status, body["error"]["code"]) == (503, "Unavailable")
    assert client.calls == []


async def test_a_failed_read_of_an_uncached_app_is_503_not_a_pass(tmp_path: Path) -> None:
    client = _WriteRecorder(found=KubeUnavailableError(503, "connection refused"))
    server, token, state = _token_app(tmp_path, client)
    # Listed, but the app is not in them yet (just created).
    state.caches._apps.synced = state.caches._projects.synced = True
    status, body = await _sync(server, token)
    assert status == 503
    assert "connection refused" not in body["error"]["message"]
    assert client.calls == ["get"]  # the authorization's read; no write


def _audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == audit.__name__]


async def test_a_write_refused_on_a_hidden_app_is_logged_but_makes_no_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=audit.__name__)
    client = _WriteRecorder(found=_stored_app())
    server, token, state = _token_app(tmp_path, client)  # a token of project "other"
    state.caches._apps.synced = state.caches._projects.synced = True
    status, _ = await _sync(server, token)
    await state.auth.audit.drain()
    assert status == 404
    assert client.calls == ["get"]  # no write, and no Event on an app it may not see
    assert _audit_lines(caplog) == [
        {
            "audit": "write",
            "user": "proj:other:ci",
            "method": "token",
            "action": "sync",
            "app": "apps/web",
            "result": "refused",
            "code": "NotFound",
            "token": "ci",
        }
    ]


async def test_a_write_refused_on_a_visible_app_is_logged_and_an_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=audit.__name__)
    client = _WriteRecorder(found=_stored_app())
    reader = "p, proj:team-a:ci, applications, get, team-a/*, allow"
    server, token, state = _token_app(tmp_path, client, "team-a", reader)
    state.caches._apps.synced = state.caches._projects.synced = True
    status, body = await _sync(server, token)
    await state.auth.audit.drain()
    assert (status, body["error"]["code"]) == (403, "Forbidden")
    assert client.calls == ["get", "create"]  # the authorization's read, then the Event
    (event,) = client.created
    assert (event["kind"], event["reason"]) == ("Event", "RequestRefused")
    assert event["message"] == "proj:team-a:ci (token ci): sync refused (Forbidden)"
    (line,) = _audit_lines(caplog)
    assert (line["result"], line["code"], line["token"]) == ("refused", "Forbidden", "ci")


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("POST", access.APP + "/rollback", "rollback"),
        ("PUT", access.APP, "edit"),
        ("PATCH", access.APP, "edit"),
        ("DELETE", access.APP, "delete"),
    ],
)
def test_the_audit_action_of_a_refused_write(method: str, path: str, action: str) -> None:
    assert access.action_of(method, path) == action


@pytest.mark.parametrize(
    ("namespace", "name", "wanted"),
    [
        ("apps", "web", True),
        ("apps", "web.v2", True),
        ("apps", "x" * 254, False),  # too long: the route answers 422, no read to authorize
        ("n" * 64, "web", False),
        ("apps", "Web", False),
        ("apps", "", False),
    ],
)
def test_only_well_formed_names_are_looked_up(namespace: str, name: str, wanted: bool) -> None:
    assert access.well_formed(namespace, name) is wanted
