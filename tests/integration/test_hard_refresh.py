"""A hard refresh on the real cluster, with the real controller and a real git repository.

The controller here reuses a repository's refs for an hour (``driftless
controller --revision-cache 1h``) and polls its apps hourly. After a push:

* a normal refresh is served (its annotation removed) from the caches: the
  revision cache answers with the old commit, the render cache with the old
  render (its hit count grows), the repository is not asked, and the app
  stays Synced at the old commit with the old content -- so what follows is
  the hard refresh's doing, not the refresh's;
* ``driftless app refresh --hard`` makes the controller ask the repository
  now and render again: the app moves to the new commit and the cluster gets
  the new content; its annotation is removed once served.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from driftless.controller.manager import Controller
from driftless.core.wellknown import REFRESH_ANNOTATION
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.pipeline.renderers import GitRenderer
from tests.fixtures.git import MakeGitRepo
from tests.integration.cli_driver import invoke
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    create_app,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]


def configmap(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  value: {value!r}\n"


def synced_at(revision: str) -> Any:
    def check(app: JSON) -> bool:
        sync = (app.get("status") or {}).get("sync") or {}
        return bool(sync == {"status": "Synced", "revision": revision})

    return check


def served(app: JSON) -> bool:
    return REFRESH_ANNOTATION not in (app["metadata"].get("annotations") or {})


@pytest.fixture
def revision_cache(controller: Controller) -> Iterator[None]:
    """The session's controller, as started with ``--revision-cache 1h``, for one test."""
    git = controller.reconciler.git
    before = git.revision_ttl
    git.revision_ttl = 3600.0
    try:
        yield
    finally:
        git.revision_ttl = before


async def value_of(kube: KubeClient, namespace: str) -> str:
    live = await kube.get("v1", "ConfigMap", "conf", namespace)
    assert live is not None
    return str(live["data"]["value"])


async def test_a_hard_refresh_sees_a_push_that_the_caches_hide_from_a_refresh(
    kube: KubeClient,
    controller: Controller,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    revision_cache: None,
) -> None:
    renderer = controller.reconciler.planner.renderer
    assert isinstance(renderer, GitRenderer) and renderer.cache is not None
    git = controller.reconciler.git
    name = unique("hard")
    repo = make_git_repo({"app/cm.yaml": configmap("one")})
    first = repo.head()
    await create_app(kube, application(name, repo.url, path="app"))
    await wait_for(kube, name, synced_at(first), what="the first commit synced")
    assert await value_of(kube, name) == "one"

    second = repo.commit({"app/cm.yaml": configmap("two")})
    asked, hits = git.stats.ls_remotes, renderer.cache.stats.hits
    refresh = await invoke(devcluster.kubeconfig, "app", "refresh", name, "-n", APPS_NAMESPACE)
    assert refresh.exit_code == 0, refresh.output
    assert "refresh requested" in refresh.output
    app = await wait_for(kube, name, served, what="the refresh served")
    # What a normal refresh gives with these caches: the old commit's render, from memory.
    assert synced_at(first)(app), app["status"]
    assert renderer.cache.stats.hits > hits
    assert git.stats.ls_remotes == asked
    assert await value_of(kube, name) == "one"

    hard = await invoke(
        devcluster.kubeconfig, "app", "refresh", name, "-n", APPS_NAMESPACE, "--hard"
    )
    assert hard.exit_code == 0, hard.output
    assert "hard refresh requested" in hard.output
    await wait_for(kube, name, synced_at(second), what="the pushed commit synced")
    assert git.stats.ls_remotes > asked
    assert await value_of(kube, name) == "two"
    await wait_for(kube, name, served, what="the hard refresh served")
