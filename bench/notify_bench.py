"""Benchmarks of issue 13: git webhooks, notifications, metrics' cost.

Usage: ``python bench/notify_bench.py [--pushes 20] [--apps 1000] [--interval 60]
[--warmup 60] [--window 120] [--rounds 1]``

Runs the embedded control plane, the loopback forge of the tests (real git
over smart HTTP; after each push its post-receive hook delivers a GitHub
push webhook) and a loopback webhook receiver, with the real controller as a
child process (``driftless controller``), and prints, each measured in this
run:

* **webhook -> change applied**: a one-ConfigMap change committed and pushed
  with ``git push``; the forge's webhook goes to the controller's
  ``--webhook-address``; time from the push's end to the ConfigMap's new
  value seen by a watch; p50/p95 over ``--pushes`` pushes (goal p50 < 1 s).
  The app's poll interval is 1 h, so only the webhook can apply it; without
  a webhook the change waits for the next poll: the configured intervals are
  printed as that comparison (not waited for).
* **notification latency**: the sync's end (the watch sees the operation
  Succeeded on the pushed commit: the status write has landed) to the
  ``on-sync-succeeded`` message's arrival at the loopback webhook receiver;
  p50/p95 over the same pushes (goal < 1 s).
* **CPU overhead of metrics and notifications**: ``--apps`` one-ConfigMap
  apps, all Ready, the controller re-checking them every ``--interval``
  seconds; the controller's CPU seconds (its process and its children, from
  ``/proc``) over the same ``--window`` after the same ``--warmup``, once
  with ``--metrics-address`` (scraped every 5 s) and notifications (a rule
  matching every app on every trigger, a webhook service) and once with both
  off; the overhead in % (goal < 5 %). ``--rounds`` repeats the pair,
  alternating, to show the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from driftless.cli.install import install
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.wellknown import SECRET_TYPE_LABEL
from driftless.devcluster import binaries
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.notifications.engine import NOTIFICATION_SECRET_TYPE
from driftless.sources.seed import seed_repository

# The loopback forge and webhook receiver are the tests' own (tests/fixtures).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.forge import Forge
from tests.fixtures.receivers import HttpReceivers, Recorded

JSON = dict[str, Any]
T = TypeVar("T")
APPS_NS = "driftless"  # the controller's namespace: admins' rules see every app
PUSH_APP, PUSH_NS = "bench-push", "bench-push"
CPU_NS = "bench-cpu"
HMAC_KEY = "bench-notify-hmac"
POLL = 0.01
SCRAPE_EVERY = 5.0
CONTROLLER_DEFAULT_INTERVAL = "3m"  # `driftless controller --interval`'s default
# The webhook receiver listens on 127.0.0.1, which notifications may reach only when allowed.
RECEIVER_ON_LOOPBACK = ["--notifications-allow-private-networks"]
LOG_DIR: Path | None = None  # --log-dir: keep the controllers' logs there


# -- the controller as a child process ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ControllerProcess:
    """``driftless controller`` in a child process: its CPU time is measurable on its own."""

    def __init__(self, kubeconfig: Path, work: Path, name: str, args: list[str]) -> None:
        command = [
            str(Path(sys.executable).with_name("driftless")),
            f"--kubeconfig={kubeconfig}",
            "controller",
            f"--cache-dir={work / 'controller-cache'}",
            *args,
        ]
        self.log_path = LOG_DIR / f"controller-{name}.log" if LOG_DIR else work / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

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


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and its live descendants, and of every child they
    have reaped (``cutime``/``cstime``: the git processes of each pass)."""
    stats: dict[int, tuple[int, int]] = {}  # pid -> (ppid, clock ticks)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
        stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in stats.items():
        children[ppid].append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0))[1]
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


async def wait_port(port: int, proc: ControllerProcess, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check_alive()
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return
    raise TimeoutError(f"nothing listens on port {port}")


# -- objects -------------------------------------------------------------------------------


def app_object(name: str, url: str, path: str, namespace: str, interval: str | None) -> JSON:
    spec: JSON = {
        "source": {"repoURL": url, "targetRevision": "main", "path": path},
        "destination": {"namespace": namespace},
        "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
    }
    if interval:
        spec["interval"] = interval
    return {
        "apiVersion": API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": {"name": name, "namespace": APPS_NS},
        "spec": spec,
    }


def configmap(name: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '{value}'\n"
    )


def secret_object(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> JSON:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": APPS_NS, "labels": labels or {}},
        "data": encoded,
    }


async def webhook_service(client: KubeClient, name: str, url: str) -> None:
    """A NotificationService of type webhook (URL and HMAC key in its Secret), unthrottled."""
    # Only Secrets labelled for notifications are read by the engine.
    labels = {SECRET_TYPE_LABEL: NOTIFICATION_SECRET_TYPE}
    secret = secret_object(name, {"url": url, "hmacKey": HMAC_KEY}, labels)
    await client.apply(secret, field_manager="bench")
    service = {
        "apiVersion": API_VERSION,
        "kind": "NotificationService",
        "metadata": {"name": name, "namespace": APPS_NS},
        "spec": {"type": "webhook", "secretRef": {"name": name}, "rateLimit": 6000},
    }
    await client.apply(service, field_manager="bench")


async def notification_rule(client: KubeClient, name: str, spec: JSON) -> None:
    rule = {
        "apiVersion": API_VERSION,
        "kind": "NotificationRule",
        "metadata": {"name": name, "namespace": APPS_NS},
        "spec": spec,
    }
    await client.apply(rule, field_manager="bench")


async def rule_ready(client: KubeClient, name: str) -> bool:
    rule = await client.get(API_VERSION, "NotificationRule", name, APPS_NS)
    conditions = ((rule or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def is_ready(app: JSON) -> bool:
    conditions = (app.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


# -- waiting and watching ------------------------------------------------------------------


async def until(check: Callable[[], T | None], what: str, timeout: float = 120) -> T:
    """``check()``'s first truthy value, polled every 10 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(POLL)
    raise TimeoutError(f"timed out waiting for {what}")


class Seen:
    """When this process's watches first saw each ConfigMap value and each finished sync."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.values: dict[str, float] = {}  # the push app's ConfigMap value -> monotonic time
        self.synced: dict[str, float] = {}  # revision whose operation Succeeded -> time

    def configmap(self, obj: JSON) -> None:
        if obj.get("metadata", {}).get("name") == "c":
            value = (obj.get("data") or {}).get("value")
            if isinstance(value, str):
                self.values.setdefault(value, time.monotonic())

    def application(self, obj: JSON) -> None:
        if obj.get("metadata", {}).get("name") != PUSH_APP:
            return
        op = (obj.get("status") or {}).get("operationState") or {}
        if op.get("phase") == "Succeeded" and isinstance(op.get("revision"), str):
            self.synced.setdefault(op["revision"], time.monotonic())

    async def watch(self, api_version: str, kind: str, namespace: str) -> None:
        record = self.configmap if kind == "ConfigMap" else self.application
        while True:
            try:
                items, version = await self.client.list_with_version(api_version, kind, namespace)
                for obj in items:
                    record(obj)
                async for event in self.client.watch(
                    api_version, kind, namespace, resource_version=version
                ):
                    if event.type in ("ADDED", "MODIFIED"):
                        record(event.obj)
            except asyncio.CancelledError:
                raise
            except Exception:  # expired, interrupted: list and watch again
                await asyncio.sleep(0.1)


class WorkTree:
    """A clone of the forge's repository that commits and pushes with real git."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("remote", "add", "origin", url)

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
            cwd=self.path, check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return done.stdout.strip()

    def commit(self, value: str) -> str:
        (self.path / "cm.yaml").write_text(configmap("c", value))
        self.git("add", "-A")
        self.git("commit", "-q", "-m", f"value {value}")
        return self.git("rev-parse", "HEAD")

    def push(self) -> None:
        self.git("push", "-q", "origin", "main")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


# -- 1 and 2: webhook -> applied, sync end -> notification -----------------------------------


async def bench_push(
    client: KubeClient, kubeconfig: Path, tmp: Path, receivers: HttpReceivers, pushes: int
) -> None:
    forge = Forge(tmp / "forge").start()
    seen = Seen(client)
    watches = [
        asyncio.create_task(seen.watch("v1", "ConfigMap", PUSH_NS)),
        asyncio.create_task(seen.watch(API_VERSION, APPLICATION_KIND, APPS_NS)),
    ]
    hook_port, metrics_port = free_port(), free_port()
    controller = ControllerProcess(kubeconfig, tmp, "push", [
        "--interval=1h", f"--webhook-address=127.0.0.1:{hook_port}",
        f"--metrics-address=127.0.0.1:{metrics_port}", "--notifications", *RECEIVER_ON_LOOPBACK,
    ])  # fmt: skip
    try:
        hook_secret = secrets.token_hex(16)
        await client.apply(secret_object("driftless-webhooks", {"github": hook_secret}),
                           field_manager="bench")  # fmt: skip
        await webhook_service(client, "bench-push", receivers.url("hook", "/push"))
        await notification_rule(client, "bench-push", {
            "services": ["bench-push"], "triggers": ["on-sync-succeeded"],
            "selector": {"apps": [PUSH_APP]},
        })  # fmt: skip
        url = forge.create_repo("bench/app")
        work = WorkTree(tmp / "work", url)
        work.commit("0")
        await asyncio.to_thread(work.push)
        forge.add_hook("github", f"http://127.0.0.1:{hook_port}/api/v1/webhooks/github",
                       hook_secret, repo="bench/app")  # fmt: skip
        await wait_port(hook_port, controller)
        await client.apply(app_object(PUSH_APP, url, ".", PUSH_NS, "1h"), field_manager="bench")
        await until(lambda: seen.values.get("0"), "the first sync", timeout=300)
        await until_async(lambda: rule_ready(client, "bench-push"), "the rule's Ready")

        applied, from_start, notified = [], [], []
        for i in range(1, pushes + 1):
            controller.check_alive()
            # Operations are told apart by startedAt, which has second precision: a sync
            # started in the same second as the previous one fires no trigger (reported).
            await asyncio.sleep(1.1)
            sha = work.commit(str(i))
            started = time.monotonic()
            await asyncio.to_thread(work.push)  # the loop keeps watching meanwhile
            ended = time.monotonic()
            delivery = forge.deliveries[-1]
            assert delivery.status == 202, f"webhook answered {delivery.status} {delivery.error}"
            at = await until(functools.partial(seen.values.get, str(i)), f"value {i}", 60)
            applied.append(at - ended)
            from_start.append(at - started)
            synced = await until(functools.partial(seen.synced.get, sha), f"sync of {sha}", 60)
            message = await until(functools.partial(_message, receivers, sha), f"message {sha}", 60)
            notified.append(message.at - synced)
        report("webhook -> change applied (push end -> new value seen by a watch)", applied,
               "goal p50 < 1 s")  # fmt: skip
        report("  the same from the push's start (the push includes the webhook's delivery)",
               from_start, "")  # fmt: skip
        print(f"  without a webhook: the next poll, every {CONTROLLER_DEFAULT_INTERVAL} by default"
              " (controller --interval, jittered 10%), here the app's spec.interval 1h"
              " (not waited for)")  # fmt: skip
        report("notification latency (sync Succeeded seen -> webhook message received)",
               notified, "goal < 1 s")  # fmt: skip
    finally:
        await controller.stop()
        for task in watches:
            task.cancel()
        await asyncio.gather(*watches, return_exceptions=True)
        # The forge goes away: its app would fail every later pass (noise in part 3).
        await client.delete(API_VERSION, APPLICATION_KIND, PUSH_APP, APPS_NS)
        forge.stop()


def _message(receivers: HttpReceivers, sha: str) -> Recorded | None:
    for record in receivers.of("hook"):
        if record.path == "/push" and record.status == 200:
            payload = record.json
            if payload["revision"] == sha and payload["trigger"] == "on-sync-succeeded":
                return record
    return None


async def until_async(check: Callable[[], Any], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def report(label: str, samples: list[float], goal: str) -> None:
    p50, p95 = percentiles(samples)
    tail = f" ({goal})" if goal else ""
    print(f"{label}, {len(samples)} samples: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms,"
          f" max {max(samples) * 1000:.0f} ms{tail}", flush=True)  # fmt: skip


# -- 3: CPU overhead at N apps ----------------------------------------------------------------


async def create_cpu_apps(client: KubeClient, tmp: Path, count: int) -> None:
    tree = tmp / "src-cpu"
    for i in range(count):
        folder = tree / "apps" / f"a-{i:04d}"
        folder.mkdir(parents=True)
        (folder / "cm.yaml").write_text(configmap(f"cm-{i:04d}", str(i)))
    url = await seed_repository(tree, tmp / "repo-cpu")
    semaphore = asyncio.Semaphore(16)

    async def create(i: int) -> None:
        async with semaphore:
            app = app_object(f"cpu-{i:04d}", url, f"apps/a-{i:04d}", CPU_NS, None)
            await client.apply(app, field_manager="bench")

    await asyncio.gather(*(create(i) for i in range(count)))


async def ready_count(client: KubeClient) -> int:
    apps = await client.list(API_VERSION, APPLICATION_KIND, APPS_NS)
    return sum(1 for a in apps if a["metadata"]["name"].startswith("cpu-") and is_ready(a))


async def bench_cpu(
    client: KubeClient, kubeconfig: Path, tmp: Path, receivers: HttpReceivers,
    args: argparse.Namespace,
) -> None:  # fmt: skip
    common = [f"--interval={args.interval}s", "--allow-local-repositories"]
    await create_cpu_apps(client, tmp, args.apps)
    setup = ControllerProcess(kubeconfig, tmp, "cpu-setup", [*common, "--no-notifications"])
    started = time.monotonic()
    try:
        while (ready := await ready_count(client)) < args.apps:
            setup.check_alive()
            print(f"  ... {ready}/{args.apps} apps Ready", flush=True)
            await asyncio.sleep(10)
    finally:
        await setup.stop()
    print(f"{args.apps} one-ConfigMap apps Ready in {time.monotonic() - started:.0f} s", flush=True)
    await webhook_service(client, "bench-all", receivers.url("hook", "/all"))
    await notification_rule(client, "bench-all", {
        "services": ["bench-all"],
        "triggers": ["on-sync-succeeded", "on-sync-failed", "on-sync-running",
                     "on-health-degraded", "on-health-recovered", "on-drift-detected",
                     "on-deployed", "on-pruned"],
    })  # fmt: skip
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    reconciles: list[float] = []
    for _ in range(args.rounds):
        for mode in ("on", "off"):
            seconds, passes = await measure(kubeconfig, tmp, common, mode, args)
            cpu[mode].append(seconds)
            if passes is not None:
                reconciles.append(passes)
            print(f"  metrics+notifications {mode}: {seconds:.2f} CPU s in {args.window:g} s",
                  flush=True)  # fmt: skip
    on, off = statistics.mean(cpu["on"]), statistics.mean(cpu["off"])
    overhead = (on - off) / off * 100
    rate = f", {statistics.mean(reconciles):.0f} reconciles per window" if reconciles else ""
    print(f"controller CPU at {args.apps} apps (interval {args.interval:g} s, window"
          f" {args.window:g} s after {args.warmup:g} s, x{args.rounds}{rate}):"
          f" metrics+notifications on {on:.2f} CPU s ({on / args.window * 100:.1f}% of a core),"
          f" off {off:.2f} CPU s ({off / args.window * 100:.1f}%);"
          f" overhead {overhead:+.1f}% (goal < 5%)", flush=True)  # fmt: skip


async def measure(
    kubeconfig: Path, tmp: Path, common: list[str], mode: str, args: argparse.Namespace
) -> tuple[float, float | None]:
    """CPU seconds of one controller over ``args.window`` after ``args.warmup``; in mode "on"
    also the reconciles its /metrics counted over that window."""
    port = free_port()
    extra = (
        [f"--metrics-address=127.0.0.1:{port}", "--notifications", *RECEIVER_ON_LOOPBACK]
        if mode == "on"
        else ["--no-notifications"]
    )
    controller = ControllerProcess(kubeconfig, tmp, f"cpu-{mode}", [*common, *extra])
    scrapes: list[str] = []
    scraper = asyncio.create_task(scrape(port, scrapes)) if mode == "on" else None
    try:
        await asyncio.sleep(args.warmup)
        controller.check_alive()
        first = len(scrapes)
        before = controller.cpu_seconds()
        await asyncio.sleep(args.window)
        after = controller.cpu_seconds()
        controller.check_alive()
        passes = None
        if scraper is not None and first > 0:
            passes = reconcile_count(scrapes[-1]) - reconcile_count(scrapes[first - 1])
        return after - before, passes
    finally:
        if scraper is not None:
            scraper.cancel()
            await asyncio.gather(scraper, return_exceptions=True)
        await controller.stop()


async def scrape(port: int, texts: list[str]) -> None:
    """GET /metrics every 5 s, as Prometheus would."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        try:
            text = await asyncio.to_thread(_get, opener, f"http://127.0.0.1:{port}/metrics")
            texts.append(text)
        except OSError:
            pass  # not listening yet
        await asyncio.sleep(SCRAPE_EVERY)


def _get(opener: urllib.request.OpenerDirector, url: str) -> str:
    with opener.open(url, timeout=10) as response:
        text: str = response.read().decode()
        return text


def reconcile_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "driftless_app_reconcile_duration_seconds":
            return sum(s.value for s in family.samples if s.name.endswith("_count"))
    return 0.0


# -- main ---------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    binaries.ensure_all()
    with tempfile.TemporaryDirectory(prefix="driftless-bench-notify-") as name:
        tmp = Path(name)
        cluster = DevCluster("bench-notify", state_dir=tmp / "cluster")
        cluster.up(attached=True)
        receivers = HttpReceivers(hmac_key=HMAC_KEY).start()
        client = await KubeClient.from_kubeconfig(str(cluster.kubeconfig))
        try:
            await install(client)
            if args.pushes:
                await bench_push(client, cluster.kubeconfig, tmp, receivers, args.pushes)
            if args.apps:
                await bench_cpu(client, cluster.kubeconfig, tmp, receivers, args)
        finally:
            await client.close()
            receivers.stop()
            cluster.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=20, help="0: skip parts 1 and 2")
    parser.add_argument("--apps", type=int, default=1000, help="0: skip part 3")
    parser.add_argument("--interval", type=int, default=60, help="controller --interval (s)")
    parser.add_argument("--warmup", type=float, default=60, help="s after the start")
    parser.add_argument("--window", type=float, default=120, help="s of CPU measured")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--log-dir", type=Path, help="keep the controllers' logs there")
    args = parser.parse_args()
    global LOG_DIR
    LOG_DIR = args.log_dir
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
