"""Many apps, one repository: the real controller against a real smart-HTTP git server.

What a user of a monorepo checks:

* N apps, one folder each, in one repository: the git server sees *one* fetch
  for all of them (counted on the server side), and far fewer ls-remotes than
  passes (one per ``--revision-cache`` window, here the 2 s default);
* a push, then a refresh of every app: one more fetch, and every app syncs the
  new commit (its ConfigMaps hold the new values);
* with the render cache on, a path with ``..`` or a symlink out of the
  repository is still refused, and two apps rendering the same folder of the
  same commit with different arguments each get their own objects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.kube.client import KubeClient
from driftless.pipeline.requests import refresh_patch
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_counting import CountingGitHttpServer
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    create_app,
    ready_false_with,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
APPS = 12
OBJECTS = 3
WINDOW = 2.0  # --revision-cache: the controller's default


def configmaps(app: int, value: str) -> str:
    docs = [
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{j}\ndata:\n"
        f"  app: 'a{app}'\n  value: '{value}'\n"
        for j in range(OBJECTS)
    ]
    return "---\n".join(docs)


def synced_at(revision: str) -> Any:
    def check(app: JSON) -> bool:
        sync = (app.get("status") or {}).get("sync") or {}
        return bool(sync.get("status") == "Synced" and sync.get("revision") == revision)

    return check


@pytest.fixture
def counting_server(tmp_path: Path) -> Iterator[CountingGitHttpServer]:
    with CountingGitHttpServer(tmp_path / "git-root") as server:
        yield server


@pytest.fixture
def poll_window(controller: Controller) -> Iterator[float]:
    """The session's controller with the production ``--revision-cache`` default."""
    git = controller.reconciler.git
    before = git.revision_ttl
    git.revision_ttl = WINDOW
    try:
        yield WINDOW
    finally:
        git.revision_ttl = before


async def all_synced(kube: KubeClient, names: list[str], revision: str) -> None:
    await asyncio.gather(
        *(wait_for(kube, n, synced_at(revision), what=f"{revision[:8]} synced") for n in names)
    )


async def values(kube: KubeClient, namespace: str) -> set[str]:
    found = set()
    for j in range(OBJECTS):
        live = await kube.get("v1", "ConfigMap", f"cm-{j}", namespace)
        assert live is not None
        found.add(str(live["data"]["value"]))
    return found


async def test_one_fetch_per_poll_for_every_app_of_a_monorepo(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    counting_server: CountingGitHttpServer,
    poll_window: float,
) -> None:
    repo = make_git_repo({f"apps/a{i}/cms.yaml": configmaps(i, "one") for i in range(APPS)})
    url = counting_server.publish(repo.path, unique("mono"))
    first = repo.head()
    names = [unique(f"mono-{i}") for i in range(APPS)]
    started = time.monotonic()
    await asyncio.gather(
        *(create_app(kube, application(n, url, path=f"apps/a{i}")) for i, n in enumerate(names))
    )
    await all_synced(kube, names, first)
    cold = counting_server.snapshot(url)
    elapsed = time.monotonic() - started
    assert cold.fetches == 1, cold
    # Every app passed at least twice (sync, then status), yet ls-remotes were shared.
    assert 1 <= cold.ls_remotes <= elapsed / poll_window + 2, (cold, elapsed)
    assert await values(kube, names[0]) == {"one"}

    # A push, then a refresh of every app (what `app refresh` writes): one more fetch.
    second = repo.commit({f"apps/a{i}/cms.yaml": configmaps(i, "two") for i in range(APPS)})
    now = datetime.now(UTC)
    await asyncio.gather(
        *(
            kube.merge_patch(
                API_VERSION, APPLICATION_KIND, n, refresh_patch(now), namespace=APPS_NAMESPACE
            )
            for n in names
        )
    )
    await all_synced(kube, names, second)
    after = counting_server.snapshot(url) - cold
    assert after.fetches == 1, after
    for name in names:
        assert await values(kube, name) == {"two"}


async def test_paths_out_of_the_repository_are_refused_with_the_cache_on(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    counting_server: CountingGitHttpServer,
) -> None:
    repo = make_git_repo({"apps/ok/cm.yaml": configmaps(0, "ok")})
    repo.commit(symlinks={"apps/out": "../../..", "apps/etc": "/etc"})
    url = counting_server.publish(repo.path, unique("mono-hostile"))
    good = unique("mono-ok")
    await create_app(kube, application(good, url, path="apps/ok"))
    await wait_for(kube, good, synced_at(repo.head()), what="the good app synced (cache warm)")
    for path in ("apps/../..", "apps/out", "apps/etc", "../apps/ok"):
        name = unique("mono-bad")
        await create_app(kube, application(name, url, path=path))
        app = await wait_for(kube, name, ready_false_with("SourceFailed"), what="refused")
        ready = next(c for c in app["status"]["conditions"] if c["type"] == "Ready")
        assert "escapes the repository" in ready["message"], ready


async def test_two_apps_on_one_folder_never_share_their_arguments(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    counting_server: CountingGitHttpServer,
) -> None:
    greeting = (
        "function(who) {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'hello'},"
        " data: {who: who}}"
    )
    repo = make_git_repo({"apps/hello/main.jsonnet": greeting})
    url = counting_server.publish(repo.path, unique("mono-args"))
    names = {who: unique(f"mono-{who}") for who in ("alice", "bob")}
    for who, name in names.items():
        app = application(name, url, path="apps/hello")
        app["spec"]["source"]["jsonnet"] = {"tlas": [{"name": "who", "value": who}]}
        await create_app(kube, app)
    for who, name in names.items():
        await wait_for(kube, name, synced_at(repo.head()), what=f"{who}'s app synced")
        live = await kube.get("v1", "ConfigMap", "hello", name)
        assert live is not None and live["data"]["who"] == who
