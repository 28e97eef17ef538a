"""Renders in the render server: a hostile render costs one render, never the caller.

Real processes throughout: the render server is started the way the
controller starts it (``LocalRenderServer``, a child with a scrubbed
environment), Jsonnet and helm are the real ones, and what is checked is what
an operator would see — the error of the render, the environment in
``/proc/<pid>/environ``, and the processes left in ``/proc``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftless.cli.tools import local_tools
from driftless.core.errors import RenderError, TransientError
from driftless.core.models import ApplicationSource
from driftless.core.resources import Manifest
from driftless.render import KubeTarget, RenderTools, render
from driftless.render.isolation import LocalRenderServer, RenderServerClient

pytestmark = pytest.mark.integration

TIME_LIMIT = 4.0
MEMORY_MIB = 1024
KUBE = KubeTarget("v1.36.3", ("v1", "apps/v1"))
ENDLESS_JSONNET = "local loop(n) = if n < 0 then 0 else loop(n + 1) tailstrict;\n{a: loop(0)}\n"
ALLOWED_ENV = {"PATH", "HOME", "TMPDIR", "LC_ALL", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {a: b}\n"


# --------------------------------------------------------------------------- helpers


def children_of(pid: int) -> list[int]:
    """Live (non-zombie) processes whose parent is ``pid``, from ``/proc``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = [item.split("=", 1) for item in raw.decode().split("\0") if "=" in item]
    return dict(pairs)


async def wait_for(condition: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def app_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


async def render_app(
    tools: RenderTools, tree: Path, path: str = "app", **source: object
) -> list[Manifest]:
    spec = ApplicationSource.model_validate({"repoURL": "file:///r.git", "path": path, **source})
    return await render(
        spec, tree, tree / path, revision=None, app_name="demo", namespace="default",
        kube=KUBE, tools=tools,
    )  # fmt: skip


@pytest.fixture
def server() -> Iterator[LocalRenderServer]:
    base = dataclasses.replace(local_tools(), time_limit=TIME_LIMIT)
    instance = LocalRenderServer(base, memory_limit_mib=MEMORY_MIB)
    yield instance
    instance.close()


@pytest.fixture
def tools(server: LocalRenderServer) -> RenderTools:
    return dataclasses.replace(server.tools, isolation=server)


@pytest.fixture
def roomy_tools() -> Iterator[RenderTools]:
    """A render server with the default time limit, for big (slow) honest renders."""
    instance = LocalRenderServer(local_tools(), memory_limit_mib=MEMORY_MIB)
    yield dataclasses.replace(instance.tools, isolation=instance)
    instance.close()


def other_threads() -> set[str]:
    """Threads other than the event loop's reusable executor workers."""
    return {t.name for t in threading.enumerate() if not t.name.startswith("asyncio_")}


# --------------------------------------------------------------------------- tests


async def test_render_server_environment_holds_no_cluster_credentials(
    tools: RenderTools, server: LocalRenderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", "/home/admin/.kube/config")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("DRIFTLESS_TOKEN", "s3cr3t-token")
    tree = app_tree(tmp_path, {"app/loop.jsonnet": ENDLESS_JSONNET})
    task = asyncio.create_task(render_app(tools, tree))
    await wait_for(lambda: server.pid is not None and children_of(server.pid), "a render child")
    assert server.pid is not None
    child = children_of(server.pid)[0]
    for pid in (server.pid, child):
        env = environ(pid)
        assert not [k for k in env if k.startswith("KUBE")], env
        assert "s3cr3t-token" not in Path(f"/proc/{pid}/environ").read_text()
        assert set(env) <= {
            "PATH",
            "HOME",
            "TMPDIR",
            "LC_ALL",
            "PYTHONPATH",
            "PYTHONDONTWRITEBYTECODE",
        }
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_endless_jsonnet_is_killed_at_its_deadline_leaving_nothing_behind(
    tools: RenderTools, server: LocalRenderServer, tmp_path: Path
) -> None:
    await render_app(tools, app_tree(tmp_path / "ok", {"app/cm.yaml": CM}))  # server started
    threads_before = other_threads()
    tree = app_tree(tmp_path / "loop", {"app/loop.jsonnet": ENDLESS_JSONNET})
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"^render exceeded the 4 s time limit$"):
        await render_app(tools, tree)
    elapsed = time.monotonic() - started
    assert TIME_LIMIT <= elapsed < TIME_LIMIT + 10
    assert server.pid is not None
    await wait_for(lambda: not children_of(server.pid), "the render child to be gone")
    assert other_threads() == threads_before
    # The server itself lives on and renders the next app.
    assert [m.obj["metadata"]["name"] for m in await render_app(tools, tmp_path / "ok")] == ["ok"]


async def test_a_crashing_render_is_a_render_error_and_the_server_lives_on(
    tools: RenderTools, server: LocalRenderServer, tmp_path: Path
) -> None:
    tree = app_tree(tmp_path, {"app/loop.jsonnet": ENDLESS_JSONNET, "ok/cm.yaml": CM})
    task = asyncio.create_task(render_app(tools, tree))
    await wait_for(lambda: server.pid is not None and children_of(server.pid), "a render child")
    assert server.pid is not None
    server_pid = server.pid
    os.kill(children_of(server_pid)[0], signal.SIGSEGV)
    with pytest.raises(RenderError, match=r"renderer crashed \(signal 11, SIGSEGV\)"):
        await task
    assert server.pid == server_pid
    assert len(await render_app(tools, tree, "ok")) == 1
    await wait_for(lambda: not children_of(server_pid), "no render child")


async def test_a_render_over_the_memory_limit_is_refused(
    tools: RenderTools, tmp_path: Path
) -> None:
    greedy = "{a: std.length(std.makeArray(100000000, function(i) [i]))}\n"
    tree = app_tree(tmp_path, {"app/greedy.jsonnet": greedy})
    with pytest.raises(RenderError, match=rf"render exceeded the memory limit of {MEMORY_MIB} MiB"):
        await render_app(tools, tree)


async def test_a_cancelled_render_is_killed(
    tools: RenderTools, server: LocalRenderServer, tmp_path: Path
) -> None:
    tree = app_tree(tmp_path, {"app/loop.jsonnet": ENDLESS_JSONNET})
    task = asyncio.create_task(render_app(tools, tree))
    await wait_for(lambda: server.pid is not None and children_of(server.pid), "a render child")
    assert server.pid is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Well before the 4 s deadline: the server noticed the hang-up.
    await wait_for(lambda: not children_of(server.pid), "the cancelled render", timeout=3.0)


async def test_hostile_yaml_through_the_render_server(tools: RenderTools, tmp_path: Path) -> None:
    bomb = ["l0: &l0 [lol]"] + [
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)
    ]
    tree = app_tree(
        tmp_path,
        {
            "deep/x.yaml": "x: " + "[" * 100_000 + "]" * 100_000 + "\n",
            "bomb/x.yaml": CM + "\n".join(bomb) + "\n",
        },
    )
    with pytest.raises(RenderError, match=r"^deep/x.yaml:1: invalid YAML: nesting deeper than"):
        await render_app(tools, tree, "deep")
    with pytest.raises(RenderError, match=r"^bomb/x.yaml:\d+: invalid YAML: the document expands"):
        await render_app(tools, tree, "bomb")


CHART = "apiVersion: v2\nname: big\nversion: 0.1.0\n"


async def test_a_chart_with_too_many_objects_is_refused(
    roomy_tools: RenderTools, tmp_path: Path
) -> None:
    template = (
        "{{- range $i := until 25000 }}\n---\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: cm-{{ $i }}}\n{{- end }}\n"
    )
    tree = app_tree(tmp_path, {"app/Chart.yaml": CHART, "app/templates/cms.yaml": template})
    with pytest.raises(RenderError, match=r"render produced 25000 objects, more than the limit"):
        await render_app(roomy_tools, tree)


async def test_a_chart_with_huge_output_is_refused(
    roomy_tools: RenderTools, tmp_path: Path
) -> None:
    template = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\n"
        'data:\n  a: {{ repeat 70000000 "x" | quote }}\n'
    )
    tree = app_tree(tmp_path, {"app/Chart.yaml": CHART, "app/templates/huge.yaml": template})
    # Under the render's address-space limit helm runs out of memory before
    # it prints 64 MiB; with more memory, its output would hit that cap.
    with pytest.raises(
        RenderError,
        match=r"helm template failed: (fatal error: (runtime: )?out of memory"
        r" \(stack trace omitted\)|helm output exceeds the limit of 64 MiB)$",
    ):
        await render_app(roomy_tools, tree)


async def test_a_dead_render_server_is_started_again(
    tools: RenderTools, server: LocalRenderServer, tmp_path: Path
) -> None:
    tree = app_tree(tmp_path, {"app/cm.yaml": CM})
    await render_app(tools, tree)
    first = server.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    await wait_for(lambda: server.process is not None and server.process.poll() is not None, "exit")
    assert len(await render_app(tools, tree)) == 1
    assert server.pid not in (None, first)


async def test_the_render_server_command_serves_a_socket(tmp_path: Path) -> None:
    """What the renderer container runs: ``driftless render-server --socket``."""
    socket_path = tmp_path / "render.sock"
    command = [sys.executable, "-m", "driftless.cli.main", "render-server"]
    argv = [*command, "--socket", str(socket_path), "--time-limit", "30"]
    process = subprocess.Popen(argv, env={"PATH": "/usr/bin:/bin"})  # noqa: ASYNC220
    try:
        await wait_for(socket_path.exists, "the socket")
        assert socket_path.stat().st_mode & 0o077 == 0  # only its owner may connect
        tools = dataclasses.replace(local_tools(), isolation=RenderServerClient(socket_path))
        tree = app_tree(tmp_path, {"app/cm.yaml": CM})
        assert [m.obj["metadata"]["name"] for m in await render_app(tools, tree)] == ["ok"]
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
    assert not socket_path.exists()


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def test_an_endless_helm_template_is_killed_with_its_render(
    tools: RenderTools, server: LocalRenderServer, tmp_path: Path
) -> None:
    # 10^10 empty iterations: no output and little memory, just time.
    endless = "{{- range $i := until 100000 }}{{- range $j := until 100000 }}{{- end }}{{- end }}\n"
    tree = app_tree(tmp_path, {"app/Chart.yaml": CHART, "app/templates/spin.yaml": endless})
    with pytest.raises(TransientError, match=r"(timed out|time limit)"):
        await render_app(tools, tree)
    assert server.pid is not None
    await wait_for(lambda: not children_of(server.pid), "the render child to be gone")
    await wait_for(lambda: not processes_mentioning(str(tree)), "helm to be gone")


async def test_many_concurrent_renders_all_succeed(tools: RenderTools, tmp_path: Path) -> None:
    tree = app_tree(tmp_path, {"app/cm.yaml": CM})
    results = await asyncio.gather(*[render_app(tools, tree) for _ in range(300)])
    assert all(len(r) == 1 for r in results)


async def test_stopping_the_server_kills_running_renders(
    tools: RenderTools, server: LocalRenderServer, tmp_path: Path
) -> None:
    tree = app_tree(tmp_path, {"app/loop.jsonnet": ENDLESS_JSONNET})
    task = asyncio.create_task(render_app(tools, tree))
    await wait_for(lambda: server.pid is not None and children_of(server.pid), "a render child")
    assert server.pid is not None
    render_child = children_of(server.pid)[0]
    started = time.monotonic()
    await asyncio.to_thread(server.close)  # what the controller does when it stops
    assert time.monotonic() - started < 10
    with pytest.raises(TransientError):
        await task
    assert not Path(f"/proc/{render_child}").exists()


async def test_output_over_the_reply_limit_is_refused(
    roomy_tools: RenderTools, tmp_path: Path
) -> None:
    # 20 MB of manifests: under every per-file limit, over the 16 MiB a render may hand back.
    value = "x" * 100_000
    data = "".join(f"  k{i}: {value}\n" for i in range(200))
    tree = app_tree(tmp_path, {"app/big.yaml": CM.replace("data: {a: b}\n", "data:\n" + data)})
    with pytest.raises(RenderError, match=r"^render output exceeds the limit of 16 MiB$"):
        await render_app(roomy_tools, tree)


async def test_an_unreachable_render_server_is_a_transient_error(tmp_path: Path) -> None:
    """The renderer container not up yet: the app is retried, not stalled."""
    socket_path = tmp_path / "missing.sock"
    tools = dataclasses.replace(local_tools(), isolation=RenderServerClient(socket_path))
    tree = app_tree(tmp_path, {"app/cm.yaml": CM})
    with pytest.raises(TransientError, match=rf"render server is not reachable at {socket_path}"):
        await render_app(tools, tree)


# --------------------------------------------------------------------------- batches
# With one render slot, a render that holds it (endless Jsonnet, killed at the 4 s
# limit) makes every plain-directory render sent meanwhile wait; when the slot
# frees, the waiting ones share one child (render.server, "Batches").


@pytest.fixture
def one_slot() -> Iterator[LocalRenderServer]:
    base = dataclasses.replace(local_tools(), time_limit=TIME_LIMIT)
    instance = LocalRenderServer(base, memory_limit_mib=MEMORY_MIB, max_concurrent=1)
    yield instance
    instance.close()


def named_configmaps(root: Path, count: int) -> Path:
    """``count`` apps, ``app-<i>/cm.yaml`` each holding ConfigMap ``cm-<i>``."""
    return app_tree(root, {f"app-{i}/cm.yaml": CM.replace("{name: ok}", f"{{name: cm-{i}}}")
                           for i in range(count)})  # fmt: skip


async def hold_the_slot(
    server: LocalRenderServer, tools: RenderTools, root: Path
) -> tuple[asyncio.Task[list[Manifest]], int]:
    """A render that keeps the one slot until its time limit, and its child's pid;
    returns once it runs (and is the server's only child)."""
    await render_app(tools, app_tree(root / "warm", {"app/cm.yaml": CM}))  # the server is up
    assert server.pid is not None
    pid = server.pid
    await wait_for(lambda: not children_of(pid), "the warm-up render's child to be gone")
    tree = app_tree(root, {"loop/x.jsonnet": ENDLESS_JSONNET})
    blocker = asyncio.create_task(render_app(tools, tree, "loop"))
    await wait_for(lambda: children_of(pid), "the blocking render")
    return blocker, children_of(pid)[0]


async def test_waiting_plain_renders_share_a_child_each_answered_its_own(
    one_slot: LocalRenderServer, tmp_path: Path
) -> None:
    tools = dataclasses.replace(one_slot.tools, isolation=one_slot)
    blocker, _ = await hold_the_slot(one_slot, tools, tmp_path / "block")
    tree = named_configmaps(tmp_path, 40)
    bomb = "\n".join(["l0: &l0 [lol]"] + [
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)])  # fmt: skip
    app_tree(tree, {"bomb/x.yaml": CM + bomb + "\n", "bad/x.yaml": "a: [\n"})
    paths = [f"app-{i}" for i in range(40)]
    paths[7], paths[20] = "bomb", "bad"  # hostile members of a batch answer for themselves
    results = await asyncio.gather(
        *[render_app(tools, tree, path) for path in paths], return_exceptions=True
    )
    with pytest.raises(TransientError):
        await blocker
    for path, result in zip(paths, results, strict=True):
        if path == "bomb":
            assert isinstance(result, RenderError), result
            assert "invalid YAML: the document expands" in str(result)
        elif path == "bad":
            assert isinstance(result, RenderError), result
            assert str(result).startswith("bad/x.yaml:"), result
        else:
            assert not isinstance(result, BaseException), (path, result)
            assert [m.obj["metadata"]["name"] for m in result] == [f"cm-{path[4:]}"]


async def test_a_batch_whose_child_dies_is_rendered_again_one_by_one(
    one_slot: LocalRenderServer, tmp_path: Path
) -> None:
    """A crash costs the batch's other members nothing: the ones not yet answered
    are rendered again, each alone, and every render gets its own manifests."""
    tools = dataclasses.replace(one_slot.tools, isolation=one_slot)
    blocker, blocking_child = await hold_the_slot(one_slot, tools, tmp_path / "block")
    assert one_slot.pid is not None
    server_pid = one_slot.pid
    # First in the batch, and slow to parse: its child is still at it when killed.
    big = "".join(f"---\n{CM.replace('{name: ok}', f'{{name: big-{i}}}')}" for i in range(8000))
    tree = named_configmaps(tmp_path, 20)
    app_tree(tree, {"big/cms.yaml": big})
    slow = asyncio.create_task(render_app(tools, tree, "big"))
    await asyncio.sleep(0.3)  # it arrives, and waits, first
    quick = [asyncio.create_task(render_app(tools, tree, f"app-{i}")) for i in range(20)]
    await asyncio.sleep(0.3)

    def batch_child() -> list[int]:
        return [pid for pid in children_of(server_pid) if pid != blocking_child]

    await wait_for(batch_child, "the batch's child", timeout=TIME_LIMIT + 10)
    os.kill(batch_child()[0], signal.SIGSEGV)
    with pytest.raises(TransientError):
        await blocker
    assert len(await slow) == 8000
    for i, task in enumerate(quick):
        assert [m.obj["metadata"]["name"] for m in await task] == [f"cm-{i}"]
    assert one_slot.pid == server_pid
    await wait_for(lambda: not children_of(server_pid), "no render child")


async def test_huge_directories_do_not_hold_back_the_others(tmp_path: Path) -> None:
    """Plain-directory renders share as many children as there are cores; one
    tenant's huge directories, as many as the cores, still leave room: past half a
    second their children no longer count, and a small render starts beside them."""
    cores = len(os.sched_getaffinity(0))
    base = dataclasses.replace(local_tools(), time_limit=120)
    server = LocalRenderServer(base, memory_limit_mib=2048, max_concurrent=cores + 2)
    try:
        tools = dataclasses.replace(server.tools, isolation=server)
        data = "".join(f"  key{k}: value {k} of a big ConfigMap\n" for k in range(16))
        big = CM.replace("data: {a: b}\n", "data:\n" + data)
        huge = "".join(
            f"---\n{big.replace('{name: ok}', f'{{name: big-{i}}}')}" for i in range(19_000)
        )
        tree = app_tree(tmp_path, {"big/cms.yaml": huge, "small/cm.yaml": CM})
        await render_app(tools, tree, "small")  # the server is up
        slow = [asyncio.create_task(render_app(tools, tree, "big")) for _ in range(cores)]
        await asyncio.sleep(0.2)
        small = await asyncio.wait_for(render_app(tools, tree, "small"), timeout=30)
        assert [m.obj["metadata"]["name"] for m in small] == ["ok"]
        assert not any(task.done() for task in slow), "the huge renders were not slower"
        assert all(len(result) == 19_000 for result in await asyncio.gather(*slow))
    finally:
        server.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_a_render_waiting_behind_a_slow_one_costs_the_server_no_cpu(
    one_slot: LocalRenderServer, tmp_path: Path
) -> None:
    """The server sleeps while a request waits for a slot a slow render holds (it
    wakes up when a child turns slow, and never spins on a moment in the past)."""
    tools = dataclasses.replace(one_slot.tools, isolation=one_slot)
    data = "".join(f"  key{k}: value {k} of a big ConfigMap\n" for k in range(16))
    big = CM.replace("data: {a: b}\n", "data:\n" + data)
    huge = "".join(f"---\n{big.replace('{name: ok}', f'{{name: big-{i}}}')}" for i in range(19_000))
    tree = app_tree(tmp_path, {"big/cms.yaml": huge, "small/cm.yaml": CM})
    await render_app(tools, tree, "small")  # the server is up
    assert one_slot.pid is not None
    slow = asyncio.create_task(render_app(tools, tree, "big"))
    await asyncio.sleep(0.2)
    waiting = asyncio.create_task(render_app(tools, tree, "small"))
    await asyncio.sleep(0.5)  # past the slow child's half second: both wait on it
    before = cpu_seconds(one_slot.pid)
    await asyncio.sleep(1.0)
    assert not slow.done(), "the huge render was not slower than this test's window"
    assert cpu_seconds(one_slot.pid) - before < 0.3
    assert len(await slow) == 19_000
    assert len(await waiting) == 1
