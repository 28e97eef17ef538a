"""Git webhooks end to end: a real ``git push`` to a loopback forge that calls the webhook.

The forge (``tests.fixtures.forge``) serves bare repositories over smart HTTP
(``git http-backend``) and, from each repository's post-receive hook, POSTs
the push webhook exactly as GitHub, GitLab, Gitea or Bitbucket (Cloud,
Server) document it, signed with the hook's secret; ``git push`` returns once
every delivery was answered. The receivers are the real ones: the
controller's ``--webhook-address`` listener (``controller.webhooks``, on the
session's controller) and ``driftless server``'s route (run in-process).

Every app here polls hourly, so an app that moves within seconds was moved
by the webhook; an app that should not be refreshed is pushed to as well
(without a hook) and must stay at its old commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from driftless.controller.manager import Controller
from driftless.controller.webhooks import WebhookListener, serve_webhooks
from driftless.core.wellknown import REFRESH_ANNOTATION
from driftless.kube.client import KubeClient
from driftless.webhooks.secrets import SECRET_NAME
from tests.fixtures.forge import Forge
from tests.fixtures.gitea import Gitea
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    create_app,
    get_app,
    unique,
    wait_for,
)
from tests.integration.server_inprocess import serving

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]

# One secret per provider, as an administrator configures them; no "generic" key.
SECRETS = {
    "github": "gh-hook-secret",
    "gitlab": "gl-hook-token",
    "gitea": "gt-hook-secret",
    "bitbucket": "bb-hook-secret",
    "bitbucket-server": "bbs-hook-secret",
}
# Long enough for a pass of an app that was (wrongly) refreshed to show.
QUIET_SECONDS = 3.0
SETTLE_SECONDS = 2.0
# "Within seconds": far below the apps' hourly poll, with room for a loaded machine.
FOLLOW_SECONDS = 30.0


def configmap(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  value: {value!r}\n"


def synced_at(revision: str) -> Callable[[JSON], bool]:
    def check(app: JSON) -> bool:
        sync = (app.get("status") or {}).get("sync") or {}
        return bool(sync.get("status") == "Synced" and sync.get("revision") == revision)

    return check


class Work:
    """A working copy of a forge repository; pushes run as subprocesses (the loop stays free)."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url
        self.count = 0

    async def git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "tests",
            "GIT_AUTHOR_EMAIL": "tests@driftless.invalid",
            "GIT_COMMITTER_NAME": "tests",
            "GIT_COMMITTER_EMAIL": "tests@driftless.invalid",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=self.path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, f"git {args[0]}: {err.decode()}"
        return out.decode().strip()

    @classmethod
    async def create(cls, root: Path, url: str) -> Work:
        root.mkdir(parents=True)
        work = cls(root, url)
        await work.git("init", "--quiet", "--initial-branch=main")
        await work.git("remote", "add", "origin", url)
        return work

    async def commit(self, value: str, branch: str = "main") -> str:
        await self.git("checkout", "--quiet", "-B", branch)
        (self.path / "cm.yaml").write_text(configmap(value))
        self.count += 1
        await self.git("add", "cm.yaml")
        await self.git("commit", "--quiet", "-m", f"change {self.count}: {value}")
        return await self.git("rev-parse", "HEAD")

    async def push(self, branch: str = "main") -> None:
        await self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")


@pytest_asyncio.fixture(loop_scope="session")
async def webhook_secret(kube: KubeClient) -> AsyncIterator[None]:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": APPS_NAMESPACE},
        "type": "Opaque",
        "stringData": SECRETS,
    }
    await kube.apply(secret, field_manager="test")
    yield
    await kube.delete("v1", "Secret", SECRET_NAME, APPS_NAMESPACE)


@pytest_asyncio.fixture(loop_scope="session")
async def listener(controller: Controller, webhook_secret: None) -> AsyncIterator[str]:
    """The controller's ``--webhook-address 127.0.0.1:0`` listener; its base URL."""
    served: WebhookListener = serve_webhooks(controller, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{served.port}"
    finally:
        await served.stop()


async def an_app_on(
    kube: KubeClient, forge: Forge, tmp_path: Path, repo: str, *, revision: str = "main"
) -> tuple[str, Work, str]:
    """A repository ``repo`` on the forge with one commit, and an app following it (synced)."""
    url = forge.create_repo(repo)
    work = await Work.create(tmp_path / repo.replace("/", "_"), url)
    first = await work.commit("one", revision)
    await work.push(revision)
    name = unique("hook")
    await create_app(kube, application(name, url, revision=revision, interval="1h"))
    await wait_for(kube, name, synced_at(first), what="the first commit synced")
    # The passes the sync's own writes cause (live changes) go by before anything is pushed.
    await asyncio.sleep(SETTLE_SECONDS)
    return name, work, first


async def follows_quickly(kube: KubeClient, name: str, revision: str, since: float) -> None:
    await wait_for(kube, name, synced_at(revision), what="the pushed commit synced")
    took = time.monotonic() - since
    assert took < FOLLOW_SECONDS, f"{name} followed the push after {took:.1f}s"


async def stays_at(kube: KubeClient, name: str, revision: str) -> None:
    await asyncio.sleep(QUIET_SECONDS)
    app = await get_app(kube, name)
    assert synced_at(revision)(app), f"{name} was refreshed: {app.get('status')}"


def answers(forge: Forge, flavour: str) -> list[tuple[int | None, Any]]:
    found = []
    for delivery in forge.deliveries:
        if delivery.hook.flavour == flavour:
            body = json.loads(delivery.response) if delivery.response else delivery.error
            found.append((delivery.status, body))
    return found


# -- the controller's listener ------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["github", "gitlab", "gitea", "bitbucket", "bitbucket-server"])
async def test_controller_listener_a_push_moves_only_the_apps_following_it(
    kube: KubeClient, forge: Forge, listener: str, tmp_path: Path, flavour: str
) -> None:
    app, work, _ = await an_app_on(kube, forge, tmp_path, "team/app")
    # Same repository, another branch; and another repository on the same branch.
    dev, dev_work, dev_first = await an_app_on(kube, forge, tmp_path, "team/dev", revision="dev")
    other, other_work, other_first = await an_app_on(kube, forge, tmp_path, "team/other")
    await dev_work.commit("dev two", "dev")
    await dev_work.push("dev")  # no hook yet: only a poll (in an hour) would see these
    await other_work.commit("other two")
    await other_work.push()

    forge.add_hook(
        flavour, f"{listener}/api/v1/webhooks/{flavour}", SECRETS[flavour], repo="team/app"
    )
    second = await work.commit("two")
    pushed = time.monotonic()
    await work.push()
    assert answers(forge, flavour) == [(202, {"status": "accepted"})]
    await follows_quickly(kube, app, second, pushed)
    await stays_at(kube, dev, dev_first)
    await stays_at(kube, other, other_first)


async def test_controller_listener_refuses_bad_signatures_and_big_bodies(
    kube: KubeClient, forge: Forge, listener: str, tmp_path: Path
) -> None:
    app, work, first = await an_app_on(kube, forge, tmp_path, "team/app")
    forge.add_hook("github", f"{listener}/api/v1/webhooks/github", "not the secret")
    forge.add_hook("gitlab", f"{listener}/api/v1/webhooks/gitlab", None)  # no token sent
    await work.commit("two")
    await work.push()
    (github,) = answers(forge, "github")
    assert github[0] == 401 and "does not match" in github[1]["error"]["message"]
    (gitlab,) = answers(forge, "gitlab")
    assert gitlab[0] == 401 and "X-Gitlab-Token" in gitlab[1]["error"]["message"]
    async with httpx.AsyncClient(base_url=listener) as http:
        huge = b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'  # over the default 4 MiB
        resp = await http.post("/api/v1/webhooks/github", content=huge)
        assert resp.status_code == 413
        resp = await http.post("/api/v1/webhooks/generic", content=b"{}")
        assert resp.status_code == 403
        assert resp.json()["error"]["message"] == "no secret configured for generic"
        resp = await http.post("/api/v1/webhooks/svn", content=b"{}")
        assert resp.status_code == 404
        resp = await http.get("/api/v1/apps")  # nothing but the webhooks here
        assert resp.status_code == 404
    await stays_at(kube, app, first)


@pytest.mark.parametrize("refs", ["listed", "refLimitExceeded"])
async def test_a_bitbucket_server_5_payload_without_links_refreshes_by_key_and_slug(
    kube: KubeClient, forge: Forge, listener: str, tmp_path: Path, refs: str
) -> None:
    """Bitbucket Server 5.x names the repository by project key and slug only; the app
    wrote ``.../team/app.git``, whose path ends with ``TEAM/app`` (another case)."""
    app, work, _ = await an_app_on(kube, forge, tmp_path, "team/app")
    other, other_work, other_first = await an_app_on(kube, forge, tmp_path, "team/other")
    second = await work.commit("two")
    await work.push()  # no hook: only the payload below tells
    await other_work.commit("other two")
    await other_work.push()
    payload: JSON = {
        "eventKey": "repo:refs_changed",
        "repository": {"slug": "app", "name": "app", "project": {"key": "TEAM"}},
    }
    if refs == "listed":
        payload["changes"] = [{"refId": "refs/heads/main", "toHash": second, "type": "UPDATE"}]
    else:
        payload["refLimitExceeded"] = True
    raw = json.dumps(payload).encode()
    mac = hmac.new(SECRETS["bitbucket-server"].encode(), raw, hashlib.sha256).hexdigest()
    headers = {"X-Event-Key": "repo:refs_changed", "X-Hub-Signature": f"sha256={mac}"}
    pushed = time.monotonic()
    async with httpx.AsyncClient(base_url=listener) as http:
        resp = await http.post("/api/v1/webhooks/bitbucket-server", content=raw, headers=headers)
    assert (resp.status_code, resp.json()) == (202, {"status": "accepted"})
    await follows_quickly(kube, app, second, pushed)
    await stays_at(kube, other, other_first)


async def test_controller_listener_answers_a_ping(
    forge: Forge, listener: str, webhook_secret: None
) -> None:
    forge.create_repo("team/app")
    hook = forge.add_hook("github", f"{listener}/api/v1/webhooks/github", SECRETS["github"])
    delivery = await asyncio.to_thread(forge.ping, hook, "team/app")  # the loop serves it
    assert (delivery.status, json.loads(delivery.response)) == (200, {"ping": "ok"})


async def test_twenty_pushes_at_once_coalesce(
    kube: KubeClient, forge: Forge, listener: str, controller: Controller, tmp_path: Path
) -> None:
    """A release script pushes 20 tags at once; the app follows ``~1.0`` (the highest)."""
    url = forge.create_repo("team/app")
    work = await Work.create(tmp_path / "work", url)
    await work.commit("v1.0.0")
    await work.git("tag", "v1.0.0")
    await work.push()
    await work.git("push", "--quiet", "origin", "refs/tags/v1.0.0")
    app = unique("hook")
    await create_app(kube, application(app, url, revision="~1.0", interval="1h"))
    await wait_for(kube, app, synced_at(await work.git("rev-parse", "v1.0.0")), what="v1.0.0")
    forge.add_hook("github", f"{listener}/api/v1/webhooks/github", SECRETS["github"])
    tags = [f"v1.0.{n}" for n in range(1, 21)]
    for tag in tags:
        await work.commit(tag)
        await work.git("tag", tag)
    last = await work.git("rev-parse", tags[-1])
    git = controller.reconciler.git
    fetches, asked = git.stats.fetches, git.stats.ls_remotes
    await asyncio.gather(*(work.git("push", "--quiet", "origin", f"refs/tags/{t}") for t in tags))
    assert [answer for answer in answers(forge, "github")] == [(202, {"status": "accepted"})] * 20
    await wait_for(kube, app, synced_at(last), what="the highest tag synced")
    fetched, listed = git.stats.fetches - fetches, git.stats.ls_remotes - asked
    assert 1 <= fetched <= 5, f"20 pushes made {fetched} fetches"
    assert listed <= 8, f"20 pushes made {listed} ls-remotes"


async def test_a_real_gitea_push_reaches_the_controller_listener(
    kube: KubeClient, gitea: Gitea, listener: str, tmp_path: Path
) -> None:
    """Gitea itself (its webhook queue, headers, payload and signature) calls the listener."""
    repo = unique("hooked")
    url = await asyncio.to_thread(gitea.create_repo, repo)
    work = await Work.create(tmp_path / "work", url)
    first = await work.commit("one")
    await asyncio.to_thread(gitea.push, work.path, repo, "HEAD:refs/heads/main")
    app = unique("hook")
    await create_app(kube, application(app, url, interval="1h"))
    await wait_for(kube, app, synced_at(first), what="the first commit synced")
    await asyncio.sleep(SETTLE_SECONDS)
    hook = f"{listener}/api/v1/webhooks/gitea"
    await asyncio.to_thread(gitea.add_hook, repo, hook, SECRETS["gitea"])
    second = await work.commit("two")
    pushed = time.monotonic()
    await asyncio.to_thread(gitea.push, work.path, repo, "HEAD:refs/heads/main")
    await follows_quickly(kube, app, second, pushed)


# -- driftless server's route ----------------------------------------------------------------


async def test_server_route_refreshes_through_the_annotation(
    kube: KubeClient, forge: Forge, controller: Controller, webhook_secret: None, tmp_path: Path
) -> None:
    app, work, _ = await an_app_on(kube, forge, tmp_path, "team/app")
    other, other_work, other_first = await an_app_on(kube, forge, tmp_path, "team/other")
    await other_work.commit("other two")
    await other_work.push()
    async with serving(kube) as server:
        hook = forge.add_hook(
            "gitea", f"{server.url}/api/v1/webhooks/gitea", SECRETS["gitea"], repo="team/app"
        )
        bad = forge.add_hook("gitlab", f"{server.url}/api/v1/webhooks/gitlab", "wrong")
        second = await work.commit("two")
        pushed = time.monotonic()
        await work.push()
        assert answers(forge, "gitea") == [(202, {"status": "accepted"})]
        assert [status for status, _ in answers(forge, "gitlab")] == [401]
        await follows_quickly(kube, app, second, pushed)
        # The refresh was the annotation the controller serves and removes.
        served = await get_app(kube, app)
        assert REFRESH_ANNOTATION not in (served["metadata"].get("annotations") or {})
        await stays_at(kube, other, other_first)
        forge.remove_hook(hook)
        forge.remove_hook(bad)

        async with httpx.AsyncClient(base_url=server.url) as http:
            # Past the server's own 64 KiB cap, under the webhooks' 4 MiB: read, then judged.
            raw = b'{"pad": "' + b"x" * (200 * 1024) + b'"}'
            resp = await http.post(
                "/api/v1/webhooks/github", content=raw, headers={"X-GitHub-Event": "push"}
            )
            assert resp.status_code == 401
            huge = b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'  # over the default 4 MiB
            resp = await http.post("/api/v1/webhooks/github", content=huge)
            assert resp.status_code == 413
            # A browser's cross-site POST is still refused by the server's shield.
            resp = await http.post(
                "/api/v1/webhooks/github", content=b"{}", headers={"Origin": "https://evil.test"}
            )
            assert resp.status_code == 403
