"""Bad input gets a precise condition, nothing from a broken render is applied,
what already runs is left alone, and other apps keep being served."""

from __future__ import annotations

import socket

import pytest

from driftless.controller.manager import Controller
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    application,
    condition,
    create_app,
    ready,
    ready_false_with,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GOOD = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: good
data:
  key: value
"""


def _message(app: dict[str, object]) -> str:
    found = condition(app, "Ready")  # type: ignore[arg-type]
    assert found is not None
    return str(found["message"])


def _stalled(app: dict[str, object]) -> bool:
    found = condition(app, "Stalled")  # type: ignore[arg-type]
    return found is not None and found["status"] == "True"


@pytest.mark.parametrize(
    ("files", "reason", "expected"),
    [
        pytest.param(
            {"bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n"},
            "RenderFailed",
            "bad.yaml:",
            id="invalid-yaml",
        ),
        pytest.param(
            {"nokind.yaml": "apiVersion: v1\nmetadata:\n  name: x\n"},
            "RenderFailed",
            "nokind.yaml:1",
            id="missing-kind",
        ),
        pytest.param(
            {"widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"},
            "ValidationFailed",
            "Widget",
            id="unknown-kind",
        ),
        # An object the API server refuses: a new one fails the sync by its apply, a
        # change to a live one is refused by the plan's dry-run (test_sync_new_objects).
    ],
)
async def test_broken_render_applies_nothing(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    files: dict[str, str],
    reason: str,
    expected: str,
) -> None:
    name = unique("broken")
    # "a-good.yaml" sorts first: it would be applied first if the render were not atomic.
    repo = make_git_repo({"a-good.yaml": GOOD, **files})
    await create_app(kube, application(name, repo.url))
    app = await wait_for(kube, name, ready_false_with(reason), what=reason)
    assert expected in _message(app)
    assert _stalled(app)
    assert await kube.get("v1", "ConfigMap", "good", name) is None


@pytest.mark.parametrize(
    ("revision", "path", "reason", "expected"),
    [
        ("no-such-branch", ".", "SourceFailed", "no-such-branch"),
        ("main", "missing/dir", "SourceFailed", "missing/dir"),
        ("main", "../outside", "SourceFailed", "escapes"),
    ],
    ids=["bad-revision", "missing-path", "path-escape"],
)
async def test_source_problems(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    revision: str,
    path: str,
    reason: str,
    expected: str,
) -> None:
    name = unique("source")
    repo = make_git_repo({"cm.yaml": GOOD})
    await create_app(kube, application(name, repo.url, revision=revision, path=path))
    app = await wait_for(kube, name, ready_false_with(reason), what=reason)
    assert expected in _message(app)


async def test_unreachable_repository_is_retried_not_stalled(
    kube: KubeClient, controller: Controller
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    name = unique("unreachable")
    await create_app(kube, application(name, f"http://127.0.0.1:{port}/repo.git"))
    app = await wait_for(kube, name, ready_false_with("SourceUnavailable"))
    assert f"127.0.0.1:{port}" in _message(app)
    assert not _stalled(app)
    reconciling = condition(app, "Reconciling")
    assert reconciling is not None and reconciling["status"] == "True"


async def test_broken_commit_leaves_running_objects_alone_and_recovers(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("regress")
    repo = make_git_repo({"good.yaml": GOOD})
    await create_app(kube, application(name, repo.url, interval="2s"))
    await wait_for(kube, name, ready)

    repo.commit({"good.yaml": GOOD.replace("value", "changed"), "bad.yaml": "kind: [\n"}, "broken")
    app = await wait_for(kube, name, ready_false_with("RenderFailed"), timeout=30)
    assert "bad.yaml" in _message(app)
    live = await kube.get("v1", "ConfigMap", "good", name)
    assert live is not None and live["data"] == {"key": "value"}  # untouched

    fixed = repo.commit({"bad.yaml": GOOD.replace("good", "second")}, "fixed")
    app = await wait_for(
        kube, name, lambda a: ready(a) and a["status"]["sync"]["revision"] == fixed, timeout=30
    )
    assert condition(app, "Stalled") is None
    live = await kube.get("v1", "ConfigMap", "good", name)
    assert live is not None and live["data"] == {"key": "changed"}


async def test_invalid_spec_is_reported(kube: KubeClient, controller: Controller) -> None:
    name = unique("badspec")
    app = application(name, "file:///nowhere")
    app["spec"]["destination"]["server"] = "https://192.0.2.1:6443"
    await create_app(kube, app)
    found = await wait_for(kube, name, ready_false_with("ValidationFailed"))
    assert "192.0.2.1" in _message(found)


async def test_other_apps_keep_syncing_next_to_broken_ones(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    broken = make_git_repo({"bad.yaml": "::: not yaml"})
    good = make_git_repo({"cm.yaml": GOOD})
    names = [unique("neighbour-bad") for _ in range(3)]
    for name in names:
        await create_app(kube, application(name, broken.url))
    healthy = unique("neighbour-good")
    await create_app(kube, application(healthy, good.url))
    await wait_for(kube, healthy, ready)
    for name in names:
        await wait_for(kube, name, ready_false_with("RenderFailed"))
