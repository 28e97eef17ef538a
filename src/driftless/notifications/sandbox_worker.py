"""``python -m driftless.notifications.sandbox_worker``: render templates in a child process.

The controller's ``renderer.TemplateRenderer`` starts this process and talks
to it over stdin/stdout, one JSON document per line:

* request ``{"op": "render", "fields": {"title": ..., "body": ...},
  "context": {...}}`` -> ``{"ok": {"title": ..., "body": ...}}``;
* request ``{"op": "check", "fields": {...}}`` -> ``{"ok": {}}``;
* either -> ``{"failure": {"field": ..., "line": ..., "message": ...}}``.

Before reading anything it limits its own address space (``--memory-mib``),
core dumps and open files, so a template that allocates without bound gets a
``MemoryError`` here, never in the controller. Time is the parent's job: it
kills this process when an answer is late. EOF on stdin ends the process.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from typing import Any

from driftless.notifications import templates

DEFAULT_MEMORY_MIB = 512


def limit(memory_mib: int) -> None:
    """Cap this process's memory, core dumps and files (before any template runs)."""
    size = memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))


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
        return {"failure": {"field": result.field, "line": result.line, "message": result.message}}
    return {"ok": result or {}}


def serve() -> None:
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except MemoryError:
            reply = {"failure": {"field": "", "line": None, "message": "out of memory"}}
        except ValueError:
            reply = {"failure": {"field": "", "line": None, "message": "malformed request"}}
        sys.stdout.write(json.dumps(reply, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-mib", type=int, default=DEFAULT_MEMORY_MIB)
    args = parser.parse_args()
    limit(args.memory_mib)
    serve()


if __name__ == "__main__":
    main()
