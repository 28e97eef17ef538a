"""Helpers for controller tests: build Applications, read them back, wait for status,
write the manifests a test repository holds (``deployment``, ``configmap``), and run a
controller in the test's event loop."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import yaml

from driftless.cli.tools import render_tools
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.kube.client import KubeClient
from driftless.sources.git import GitCache

JSON = dict[str, Any]
APPS_NAMESPACE = "driftless"
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}-{int(time.time()) % 100000}"


def deployment_manifest(
    name: str = "web",
    *,
    replicas: int = 2,
    image: str = "example.com/web:1.0",
    annotations: Mapping[str, str] | None = None,
    node_selector: Mapping[str, str] | None = None,
) -> str:
    """YAML of a Deployment of one container ``name`` running ``image``; pods labelled
    ``app: <name>``. ``node_selector`` keeps its pods pending until a node has the labels."""
    pod: JSON = {"containers": [{"name": name, "image": image}]}
    if node_selector:
        pod = {"nodeSelector": dict(node_selector), **pod}
    metadata: JSON = {"name": name}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return _yaml(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": pod},
            },
        }
    )


def configmap_manifest(
    name: str, data: Mapping[str, str], *, annotations: Mapping[str, str] | None = None
) -> str:
    """YAML of a ConfigMap ``name`` holding ``data`` (every value a string)."""
    metadata: JSON = {"name": name}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return _yaml(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": dict(data)}
    )


def _yaml(obj: JSON) -> str:
    return yaml.safe_dump(obj, sort_keys=False)


def application(
    name: str,
    repo_url: str,
    *,
    path: str = ".",
    revision: str = "main",
    namespace: str | None = None,
    automated: bool = True,
    create_namespace: bool = True,
    interval: str | None = None,
    directory: JSON | None = None,
) -> JSON:
    spec: JSON = {
        "source": {"repoURL": repo_url, "targetRevision": revision, "path": path},
        "destination": {"namespace": namespace or name},
        "syncPolicy": {"syncOptions": ["CreateNamespace=true"] if create_namespace else []},
    }
    if automated:
        spec["syncPolicy"]["automated"] = {"prune": False, "selfHeal": False}
    if interval:
        spec["interval"] = interval
    if directory:
        spec["source"]["directory"] = directory
    return {
        "apiVersion": API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": {"name": name, "namespace": APPS_NAMESPACE},
        "spec": spec,
    }


async def create_app(kube: KubeClient, app: JSON) -> None:
    await kube.apply(app, field_manager="test")


async def get_app(kube: KubeClient, name: str) -> JSON:
    app = await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
    assert app is not None, f"application {name} disappeared"
    return app


def condition(app: JSON, type_: str) -> JSON | None:
    conditions = (app.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_), None)


#: The shortest deadline of :func:`wait_for` (see there).
MIN_WAIT = 120.0


async def wait_for(
    kube: KubeClient,
    name: str,
    predicate: Callable[[JSON], bool],
    *,
    timeout: float = 60,
    what: str = "condition",
) -> JSON:
    """Poll the Application until ``predicate`` holds; fail with its last status.

    ``timeout`` is how long to wait before giving up, never a measure of speed:
    it is raised to at least :data:`MIN_WAIT`, since on a loaded 2-core machine
    one reconcile can take tens of seconds.
    """
    deadline = time.monotonic() + max(timeout, MIN_WAIT)
    app = await get_app(kube, name)
    while time.monotonic() < deadline:
        app = await get_app(kube, name)
        if predicate(app):
            return app
        await asyncio.sleep(0.3)
    raise AssertionError(f"{name}: timed out waiting for {what}; status: {app.get('status')}")


def ready(app: JSON) -> bool:
    found = condition(app, "Ready")
    return found is not None and found["status"] == "True"


def ready_false_with(reason: str) -> Callable[[JSON], bool]:
    def check(app: JSON) -> bool:
        found = condition(app, "Ready")
        return found is not None and found["status"] == "False" and found["reason"] == reason

    return check


@asynccontextmanager
async def running_controller(
    kube: KubeClient, git: GitCache, settings: ControllerSettings
) -> AsyncIterator[Controller]:
    """A controller (isolated renders, as in production) running in this event loop until
    the block ends; then it is stopped and its run awaited."""
    instance = Controller(kube, git, settings, tools=render_tools())
    stop = asyncio.Event()
    task = asyncio.create_task(instance.run(stop))
    try:
        yield instance
    finally:
        stop.set()
        await task
