"""``python -m driftless.notifications.sandbox_worker``: render templates in a child process.

The controller's ``renderer.TemplateRenderer`` starts this process and talks
to it over stdin/stdout, one JSON document per line:

* once confined, it writes ``{"ready": true}``;
* request ``{"op": "render", "fields": {"title": ..., "body": ...},
  "context": {...}}`` -> ``{"ok": {"title": ..., "body": ...}}``;
* request ``{"op": "check", "fields": {...}}`` -> ``{"ok": {}}``;
* either -> ``{"failure": {"field": ..., "line": ..., "message": ...}}``.

A failure caused by a limit (memory) says ``"exhausted": true``: the engine
quarantines that rule.

Before reading anything, the process confines itself:

* ``RLIMIT_AS`` (``--memory-mib``, default ``DEFAULT_MEMORY_MIB``: the worker
  needs about 30 MiB, 50 with a context of 30 000 resources), so
  ``'x'.center(450000000)`` is a ``MemoryError`` here, never memory of the
  controller's container; no core dumps, 16 open files.
* ``RLIMIT_CPU``: before each request the soft limit is set to the CPU time
  used so far plus ``--cpu-seconds``; a template that spins past it is killed
  by SIGXCPU even if the parent (which kills on its wall-clock deadline) is
  gone or stuck.
* It dies with its parent (``PR_SET_PDEATHSIG`` SIGKILL; at once if the parent
  ``--parent-pid`` is already gone): an orphan never spins on.
* Landlock (Linux 5.13+, best effort): after everything a render needs is
  imported and warmed up, no file may be opened (the pod's ServiceAccount
  token, the controller's files), and from ABI 4 no TCP connection made,
  from ABI 6 no signal sent outside. A kernel without Landlock leaves this
  layer out (``confine()`` says whether it took).

Its environment is the scrubbed one ``renderer`` gives (no kubeconfig, no
service account variables). EOF on stdin ends the process.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import pprint  # noqa: F401  (imported lazily by Jinja2: before the files are closed)
import resource
import signal
import sys
import textwrap  # noqa: F401  (the same)
from typing import Any

import jinja2.constants  # noqa: F401  (the same)

from driftless.notifications import templates

DEFAULT_MEMORY_MIB = 96
DEFAULT_CPU_SECONDS = 5
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1


def limit(memory_mib: int) -> None:
    """Cap this process's memory, core dumps and files (before any template runs)."""
    size = memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))


def cpu_budget(seconds: int) -> None:
    """SIGXCPU once this process has used ``seconds`` more CPU time than now."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + seconds
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def die_with_parent(parent: int | None) -> None:
    """SIGKILL when the parent dies; exit now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def confine() -> bool:
    """Landlock: no file opened, no TCP connection, no signal outside (see the docstring)."""
    try:
        libc = _libc()
        abi = int(
            libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION)
        )
    except (OSError, AttributeError):
        return False
    if abi < 1:
        return False
    fs = (1 << 13) - 1  # ABI 1: execute .. make_sym
    fs |= (1 << 13) if abi >= 2 else 0  # refer
    fs |= (1 << 14) if abi >= 3 else 0  # truncate
    fs |= (1 << 15) if abi >= 5 else 0  # ioctl_dev
    fields = [fs]
    if abi >= 4:
        fields.append(0b11)  # net: bind_tcp, connect_tcp
    if abi >= 6:
        fields.append(0b11)  # scoped: abstract unix sockets, signals
    attr = (ctypes.c_uint64 * len(fields))(*fields)
    ruleset = int(
        libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    )
    if ruleset < 0:
        return False
    try:
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return int(libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0)) == 0
    finally:
        os.close(ruleset)


def warm_up() -> None:
    """Render every built-in template once, so what Jinja2 loads lazily is loaded."""
    app = {"namespace": "n", "name": "a", "project": "p", "repoURL": "r", "path": "."}
    context: dict[str, Any] = {
        # Every branch of the defaults taken (the commit's shape is ``context.commit_variables``).
        "app": {**app, "sync": "Synced", "health": "Healthy", "healthMessage": ""},
        "revision": "0" * 40,
        "short_revision": "0" * 8,
        "commit": {"sha": "0" * 40, "message": "m\nb", "author": {"name": "a", "email": ""}},
        "operation": {"message": ""},
        "resources": [{"kind": "K", "namespace": "n", "name": "x", "status": "s", "message": "m"}],
        "app_url": None,
        "trigger": "on-deployed",
    }
    for title, body in templates.DEFAULTS.values():
        templates.check({"title": title, "body": body})
        templates.render({"title": title, "body": body}, context)
    templates.render(
        {"body": "{{ 'a b' | wordcount }}{{ 'x' | wordwrap(5) }}{{ [1] | pprint }}"}, {}
    )
    # The error paths too: Jinja imports its traceback rewriting (jinja2.debug) on the
    # first syntax or runtime error only.
    templates.check({"body": "x\n{{ a "})
    templates.render({"body": "{{ nothing.here }}"}, {})
    templates.render({"body": "{{ 1 // 0 }}"}, {})


def answer(request: Any) -> dict[str, Any]:
    """The answer to one request (see the module docstring)."""
    if not isinstance(request, dict) or not isinstance(request.get("fields"), dict):
        return {"failure": {"field": "", "line": None, "message": "malformed request"}}
    fields = {k: v for k, v in request["fields"].items() if isinstance(v, str)}
    if request.get("op") == "check":
        result: dict[str, str] | templates.Failure | None = templates.check(fields)
        if result is None:
            return {"ok": {}}
    else:
        context = request.get("context")
        result = templates.render(fields, context if isinstance(context, dict) else {})
    if isinstance(result, templates.Failure):
        failure = {"field": result.field, "line": result.line, "message": result.message}
        return {"failure": failure, "exhausted": result.exhausted}
    return {"ok": result or {}}


def serve(cpu_seconds: int = DEFAULT_CPU_SECONDS) -> None:
    for line in sys.stdin:
        cpu_budget(cpu_seconds)
        try:
            reply = answer(json.loads(line))
        except MemoryError:
            reply = {
                "failure": {"field": "", "line": None, "message": "out of memory"},
                "exhausted": True,
            }
        except ValueError:
            reply = {"failure": {"field": "", "line": None, "message": "malformed request"}}
        sys.stdout.write(json.dumps(reply, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-mib", type=int, default=DEFAULT_MEMORY_MIB)
    parser.add_argument("--cpu-seconds", type=int, default=DEFAULT_CPU_SECONDS)
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args()
    die_with_parent(args.parent_pid)
    limit(args.memory_mib)
    warm_up()
    confine()
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    serve(args.cpu_seconds)


if __name__ == "__main__":
    main()
