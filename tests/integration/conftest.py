"""Fixtures for controller tests: a KubeClient on the dev cluster with the CRDs
installed, and a controller running in the test process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from driftless.cli.install import install
from driftless.cli.tools import render_tools
from driftless.controller.manager import Controller, ControllerSettings
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache
from tests.integration.helpers import APPS_NAMESPACE


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube(devcluster: DevCluster) -> AsyncIterator[KubeClient]:
    client = await KubeClient.from_kubeconfig(str(devcluster.kubeconfig))
    await install(client, namespace=APPS_NAMESPACE)
    yield client
    await client.close()


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
    instance = Controller(kube, cache, settings, tools=render_tools())
    stop = asyncio.Event()
    task = asyncio.create_task(instance.run(stop))
    yield instance
    stop.set()
    await task
