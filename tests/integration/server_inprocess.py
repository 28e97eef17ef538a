"""``driftless server`` run in the test's event loop against the dev cluster.

``serving(kube, **settings)`` runs ``driftless.server.app.serve`` (what the
command runs: admin account, caches, uvicorn) on a free loopback port and
yields a ``Served``: its URL, once ``/readyz`` says the caches are listed.
It plans diffs as ``driftless server`` does: its own git cache (a temporary
directory; local repositories refused), renders in a render server child
(``tools``: other render tools, e.g. a shorter time limit).
``Served.login()`` returns an aiohttp session holding the admin's cookie
(the initial password read from its Secret, as an administrator does).
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from driftless.cli.tools import render_tools
from driftless.kube.client import KubeClient
from driftless.render import RenderTools
from driftless.render.isolation import LocalRenderServer
from driftless.server import auth
from driftless.server.app import serve
from driftless.server.planning import Planning
from driftless.server.settings import ServerSettings
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache
from tests.integration.helpers import APPS_NAMESPACE

READY_DEADLINE = 60.0


@dataclass
class Served:
    url: str
    kube: KubeClient
    namespace: str

    async def initial_password(self) -> str:
        secret = await self.kube.get("v1", "Secret", auth.INITIAL_SECRET, self.namespace)
        assert secret is not None, "no initial admin Secret"
        return base64.b64decode(secret["data"][auth.INITIAL_KEY]).decode()

    async def login(self) -> aiohttp.ClientSession:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        body = {"username": "admin", "password": await self.initial_password()}
        async with http.post(f"{self.url}/api/v1/session", json=body) as resp:
            assert resp.status == 200, await resp.text()
        return http


@asynccontextmanager
async def serving(
    kube: KubeClient, *, tools: RenderTools | None = None, **overrides: Any
) -> AsyncIterator[Served]:
    settings = ServerSettings(**{"port": 0, "controller_namespace": APPS_NAMESPACE, **overrides})
    home = settings.controller_namespace
    stop = asyncio.Event()
    announced: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    renders = tools or render_tools()
    clones = tempfile.TemporaryDirectory(prefix="driftless-server-repos-")
    git = GitCache(Path(clones.name), credentials=CredentialStore(kube, home, max_age=1.0).auth)
    planning = Planning(kube, git, renders, home=home)
    task = asyncio.create_task(serve(settings, kube, stop, planning, started=announced.set_result))
    try:
        done, _ = await asyncio.wait(
            {task, announced}, timeout=READY_DEADLINE, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()  # raises why it stopped
        assert announced in done, "the server did not bind its port"
        served = Served(announced.result(), kube, settings.controller_namespace)
        await _until_ready(served.url)
        yield served
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=30)
        finally:
            if isinstance(renders.isolation, LocalRenderServer):
                renders.isolation.close()
            clones.cleanup()


async def _until_ready(url: str) -> None:
    deadline = time.monotonic() + READY_DEADLINE
    # Readiness only: the certificate of a TLS test is checked by the test itself.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http:
        while True:
            async with http.get(f"{url}/readyz") as resp:
                if resp.status == 200:
                    return
                body = await resp.text()
            assert time.monotonic() < deadline, f"/readyz stayed {resp.status}: {body}"
            await asyncio.sleep(0.1)
