"""The browser-test harness: a real ``driftless server`` process and Debian's chromium.

* ``ServerProcess.start(kubeconfig, namespace, log)`` runs the installed
  ``driftless server --port 0`` exactly as a user does, reads the URL it
  announces, and waits until ``/readyz`` says its caches are listed;
  ``await stop()`` ends it (SIGTERM, then SIGKILL). Its output goes to ``log``,
  quoted in every failure.
* ``chromium_executable()`` is the system browser (``chromium`` on PATH or
  ``/usr/bin/chromium``). Playwright launches it by path: its own browser
  downloads (``playwright install``) are never used.
* ``initial_admin_password(kube, namespace)`` reads the generated password
  from the Secret ``driftless-initial-admin`` the server writes at first start.
* ``built_ui()`` fails with what to run when the UI has not been built.
* ``screenshots`` (fixture, one directory per test file) is where a browser
  test saves its screenshots, kept after the run as artefacts:
  ``$DRIFTLESS_ARTIFACTS/ui-screenshots/<test file>/``, ``DRIFTLESS_ARTIFACTS``
  defaulting to the checkout's ``build/`` (git-ignored). This module is a
  pytest plugin (the root conftest registers it) so that every browser test
  gets the same fixture.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftless.kube.client import KubeClient
from tests.integration.cli_driver import entry_point

START_DEADLINE = 90.0
_ANNOUNCE = re.compile(r"driftless server listening on (http\S+)")
_REPO = Path(__file__).resolve().parents[2]
STATIC_INDEX = _REPO / "src" / "driftless" / "server" / "static" / "index.html"
INITIAL_ADMIN_SECRET = "driftless-initial-admin"
ARTIFACTS_ENV = "DRIFTLESS_ARTIFACTS"


def screenshot_dir(test_file: Path) -> Path:
    """``$DRIFTLESS_ARTIFACTS/ui-screenshots/<test file's stem>/`` (default under
    ``build/`` of the checkout), created. Earlier shots are not removed: workers of
    one run may share it, and each shot's name overwrites its previous one."""
    root = Path(os.environ.get(ARTIFACTS_ENV) or _REPO / "build")
    where = root / "ui-screenshots" / test_file.stem
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def screenshots(request: pytest.FixtureRequest) -> Path:
    """Where this test file's screenshots are kept (see ``screenshot_dir``)."""
    return screenshot_dir(request.path)


def built_ui() -> Path:
    """``index.html`` of the built UI; an AssertionError saying to run ``make ui`` if absent."""
    if not STATIC_INDEX.is_file():
        raise AssertionError(f"the web UI is not built ({STATIC_INDEX} missing): run make ui")
    return STATIC_INDEX


def chromium_executable() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None
    )
    if found is None:
        raise AssertionError("Debian's chromium is missing: run scripts/system-deps.sh as root")
    return found


@dataclass
class ServerProcess:
    process: asyncio.subprocess.Process
    url: str
    log: Path

    @classmethod
    async def start(cls, kubeconfig: Path, namespace: str, log: Path) -> ServerProcess:
        args = [entry_point(), "--kubeconfig", str(kubeconfig), "server", "--port", "0"]
        args += ["--namespace", namespace]
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                *args, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        deadline = time.monotonic() + START_DEADLINE
        url = None
        try:
            while url is None:
                found = _ANNOUNCE.search(log.read_text(errors="replace"))
                url = found.group(1).rstrip("/") if found else None
                _check_alive(process, log, deadline, "announce its URL")
                await asyncio.sleep(0.1)
            server = cls(process, url, log)
            while not await asyncio.to_thread(server.ready):
                _check_alive(process, log, deadline, "be ready (/readyz)")
                await asyncio.sleep(0.2)
        except BaseException:
            await _stop(process)
            raise
        return server

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=5) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    async def stop(self) -> None:
        await _stop(self.process)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _check_alive(
    process: asyncio.subprocess.Process, log: Path, deadline: float, what: str
) -> None:
    if process.returncode is not None:
        raise AssertionError(
            f"driftless server exited ({process.returncode}) before it could {what}:\n"
            + log.read_text(errors="replace")
        )
    if time.monotonic() > deadline:
        raise AssertionError(
            f"driftless server did not {what} in {START_DEADLINE:.0f}s:\n"
            + log.read_text(errors="replace")
        )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=15)
    except TimeoutError:
        process.kill()
        await process.wait()


async def initial_admin_password(kube: KubeClient, namespace: str) -> str:
    """The generated initial password of ``admin`` (the server writes it at its first start)."""
    deadline = time.monotonic() + 30
    while True:
        secret = await kube.get("v1", "Secret", INITIAL_ADMIN_SECRET, namespace)
        encoded = ((secret or {}).get("data") or {}).get("password")
        if encoded:
            return base64.b64decode(encoded).decode()
        assert time.monotonic() < deadline, f"no Secret {namespace}/{INITIAL_ADMIN_SECRET}"
        await asyncio.sleep(0.2)
