"""The controller renders in its render server: a render that crashes, hangs or
attacks the parser costs that app a condition, and the controller goes on.

The controller is the session fixture (``tests/integration/conftest.py``),
built with ``render_tools()`` exactly as ``driftless controller`` builds it;
processes and environments are read from ``/proc``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from driftless.controller.manager import Controller
from driftless.kube.client import KubeClient
from driftless.render.isolation import LocalRenderServer
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

ENDLESS_JSONNET = "local loop(n) = if n < 0 then 0 else loop(n + 1) tailstrict;\n{a: loop(0)}\n"
GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\ndata:\n  key: value\n"
ALLOWED_ENV = {"PATH", "HOME", "TMPDIR", "LC_ALL", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def render_server(controller: Controller) -> LocalRenderServer:
    isolation = controller.reconciler.tools.isolation if controller.reconciler.tools else None
    assert isinstance(isolation, LocalRenderServer), "the controller must render in a server"
    return isolation


async def poll(check: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def message(app: dict[str, object]) -> str:
    found = condition(app, "Ready")
    assert found is not None
    return str(found["message"])


async def test_a_crashing_render_fails_its_app_and_the_controller_goes_on(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    crashing, healthy = unique("crash"), unique("healthy")
    loop_repo = make_git_repo({"loop.jsonnet": ENDLESS_JSONNET})
    await create_app(kube, application(crashing, loop_repo.url))
    server = render_server(controller)
    # The endless render is running in a child of the render server ...
    await poll(lambda: server.pid is not None and children_of(server.pid), "a render child")
    assert server.pid is not None
    server_pid = server.pid
    # ... while another app is reconciled as usual.
    await create_app(kube, application(healthy, make_git_repo({"cm.yaml": GOOD}).url))
    await wait_for(kube, healthy, ready)
    # A segfault of the render (what 100 KB of brackets did to the C parser).
    for child in children_of(server_pid):
        os.kill(child, signal.SIGSEGV)
    app = await wait_for(kube, crashing, ready_false_with("RenderFailed"))
    assert "renderer crashed (signal 11, SIGSEGV)" in message(app)
    # The controller and its render server live on; nothing is left running.
    assert server.pid == server_pid
    await poll(lambda: not children_of(server_pid), "no render child left")
    another = unique("after")
    await create_app(kube, application(another, make_git_repo({"cm.yaml": GOOD}).url))
    await wait_for(kube, another, ready)


async def test_the_controllers_render_server_holds_no_credentials(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("env")
    await create_app(kube, application(name, make_git_repo({"cm.yaml": GOOD}).url))
    await wait_for(kube, name, ready)
    server = render_server(controller)
    assert server.pid is not None
    raw = Path(f"/proc/{server.pid}/environ").read_bytes().decode()
    names = {item.split("=", 1)[0] for item in raw.split("\0") if item}
    assert names <= ALLOWED_ENV
    assert "KUBECONFIG" not in raw and "KUBERNETES_" not in raw
    # The render server cannot open the controller's kubeconfig through its HOME either.
    home = next(i.split("=", 1)[1] for i in raw.split("\0") if i.startswith("HOME="))
    assert not (Path(home) / ".kube").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", "nesting deeper than 200 levels"),
        (
            "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n"
                for i in range(9)
            ),
            "expands to more than",
        ),
    ],
    ids=["100k-brackets", "billion-laughs"],
)
async def test_parser_attacks_end_as_conditions(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo, text: str, expected: str
) -> None:
    name = unique("yaml")
    await create_app(kube, application(name, make_git_repo({"evil.yaml": text}).url))
    app = await wait_for(kube, name, ready_false_with("RenderFailed"))
    assert expected in message(app)
    assert "evil.yaml" in message(app)
