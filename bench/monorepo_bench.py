"""Benchmark of issue 14's monorepo case: N apps x M ConfigMaps from ONE git repository.

Usage: ``python bench/monorepo_bench.py [--apps 1000] [--objects 10] [--workers 16]
[--window 2] [--controller] [--interval 60]``

The repository (one folder per app, one file per ConfigMap) is served by a
real ``git http-backend`` (the tests' ``CountingGitHttpServer``), which counts,
from the server's side, every ``ls-remote`` and every fetch (see
``tests/fixtures/git_counting.py``).

**Part 1, source + render** (always; no cluster): the controller's own
``GitCache`` (``--revision-cache`` = ``--window``) and ``GitRenderer`` (render
cache, renders in the render server child process, as in production)
render every app the way a poll does, ``--workers`` at a time. Printed for a
cold poll (empty caches), an unchanged poll (warm), and a poll after a push
touching one app: wall time, per-app time, ls-remotes and fetches the server
saw, checkouts, render-cache hits. Then the same unchanged poll with the
revision cache off (``--window 0``: single-flight only) for the ls-remote
count, the figure the default window was chosen by.

**Part 2, the controller** (``--controller``): the embedded control plane and
``driftless controller`` as a child process (``--revision-cache`` left at its
default, ``--interval``); N Applications on the repository, created before
the controller starts; printed: cold time until every app is Synced and
Ready, and the git server's ls-remotes/fetches; then a push changing every
ConfigMap's value and the next poll: time from the push until every app is
Synced at the new commit, with that poll's ls-remotes and fetches.

The machine may be shared: wall times are noisy; the counts are not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from driftless.cli.tools import render_tools
from driftless.core.models import API_VERSION, APPLICATION_KIND, Application
from driftless.pipeline.renderers import GitRenderer
from driftless.render import KubeTarget, RenderCache
from driftless.sources.git import GitCache

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.git_counting import CountingGitHttpServer, GitTraffic

JSON = dict[str, Any]
APPS_NS = "driftless"
KUBE = KubeTarget("v1.36.0")
_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@driftless.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@driftless.invalid",
}


# -- the repository ----------------------------------------------------------------------


def configmap(app: int, obj: int, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{app:04d}-{obj:02d}\n"
        f"data:\n  app: 'a-{app:04d}'\n  value: '{value}'\n"
    )


def git(repo: Path, *args: str) -> str:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **_GIT_ENV}
    out = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=repo, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip()


def write_apps(repo: Path, apps: Sequence[int], objects: int, value: str) -> None:
    for i in apps:
        folder = repo / "apps" / f"a-{i:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(objects):
            (folder / f"cm-{j:02d}.yaml").write_text(configmap(i, j, value))


def make_repo(path: Path, apps: int, objects: int) -> str:
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    write_apps(path, range(apps), objects, "one")
    return commit(path, "initial")


def commit(path: Path, message: str) -> str:
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", message)
    return git(path, "rev-parse", "HEAD")


# -- part 1: source + render -------------------------------------------------------------


def app_model(i: int, url: str) -> Application:
    return Application.model_validate(app_object(i, url, None))


def app_object(i: int, url: str, interval: str | None) -> JSON:
    spec: JSON = {
        "source": {"repoURL": url, "targetRevision": "main", "path": f"apps/a-{i:04d}"},
        "destination": {"namespace": f"mono-{i:04d}"},
        "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
    }
    if interval:
        spec["interval"] = interval
    return {
        "apiVersion": API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": {"name": f"mono-{i:04d}", "namespace": APPS_NS},
        "spec": spec,
    }


async def poll(renderer: GitRenderer, apps: list[Application], workers: int) -> list[str]:
    """Render every app as one poll of the controller would, ``workers`` at a time."""
    gate = asyncio.Semaphore(workers)

    async def one(app: Application) -> str:
        async with gate:
            rendered = await renderer.render(app, None, KUBE)
            return rendered.revision

    return await asyncio.gather(*(one(app) for app in apps))


def line(label: str, seconds: float, apps: int, traffic: GitTraffic, extra: str) -> None:
    print(
        f"  {label:<28} {seconds:7.2f} s  ({seconds / apps * 1000:6.2f} ms/app)"
        f"  ls-remotes {traffic.ls_remotes:4d}  fetches {traffic.fetches:2d}  {extra}",
        flush=True,
    )


async def part_source_render(args: argparse.Namespace, tmp: Path) -> None:
    print(f"part 1: source + render, {args.apps} apps x {args.objects} ConfigMaps, one"
          f" repository, {args.workers} workers, --revision-cache {args.window:g} s",
          flush=True)  # fmt: skip
    repo = tmp / "monorepo"
    first = make_repo(repo, args.apps, args.objects)
    tools = render_tools()
    with CountingGitHttpServer(tmp / "git-root") as server:
        url = server.publish(repo, "monorepo")
        git_cache = GitCache(tmp / "cache", revision_ttl=args.window)
        cache = RenderCache()
        renderer = GitRenderer(git_cache, tools=tools, cache=cache)
        apps = [app_model(i, url) for i in range(args.apps)]
        if tools.isolation is not None:  # the render server's start is not the poll's cost
            await tools.isolation.ensure_started()  # type: ignore[attr-defined]

        async def measured(label: str, expected: str) -> None:
            before, stats = server.snapshot(url), (cache.stats.hits, git_cache.stats.checkouts)
            started = time.perf_counter()
            revisions = await poll(renderer, apps, args.workers)
            seconds = time.perf_counter() - started
            assert set(revisions) == {expected}, set(revisions)
            traffic = server.snapshot(url) - before
            hits = cache.stats.hits - stats[0]
            checkouts = git_cache.stats.checkouts - stats[1]
            line(label, seconds, args.apps, traffic, f"checkouts {checkouts}  render-cache"
                 f" hits {hits}/{args.apps}")  # fmt: skip

        await measured("cold poll", first)
        await asyncio.sleep(args.window)  # the next poll: the revision cache has expired
        await measured("unchanged poll", first)
        write_apps(repo, [0], args.objects, "two")
        second = commit(repo, "one app changes")
        await asyncio.sleep(args.window)
        await measured("poll after a push", second)
        git_cache.revision_ttl = 0.0
        await measured("unchanged, --revision-cache 0", second)
        git_cache.revision_ttl = args.window
    if tools.isolation is not None:
        tools.isolation.close()  # type: ignore[attr-defined]


# -- part 2: the controller --------------------------------------------------------------


class ControllerProcess:
    """``driftless controller`` as a child process."""

    def __init__(self, kubeconfig: Path, work: Path, args: list[str]) -> None:
        command = [
            str(Path(sys.executable).with_name("driftless")),
            f"--kubeconfig={kubeconfig}",
            "controller",
            f"--cache-dir={work / 'controller-cache'}",
            *args,
        ]
        self.log_path = work / "controller.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the controller exited ({self.proc.returncode}):\n{tail}")


def synced_at(app: JSON, revision: str) -> bool:
    status = app.get("status") or {}
    sync = status.get("sync") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return bool(sync.get("status") == "Synced" and sync.get("revision") == revision and ready)


async def until_all_synced(
    client: Any, revision: str, count: int, controller: ControllerProcess, timeout: float
) -> float:
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        controller.check_alive()
        apps = await client.list(API_VERSION, APPLICATION_KIND, APPS_NS)
        done = sum(1 for a in apps if a["metadata"]["name"].startswith("mono-")
                   and synced_at(a, revision))  # fmt: skip
        if done >= count:
            return time.perf_counter() - started
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{done}/{count} apps synced at {revision[:8]} after {timeout:g} s")


async def part_controller(args: argparse.Namespace, tmp: Path) -> None:
    from driftless.cli.install import install
    from driftless.devcluster import binaries
    from driftless.devcluster.cluster import DevCluster
    from driftless.kube.client import KubeClient

    print(f"part 2: the controller, {args.apps} apps x {args.objects} ConfigMaps, one"
          f" repository, --interval {args.interval} s, --revision-cache default",
          flush=True)  # fmt: skip
    binaries.ensure_all()
    repo = tmp / "monorepo-controller"
    first = make_repo(repo, args.apps, args.objects)
    cluster = DevCluster("bench-monorepo", state_dir=tmp / "cluster")
    cluster.up(attached=True)
    client = await KubeClient.from_kubeconfig(str(cluster.kubeconfig))
    try:
        await install(client)
        with CountingGitHttpServer(tmp / "git-root-controller") as server:
            url = server.publish(repo, "monorepo")
            gate = asyncio.Semaphore(16)

            async def create(i: int) -> None:
                async with gate:
                    await client.apply(app_object(i, url, None), field_manager="bench")

            await asyncio.gather(*(create(i) for i in range(args.apps)))
            controller = ControllerProcess(
                cluster.kubeconfig, tmp, [f"--interval={args.interval}s"]
            )
            try:
                cold = await until_all_synced(client, first, args.apps, controller, 1800)
                traffic = server.snapshot(url)
                print(f"  cold: every app Synced and Ready in {cold:.1f} s"
                      f" ({args.apps / cold:.0f} apps/s); git server: ls-remotes"
                      f" {traffic.ls_remotes}, fetches {traffic.fetches}", flush=True)  # fmt: skip
                write_apps(repo, range(args.apps), args.objects, "two")
                second = commit(repo, "every app changes")
                before = server.snapshot(url)
                took = await until_all_synced(
                    client, second, args.apps, controller, args.interval * 3 + 600
                )
                traffic = server.snapshot(url) - before
                print(f"  push -> every app Synced at the new commit: {took:.1f} s (the next"
                      f" poll comes within --interval {args.interval} s); git server during it:"
                      f" ls-remotes {traffic.ls_remotes}, fetches {traffic.fetches}",
                      flush=True)  # fmt: skip
            finally:
                await controller.stop()
    finally:
        await client.close()
        cluster.down()


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="driftless-bench-monorepo-") as name:
        tmp = Path(name)
        await part_source_render(args, tmp)
        if args.controller:
            await part_controller(args, tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=10, help="ConfigMaps per app")
    parser.add_argument("--workers", type=int, default=16, help="part 1: renders at a time")
    parser.add_argument("--window", type=float, default=2.0, help="part 1: --revision-cache")
    parser.add_argument("--controller", action="store_true", help="run part 2 too")
    parser.add_argument("--interval", type=int, default=60, help="part 2: --interval (s)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
