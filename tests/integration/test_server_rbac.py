"""RBAC over HTTP on the real cluster: every API route x every kind of caller.

The callers log in the real ways: the local ``admin`` with its password;
alice (group ``team-a``), bob (``team-b``) and carol (no group) through the
real OpenID Connect provider's login page (``tests.fixtures.oidc_provider``);
project API tokens issued into the server's token Secret as ``driftless
project token create`` does (valid, revoked, expired). The policy: carol is
``role:readonly`` by ConfigMap ``driftless-rbac``; each team's role is declared
on its Project (``spec.roles``, granted to its group), and team-a's ``ci``
role (the tokens') may get and sync team-a's apps, nothing else.

Checked: allowed routes answer (never 401/403 or the missing-app 404); a
hidden app is 404 with exactly a missing app's body; a visible app's refused
action is 403 naming the action; lists, totals, counts and the stream omit
what is hidden; a policy line that does not parse keeps the last good policy
and leaves a ``PolicyInvalid`` Event on the ConfigMap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.kube.client import KubeClient
from driftless.pipeline import token_store, tokens
from driftless.server.rbac_source import CONFIGMAP
from tests.fixtures.oidc_provider import OidcProvider, provider, sso_settings
from tests.integration.helpers import APPS_NAMESPACE, unique
from tests.integration.server_inprocess import Served, serving
from tests.integration.test_server_oidc import _log_in

pytestmark = pytest.mark.integration
__all__ = ["provider"]  # the fixture, imported

NS = APPS_NAMESPACE
DEADLINE = 30.0
MISSING = "application {ns}/{name} not found"


def _project(name: str, roles: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "roles": roles,
        },
    }


def _team_role(project: str) -> dict[str, Any]:
    return {
        "name": "dev",
        "policies": [
            f"p, proj:{project}:dev, applications, *, {project}/*, allow",
            f"p, proj:{project}:dev, events, get, {project}/*, allow",
            f"p, proj:{project}:dev, projects, get, {project}, allow",
        ],
        "groups": [project],
    }


def _app(name: str, project: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "project": project,
            # A local path: the server never reads it, so a diff is a quick 422.
            "source": {"repoURL": "/nonexistent/repo", "path": ".", "targetRevision": "main"},
            "destination": {"namespace": name},
        },
    }


@dataclass
class Caller:
    name: str
    http: aiohttp.ClientSession
    headers: dict[str, str]

    async def call(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, url, json=body, headers=self.headers) as resp:
            if resp.content_type == "text/event-stream":
                return resp.status, None  # a stream that opened: enough
            return resp.status, await resp.json(content_type=None)


def _routes(base: str, name: str) -> list[tuple[str, str, str, Any]]:
    """(label, method, url, body) of every route naming app ``name``; writes are dry runs or
    harmless (sync dry run, refresh, terminate of nothing, rollback of a missing entry); a
    permitted delete is left to the caller."""
    app = f"{base}/api/v1/applications/{NS}/{name}"
    return [
        ("get", "GET", app, None),
        ("history", "GET", f"{app}/history", None),
        ("tree", "GET", f"{app}/tree", None),
        ("resource", "GET", f"{app}/resource?version=v1&kind=ConfigMap&namespace=x&name=y", None),
        ("events", "GET", f"{app}/events", None),
        ("diff", "GET", f"{app}/diff", None),
        ("manifests", "GET", f"{app}/manifests", None),
        ("app-stream", "GET", f"{app}/stream", None),
        ("sync", "POST", f"{app}/sync", {"dryRun": True}),
        ("refresh", "POST", f"{app}/refresh", None),
        ("terminate", "POST", f"{app}/terminate", None),
        ("rollback", "POST", f"{app}/rollback", {"id": 99}),
        ("put", "PUT", f"{app}?dryRun=true", {"metadata": {}, "spec": {}}),
        ("patch", "PATCH", f"{app}?dryRun=true", {"metadata": {}, "spec": {"interval": "5m"}}),
        ("delete", "DELETE", app, None),
    ]


READS = {"get", "history", "tree", "resource", "diff", "manifests"}
WRITES = {"sync", "refresh", "terminate", "rollback", "put", "patch", "delete"}
NEEDS = {  # the action a 403 names
    "sync": "sync", "refresh": "sync", "terminate": "sync", "rollback": "sync",
    "put": "update", "patch": "update", "delete": "delete", "events": "get", "app-stream": "get",
}  # fmt: skip


async def _check(caller: Caller, base: str, name: str, allowed: set[str], hidden: bool) -> None:
    """Every app route as ``caller``: ``hidden`` (all 404 as missing), else ``allowed`` routes
    answer and the others are 403 naming their action."""
    missing = MISSING.format(ns=NS, name=name)
    for label, method, url, body in _routes(base, name):
        if label == "delete" and label in allowed:
            continue  # a real delete: done last, by the test
        status, answer = await caller.call(method, url, body)
        where = f"{caller.name} {label} {name}: {status} {answer}"
        message = (answer or {}).get("error", {}).get("message", "") if answer else ""
        if hidden:
            assert (status, message) == (404, missing), where
        elif label in allowed:
            assert status not in (401, 403) and message != missing, where
        else:
            assert status == 403, where
            assert message.startswith(f"not permitted: {NEEDS[label]} "), where
            assert "proj:" not in message and "role:" not in message, where  # not the policy


async def _names(caller: Caller, base: str) -> tuple[set[str], int, int]:
    status, body = await caller.call("GET", f"{base}/api/v1/applications?limit=1000")
    assert status == 200, (caller.name, body)
    return (
        {i["name"] for i in body["items"]},
        body["total"],
        sum(body["counts"]["sync"].values()),
    )


async def _listed(caller: Caller, url: str, key: str) -> set[str]:
    status, body = await caller.call("GET", url)
    assert status == 200, (caller.name, url, body)
    return {item[key] for item in body["items"]}


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


@asynccontextmanager
async def _oidc_caller(served: Served, provider: OidcProvider, user: str) -> AsyncIterator[Caller]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert await _log_in(http, served.url, provider, user) == 303
        yield Caller(user, http, {})


async def _token(kube: KubeClient, project: str, role: str, **issue: Any) -> tuple[str, str]:
    def change(table: tokens.TokenTable) -> tuple[tokens.TokenTable, tuple[str, str]]:
        table, token, record = tokens.issue(
            table,
            namespace=NS,
            project=project,
            role=role,
            now=issue.pop("now", int(time.time())),
            expires_in=issue.pop("expires_in", None),
            token_id=None,
        )
        return table, (token, record.id)

    result: tuple[str, str] = await token_store.TokenStore(kube, NS).update(change)
    return result


async def test_every_route_for_every_caller(kube: KubeClient, provider: OidcProvider) -> None:
    team_a, team_b = unique("team-a"), unique("team-b")
    # The provider's groups are team-a and team-b: the Projects' roles grant those groups.
    roles_a = [
        {**_team_role(team_a), "groups": ["team-a"]},
        {
            "name": "ci",
            "policies": [
                f"p, proj:{team_a}:ci, applications, get, {team_a}/*, allow",
                f"p, proj:{team_a}:ci, applications, sync, {team_a}/*, allow",
            ],
        },
    ]
    roles_b = [{**_team_role(team_b), "groups": ["team-b"]}]
    a1, b1, a_del = unique("rbac-a"), unique("rbac-b"), unique("rbac-a-del")
    for obj in (_project(team_a, roles_a), _project(team_b, roles_b)):
        await kube.apply(obj, field_manager="test")
    policy = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP, "namespace": NS},
    }
    good = {"policy.csv": "g, carol@example.test, role:readonly\n", "policy.default": ""}
    await kube.apply({**policy, "data": good}, field_manager="test")
    for name, project in ((a1, team_a), (b1, team_b), (a_del, team_a)):
        await kube.apply(_app(name, project), field_manager="test")
    token, _ = await _token(kube, team_a, "ci")
    revoked, revoked_id = await _token(kube, team_a, "ci")
    expired, _ = await _token(kube, team_a, "ci", now=int(time.time()) - 3600, expires_in=60)
    try:
        async with (
            serving(kube, oidc=sso_settings(provider)) as served,
            await served.login() as admin_http,
            aiohttp.ClientSession() as bare,
            _oidc_caller(served, provider, "alice") as member,
            _oidc_caller(served, provider, "bob") as other,
            _oidc_caller(served, provider, "carol") as readonly,
        ):
            base = served.url
            admin = Caller("admin", admin_http, {})
            anonymous = Caller("anonymous", bare, {})
            pipeline = Caller("token", bare, {"Authorization": f"Bearer {token}"})
            late = Caller("expired token", bare, {"Authorization": f"Bearer {expired}"})
            gone = Caller("revoked token", bare, {"Authorization": f"Bearer {revoked}"})

            async def policy_loaded() -> bool:
                return b1 in (await _names(readonly, base))[0]

            await _until(policy_loaded, "the server never applied the ConfigMap's policy")

            def revoke(table: tokens.TokenTable) -> tuple[tokens.TokenTable, None]:
                return tokens.revoke(table, revoked_id), None

            await token_store.TokenStore(kube, NS).update(revoke)

            async def refused() -> bool:
                return (await gone.call("GET", f"{base}/api/v1/applications"))[0] == 401

            await _until(refused, "a revoked token was still accepted")

            every = {label for label, *_ in _routes(base, a1)}
            # Not logged in (or a dead token): 401 everywhere, lists included.
            for caller in (anonymous, late, gone):
                for _, method, url, body in [
                    *_routes(base, a1),
                    ("list", "GET", f"{base}/api/v1/applications", None),
                    ("projects", "GET", f"{base}/api/v1/projects", None),
                    ("create", "POST", f"{base}/api/v1/applications?dryRun=true", {}),
                ]:
                    assert (await caller.call(method, url, body))[0] == 401, (caller.name, url)

            await _check(admin, base, a1, every, hidden=False)
            await _check(member, base, a1, every, hidden=False)
            await _check(other, base, a1, set(), hidden=True)
            await _check(readonly, base, a1, READS | {"events", "app-stream"}, hidden=False)
            await _check(pipeline, base, a1, READS | WRITES - {"put", "patch", "delete"}, False)
            await _check(member, base, b1, set(), hidden=True)
            await _check(pipeline, base, b1, set(), hidden=True)
            await _check(other, base, b1, every, hidden=False)
            # A missing app reads the same to everyone.
            status, body = await member.call("GET", f"{base}/api/v1/applications/{NS}/nope")
            assert (status, body["error"]["message"]) == (404, MISSING.format(ns=NS, name="nope"))

            # Lists omit what is hidden: items, total and counts.
            assert await _names(member, base) == ({a1, a_del}, 2, 2)
            assert await _names(pipeline, base) == ({a1, a_del}, 2, 2)
            assert await _names(other, base) == ({b1}, 1, 1)
            for caller in (admin, readonly):
                assert {a1, b1, a_del} <= (await _names(caller, base))[0]
            projects = f"{base}/api/v1/projects"
            shown = {
                p["metadata"]["name"] for p in (await member.call("GET", projects))[1]["items"]
            }
            assert shown == {team_a}
            shown = {
                p["metadata"]["name"] for p in (await readonly.call("GET", projects))[1]["items"]
            }
            assert {team_a, team_b} <= shown
            assert (await pipeline.call("GET", projects))[1]["items"] == []
            clusters = f"{base}/api/v1/clusters"
            assert await _listed(member, clusters, "name") == set()
            assert "in-cluster" in await _listed(readonly, clusters, "name")
            assert "in-cluster" in await _listed(admin, clusters, "name")
            assert await _listed(member, f"{base}/api/v1/repositories", "url") == set()

            # Create needs create in the target project; an edit moving an app needs update
            # in the project it goes to as well.
            def new(project: str) -> dict[str, Any]:
                return {
                    "metadata": {"name": unique("rbac-new"), "namespace": NS},
                    "spec": {
                        "project": project,
                        "source": {"repoURL": "https://git.example.test/x.git", "path": "."},
                        "destination": {"namespace": "x"},
                    },
                }

            create = f"{base}/api/v1/applications?dryRun=true"
            for caller, project, expected in [
                (member, team_a, 200), (admin, team_b, 200), (member, team_b, 403),
                (other, team_a, 403), (readonly, team_a, 403), (pipeline, team_a, 403),
            ]:  # fmt: skip
                status, body = await caller.call("POST", create, new(project))
                assert status == expected, (caller.name, project, body)
                if status == 403:
                    assert body["error"]["message"].startswith("not permitted: create ")
            move = {"metadata": {}, "spec": {"project": team_b}}
            status, body = await member.call(
                "PATCH", f"{base}/api/v1/applications/{NS}/{a1}?dryRun=true", move
            )
            assert status == 403 and f"in project {team_b}" in body["error"]["message"], body

            # The list's stream carries only apps the caller may see.
            async with member.http.get(f"{base}/api/v1/stream") as stream:
                assert stream.status == 200
                for name in (b1, a1):
                    patch = {"metadata": {"labels": {"touched": "yes"}}}
                    await kube.merge_patch(API_VERSION, APPLICATION_KIND, name, patch, namespace=NS)
                seen: list[str] = []
                while a1 not in seen:
                    line = await asyncio.wait_for(stream.content.readline(), DEADLINE)
                    if line.startswith(b"data: ") and b'"name"' in line:
                        seen.append(line.decode().split('"name":"')[1].split('"')[0])
                assert b1 not in seen, seen

            # Deletes, for real: the others first (hidden / refused), then the member's.
            await _check(other, base, a_del, set(), hidden=True)
            await _check(readonly, base, a_del, READS | {"events", "app-stream"}, False)
            status, _ = await member.call("DELETE", f"{base}/api/v1/applications/{NS}/{a_del}")
            assert status == 202

            # A policy line that does not parse: the last good policy stays, an Event says why.
            bad = {**good, "policy.csv": good["policy.csv"] + "p, nobody, applications\n"}
            await kube.apply({**policy, "data": bad}, field_manager="test")

            async def reported() -> bool:
                events = await kube.list("v1", "Event", NS)
                return any(
                    e.get("reason") == "PolicyInvalid"
                    and e.get("involvedObject", {}).get("name") == CONFIGMAP
                    and "line 2" in e.get("message", "")
                    for e in events
                )

            await _until(reported, "no PolicyInvalid Event on the ConfigMap")
            assert b1 in (await _names(readonly, base))[0]  # the last good policy
    finally:
        await kube.delete("v1", "ConfigMap", CONFIGMAP, NS)
        for project in (team_a, team_b):
            await kube.delete(API_VERSION, PROJECT_KIND, project, NS)
