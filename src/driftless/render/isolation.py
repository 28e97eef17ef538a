"""The controller's side of the render server: send a render, get manifests or an error.

Two ``RenderIsolation`` implementations (``RenderTools.isolation``):

* ``RenderServerClient(socket_path)`` talks to a render server that runs
  elsewhere (the renderer container of the controller's pod, which has no
  ServiceAccount token). One connection per render; the answer is read with
  a size cap (``max_answer_bytes``) and a deadline (the render's time limit,
  twice over for queueing, plus a grace period), so a wedged server costs a
  ``TransientError``, not a stuck worker. Cancelling the awaiting task closes
  the connection, and the server then kills that render. At most
  ``max_in_flight`` connections are open at once (the server runs only a few
  renders at a time anyway; the rest would only fill its listen backlog).
* ``LocalRenderServer(tools)`` starts ``python -m driftless.render.server``
  as a child of this process on first use, on a socket in a private
  directory, with a scrubbed environment (``PATH``, ``LC_ALL``, a private
  ``HOME``; no ``KUBECONFIG``, no ``KUBERNETES_*``, no token, nothing else
  inherited) and its stdin a pipe: when this process exits, the server sees
  EOF and stops with its renders. A server that died is started again on
  the next render. ``close()`` stops it.

``isolated(tools)`` is the seam the controller goes through: tools that
already name a render server are kept, any others get a local one.

Errors: the render's own typed error as the server sent it; an unreachable
server or a malformed or oversized answer is a ``TransientError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import driftless
from driftless.core.errors import DriftlessError, TransientError
from driftless.core.resources import Manifest
from driftless.render import wire
from driftless.render.context import RenderTools

MIB = 1024 * 1024
# The render server refuses more than 16 MiB of output; a little slack for the framing.
DEFAULT_MAX_ANSWER_BYTES = 24 * MIB
ANSWER_GRACE_SECONDS = 30.0
DEFAULT_MAX_IN_FLIGHT = 32
START_TIMEOUT_SECONDS = 60.0
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class RenderServerClient:
    """Renders through the render server listening on ``socket_path``."""

    def __init__(
        self,
        socket_path: Path,
        *,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self.socket_path = socket_path
        self.max_answer_bytes = max_answer_bytes
        self.max_in_flight = max_in_flight
        self._slots: asyncio.Semaphore | None = None

    async def render(self, request: wire.RenderRequest) -> list[Manifest]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_in_flight)
        async with self._slots:
            return await self._render(request)

    async def _render(self, request: wire.RenderRequest) -> list[Manifest]:
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        except OSError as exc:
            raise TransientError(
                f"the render server is not reachable at {self.socket_path}"
                f" ({exc.strerror or type(exc).__name__})"
            ) from None
        try:
            writer.write(wire.encode_frame(request.to_json()))
            await writer.drain()
            async with asyncio.timeout(2 * request.time_limit + ANSWER_GRACE_SECONDS):
                reply = await wire.read_frame(reader, self.max_answer_bytes)
        except TimeoutError:
            raise TransientError("the render server did not answer in time") from None
        except wire.FrameError as exc:
            raise TransientError(f"the render server sent a broken answer: {exc}") from None
        except OSError as exc:
            raise TransientError(f"lost the connection to the render server ({exc})") from None
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        return wire.reply_manifests(reply)


class LocalRenderServer:
    """A render server run as this process's child (see the module contract)."""

    def __init__(
        self,
        tools: RenderTools,
        *,
        memory_limit_mib: int = 2048,
        max_concurrent: int = 8,
    ) -> None:
        self.tools = tools
        self.memory_limit_mib = memory_limit_mib
        self.max_concurrent = max_concurrent
        self.process: subprocess.Popen[bytes] | None = None
        self._home: Path | None = None
        self._client: RenderServerClient | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def pid(self) -> int | None:
        """The render server's process id, while it runs."""
        return self.process.pid if self.process is not None else None

    async def render(self, request: wire.RenderRequest) -> list[Manifest]:
        client = await self.ensure_started()
        return await client.render(request)

    async def ensure_started(self) -> RenderServerClient:
        """The client of a running server (started, or restarted, as needed)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            running = self.process is not None and self.process.poll() is None
            if self._client is not None and running:
                return self._client
            self._stop()
            return await asyncio.to_thread(self._start)

    def close(self) -> None:
        """Stop the server and its renders; wait for it."""
        self._stop()

    def _start(self) -> RenderServerClient:
        home = Path(tempfile.mkdtemp(prefix="driftless-render-"))
        socket_path = home / "render.sock"
        argv = [
            sys.executable,
            "-m",
            "driftless.render.server",
            "--socket", str(socket_path),
            "--kustomize", self.tools.kustomize,
            "--helm", self.tools.helm,
            "--time-limit", str(self.tools.time_limit),
            "--memory-limit-mib", str(self.memory_limit_mib),
            "--max-concurrent", str(self.max_concurrent),
            "--exit-with-stdin",
        ]  # fmt: skip
        if self.tools.scratch_dir is not None:
            argv += ["--scratch-dir", str(self.tools.scratch_dir)]
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                cwd=home,
                env=server_environment(home),
                start_new_session=True,  # a Ctrl-C meant for us must not kill renders
            )
        except OSError as exc:
            shutil.rmtree(home, ignore_errors=True)
            raise DriftlessError(f"cannot start the render server: {exc.strerror}") from None
        self.process, self._home = process, home
        _wait_for_socket(process, socket_path)
        self._client = RenderServerClient(socket_path)
        return self._client

    def _stop(self) -> None:
        process, self.process, self._client = self.process, None, None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None


def isolated(tools: RenderTools) -> RenderTools:
    """``tools`` whose renders run in a render server: as given, or a local one."""
    if tools.isolation is not None:
        return tools
    return dataclasses.replace(tools, isolation=LocalRenderServer(tools))


def server_environment(home: Path) -> dict[str, str]:
    """The complete environment of a locally started render server."""
    package_parent = Path(driftless.__file__).resolve().parent.parent
    return {
        "PATH": _SAFE_PATH,
        "HOME": str(home),
        "TMPDIR": str(home),
        "LC_ALL": "C.UTF-8",
        # Wherever this process found driftless, the server finds the same one.
        "PYTHONPATH": str(package_parent),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _wait_for_socket(process: subprocess.Popen[bytes], socket_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not socket_path.exists():
        if process.poll() is not None:
            raise DriftlessError(f"the render server exited at start (status {process.returncode})")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise DriftlessError("the render server did not start in time")
        time.sleep(0.02)
