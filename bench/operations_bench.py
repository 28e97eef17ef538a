"""Benchmark of issue 9: a newer commit gets through while an operation waits.

Usage: ``python bench/operations_bench.py [--samples 5]``

Runs a dev cluster WITHOUT the load-balancer address stand-in (so a
``type: LoadBalancer`` Service stays Progressing for good) and the real
controller, then prints, each measured in this run (refresh annotation
written right after the commit, as a webhook or ``driftless app refresh``
would):

* **OutOfSync while waiting**: an operation waits for wave 0's health
  (``supersede: false``); commit → the app's status says ``OutOfSync`` with
  the new SHA (goal < 1 s after the refresh);
* **commit → applied, superseding**: the operation of the previous commit
  waits for health; the new commit supersedes it and its wave-0 ConfigMap is
  in the cluster;
* **commit → applied, idle app**: the same change on an app with no
  operation running (goal: superseding costs the same plus the safe-point
  wait, which is zero when no hook runs).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from driftless.cli.install import install
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster import binaries
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.sources.git import GitCache

JSON = dict[str, Any]
APPS_NS = "driftless"
POLL = 0.01


def service(kind: str) -> str:
    return (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: front\n  annotations:\n"
        f"    driftless.dev/sync-wave: '0'\nspec:\n  type: {kind}\n"
        "  selector: {app: front}\n  ports: [{port: 80}]\n"
    )


def configmap(name: str, wave: int, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations:\n"
        f"    driftless.dev/sync-wave: '{wave}'\ndata:\n  value: '{value}'\n"
    )


class Repo:
    """A git repository on disk the benchmark commits to."""

    def __init__(self, path: Path, files: dict[str, str]) -> None:
        self.path = path
        path.mkdir(parents=True)
        self._git("init", "-q", "-b", "main")
        self.commit(files)

    def _git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
            cwd=self.path, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout.strip()

    def commit(self, files: dict[str, str]) -> str:
        for rel, text in files.items():
            (self.path / rel).write_text(text)
        self._git("add", "-A")
        self._git("commit", "-q", "-m", "change")
        return self._git("rev-parse", "HEAD")

    def head(self) -> str:
        return self._git("rev-parse", "HEAD")

    @property
    def url(self) -> str:
        return self.path.as_uri()


def app_object(name: str, url: str, *, supersede: bool) -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": {"name": name, "namespace": APPS_NS},
        "spec": {
            "source": {"repoURL": url, "targetRevision": "main", "path": "."},
            "destination": {"namespace": name},
            "syncPolicy": {
                "automated": {},
                "syncOptions": ["CreateNamespace=true"],
                "supersede": supersede,
            },
        },
    }


async def get_app(client: KubeClient, name: str) -> JSON:
    found = await client.get(API_VERSION, APPLICATION_KIND, name, APPS_NS)
    assert found is not None
    return found


async def until_app(client: KubeClient, name: str, predicate: Callable[[JSON], bool]) -> float:
    """Seconds until the app satisfies ``predicate``."""
    return await until(functools.partial(_check, client, name, predicate))


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 120) -> float:
    """Seconds until ``check`` holds (polled every 10 ms)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if await check():
            return time.perf_counter() - started
        await asyncio.sleep(POLL)
    raise TimeoutError("condition not reached")


async def refresh(client: KubeClient, name: str) -> None:
    patch = {"metadata": {"annotations": {"driftless.dev/refresh": f"{time.time()}"}}}
    await client.merge_patch(API_VERSION, APPLICATION_KIND, name, patch, namespace=APPS_NS)


def waiting(app: JSON, revision: str) -> bool:
    op = (app.get("status") or {}).get("operationState") or {}
    step = op.get("step") or {}
    return (
        op.get("revision") == revision
        and op.get("phase") == "Running"
        and bool(step.get("applied"))
    )


async def bench_out_of_sync(client: KubeClient, tmp: Path, samples: int) -> list[float]:
    name = "bench-oos"
    repo = Repo(
        tmp / name, {"svc.yaml": service("LoadBalancer"), "cm.yaml": configmap("c", 1, "0")}
    )
    await client.apply(app_object(name, repo.url, supersede=False), field_manager="bench")
    first = repo.head()
    await until_app(client, name, functools.partial(waiting, revision=first))
    times = []
    for i in range(1, samples + 1):
        sha = repo.commit({"cm.yaml": configmap("c", 1, str(i))})
        await refresh(client, name)
        want = {"status": "OutOfSync", "revision": sha}
        times.append(await until_app(client, name, functools.partial(_synced_to, want=want)))
        app = await get_app(client, name)
        assert waiting(app, first), "the waiting operation must still be running"
    return times


async def bench_applied(client: KubeClient, tmp: Path, samples: int, *, busy: bool) -> list[float]:
    name = "bench-busy" if busy else "bench-idle"
    kind = "LoadBalancer" if busy else "ClusterIP"
    files = {"svc.yaml": service(kind), "cm.yaml": configmap("c", 0, "0")}
    # A later wave makes wave 0's health matter: the operation waits for it.
    files["later.yaml"] = configmap("later", 1, "x")
    repo = Repo(tmp / name, files)
    await client.apply(app_object(name, repo.url, supersede=True), field_manager="bench")
    times = []
    for i in range(1, samples + 1):
        head = repo.head()
        if busy:  # the previous commit's operation waits for the Service's health
            await until_app(client, name, functools.partial(waiting, revision=head))
        else:
            await until_app(client, name, functools.partial(_idle, revision=head))
        repo.commit({"cm.yaml": configmap("c", 0, str(i))})
        await refresh(client, name)
        times.append(await until(functools.partial(_value, client, name, str(i))))
    return times


def _synced_to(app: JSON, want: JSON) -> bool:
    return dict((app.get("status") or {}).get("sync") or {}) == want


def _idle(app: JSON, revision: str) -> bool:
    status = app.get("status") or {}
    op = status.get("operationState") or {}
    return op.get("revision") == revision and op.get("phase") == "Succeeded"


async def _check(client: KubeClient, name: str, predicate: Callable[[JSON], bool]) -> bool:
    return predicate(await get_app(client, name))


async def _value(client: KubeClient, namespace: str, value: str) -> bool:
    cm = await client.get("v1", "ConfigMap", "c", namespace)
    return cm is not None and (cm.get("data") or {}).get("value") == value


def report(label: str, times: list[float], goal: str) -> None:
    ms = sorted(t * 1000 for t in times)
    print(f"{label}, {len(ms)} samples: median {statistics.median(ms):.0f} ms, "
          f"max {ms[-1]:.0f} ms ({goal})")  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    binaries.ensure_all()
    with tempfile.TemporaryDirectory(prefix="driftless-bench-ops-") as name:
        tmp = Path(name)
        cluster = DevCluster("bench-ops", state_dir=tmp / "cluster", addresses=False)
        cluster.up(attached=True)
        client = await KubeClient.from_kubeconfig(str(cluster.kubeconfig))
        stop = asyncio.Event()
        try:
            await install(client)
            settings = ControllerSettings(namespace=APPS_NS, default_interval=3600)
            cache = GitCache(tmp / "git-cache", allow_local=True)
            controller = Controller(client, cache, settings)
            task = asyncio.create_task(controller.run(stop))
            report("commit -> OutOfSync while an operation waits",
                   await bench_out_of_sync(client, tmp, args.samples), "goal < 1 s")  # fmt: skip
            idle = await bench_applied(client, tmp, args.samples, busy=False)
            busy = await bench_applied(client, tmp, args.samples, busy=True)
            report("commit -> applied, idle app", idle, "baseline")
            report("commit -> applied, superseding a waiting operation", busy,
                   "goal: the idle figure plus the safe-point wait")  # fmt: skip
            stop.set()
            await task
        finally:
            stop.set()
            await client.close()
            cluster.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
