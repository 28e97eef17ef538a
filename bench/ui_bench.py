"""Benchmark of issue 11 in a browser: the web UI and the server at 1,000 and 10,000 apps.

Usage: ``python bench/ui_bench.py [--apps 1000 10000] [--loads 5]``

One dev cluster for the whole run: driftless installed, then Applications
created with their status as after a real sync (``server_bench.application``
and ``server_bench.status``), first the smaller count, then topped up to the
next. For each count a fresh ``driftless server`` (the installed entry point)
serves Debian's chromium, driven by Playwright (the system browser, never a
download), and the bench prints:

* **list interactive**: navigation to ``/applications`` until the UI's
  ``driftless:list-interactive`` performance mark, i.e. the first rows of
  the table are rendered with their handlers attached and the filter form is
  in the page (same render); the bench then checks that the search box takes
  input. First load (cold browser cache) and the median of the next loads.
* **scroll to the last row**: from setting the table's scroll position to its
  end until the last app's row is in the DOM (its page fetched and rendered).
* **filter**: from a click on the ``OutOfSync`` checkbox until the filtered
  total and the first matching rows are rendered; likewise for typing a name
  in the search box (this one includes the UI's 300 ms typing pause).
* **first page**: median time of ``GET /api/v1/applications?<filtered>`` over
  loopback with a kept-alive connection (the server's time plus one loopback
  round trip) and its size, as ``server_bench`` measures it.
* **live burst**: with the list open, a new revision synced on up to 2,000
  apps (status patches, as the controller writes them): the server's watch,
  cache and stream fan-out, and the browser fetching its pages again, until
  the first row shows the new revision.
* **server RSS**, sampled every 20 ms from ``/proc`` the whole time, the peak
  of each phase apart, to tell where a peak comes from: while the caches fill
  (``VmHWM`` at ready), login and API pages, browser loads/scroll/filters, the
  live burst; then the steady state (median over 3 s after 5 s idle once the
  browser is closed) and the process's overall high-water mark.

All times in the page are taken with ``performance.now()`` inside the page,
so Playwright's own round trips are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, async_playwright

import server_bench as sb  # bench/ is this script's directory, hence on sys.path
from driftless.cli.install import install
from driftless.devcluster import binaries
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient

GOAL_INTERACTIVE_MS = 1000.0
CHROMIUM = "/usr/bin/chromium"
SAMPLE_SECONDS = 0.02
IDLE_SECONDS = 5.0
STEADY_SECONDS = 3.0
TIMEOUT_MS = 60_000
CHURN_MAX = 2000
NEW_REVISION = "c0ffee" * 6 + "c0ff"

# Runs in the page (code pasted in, since the CSP forbids eval there): the ms
# from ACTION until CHECK is true, checked every frame.
_UNTIL = """
async (arg) => {
  const started = performance.now();
  (() => { ACTION })();
  return await new Promise((resolve, reject) => {
    const poll = () => {
      if ((() => { CHECK })()) resolve(performance.now() - started);
      else if (performance.now() - started > TIMEOUT) reject(new Error('not seen in time'));
      else requestAnimationFrame(poll);
    };
    poll();
  });
}
"""

_SCROLL_END = (
    "const s = document.querySelector('.app-table .scroller'); s.scrollTop = s.scrollHeight;"
)
_LINKS = "[...document.querySelectorAll('.app-table .app-link')].map((a) => a.textContent)"
_HAS_LINK = f"return {_LINKS}.includes(arg);"
_CLICK_OUT_OF_SYNC = "document.getElementById('filter-sync-OutOfSync').click();"
_FILTERED = (
    "const t = document.querySelector('.total').textContent;"
    f" const l = {_LINKS};"
    " return t.startsWith(arg[0] + ' ') && t.includes('match')"
    " && l[0] === arg[1] && l[1] === arg[2];"
)
_TYPE_SEARCH = (
    "const input = document.getElementById('filter-search');"
    " const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;"
    " set.call(input, arg[0]); input.dispatchEvent(new Event('input', { bubbles: true }));"
)
_SEARCHED = (
    "const t = document.querySelector('.total').textContent;"
    f" const l = {_LINKS};"
    " return t.startsWith('1 application matches') && l.length === 1 && l[0] === arg[1];"
)
_MARK = "performance.getEntriesByName('driftless:list-interactive')[0]?.startTime ?? null"


class RssSampler(threading.Thread):
    """Samples a process's VmRSS (MiB) every ``SAMPLE_SECONDS`` until ``stop()``."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                mib = sb.proc_kib(self.pid, "VmRSS") / 1024
            except OSError:
                return
            self.samples.append((time.monotonic(), mib))
            self._done.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak(self, since: float, until: float) -> float:
        return max((m for t, m in self.samples if since <= t <= until), default=0.0)

    def median(self, since: float, until: float) -> float:
        values = [m for t, m in self.samples if since <= t <= until]
        return statistics.median(values) if values else 0.0


@dataclass
class Figures:
    apps: int
    ready_s: float = 0.0
    cold_ms: float = 0.0
    warm_ms: float = 0.0
    scroll_ms: float = 0.0
    filter_ms: float = 0.0
    search_ms: float = 0.0
    page_ms: float = 0.0
    page_p90_ms: float = 0.0
    page_bytes: int = 0
    page_total: int = 0
    rss_ready: float = 0.0
    rss_startup_peak: float = 0.0
    rss_api_peak: float = 0.0
    rss_browser_peak: float = 0.0
    rss_churn_peak: float = 0.0
    churned: int = 0
    churn_s: float = 0.0
    rss_steady: float = 0.0
    rss_hwm: float = 0.0
    loads: list[float] = field(default_factory=list)


async def until(page: Page, action: str, check: str, arg: Any) -> float:
    script = _UNTIL.replace("ACTION", action).replace("CHECK", check)
    return float(await page.evaluate(script.replace("TIMEOUT", str(TIMEOUT_MS)), arg))


async def list_interactive(page: Page, url: str) -> float:
    """One navigation to the list: ms to the mark; then the search box must take input."""
    await page.goto(f"{url}/applications", wait_until="commit")
    await page.wait_for_function(f"() => ({_MARK}) !== null", timeout=TIMEOUT_MS)
    mark = await page.evaluate(f"() => {_MARK}")
    search = page.get_by_label("Search by name")
    await search.fill("x", timeout=TIMEOUT_MS)  # accepts input (fails if disabled or absent)
    await search.fill("", timeout=TIMEOUT_MS)
    return float(mark)


async def browse(page: Page, url: str, count: int, loads: int, figures: Figures) -> None:
    figures.loads = [await list_interactive(page, url) for _ in range(loads)]
    figures.cold_ms = figures.loads[0]
    figures.warm_ms = statistics.median(figures.loads[1:] or figures.loads)
    last = f"app-{count - 1:05d}"
    figures.scroll_ms = await until(page, _SCROLL_END, _HAS_LINK, last)

    await list_interactive(page, url)
    out_of_sync = len(range(0, count, 7))  # server_bench.status: every 7th app
    expected = [str(out_of_sync), "app-00000", "app-00007"]
    figures.filter_ms = await until(page, _CLICK_OUT_OF_SYNC, _FILTERED, expected)

    await list_interactive(page, url)
    figures.search_ms = await until(page, _TYPE_SEARCH, _SEARCHED, ["00999", "app-00999"])


async def churn(client: KubeClient, page: Page, url: str, count: int) -> int:
    """A new revision synced on the first ``CHURN_MAX`` apps, the list open and live.

    What a commit to a repository many apps share looks like to the server:
    a burst of status changes through its watch, each fanned out to the
    browser's stream, the browser fetching its visible pages again. Returns
    how many apps changed; done when the first row shows the new revision.
    """
    changed = min(count, CHURN_MAX)
    await list_interactive(page, url)
    gate = asyncio.Semaphore(sb.CONCURRENCY)

    async def one(i: int) -> None:
        status = sb.status(i)
        status["sync"]["revision"] = NEW_REVISION
        async with gate:
            await client.merge_patch(
                sb.API_VERSION, sb.APPLICATION_KIND, f"app-{i:05d}", {"status": status},
                namespace=sb.APPS_NS, subresource="status",
            )  # fmt: skip

    await asyncio.gather(*(one(i) for i in range(changed)))
    await page.wait_for_function(
        f"() => document.querySelector('.app-table .sizer .col-revision')?.textContent"
        f" === '{NEW_REVISION[:8]}'",
        timeout=TIMEOUT_MS,
    )
    return changed


async def measure(
    cluster: DevCluster, client: KubeClient, browser: Browser, tmp: Path, count: int, loads: int
) -> Figures:
    figures = Figures(count)
    process, url, figures.ready_s = await sb.start_server(
        cluster.kubeconfig, tmp / f"server-{count}.log"
    )
    sampler = RssSampler(process.pid)
    try:
        figures.rss_startup_peak = sb.proc_kib(process.pid, "VmHWM") / 1024
        figures.rss_ready = sb.proc_kib(process.pid, "VmRSS") / 1024
        sampler.start()
        started = time.monotonic()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await sb.login(http, url, client)
            api = f"{url}/api/v1/applications?{sb.FILTERED}"
            timed = await sb.timed_page(http, api, 30)
        figures.page_ms, figures.page_p90_ms, figures.page_bytes, figures.page_total = timed
        api_done = time.monotonic()
        secret = await client.get("v1", "Secret", "driftless-initial-admin", sb.APPS_NS)
        assert secret is not None
        password = base64.b64decode(secret["data"]["password"]).decode()
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            login = await context.request.post(
                f"{url}/api/v1/session", data={"username": "admin", "password": password}
            )
            assert login.ok, await login.text()
            page = await context.new_page()
            await browse(page, url, count, loads, figures)
            browsed = time.monotonic()
            figures.churned = await churn(client, page, url, count)
            figures.churn_s = time.monotonic() - browsed
        finally:
            await context.close()
        ended = time.monotonic()
        await asyncio.sleep(IDLE_SECONDS + STEADY_SECONDS)
        figures.rss_steady = sampler.median(ended + IDLE_SECONDS, time.monotonic())
        figures.rss_api_peak = sampler.peak(started, api_done)
        figures.rss_browser_peak = sampler.peak(api_done, browsed)
        figures.rss_churn_peak = sampler.peak(browsed, ended)
        figures.rss_hwm = sb.proc_kib(process.pid, "VmHWM") / 1024
    finally:
        sampler.stop()
        process.terminate()
        process.wait(timeout=30)
    return figures


async def run(counts: list[int], loads: int) -> list[Figures]:
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="driftless-bench-ui-") as tmp_name:
        tmp = Path(tmp_name)
        cluster = DevCluster("bench-ui", state_dir=tmp / "cluster", addresses=False)
        cluster.up(attached=True)
        client = await KubeClient.from_kubeconfig(str(cluster.kubeconfig), pool_size=sb.CONCURRENCY)
        try:
            await install(client, namespace=sb.APPS_NS)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                try:
                    made = 0
                    for count in sorted(counts):
                        took = await sb.create_apps(client, count, first=made)
                        print(f"  {count - made:,} apps created (now {count:,}) in {took:.1f} s",
                              flush=True)  # fmt: skip
                        made = count
                        figures = await measure(cluster, client, browser, tmp, count, loads)
                        print(f"  measured at {count:,} apps", flush=True)
                        results.append(figures)
                finally:
                    await browser.close()
        finally:
            await client.close()
            cluster.down()
    return results


def table(results: list[Figures]) -> str:
    def row(name: str, goal: str, cells: list[str]) -> str:
        return f"| {name} | " + " | ".join(cells) + f" | {goal} |"

    head = "| figure | " + " | ".join(f"{r.apps:,} apps" for r in results) + " | goal |"
    lines = [head, "|" + " --- |" * (len(results) + 2)]
    lines += [
        row("server ready (caches listed)", "", [f"{r.ready_s:.1f} s" for r in results]),
        row("first page, filtered (median / p90)", "< 100 ms",
            [f"{r.page_ms:.1f} / {r.page_p90_ms:.1f} ms" for r in results]),
        row("first page bytes (matches)", "",
            [f"{r.page_bytes:,} B ({r.page_total:,})" for r in results]),
        row("list interactive, first load", "< 1 s", [f"{r.cold_ms:.0f} ms" for r in results]),
        row("list interactive, next loads (median)", "< 1 s",
            [f"{r.warm_ms:.0f} ms" for r in results]),
        row("scroll to the last row", "", [f"{r.scroll_ms:.0f} ms" for r in results]),
        row("filter (OutOfSync checkbox)", "", [f"{r.filter_ms:.0f} ms" for r in results]),
        row("search by name (incl. 300 ms pause)", "",
            [f"{r.search_ms:.0f} ms" for r in results]),
        row("RSS at ready", "", [f"{r.rss_ready:.0f} MiB" for r in results]),
        row("RSS peak while listing (startup)", "<= 250 MiB",
            [f"{r.rss_startup_peak:.0f} MiB" for r in results]),
        row("RSS peak: login + API pages", "<= 250 MiB",
            [f"{r.rss_api_peak:.0f} MiB" for r in results]),
        row("RSS peak: browser loads, scroll, filters", "<= 250 MiB",
            [f"{r.rss_browser_peak:.0f} MiB" for r in results]),
        row("RSS peak: live burst (apps changed, s)", "<= 250 MiB",
            [f"{r.rss_churn_peak:.0f} MiB ({r.churned:,}, {r.churn_s:.0f} s)" for r in results]),
        row("RSS steady (idle after)", "<= 250 MiB", [f"{r.rss_steady:.0f} MiB" for r in results]),
        row("RSS high-water mark (VmHWM)", "<= 250 MiB",
            [f"{r.rss_hwm:.0f} MiB" for r in results]),
    ]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--loads", type=int, default=5, help="navigations to the list per count")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        raise SystemExit("Debian's chromium is missing: run scripts/system-deps.sh as root")
    binaries.ensure_all()
    started = time.monotonic()
    results = asyncio.run(run(args.apps, max(1, args.loads)))
    print(table(results))
    print(f"(whole run {time.monotonic() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
