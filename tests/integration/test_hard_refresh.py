"""Refreshes on the real cluster, with the real controller and a real git repository.

The controller here reuses a repository's refs for an hour (``driftless
controller --revision-cache 1h``) and polls its apps hourly. After a push:

* a normal refresh asks the repository for its refs all the same (a push is
  never seen up to an hour late: the revision cache is for passes nobody
  asked for) and the app moves to the new commit; at an unchanged commit it
  is served from the render cache (its hit count grows);
* ``driftless app refresh --hard`` also renders again: the render cache is
  not asked (its hit count stays);
* each annotation is removed once served.
"""

from __future__ import annotations

import asyncio
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


async def test_a_refresh_asks_git_and_a_hard_one_also_renders_again(
    kube: KubeClient,
    controller: Controller,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    revision_cache: None,
) -> None:
    renderer = controller.reconciler.planner.renderer
    # The SOPS decryption wraps the git renderer (pipeline.decryption).
    renderer = getattr(renderer, "inner", renderer)
    assert isinstance(renderer, GitRenderer) and renderer.cache is not None
    git = controller.reconciler.git
    name = unique("hard")
    repo = make_git_repo({"app/cm.yaml": configmap("one")})
    first = repo.head()
    await create_app(kube, application(name, repo.url, path="app"))
    await wait_for(kube, name, synced_at(first), what="the first commit synced")
    assert await value_of(kube, name) == "one"

    # A refresh at the same commit: the render comes from the render cache.
    hits = renderer.cache.stats.hits
    refresh = await invoke(devcluster.kubeconfig, "app", "refresh", name, "-n", APPS_NAMESPACE)
    assert refresh.exit_code == 0, refresh.output
    assert "refresh requested" in refresh.output
    await wait_for(kube, name, served, what="the refresh served")
    assert renderer.cache.stats.hits > hits

    # A push, then a refresh: the repository is asked despite the hour of revision cache.
    second = repo.commit({"app/cm.yaml": configmap("two")})
    asked = git.stats.ls_remotes
    refresh = await invoke(devcluster.kubeconfig, "app", "refresh", name, "-n", APPS_NAMESPACE)
    assert refresh.exit_code == 0, refresh.output
    await wait_for(kube, name, synced_at(second), what="the pushed commit synced")
    assert git.stats.ls_remotes > asked
    assert await value_of(kube, name) == "two"
    await wait_for(kube, name, served, what="the refresh served")

    # A hard refresh renders again: no render cache hit. (First let the passes the
    # sync's own writes cause go by: they may hit the render cache.)
    await asyncio.sleep(1.0)
    hits, asked = renderer.cache.stats.hits, git.stats.ls_remotes
    hard = await invoke(
        devcluster.kubeconfig, "app", "refresh", name, "-n", APPS_NAMESPACE, "--hard"
    )
    assert hard.exit_code == 0, hard.output
    assert "hard refresh requested" in hard.output
    app = await wait_for(kube, name, served, what="the hard refresh served")
    assert git.stats.ls_remotes > asked
    assert renderer.cache.stats.hits == hits
    assert synced_at(second)(app), app["status"]
