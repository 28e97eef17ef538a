"""Render notification templates off the event loop, in a bounded child process.

Why a process and not a thread: a template is tenant input, and Jinja2's
sandbox stops attribute access, not work. A nested loop over ``range(10**5)``
holds the GIL (a thread would slow every reconcile) and cannot be
interrupted; ``'x'.center(10**10)`` allocates in C. A child process with an
address-space limit (``sandbox_worker``) turns the second into a
``MemoryError`` there, and a kill turns the first into a late answer here.

Contract of ``TemplateRenderer``:

* ``await render(fields, context)`` -> ``dict`` of rendered fields, or a
  ``templates.Failure`` (syntax, runtime, too long, out of memory, or
  "took longer than Ns": the worker is then killed and started again on
  the next call). ``await check(fields)`` -> ``Failure | None``.
* One worker, one request at a time (an ``asyncio.Lock``); a hostile
  template costs at most ``timeout`` seconds of the *notification* path,
  never of reconciliation, and the event loop only awaits a pipe.
* The worker's environment is scrubbed (no kubeconfig, no service account
  variables, no variable of the controller's); it confines itself (memory,
  CPU per request, death with this process, Landlock: see ``sandbox_worker``).
  ``close()`` stops it. A worker that died is started again.
* A failure caused by a limit (late, out of memory, the worker killed) is
  ``Failure.exhausted``: the engine quarantines the rule.
* Residual risk: the worker runs in the controller's container. Where
  Landlock is missing (kernel < 5.13 or the LSM off), a template that escaped
  Jinja2's sandbox could read the files of that container, the mounted
  ServiceAccount token among them; the renderer container
  (``--render-socket``) is not used for templates (its protocol carries
  manifest renders only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import driftless
from driftless.notifications.sandbox_worker import DEFAULT_MEMORY_MIB
from driftless.notifications.templates import Failure

DEFAULT_TIMEOUT = 2.0
START_TIMEOUT = 30.0
# An answer is at most two 16 KiB fields, JSON-escaped; anything bigger is a broken worker.
MAX_ANSWER = 1024 * 1024
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class TemplateRenderer:
    """A sandbox worker process, started on first use (see the module docstring)."""

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, memory_mib: int = DEFAULT_MEMORY_MIB
    ) -> None:
        self.timeout = timeout
        self.memory_mib = memory_mib
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def render(
        self, fields: Mapping[str, str], context: Mapping[str, Any]
    ) -> dict[str, str] | Failure:
        """Each field rendered in its own request, so a late one is named."""
        out = {}
        for field, source in fields.items():
            request = {"op": "render", "fields": {field: source}, "context": context}
            reply = await self._ask(request, field)
            if isinstance(reply, Failure):
                return reply
            ok = reply.get("ok")
            if not isinstance(ok, dict) or not isinstance(ok.get(field), str):
                return _broken(field)
            out[field] = ok[field]
        return out

    async def check(self, fields: Mapping[str, str]) -> Failure | None:
        reply = await self._ask({"op": "check", "fields": dict(fields)}, "title")
        return reply if isinstance(reply, Failure) else None

    async def close(self) -> None:
        async with self._lock:
            await self._stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def _ask(self, request: dict[str, Any], field: str) -> dict[str, Any] | Failure:
        line = (json.dumps(request, ensure_ascii=False, default=str) + "\n").encode()
        async with self._lock:
            try:
                process = await self._running()
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(line)
                async with asyncio.timeout(self.timeout):
                    await process.stdin.drain()
                    raw = await process.stdout.readline()
            except TimeoutError:
                await self._stop()
                return Failure(
                    field, None, f"rendering took longer than {self.timeout:g}s", exhausted=True
                )
            except (OSError, ValueError, asyncio.LimitOverrunError) as exc:
                await self._stop()
                return Failure(field, None, f"template worker failed: {type(exc).__name__}")
            except asyncio.CancelledError:
                # Its answer would be read as the next request's: that worker is done.
                self._kill()
                raise
            if not raw:
                await self._stop()  # died (killed for CPU time, or by the kernel for memory)
                return Failure(
                    field, None, "template worker stopped while rendering", exhausted=True
                )
        return _parse(raw, field)

    async def _running(self) -> asyncio.subprocess.Process:
        process = self._process
        if process is not None and process.returncode is None:
            return process
        home = Path(tempfile.gettempdir())
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "driftless.notifications.sandbox_worker",
            "--memory-mib",
            str(self.memory_mib),
            # The wall-clock deadline is ours; CPU time is the worker's own backstop.
            "--cpu-seconds",
            str(math.ceil(self.timeout) + 2),
            "--parent-pid",
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_environment(home),
            limit=MAX_ANSWER,
            start_new_session=True,  # a terminal's Ctrl-C goes to the controller, which stops it
        )
        # Its start (imports, warm-up) is not a template's time: a loaded machine must
        # not make the first render late and quarantine an innocent rule.
        assert self._process.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT):
                ready = await self._process.stdout.readline()
        except TimeoutError:
            ready = b""
        if _parse(ready, "title") != {"ready": True}:
            self._kill()
            raise OSError("the template worker did not start")
        return self._process

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait(), 5.0)


def _parse(raw: bytes, field: str) -> dict[str, Any] | Failure:
    try:
        reply = json.loads(raw)
    except ValueError:
        return _broken(field)
    if not isinstance(reply, dict):
        return _broken(field)
    failure = reply.get("failure")
    if isinstance(failure, dict):
        line = failure.get("line")
        return Failure(
            str(failure.get("field") or field),
            line if isinstance(line, int) else None,
            str(failure.get("message") or "render failed"),
            exhausted=reply.get("exhausted") is True,
        )
    return reply


def _broken(field: str) -> Failure:
    return Failure(field, None, "malformed answer from the template worker")


def _environment(home: Path) -> dict[str, str]:
    package_parent = Path(driftless.__file__).resolve().parent.parent
    return {
        "PATH": _SAFE_PATH,
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        # Wherever this process found driftless, the worker finds the same one.
        "PYTHONPATH": str(package_parent),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
