"""Fixtures for controller tests: a KubeClient on the dev cluster with the CRDs
installed, and a controller running in the test process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from driftless.cli.install import install
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache
from tests.integration.helpers import APPS_NAMESPACE, running_controller


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube(devcluster: DevCluster) -> AsyncIterator[KubeClient]:
    client = await KubeClient.from_kubeconfig(str(devcluster.kubeconfig))
    await install(client, namespace=APPS_NAMESPACE)
    yield client
    await client.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the cluster deletes its Applications when it is over.

    Added after the test's own fixtures (so after ``kube``), not autouse: an
    autouse fixture would be set up first, before the session's client.
    """
    here = Path(__file__).parent
    for item in items:
        if not item.path.is_relative_to(here):
            continue  # the hook sees the whole session: unit tests may call a parameter "kube"
        names = getattr(item, "fixturenames", None)
        if names is not None and "kube" in names and _CLEANUP not in names:
            names.append(_CLEANUP)


_CLEANUP = "delete_the_test_s_apps"


@pytest_asyncio.fixture(loop_scope="session")
async def delete_the_test_s_apps(kube: KubeClient) -> AsyncIterator[None]:
    """Delete the Applications a test created, once it is over.

    The session-wide controller would otherwise keep reconciling every app of
    every earlier test (many every 2 s), and tests that measure how fast it
    reacts would share it with more and more of them. Objects the apps made
    stay; apps with a finalizer are left to the test that set it.
    """
    before = {app["metadata"]["name"] for app in await _apps(kube)}
    yield
    for app in await _apps(kube):
        name = app["metadata"]["name"]
        if name not in before and not app["metadata"].get("finalizers"):
            await kube.delete(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)


async def _apps(kube: KubeClient) -> list[dict[str, Any]]:
    return await kube.list(API_VERSION, APPLICATION_KIND, APPS_NAMESPACE)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def controller(
    kube: KubeClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Controller]:
    """The controller, running for the whole session in the test's event loop."""
    store = CredentialStore(kube, APPS_NAMESPACE, max_age=1.0)
    # The test repositories are file:// ones: allow them, as an administrator would.
    cache = GitCache(
        Path(tmp_path_factory.mktemp("git-cache")), credentials=store.auth, allow_local=True
    )
    settings = ControllerSettings(namespace=APPS_NAMESPACE, workers=4, default_interval=3600)
    async with running_controller(kube, cache, settings) as instance:
        yield instance
