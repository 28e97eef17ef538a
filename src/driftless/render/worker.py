"""One render, as a render server child runs it: request bytes in, reply bytes out.

Contract of ``answer(body, tools, limits)`` (runs in the forked child,
which exits right after sending what it returns):

* ``body`` is the request frame's JSON (``wire.RenderRequest``); a malformed
  one is answered with a ``DriftlessError`` reply.
* The render itself is ``pipeline.render_request``: exactly what an
  in-process render does, so both paths refuse the same input the same way.
* The output is bounded before it is sent: at most ``limits.max_objects``
  objects, each nested at most as deep as the YAML parser allows (Jsonnet's
  output bypasses that parser), and at most ``limits.max_output_bytes`` of
  encoded reply. Going over is a ``RenderError`` naming the limit.
* Typed errors become error replies; a ``MemoryError`` (the address-space
  limit of the child) becomes "render exceeded the memory limit". Anything
  else is a bug: its traceback goes to stderr (the render server's log) and
  the reply says only that the renderer failed, never the exception text.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

from driftless.core.errors import DriftlessError, RenderError
from driftless.core.models import ApplicationSource
from driftless.core.resources import Manifest
from driftless.render import pipeline, wire, yaml_docs
from driftless.render.context import KubeTarget, RenderTools
from driftless.render.detect import Renderer

MIB = 1024 * 1024
# The controller decodes every reply into Python objects (several times the
# JSON's size) while holding others: keep one render's share of its memory
# small. Argo CD's repo server defaults to 10 MB of manifests per app.
DEFAULT_MAX_OUTPUT_BYTES = 16 * MIB


@dataclass(frozen=True)
class OutputLimits:
    """What one render may hand back, and the memory it may use (for messages)."""

    max_objects: int = 20_000
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    memory_bytes: int = 2048 * MIB


def answer(body: bytes, tools: RenderTools, limits: OutputLimits) -> bytes:
    """The reply frame (already encoded) to one request frame's body.

    Directory and Jsonnet renders run without an event loop (starting one
    and its thread pool costs more than most such renders); tool renders in
    a fresh one.
    """
    try:
        data = wire.decode_body(body)
        request = wire.RenderRequest.from_json(data)
    except (wire.FrameError, ValueError, KeyError, TypeError):
        return wire.encode_frame(wire.error_reply(DriftlessError("malformed render request")))
    try:
        if request.renderer in pipeline.FILE_RENDERERS:
            manifests = pipeline.render_files(request)
        else:
            manifests = asyncio.run(pipeline.render_request(request, tools))
        check_output(manifests, limits)
        frame = wire.encode_frame(wire.manifests_reply(manifests))
        if len(frame) > limits.max_output_bytes:
            raise RenderError(
                f"render output exceeds the limit of {limits.max_output_bytes // MIB} MiB"
            )
        return frame
    except DriftlessError as exc:
        return wire.encode_frame(wire.error_reply(exc))
    except MemoryError:
        return wire.encode_frame(wire.error_reply(memory_error(limits.memory_bytes)))
    except Exception:  # a bug, not the input: keep the details in the log only
        traceback.print_exc(file=sys.stderr)
        failed = DriftlessError("the renderer failed unexpectedly (see the render server log)")
        return wire.encode_frame(wire.error_reply(failed))


def warm_up(tools: RenderTools, limits: OutputLimits) -> None:
    """Render a tiny app once in this process, before any child is forked.

    Why: every child starts from the server's memory. Lazy state (compiled
    patterns, validators, encoder tables) filled here is inherited warm;
    otherwise each child would fill it again, which costs more than the
    render of a small directory.
    """
    with tempfile.TemporaryDirectory(prefix="driftless-warm-up-") as temp:
        root = Path(temp)
        (root / "app").mkdir()
        (root / "app" / "a.yaml").write_text(_WARM_UP_YAML)
        (root / "app" / "b.json").write_text(_WARM_UP_JSON)
        (root / "app" / "c.jsonnet").write_text(_WARM_UP_JSONNET)
        source = ApplicationSource.model_validate({"repoURL": "file:///warm-up", "path": "app"})
        for renderer in (Renderer.DIRECTORY, Renderer.JSONNET):
            request = wire.RenderRequest(
                renderer=renderer,
                source=source,
                tree=root,
                app_dir=root / "app",
                app_name="warm-up",
                namespace="default",
                kube=KubeTarget("v1.0.0"),
                time_limit=10.0,
            )
            answer(wire.encode_frame(request.to_json())[wire.HEADER.size :], tools, limits)


_WARM_UP_YAML = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: a, labels: {x: "1"}, annotations: {d: 2024-01-01}}
data: {k: v, n: "1", list: "[a, b]"}
---
apiVersion: apps/v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}, data: {yes: "on"}}
"""
_WARM_UP_JSON = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}'
_WARM_UP_JSONNET = '{apiVersion: "v1", kind: "ConfigMap", metadata: {name: "d"}}'


def check_output(manifests: list[Manifest], limits: OutputLimits) -> None:
    """Refuse too many objects, or objects nested deeper than manifests may be."""
    if len(manifests) > limits.max_objects:
        raise RenderError(
            f"render produced {len(manifests)} objects, more than the limit of {limits.max_objects}"
        )
    for manifest in manifests:
        yaml_docs.check_value(manifest.obj, manifest.source_file or "(render output)")


def memory_error(memory_bytes: int, detail: str | None = None) -> RenderError:
    extra = f" ({detail})" if detail else ""
    return RenderError(f"render exceeded the memory limit of {memory_bytes // MIB} MiB{extra}")
