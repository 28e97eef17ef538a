"""Project API tokens end to end: issued by the real CLI, used over HTTP against the server on the
dev cluster, revoked, expired, their role deleted, the signing key rotated; the audit trail's
Events read back as ``kubectl get events`` would."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.pipeline import tokens
from driftless.server import audit
from tests.fixtures.oidc_provider import OidcProvider, provider, sso_settings
from tests.integration.cli_driver import invoke
from tests.integration.helpers import APPS_NAMESPACE, unique
from tests.integration.server_inprocess import Served, serving
from tests.integration.test_server_oidc import _log_in

pytestmark = pytest.mark.integration
__all__ = ["provider"]  # the fixture, imported

DEADLINE = 30.0  # generous: a watch event arrives in well under a second when idle
JSON = dict[str, Any]


async def _eventually(what: str, check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until ``check()`` holds; fails after ``DEADLINE``."""
    start = time.monotonic()
    while time.monotonic() - start < DEADLINE:
        if await check():
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE} s: {what}")


async def _whoami(served: Served, token: str) -> tuple[int, JSON]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{served.url}/api/v1/session", headers=headers) as resp,
    ):
        return resp.status, await resp.json()


def _accepted(served: Served, token: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await _whoami(served, token))[0] == 200

    return check


def _refused(served: Served, token: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        status, body = await _whoami(served, token)
        if status == 401:
            assert body["error"]["message"] == "invalid or expired API token"
        return status == 401

    return check


async def _project(kube: KubeClient, name: str, roles: list[str]) -> None:
    spec = {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
        "roles": [
            {"name": role, "policies": [f"p, proj:{name}:{role}, applications, *, {name}/*, allow"]}
            for role in roles
        ],
    }
    body = {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": name, "namespace": APPS_NAMESPACE},
        "spec": spec,
    }
    await kube.apply(body, field_manager="test")


async def _create_token(devcluster: DevCluster, *args: str) -> str:
    result = await invoke(devcluster.kubeconfig, "project", "token", "create", *args)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.count(".") == 2, result.output
    return token


async def _cli(devcluster: DevCluster, *args: str) -> str:
    result = await invoke(devcluster.kubeconfig, "project", "token", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


async def _events(kube: KubeClient, namespace: str, name: str) -> list[JSON]:
    """``kubectl get events -n NS --field-selector involvedObject.name=NAME``."""
    found = await kube.list("v1", "Event", namespace)
    return [e for e in found if e["involvedObject"].get("name") == name]


async def test_a_pipeline_token_from_the_cli_authenticates_writes_and_is_audited(
    kube: KubeClient, devcluster: DevCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    project = unique("tok")
    await _project(kube, project, ["ci"])
    app = unique("tok-app")
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": APPLICATION_KIND,
            "metadata": {"name": app, "namespace": APPS_NAMESPACE},
            "spec": {
                "project": project,
                "source": {"repoURL": "https://git.example/none.git", "path": "."},
                "destination": {"namespace": app},
            },
        },
        field_manager="test",
    )
    other = unique("tok-other")
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": APPLICATION_KIND,
            "metadata": {"name": other, "namespace": APPS_NAMESPACE},
            "spec": {
                "source": {"repoURL": "https://git.example/none.git", "path": "."},
                "destination": {"namespace": other},
            },
        },
        field_manager="test",
    )
    async with serving(kube) as served:
        token = await _create_token(
            devcluster, project, "ci", "--expires-in", "30d", "--id", f"{project}-ci"
        )
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert claims["sub"] == f"proj:{project}:ci" and claims["aud"] == "driftless"
        assert claims["iss"] == tokens.issuer(APPS_NAMESPACE)
        assert claims["exp"] - claims["iat"] == 30 * 86400

        await _eventually("the new token accepted", _accepted(served, token))
        status, body = await _whoami(served, token)
        assert (status, body["user"], body["groups"], body["method"]) == (
            200,
            f"proj:{project}:ci",
            [],
            "token",
        )

        # A write with the token: no cookie, so no CSRF header needed; audited as the token.
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{served.url}/api/v1/applications/{APPS_NAMESPACE}/{app}/refresh", headers=headers
            ) as resp,
        ):
            assert resp.status == 202, await resp.text()

        stored = await kube.get(API_VERSION, APPLICATION_KIND, app, APPS_NAMESPACE)
        assert stored is not None

        async def audited() -> bool:
            return any(
                e["reason"] == "Requested"
                and e["message"] == f"proj:{project}:ci (token {project}-ci): refresh accepted"
                and e["involvedObject"]["kind"] == APPLICATION_KIND
                and e["involvedObject"]["uid"] == stored["metadata"]["uid"]
                for e in await _events(kube, APPS_NAMESPACE, app)
            )

        await _eventually("the write's Event on the Application", audited)

        # RBAC: the token is its project role and nothing else.
        async with aiohttp.ClientSession(headers=headers) as http:

            async def listed_alone() -> bool:
                async with http.get(f"{served.url}/api/v1/applications?limit=1000") as resp:
                    assert resp.status == 200, await resp.text()
                    items = (await resp.json())["items"]
                assert {i["project"] for i in items} <= {project}, items
                return [i["name"] for i in items] == [app]

            await _eventually("the list holding only the project's app", listed_alone)
            # Another project's app is hidden exactly like a missing one.
            async with http.post(
                f"{served.url}/api/v1/applications/{APPS_NAMESPACE}/{other}/refresh"
            ) as resp:
                assert resp.status == 404, await resp.text()
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith(".audit")]
        assert {
            "audit": "write",
            "user": f"proj:{project}:ci",
            "method": "token",
            "action": "refresh",
            "app": f"{APPS_NAMESPACE}/{app}",
            "result": "accepted",
            "token": f"{project}-ci",
        } in lines
        # The hidden app's refusal: the log line only (no Event on what it may not see).
        assert {
            "audit": "write",
            "user": f"proj:{project}:ci",
            "method": "token",
            "action": "refresh",
            "app": f"{APPS_NAMESPACE}/{other}",
            "result": "refused",
            "code": "NotFound",
            "token": f"{project}-ci",
        } in lines

        # The records: listed, never the token.
        listed = json.loads(await _cli(devcluster, "list", project, "-o", "json"))
        assert [(t["id"], t["role"], t["state"]) for t in listed] == [
            (f"{project}-ci", "ci", "active")
        ]
        secret = await kube.get("v1", "Secret", "driftless-api-tokens", APPS_NAMESPACE)
        assert secret is not None
        assert token.split(".")[2] not in base64.b64decode(secret["data"]["tokens.json"]).decode()

        # Revoked: refused within a watch event.
        await _cli(devcluster, "revoke", f"{project}-ci")
        took = await _eventually("the revoked token refused", _refused(served, token))
        assert took < 10, f"revocation took {took:.1f} s"
        listed = json.loads(await _cli(devcluster, "list", project, "-o", "json"))
        assert listed[0]["state"] == "revoked"

        # Hostile: alg=none, a garbage token, a huge header; 401 (or the HTTP server's own 4xx).
        none = ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in ({"alg": "none", "typ": "JWT"}, claims)
        )
        for bad in (none + ".", "x.y.z", "A" * 8_000):
            status, _ = await _whoami(served, bad)
            assert status == 401, bad[:20]
        # Past the HTTP server's own bound on a request's head (h11: 16 KiB): refused (400)
        # before the application sees it.
        headers = {"Authorization": "Bearer " + "A" * 1_000_000}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{served.url}/api/v1/session", headers=headers) as resp,
        ):
            assert resp.status == 400
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token.split(".")[2] not in record.getMessage()
    assert any("API token refused: revoked" in r.getMessage() for r in caplog.records)


async def test_expired_role_deleted_and_rotated_tokens_are_refused(
    kube: KubeClient, devcluster: DevCluster
) -> None:
    project = unique("tokr")
    await _project(kube, project, ["ci", "deploy"])
    async with serving(kube) as served:
        short = await _create_token(devcluster, project, "ci", "--expires-in", "5s")
        await _eventually("the short-lived token accepted", _accepted(served, short))
        deploy = await _create_token(devcluster, project, "deploy")
        await _eventually("the deploy token accepted", _accepted(served, deploy))
        # Expired: refused once exp (+ the few seconds of leeway) passed, without any write.
        await _eventually("the expired token refused", _refused(served, short))

        # A role removed from the Project ends its tokens.
        await _project(kube, project, ["ci"])
        await _eventually("the deleted role's token refused", _refused(served, deploy))

        # Rotation with a grace: earlier tokens still work, new ones are signed by the new key.
        before = await _create_token(devcluster, project, "ci")
        await _eventually("the token before the rotation accepted", _accepted(served, before))
        said = await _cli(devcluster, "rotate-key", "--grace", "1h")
        assert "stay valid for 3600 s" in said
        after = await _create_token(devcluster, project, "ci")
        await _eventually("the token after the rotation accepted", _accepted(served, after))
        assert (await _whoami(served, before))[0] == 200

        # Rotation without grace: every earlier token is refused at once.
        await _cli(devcluster, "rotate-key", "--grace", "0")
        for earlier in (before, after):
            await _eventually("a token of a dropped key refused", _refused(served, earlier))
        fresh = await _create_token(devcluster, project, "ci")
        await _eventually("a token of the newest key accepted", _accepted(served, fresh))

        # A role the Project lacks is refused by the CLI itself.
        result = await invoke(devcluster.kubeconfig, "project", "token", "create", project, "x")
        assert result.exit_code != 0 and 'has no role "x"' in result.output


async def test_logins_leave_events_an_admin_finds(kube: KubeClient) -> None:
    async with serving(kube) as served:
        url = f"{served.url}/api/v1/session"
        wrong = {"username": "admin", "password": "not-the-password-" + unique("x")}
        async with aiohttp.ClientSession() as http, http.post(url, json=wrong) as resp:
            assert resp.status == 401
        http = await served.login()
        await http.close()
        address = "127.0.0.1"

        async def recorded() -> bool:
            found = await _events(kube, APPS_NAMESPACE, "driftless-sessions")
            said = {(e["reason"], e["message"]) for e in found}
            failed = ("LoginFailed", f"a user (local) from {address}: wrong username or password")
            return ("LoggedIn", f"admin (local) from {address}") in said and failed in said

        await _eventually("the login Events on Secret driftless-sessions", recorded)
        for event in await _events(kube, APPS_NAMESPACE, "driftless-sessions"):
            assert wrong["password"] not in json.dumps(event)


async def test_single_sign_on_logins_are_audited_too(
    kube: KubeClient, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(kube, oidc=sso_settings(provider)) as served:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            # An answer with no login state behind it: anyone can send one, so it is
            # logged, never made an Event (``audit.LOG_ONLY``).
            callback = f"{served.url}/api/v1/auth/oidc/callback?code=forged&state=forged"
            async with http.get(callback, allow_redirects=False) as resp:
                assert resp.status == 401
            assert await _log_in(http, served.url, provider, "alice") == 303

        said: list[tuple[str, str]] = []

        async def recorded() -> bool:
            found = await _events(kube, APPS_NAMESPACE, "driftless-sessions")
            said[:] = [(e["reason"], e["message"]) for e in found]
            return ("LoggedIn", "alice@example.test (oidc) from 127.0.0.1") in said

        await _eventually("the single sign-on login Event", recorded)
        assert not [m for r, m in said if r == "LoginFailed" and m.startswith("a user (oidc)")]
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith(".audit")]
        (failed,) = [line for line in lines if line.get("result") == "failure"]
        assert (failed["audit"], failed["method"], failed["address"]) == (
            "login",
            "oidc",
            "127.0.0.1",
        )
        assert failed["reason"] in audit.LOG_ONLY
