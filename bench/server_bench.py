"""Benchmark of issue 11: the API server's list at 1,000 and 10,000 Applications.

Usage: ``python bench/server_bench.py [--apps 1000 10000] [--samples 30]``

For each N, in a fresh dev cluster with driftless installed: creates N
Applications (server-side apply, then their status as the controller writes
it after a sync: sync and health, a resource table, conditions, the last
operation and a short history), concurrently; starts ``driftless server``
(the installed entry point, as a user runs it) and prints:

* **time to ready**: process start to ``/readyz`` 200 (caches listed);
* **first page, filtered**: the median (and p90) time of
  ``GET /api/v1/applications?sync=OutOfSync&project=team-3&sort=-reconciledAt&limit=100``
  over loopback with a kept-alive connection -- the server's time plus a
  loopback round trip (goal < 100 ms), and its size in bytes;
* **first page, unfiltered** (``limit=100``, sorted by name), likewise;
* **first page, filtered, not admin**: the same filtered page asked with an
  API token of role ``viewer`` of Project ``team-3`` (a project rule and a
  rule naming apps by pattern, ``team-3/app-0000*`` denied), under a
  ``driftless-rbac`` ConfigMap of 48 project rules: the first request (no
  decision made yet: every row is decided) and the median (and p90);
* **server RSS** after the requests and its peak (``VmHWM``; goal <= 250 MiB).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from driftless.cli.install import install
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.devcluster import binaries
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient

JSON = dict[str, Any]
APPS_NS = "driftless"
CONCURRENCY = 48
FILTERED = "sync=OutOfSync&project=team-3&sort=-reconciledAt&limit=100"
UNFILTERED = "limit=100"
GOAL_MS = 100.0
TOKEN_PROJECT, TOKEN_ROLE = "team-3", "viewer"
# Argo CD-style policies: whole projects for teams, and a rule naming apps by pattern.
RBAC_CSV = "".join(f"p, role:team-{n}, applications, *, team-{n}/*, allow\n" for n in range(48))
ROLE_POLICIES = [
    f"p, proj:{TOKEN_PROJECT}:{TOKEN_ROLE}, applications, get, {TOKEN_PROJECT}/*, allow",
    f"p, proj:{TOKEN_PROJECT}:{TOKEN_ROLE}, applications, get, {TOKEN_PROJECT}/app-0000*, deny",
]
GOAL_MIB = 250.0
_ANNOUNCE = re.compile(r"driftless server listening on (http\S+)")


def application(i: int) -> JSON:
    name = f"app-{i:05d}"
    return {
        "apiVersion": API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": {
            "name": name,
            "namespace": APPS_NS,
            "labels": {"team": f"team-{i % 10}", "env": ("prod", "staging", "dev")[i % 3]},
        },
        "spec": {
            "project": f"team-{i % 10}",
            "source": {
                "repoURL": f"https://git.example.com/team-{i % 10}/service-{i % 97}.git",
                "targetRevision": "main",
                "path": f"overlays/{('prod', 'staging', 'dev')[i % 3]}",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


def status(i: int) -> JSON:
    """A status as after a real sync of a small app (5 objects)."""
    sha = f"{i:08x}" * 5
    out_of_sync = i % 7 == 0
    when = f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
    kinds = [("", "Service"), ("apps", "Deployment"), ("", "ConfigMap"), ("", "ServiceAccount"),
             ("networking.k8s.io", "Ingress")]  # fmt: skip
    resources = [
        {"group": g, "version": "v1", "kind": k, "namespace": f"app-{i:05d}", "name": "web",
         "status": "OutOfSync" if out_of_sync and k == "ConfigMap" else "Synced",
         "health": {"status": "Healthy"}}
        for g, k in kinds
    ]  # fmt: skip
    source = application(i)["spec"]["source"]
    return {
        "observedGeneration": 1,
        "sync": {"status": "OutOfSync" if out_of_sync else "Synced", "revision": sha},
        "health": {"status": ("Healthy", "Healthy", "Progressing", "Degraded")[i % 4]},
        "resources": resources,
        "conditions": [
            {
                "type": t,
                "status": s,
                "reason": r,
                "message": m,
                "lastTransitionTime": when,
                "observedGeneration": 1,
            }
            for t, s, r, m in [
                ("Ready", "True", "Succeeded", f"synced {sha[:7]}; healthy"),
                ("Reconciling", "False", "Succeeded", ""),
                ("Stalled", "False", "Succeeded", ""),
            ]
        ],
        "lastSyncedAt": when,
        "operationState": {
            "operation": {"sync": {"revision": sha}, "initiatedBy": {"automated": True}},
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": when,
            "finishedAt": when,
            "revision": sha,
            "resources": [{**r, "status": "Synced", "message": "applied"} for r in resources],
        },
        "history": [
            {"id": n, "revision": sha, "deployedAt": when, "startedAt": when, "source": source}
            for n in range(3)
        ],
    }


async def create_apps(client: KubeClient, count: int, first: int = 0) -> float:
    """Create apps ``first`` .. ``count - 1`` with their status; seconds taken."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            obj = application(i)
            await client.apply(obj, field_manager="bench")
            await client.merge_patch(
                API_VERSION, APPLICATION_KIND, obj["metadata"]["name"], {"status": status(i)},
                namespace=APPS_NS, subresource="status",
            )  # fmt: skip

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(first, count)))
    return time.monotonic() - started


async def setup_rbac(client: KubeClient, kubeconfig: Path) -> str:
    """The ConfigMap's rules, Project ``team-3`` with its role, and a token of that role
    (made by ``driftless project token create``, as a user makes one)."""
    await client.apply(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "driftless-rbac", "namespace": APPS_NS},
         "data": {"policy.csv": RBAC_CSV}},
        field_manager="bench",
    )  # fmt: skip
    await client.apply(
        {"apiVersion": API_VERSION, "kind": PROJECT_KIND,
         "metadata": {"name": TOKEN_PROJECT, "namespace": APPS_NS},
         "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                  "roles": [{"name": TOKEN_ROLE, "policies": ROLE_POLICIES}]}},
        field_manager="bench",
    )  # fmt: skip
    exe = str(Path(sys.executable).with_name("driftless"))
    made = subprocess.run(  # noqa: ASYNC221 (once, before any timing)
        [exe, "--kubeconfig", str(kubeconfig), "project", "token", "create",
         TOKEN_PROJECT, TOKEN_ROLE, "-n", APPS_NS],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return made.stdout.strip()


async def token_in_force(http: aiohttp.ClientSession, url: str) -> None:
    """Wait until the server takes the token and its role (one app of team-3 is seen)."""
    while True:
        async with http.get(f"{url}/api/v1/applications/{APPS_NS}/app-00013") as resp:
            if resp.status == 200:
                return
        await asyncio.sleep(0.1)


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


async def start_server(kubeconfig: Path, log: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    exe = str(Path(sys.executable).with_name("driftless"))
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 (started once; its pid is read from /proc)
            [exe, "--kubeconfig", str(kubeconfig), "server", "--port", "0",
             "--namespace", APPS_NS, "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = None
    async with aiohttp.ClientSession() as http:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"driftless server exited:\n{log.read_text()}")
            if url is None:
                found = _ANNOUNCE.search(log.read_text(errors="replace"))
                url = found.group(1) if found else None
            else:
                try:
                    async with http.get(f"{url}/readyz") as resp:
                        if resp.status == 200:
                            return process, url, time.monotonic() - started
                except aiohttp.ClientError:
                    pass
            await asyncio.sleep(0.02)


async def login(http: aiohttp.ClientSession, url: str, client: KubeClient) -> None:
    secret = await client.get("v1", "Secret", "driftless-initial-admin", APPS_NS)
    assert secret is not None
    password = base64.b64decode(secret["data"]["password"]).decode()
    body = {"username": "admin", "password": password}
    async with http.post(f"{url}/api/v1/session", json=body) as resp:
        assert resp.status == 200, await resp.text()


async def timed_page(
    http: aiohttp.ClientSession, url: str, samples: int
) -> tuple[float, float, int, int]:
    """Median and p90 milliseconds, bytes and total of one list request."""
    times: list[float] = []
    size = total = 0
    for _ in range(samples):
        started = time.perf_counter()
        async with http.get(url) as resp:
            body = await resp.read()
            assert resp.status == 200, body[:300]
        times.append((time.perf_counter() - started) * 1000)
        size = len(body)
        total = int(re.search(rb'"total":(\d+)', body).group(1))  # type: ignore[union-attr]
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1], size, total


async def run(count: int, samples: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="driftless-bench-server-") as tmp_name:
        tmp = Path(tmp_name)
        cluster = DevCluster("bench-server", state_dir=tmp / "cluster", addresses=False)
        cluster.up(attached=True)
        client = await KubeClient.from_kubeconfig(str(cluster.kubeconfig), pool_size=CONCURRENCY)
        process = None
        try:
            await install(client, namespace=APPS_NS)
            created = await create_apps(client, count)
            print(f"  {count} apps created with status in {created:.1f} s", flush=True)
            token = await setup_rbac(client, cluster.kubeconfig)
            process, url, ready = await start_server(cluster.kubeconfig, tmp / "server.log")
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                await login(http, url, client)
                api = f"{url}/api/v1/applications"
                f_med, f_p90, f_bytes, f_total = await timed_page(
                    http, f"{api}?{FILTERED}", samples
                )
                u_med, u_p90, u_bytes, u_total = await timed_page(
                    http, f"{api}?{UNFILTERED}", samples
                )
            bearer = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=bearer) as http:
                await asyncio.wait_for(token_in_force(http, url), 120)
                t_first, _, _, _ = await timed_page(http, f"{api}?{FILTERED}", 1)
                t_med, t_p90, _, t_total = await timed_page(http, f"{api}?{FILTERED}", samples)
            rss = proc_kib(process.pid, "VmRSS") / 1024
            hwm = proc_kib(process.pid, "VmHWM") / 1024
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
            await client.close()
            cluster.down()
    return {
        "ready_s": ready, "f_med": f_med, "f_p90": f_p90, "f_bytes": f_bytes,
        "f_total": f_total, "u_med": u_med, "u_p90": u_p90, "u_bytes": u_bytes,
        "u_total": u_total, "rss": rss, "hwm": hwm, "t_first": t_first, "t_med": t_med,
        "t_p90": t_p90, "t_total": t_total,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    binaries.ensure_all()
    for count in args.apps:
        print(f"N = {count:,} Applications", flush=True)
        r = asyncio.run(run(count, args.samples))
        print(f"  time to ready:            {r['ready_s']:.2f} s")
        print(
            f"  first page, filtered:     median {r['f_med']:.1f} ms, p90 {r['f_p90']:.1f} ms,"
            f" {r['f_bytes']:,} bytes ({r['f_total']:,} match; goal < {GOAL_MS:.0f} ms)"
        )
        print(
            f"  first page, unfiltered:   median {r['u_med']:.1f} ms, p90 {r['u_p90']:.1f} ms,"
            f" {r['u_bytes']:,} bytes ({r['u_total']:,} match)"
        )
        print(
            f"  first page, not admin:    first {r['t_first']:.1f} ms, median {r['t_med']:.1f} ms,"
            f" p90 {r['t_p90']:.1f} ms ({r['t_total']:,} match)"
        )
        print(f"  server RSS:               {r['rss']:.0f} MiB now, {r['hwm']:.0f} MiB peak"
              f" (goal <= {GOAL_MIB:.0f} MiB)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
