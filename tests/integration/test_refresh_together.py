"""Apps refreshed together share one ``ls-remote`` (issue 14).

A refresh (``app refresh``, a git webhook's) makes the app's next pass ask the
repository for its refs, whatever the revision cache holds. The controller
passes ``GitCache.forget_refs(url, since=t)`` the time its watch first saw that
refresh: an answer asked after it already reflects any push made before the
refresh, so N apps of one repository refreshed at once cost about one
``ls-remote``, not N (counted on the git server's side), and every app still
syncs the pushed commit.
"""

from __future__ import annotations

import asyncio
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
from tests.integration.helpers import APPS_NAMESPACE, application, create_app, unique, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
APPS = 24
WINDOW = 2.0  # --revision-cache: the controller's default


def configmap(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  value: '{value}'\n"


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
    def synced(app: JSON) -> bool:
        sync = (app.get("status") or {}).get("sync") or {}
        return bool(sync.get("status") == "Synced" and sync.get("revision") == revision)

    await asyncio.gather(*(wait_for(kube, n, synced, what=f"{revision[:8]} synced") for n in names))


async def test_apps_refreshed_together_share_one_ls_remote(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    counting_server: CountingGitHttpServer,
    poll_window: float,
) -> None:
    repo = make_git_repo({f"apps/a{i}/cm.yaml": configmap("one") for i in range(APPS)})
    url = counting_server.publish(repo.path, unique("together"))
    names = [unique(f"together-{i}") for i in range(APPS)]
    await asyncio.gather(
        *(create_app(kube, application(n, url, path=f"apps/a{i}")) for i, n in enumerate(names))
    )
    await all_synced(kube, names, repo.head())
    # Past the revision cache's window: nothing cached hides the push either way.
    await asyncio.sleep(poll_window + 0.5)
    before = counting_server.snapshot(url)

    second = repo.commit({f"apps/a{i}/cm.yaml": configmap("two") for i in range(APPS)})
    patch = refresh_patch(datetime.now(UTC))
    await asyncio.gather(
        *(
            kube.merge_patch(API_VERSION, APPLICATION_KIND, n, patch, namespace=APPS_NAMESPACE)
            for n in names
        )
    )
    await all_synced(kube, names, second)  # the push is seen by every app
    after = counting_server.snapshot(url) - before
    for name in names:
        live = await kube.get("v1", "ConfigMap", "cm", name)
        assert live is not None and live["data"]["value"] == "two"
    # Each app forgetting the refs on its own cost one ls-remote per app (24 here). Shared:
    # about one; a few when some refreshes reach the watch after an ls-remote has started.
    assert 1 <= after.ls_remotes <= APPS // 4, after
    assert after.fetches == 1, after
