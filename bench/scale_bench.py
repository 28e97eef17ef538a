"""Benchmark of issue 14: one controller, many apps (cold start, no-op resync, memory, profile).

Usage: ``python bench/scale_bench.py [--apps 100,1000,3000] [--baseline 1000]
[--profile 1000] [--resync auto] [--sweep-workers 4,16] [--log-dir DIR]
[--controller-arg=--workers=8 ...] [--renders N]``

For development, small figures run in a minute: ``--apps 50 --baseline 200 --profile 0``.

Runs the embedded control plane (``DevCluster``) and a real smart-HTTP git
server (``devcluster.githttp``: ``git http-backend``, as the tests' fixtures
use), and prints, each measured in this one run:

* **baseline**: ``--baseline`` server-side applies of one-ConfigMap objects
  sent all at once from this process, through the same ``KubeClient``
  (kubernetes_asyncio / aiohttp, the same pool size) the controller uses:
  seconds and applies/s. This is the API server's own rate on this machine
  now, the yardstick the controller is compared to.
* **cold N apps**, for each N of ``--apps``: N Applications are created first
  (one git repository served over HTTP, one folder with one ConfigMap per
  app, in a namespace of their own), THEN ``driftless controller`` is started
  as a child process (``--namespace`` that namespace, so earlier rounds'
  apps are not its business) and timed from its spawn until every app has
  ``Ready=True`` (seen by a watch): seconds, apps/s, the ratio of that rate
  to the baseline's (target >= 0.5), and the controller's peak RSS
  (``VmHWM`` of /proc/PID/status: its own process, not the render server's
  children, which are listed apart as the whole tree's RSS at the end).
* **no-op resync** of the same N apps: nothing changes in git or the
  cluster; the controller re-checks each app when its ``--interval``
  expires (the natural periodic resync; the bench starts the controller with
  ``--interval`` = ``--resync`` seconds, auto: longer than the cold start
  is expected to take, so no app is re-checked during it). After every app
  is Ready and passes settle, the bench waits until the controller has
  counted N more reconcile passes (``driftless_app_reconcile_duration_seconds``
  on ``--metrics-address``) and prints what the controller sent meanwhile
  (``driftless_kube_requests_total`` by verb; dry-runs from
  ``driftless_kube_dry_runs_total``), per pass, and its CPU ms per pass
  (/proc/PID/stat utime+stime of the controller and its reaped children:
  git, renders). Target: 0 writes, 0 dry-runs, < 50 ms CPU per app.
* **workers** (``--sweep-workers 4,16,32``): more cold starts of the last
  N of ``--apps``, one per ``--workers`` value (how the default was chosen).
* **profile** (``--profile N``, 0: off): one more cold start of N apps with
  the controller under ``py-spy record`` (a dev dependency; sampling, the
  render server's children included), a per-app time breakdown grouped as
  render / git / plan+dry-run / apply / status write / events / watch+queue /
  kube client I/O / Python overhead, and the top 15 functions by own time.
  Written to ``--profile-out`` too when given.
* **faults** (``--faults N``, 0: off, the default): N one-ConfigMap apps and
  3 whose sync waits on a PreSync hook Job, cold; the kube-apiserver is
  SIGKILLed once a quarter of the apps is Ready and started again 5 s later
  (``DevCluster.stop_apiserver``/``start_apiserver``); prints how long until
  every app is Ready, the syncs in each app's history, and whether a hook Job
  was made twice. The 300-app version is ``tests/integration/test_scale_faults.py``.
* **renders** (``--renders N``, 0: off, no cluster needed): N one-ConfigMap
  plain-directory renders through a ``LocalRenderServer`` (the controller's
  render server), one at a time then 16 at a time: ms per render, the render
  server's own CPU per render (its loop and ``fork()``, whose cost grows with
  its RSS), its children's CPU per render, and the render server's RSS.

The machine is shared: run it on a quiet machine, or read the ratios (both
sides measured in this same run), not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from driftless.cli.install import install
from driftless.core.models import API_VERSION, APPLICATION_KIND, ApplicationSource
from driftless.core.project import default_project
from driftless.devcluster import binaries
from driftless.devcluster.cluster import DevCluster
from driftless.devcluster.githttp import GitHttpServer
from driftless.kube.client import KubeClient
from driftless.render import KubeTarget, Renderer, RenderTools
from driftless.render.isolation import LocalRenderServer
from driftless.render.wire import RenderRequest
from driftless.sources.seed import seed_repository

JSON = dict[str, Any]
WRITE_VERBS = ("create", "update", "patch", "apply", "delete")
PAGE = 4096
LOG_DIR: Path | None = None
CONTROLLER_ENV: list[str] = []  # --controller-env NAME=VALUE


# -- /proc -----------------------------------------------------------------------------------


def proc_status_kib(pid: int, field_name: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmHWM, VmRSS); 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` plus its reaped children's (cutime+cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children[ppid].append(int(entry.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def cpu_by_role(roots: dict[str, int], marker: str) -> dict[str, float]:
    """CPU seconds (with reaped children) of each process tree in ``roots``, and of this
    cluster's kube-apiserver and etcd (their command lines hold ``marker``, the state dir)."""
    out = {role: proc_cpu_seconds(pid) + sum(proc_cpu_seconds(p) for p in descendants(pid))
           for role, pid in roots.items() if pid != os.getpid()}  # fmt: skip
    # This process's children are the cluster and the controller: only its own time here
    # (and its reaped children's: git http-backend).
    out["bench (git server, watch)"] = proc_cpu_seconds(os.getpid())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            line = _cmdline(int(entry.name))
            for role in ("kube-apiserver", "etcd"):
                if marker in line and Path(line.split(" ", 1)[0]).name.startswith(role):
                    out[role] = out.get(role, 0.0) + proc_cpu_seconds(int(entry.name))
    return out


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy (not idle or iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def tree_rss_mib(root: int) -> float:
    return sum(proc_status_kib(p, "VmRSS") for p in [root, *descendants(root)]) / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the controller --------------------------------------------------------------------------


class ControllerProcess:
    """``driftless controller`` as a child (under ``py-spy record`` when ``profile_to``)."""

    def __init__(
        self, kubeconfig: Path, work: Path, name: str, args: list[str], profile_to: Path | None
    ) -> None:
        command = [
            str(Path(sys.executable).with_name("driftless")),
            f"--kubeconfig={kubeconfig}",
            "controller",
            f"--cache-dir={work / f'cache-{name}'}",
            *args,
        ]
        if profile_to is not None:
            spy = str(Path(sys.executable).with_name("py-spy"))
            command = [spy, "record", "--format", "raw", "--rate", "200", "--subprocesses",
                       "--nonblocking", "-o", str(profile_to), "--", *command]  # fmt: skip
        self.log_path = (LOG_DIR or work) / f"controller-{name}.log"
        env = {**os.environ, **dict(e.split("=", 1) for e in CONTROLLER_ENV)}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.spied = profile_to is not None

    @property
    def pid(self) -> int:
        """The controller's own pid (py-spy's child when profiled)."""
        if not self.spied:
            return self.proc.pid
        for _ in range(100):
            kids = [p for p in descendants(self.proc.pid) if "controller" in _cmdline(p)]
            if kids:
                return kids[0]
            time.sleep(0.05)
        raise RuntimeError("py-spy did not start the controller")

    async def stop(self) -> None:
        target = self.pid if self.spied and self.proc.poll() is None else self.proc.pid
        if self.proc.poll() is None:
            os.kill(target, signal.SIGTERM)  # py-spy writes its profile when its child ends
            try:
                await asyncio.to_thread(self.proc.wait, 120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the controller exited ({self.proc.returncode}):\n{tail}")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Sampler:
    """Samples the controller's RSS every 50 ms (its VmHWM is the peak anyway)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.peak_kib = max(self.peak_kib, proc_status_kib(self.pid, "VmHWM"))
            await asyncio.sleep(0.05)

    async def stop(self) -> float:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.peak_kib = max(self.peak_kib, proc_status_kib(self.pid, "VmHWM"))
        return self.peak_kib / 1024


# -- metrics ---------------------------------------------------------------------------------


@dataclass
class Scrape:
    requests: Counter[str] = field(default_factory=Counter)  # verb -> count
    dry_runs: Counter[str] = field(default_factory=Counter)
    passes: float = 0.0

    @property
    def writes(self) -> float:
        return sum(self.requests[v] for v in WRITE_VERBS) - sum(self.dry_runs.values())


def scrape(port: int) -> Scrape:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    out = Scrape()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "driftless_kube_requests_total":
                out.requests[sample.labels["verb"]] += sample.value
            elif sample.name == "driftless_kube_dry_runs_total":
                out.dry_runs[sample.labels["verb"]] += sample.value
            elif sample.name == "driftless_app_reconcile_duration_seconds_count":
                out.passes += sample.value
    return out


# -- objects ---------------------------------------------------------------------------------


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: '{value}'\n"


def app_object(name: str, namespace: str, url: str, path: str, dest: str) -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {"repoURL": url, "targetRevision": "main", "path": path},
            "destination": {"namespace": dest},
            "syncPolicy": {"automated": {}},
        },
    }


def namespace_object(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def is_ready(app: JSON) -> bool:
    conditions = (app.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def gather_limited(coros: list[Any], limit: int) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def one(coro: Any) -> None:
        async with semaphore:
            await coro

    await asyncio.gather(*(one(c) for c in coros))


# -- (a) baseline ----------------------------------------------------------------------------


async def baseline(client: KubeClient, count: int) -> float:
    """Seconds for ``count`` server-side applies of one ConfigMap each, all sent at once."""
    ns = "bench-baseline"
    await client.apply(namespace_object(ns), field_manager="bench")
    bodies = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"cm-{i:05d}", "namespace": ns}, "data": {"v": str(i)}}
        for i in range(count)
    ]  # fmt: skip
    await client.apply(bodies[0], field_manager="bench-warm")  # discovery warm, not timed
    started = time.perf_counter()
    await asyncio.gather(*(client.apply(b, field_manager="bench") for b in bodies))
    seconds = time.perf_counter() - started
    print(f"(a) baseline: {count} server-side applies in parallel from one process:"
          f" {seconds:.2f} s, {count / seconds:.0f} applies/s", flush=True)  # fmt: skip
    return seconds


# -- (b), (c) a cold start and a no-op resync -------------------------------------------------


@dataclass
class Round:
    n: int
    namespace: str
    url: str
    git: GitHttpServer


async def prepare_round(
    client: KubeClient, git: GitHttpServer, tmp: Path, n: int, tag: str
) -> Round:
    """A repository with one folder per app, the apps' namespace, its Project, the apps."""
    ns, dest = f"bench-{tag}", f"bench-{tag}-dest"
    tree = tmp / f"src-{tag}"
    for i in range(n):
        folder = tree / "apps" / f"a-{i:05d}"
        folder.mkdir(parents=True)
        (folder / "cm.yaml").write_text(configmap(f"cm-{i:05d}", str(i)))
    repo = tmp / f"repo-{tag}"
    await seed_repository(tree, repo)
    url = git.publish(repo, f"scale-{tag}")
    for name in (ns, dest):
        await client.apply(namespace_object(name), field_manager="bench")
    await client.apply(default_project(ns), field_manager="bench")
    apps = [
        client.apply(app_object(f"a-{i:05d}", ns, url, f"apps/a-{i:05d}", dest),
                     field_manager="bench")
        for i in range(n)
    ]  # fmt: skip
    await gather_limited(apps, 32)
    return Round(n, ns, url, git)


class ReadyWatch:
    """Which apps of a namespace are Ready, from a list then a watch."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.ready: set[str] = set()
        self.task = asyncio.create_task(self._run())

    def _record(self, obj: JSON) -> None:
        name = obj["metadata"]["name"]
        if is_ready(obj):
            self.ready.add(name)
        else:
            self.ready.discard(name)

    async def _run(self) -> None:
        while True:
            try:
                items, version = await self.client.list_with_version(
                    API_VERSION, APPLICATION_KIND, self.namespace
                )
                for obj in items:
                    self._record(obj)
                async for event in self.client.watch(
                    API_VERSION, APPLICATION_KIND, self.namespace, resource_version=version
                ):
                    if event.type in ("ADDED", "MODIFIED"):
                        self._record(event.obj)
            except asyncio.CancelledError:
                raise
            except Exception:  # expired or interrupted: list and watch again
                await asyncio.sleep(0.1)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def resync_seconds(args: argparse.Namespace, n: int) -> float:
    """The controller's --interval: long enough that no app is re-checked while the cold
    start runs (at the issue's 36 apps/s, 3,000 apps take 83 s)."""
    if args.resync == "0":
        return 3600.0  # (c) skipped
    return float(args.resync) if args.resync != "auto" else max(30.0, n / 20)


async def cold_round(
    client: KubeClient, kubeconfig: Path, tmp: Path, rnd: Round, args: argparse.Namespace,
    baseline_rate: float, *, profile_to: Path | None = None, extra: tuple[str, ...] = (),
) -> None:  # fmt: skip
    interval = resync_seconds(args, rnd.n)
    port = free_port()
    watch = ReadyWatch(client, rnd.namespace)
    await asyncio.sleep(1.0)  # the watch's list is in
    ctl_args = [f"--namespace={rnd.namespace}", f"--interval={interval:g}s",
                f"--metrics-address=127.0.0.1:{port}", *args.controller_arg, *extra]  # fmt: skip
    tag = rnd.namespace.removeprefix("bench-")
    started = time.monotonic()
    controller = ControllerProcess(kubeconfig, tmp, tag, ctl_args, profile_to)
    pid = await asyncio.to_thread(lambda: controller.pid)
    sampler = Sampler(pid)
    marker = str(tmp / "cluster")
    cpu_before = cpu_by_role({"controller tree": pid}, marker)
    busy_before = machine_busy_seconds()
    git_before = len(rnd.git.requests)
    try:
        next_print = started + 10
        while len(watch.ready) < rnd.n:
            controller.check_alive()
            if time.monotonic() > next_print:
                print(f"  ... {len(watch.ready)}/{rnd.n} Ready", flush=True)
                next_print += 10
            if time.monotonic() - started > args.timeout:
                raise TimeoutError(f"only {len(watch.ready)}/{rnd.n} apps Ready")
            await asyncio.sleep(0.02)
        seconds = time.monotonic() - started
        cpu_cold = proc_cpu_seconds(pid)
        busy = machine_busy_seconds() - busy_before
        cpu_after = cpu_by_role({"controller tree": pid}, marker)
        peak = await sampler.stop()
        rate = rnd.n / seconds
        what = "under py-spy (not a figure to compare)" if profile_to else " ".join(extra)
        print(f"(b) cold {rnd.n} apps {what}: all Ready {seconds:.2f} s after the controller's"
              f" start, {rate:.0f} apps/s, {rate / baseline_rate:.2f}x the baseline's rate"
              f" (target >= 0.5x), controller peak RSS {peak:.0f} MiB (VmHWM; target <= 120 at"
              f" 1,000), RSS now {proc_status_kib(pid, 'VmRSS') / 1024:.0f} MiB (tree"
              f" {tree_rss_mib(pid):.0f} MiB), controller CPU"
              f" {cpu_cold:.1f} s ({cpu_cold / rnd.n * 1000:.1f} ms/app)", flush=True)  # fmt: skip
        shares = ", ".join(f"{role} {cpu_after[role] - cpu_before.get(role, 0.0):.1f}"
                           for role in cpu_after)  # fmt: skip
        git_requests = len(rnd.git.requests) - git_before
        print(f"    CPU s meanwhile: {shares}; the machine busy {busy:.1f} of"
              f" {seconds * (os.cpu_count() or 1):.1f} core-s (other users included);"
              f" git HTTP requests {git_requests} ({git_requests / rnd.n:.1f} per app)",
              flush=True)  # fmt: skip
        with contextlib.suppress(OSError):
            sent = await asyncio.to_thread(scrape, port)
            verbs = ", ".join(f"{v} {c / rnd.n:.2f}" for v, c in sorted(sent.requests.items()))
            dry = sum(sent.dry_runs.values()) / rnd.n
            print(f"    API requests per app in the cold start: {verbs}; dry-runs {dry:.2f}",
                  flush=True)  # fmt: skip
        if profile_to is None and args.resync != "0" and not extra:
            await noop_resync(controller, pid, port, rnd, interval)
    finally:
        await watch.close()
        if not sampler.task.done():
            await sampler.stop()
        await controller.stop()


async def noop_resync(
    controller: ControllerProcess, pid: int, port: int, rnd: Round, interval: float
) -> None:
    """(c): wait for N more passes with nothing changed; what they sent and cost."""
    await settle(port)
    before, cpu_before = await asyncio.to_thread(scrape, port), proc_cpu_seconds(pid)
    started = time.monotonic()
    deadline = started + interval * 1.1 + 60
    after = before
    while after.passes - before.passes < rnd.n:
        controller.check_alive()
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
        after = await asyncio.to_thread(scrape, port)
    cpu = proc_cpu_seconds(pid) - cpu_before
    passes = after.passes - before.passes
    verbs = after.requests - before.requests
    dry = after.dry_runs - before.dry_runs
    writes = after.writes - before.writes
    per = max(passes, 1)
    sent = ", ".join(f"{v} {c:g}" for v, c in sorted(verbs.items())) or "none"
    print(f"(c) no-op resync of {rnd.n} apps (trigger: --interval={interval:g}s expiring,"
          f" the periodic resync): {passes:g} passes in {time.monotonic() - started:.0f} s;"
          f" {writes:g} writes, {sum(dry.values()):g} dry-runs ({writes / per:.2f} and"
          f" {sum(dry.values()) / per:.2f} per pass; target 0); controller CPU"
          f" {cpu * 1000 / per:.1f} ms per pass (target < 50); requests sent: {sent}",
          flush=True)  # fmt: skip


async def settle(port: int) -> None:
    """Until the pass counter has not moved for 3 s (the last live-change passes done)."""
    last, still = -1.0, 0.0
    while still < 3.0:
        now = (await asyncio.to_thread(scrape, port)).passes
        still = still + 0.5 if now == last else 0.0
        last = now
        await asyncio.sleep(0.5)


# -- (d) the profile --------------------------------------------------------------------------

# The first rule whose pattern a stack holds (root to leaf: the outermost phase wins).
CATEGORIES = [
    ("render (render server children)", re.compile(r"^process \d+:.*render")),
    ("events", re.compile(r"controller/events\.py|_record_events")),
    ("status write", re.compile(r"pipeline/status\.py|_write_status|clear_refresh")),
    ("git", re.compile(r"driftless/sources/")),
    ("render (controller side)", re.compile(r"driftless/render/|pipeline/renderers\.py")),
    ("apply (sync)", re.compile(r"driftless/sync/")),
    ("plan + dry-run", re.compile(r"pipeline/planner\.py|pipeline/projects\.py|driftless/diff/")),
    ("watch + queue", re.compile(r"kube/cache\.py|_watch_apps|_list_and_watch|queue\.py")),
    ("reconcile (other)", re.compile(r"controller/reconciler\.py")),
    ("notifications", re.compile(r"driftless/notifications/")),
    ("kube client I/O", re.compile(r"aiohttp|kubernetes_asyncio|ssl\.py|json/")),
    ("startup (imports)", re.compile(r"<module>|_find_and_load")),
]  # fmt: skip


def read_profile(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def categorize(frames: list[str]) -> str:
    for name, pattern in CATEGORIES:
        if any(pattern.search(f) for f in frames):
            return name
    return "Python overhead (event loop, other)"


def breakdown(path: Path, n: int, rate: int = 200) -> str:
    stacks = read_profile(path)
    total = sum(c for _, c in stacks) or 1
    groups: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, count in stacks:
        groups[categorize(frames)] += count
        leaves[frames[-1]] += count
    lines = [f"Profile of a cold start of {n} apps (py-spy, {rate} Hz, active samples"
             f" {total}, = {total / rate:.1f} CPU s incl. render children):", "",
             "| group | share | ms per app |", "| --- | --- | --- |"]  # fmt: skip
    for name, count in groups.most_common():
        lines.append(f"| {name} | {count / total:.1%} | {count / rate * 1000 / n:.2f} |")
    lines += ["", "Top 15 functions by own time:", ""]
    for leaf, count in leaves.most_common(15):
        lines.append(f"- {count / total:.1%} {leaf}")
    return "\n".join(lines)


# -- (e) the API server restarted mid-sync (issue 14, faults) ---------------------------------

FAULT_HOOK = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: prep
  annotations: {driftless.dev/hook: PreSync}
spec:
  backoffLimit: 0
  template:
    metadata:
      labels: {hook: prep}
    spec:
      restartPolicy: Never
      nodeSelector: {bench-faults-hook: go}
      containers: [{name: prep, image: example.com/prep:1}]
"""
FAULT_HOOK_APPS = 3
FAULT_OUTAGE_SECONDS = 5.0


async def fault_hook_apps(client: KubeClient, git: GitHttpServer, tmp: Path, ns: str) -> list[str]:
    """Apps whose sync waits on a PreSync hook Job until a node has the label."""
    tree = tmp / "src-faults-hook" / "hook"
    tree.mkdir(parents=True)
    (tree / "hook.yaml").write_text(FAULT_HOOK)
    (tree / "cm.yaml").write_text(configmap("after-hook", "1"))  # hooks alone need no sync
    await seed_repository(tree.parent, tmp / "repo-faults-hook")
    url = git.publish(tmp / "repo-faults-hook", "scale-faults-hook")
    names = [f"0-hook-{i}" for i in range(FAULT_HOOK_APPS)]  # listed (so queued) first
    for name in names:
        await client.apply(namespace_object(f"{ns}-{name}"), field_manager="bench")
        app = app_object(name, ns, url, "hook", f"{ns}-{name}")
        await client.apply(app, field_manager="bench")
    return names


async def until_answered(what: Any) -> Any:
    """``what()`` retried while the API server is coming back."""
    for _ in range(300):
        try:
            return await what()
        except Exception:  # connections reset by the restart
            await asyncio.sleep(0.2)
    return await what()


async def faults_round(
    client: KubeClient, cluster: DevCluster, tmp: Path, git: GitHttpServer, n: int,
    args: argparse.Namespace,
) -> None:  # fmt: skip
    """``n`` one-ConfigMap apps and a few with a PreSync hook, cold; the API server SIGKILLed
    once a quarter is Ready, started again 5 s later: until every app is Ready, how many syncs
    each app's history has, and whether a hook Job was made twice (its uid)."""
    rnd = await prepare_round(client, git, tmp, n, f"faults-{n}")
    hooks = await fault_hook_apps(client, git, tmp, rnd.namespace)
    total = n + len(hooks)
    watch = ReadyWatch(client, rnd.namespace)
    await asyncio.sleep(1.0)
    ctl_args = [f"--namespace={rnd.namespace}", "--interval=1h", *args.controller_arg]
    started = time.monotonic()
    controller = ControllerProcess(cluster.kubeconfig, tmp, f"faults-{n}", ctl_args, None)
    node = (await client.list("v1", "Node"))[0]["metadata"]["name"]
    try:
        uids: dict[str, str] = {}
        while len(watch.ready) < n // 4 or len(uids) < len(hooks):  # hooks waiting too
            controller.check_alive()
            if time.monotonic() - started > args.timeout:
                raise TimeoutError(f"only {len(watch.ready)}/{total} apps Ready")
            for name in hooks:
                job = await client.get("batch/v1", "Job", "prep", f"{rnd.namespace}-{name}")
                if job is not None:
                    uids[name] = job["metadata"]["uid"]
            await asyncio.sleep(0.05)
        at_kill, killed = len(watch.ready), time.monotonic()
        cluster.stop_apiserver(kill=True)
        await asyncio.sleep(FAULT_OUTAGE_SECONDS)
        controller.check_alive()
        # From the main thread (an attached cluster's processes die with their thread);
        # this loop waits meanwhile, the controller (another process) does not.
        cluster.start_apiserver()
        back = time.monotonic()
        label = {"metadata": {"labels": {"bench-faults-hook": "go"}}}
        await until_answered(lambda: client.merge_patch("v1", "Node", node, label))
        while len(watch.ready) < total:
            controller.check_alive()
            if time.monotonic() - started > args.timeout:
                raise TimeoutError(f"only {len(watch.ready)}/{total} apps Ready after the outage")
            await asyncio.sleep(0.05)
        done = time.monotonic()
        apps = await client.list(API_VERSION, APPLICATION_KIND, rnd.namespace)
        syncs = Counter(len((a.get("status") or {}).get("history") or []) for a in apps)
        again = 0
        for name, uid in uids.items():
            job = await client.get("batch/v1", "Job", "prep", f"{rnd.namespace}-{name}")
            again += job is None or job["metadata"]["uid"] != uid
        pods = [len(await client.list("v1", "Pod", f"{rnd.namespace}-{h}")) for h in hooks]
        print(f"(e) faults: {n} one-ConfigMap apps + {len(hooks)} with a PreSync hook, cold; the"
              f" API server SIGKILLed when {at_kill} were Ready ({killed - started:.1f} s after"
              f" the controller's start), down {FAULT_OUTAGE_SECONDS:g} s, answering again"
              f" {back - killed:.1f} s after the kill (controller manager and scheduler"
              f" restarted too); every app Ready {done - started:.1f} s after the start,"
              f" {done - back:.1f} s after the API server was back; apps by syncs in their"
              f" history {dict(sorted(syncs.items()))}; hook Jobs made again {again} of"
              f" {len(uids)}, hook Pods per app {pods}",
              flush=True)  # fmt: skip
    finally:
        await watch.close()
        await controller.stop()
        unlabel = {"metadata": {"labels": {"bench-faults-hook": None}}}
        with contextlib.suppress(Exception):  # never hide why the round failed
            await until_answered(lambda: client.merge_patch("v1", "Node", node, unlabel))


# -- (f) the render server's cost per plain-directory render -----------------------------------


def own_and_children_cpu(pid: int) -> tuple[float, float]:
    """(utime+stime, cutime+cstime) of ``pid`` in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks, (int(fields[13]) + int(fields[14])) / ticks


async def renders_part(count: int, tmp: Path) -> None:
    app = tmp / "render-tree" / "app"
    app.mkdir(parents=True)
    (app / "cm.yaml").write_text(configmap("cm", "v"))
    source = ApplicationSource.model_validate({"repoURL": "file:///bench", "path": "app"})
    request = RenderRequest(Renderer.DIRECTORY, source, app.parent, app, "bench", "default",
                            KubeTarget("v1.30.0"), 30.0)  # fmt: skip
    server = LocalRenderServer(RenderTools())
    try:
        await server.render(request)  # started (and warmed up) before the clock runs
        assert server.pid is not None
        for at_once in (1, 16):
            own, kids = own_and_children_cpu(server.pid)
            started = time.monotonic()
            await gather_limited([server.render(request) for _ in range(count)], at_once)
            wall = time.monotonic() - started
            own2, kids2 = own_and_children_cpu(server.pid)
            print(f"(f) {count} directory renders, {at_once} at a time: "
                  f"{wall / count * 1000:.2f} ms/render; render server own CPU "
                  f"{(own2 - own) / count * 1000:.2f} ms/render (loop + fork), children "
                  f"{(kids2 - kids) / count * 1000:.2f} ms/render; render server RSS "
                  f"{proc_status_kib(server.pid, 'VmRSS') / 1024:.1f} MiB", flush=True)  # fmt: skip
    finally:
        server.close()


# -- main ---------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    binaries.ensure_all()
    sizes = [int(x) for x in args.apps.split(",") if x.strip()]
    with tempfile.TemporaryDirectory(prefix="driftless-bench-scale-") as name:
        tmp = Path(name)
        if args.renders:
            await renders_part(args.renders, tmp)
            if not sizes and not args.profile and not args.faults:
                return  # nothing else asked for: no cluster needed
        cluster = DevCluster("bench-scale", state_dir=tmp / "cluster")
        cluster.up(attached=True)
        git = GitHttpServer(tmp / "git-root").start()
        client = await KubeClient.from_kubeconfig(str(cluster.kubeconfig))
        try:
            await install(client)
            base = await baseline(client, args.baseline)
            base_rate = args.baseline / base
            for n in sizes:
                rnd = await prepare_round(client, git, tmp, n, f"cold-{n}")
                await cold_round(client, cluster.kubeconfig, tmp, rnd, args, base_rate)
            for workers in [w for w in args.sweep_workers.split(",") if w.strip()]:
                n = sizes[-1]
                rnd = await prepare_round(client, git, tmp, n, f"w{workers}-{n}")
                await cold_round(client, cluster.kubeconfig, tmp, rnd, args, base_rate,
                                 extra=(f"--workers={workers}",))  # fmt: skip
            if args.profile:
                out = tmp / "profile.raw"
                rnd = await prepare_round(client, git, tmp, args.profile, f"prof-{args.profile}")
                await cold_round(client, cluster.kubeconfig, tmp, rnd, args, base_rate,
                                 profile_to=out)  # fmt: skip
                text = breakdown(out, args.profile)
                print(f"(d) {text}", flush=True)
                if args.profile_out:
                    args.profile_out.write_text(text + "\n")
                if LOG_DIR:
                    (LOG_DIR / "profile.raw").write_bytes(out.read_bytes())
            if args.faults:
                await faults_round(client, cluster, tmp, git, args.faults, args)
        finally:
            await client.close()
            git.stop()
            cluster.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", default="100,1000,3000", help="cold-start sizes, commas")
    parser.add_argument("--baseline", type=int, default=1000, help="parallel applies")
    parser.add_argument("--profile", type=int, default=1000, help="apps profiled; 0: off")
    parser.add_argument("--profile-out", type=Path, help="also write (d) there (markdown)")
    parser.add_argument("--faults", type=int, default=0, help="apps of (e); 0: off")
    parser.add_argument("--renders", type=int, default=0, help="renders of (f); 0: off")
    parser.add_argument(
        "--resync", default="auto", help="controller --interval (s), auto; 0: no (c)"
    )
    parser.add_argument("--sweep-workers", default="", help="e.g. 4,16,32: more cold rounds")
    parser.add_argument("--timeout", type=float, default=900, help="s for a cold start")
    parser.add_argument(
        "--controller-arg", action="append", default=[], help="extra flag: --controller-arg=-v"
    )
    parser.add_argument("--controller-env", action="append", default=[], help="NAME=VALUE")
    parser.add_argument("--log-dir", type=Path, help="keep the controllers' logs there")
    args = parser.parse_args()
    global LOG_DIR
    LOG_DIR = args.log_dir
    CONTROLLER_ENV.extend(args.controller_env)
    if LOG_DIR:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
