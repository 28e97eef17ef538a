"""What travels between the controller and the render server (pure, apart from stream I/O).

Contract:

* A frame is an 8-byte big-endian length followed by that many bytes of
  UTF-8 JSON. ``read_frame`` refuses a frame longer than its ``max_bytes``
  before reading it, so neither side can be made to buffer without bound.
* ``RenderRequest`` is one render of an already fetched tree: the detected
  renderer, the app's source, the tree and app directory (absolute paths the
  render server can read), the release name and namespace, the destination's
  capabilities and the time limit, and for Helm the directory of the chart's
  repository dependencies already fetched by the controller
  (``chart_deps``), or none; and for a Helm render that may ``lookup`` live
  objects, the lookup proxy's URL and this render's token
  (``lookup_proxy.LookupAccess``; never in a repr or a message).
  ``to_json``/``from_json`` round-trip it.
* A reply is ``{"manifests": [...]}`` or ``{"error": {...}}``;
  ``reply_manifests`` turns it back into ``Manifest`` objects or raises the
  typed error it describes (``RenderError`` with file and line,
  ``TransientError``, ``SourceError``, ``DriftlessError``). A reply that is
  not one of those is a ``TransientError`` ("malformed answer"): the render
  server is trusted code, but its reply crossed a process boundary.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftless.core.errors import (
    DriftlessError,
    RenderError,
    SourceError,
    StallingError,
    TransientError,
)
from driftless.core.models import ApplicationSource
from driftless.core.reasons import Reason
from driftless.core.resources import Manifest
from driftless.render.context import KubeTarget
from driftless.render.detect import Renderer
from driftless.render.lookup_proxy import LookupAccess

JSON = dict[str, Any]
HEADER = struct.Struct(">Q")
MAX_REQUEST_BYTES = 1024 * 1024


class FrameError(Exception):
    """A frame is too large, truncated or not JSON."""


@dataclass(frozen=True)
class RenderRequest:
    """One render, as the controller asks for it."""

    renderer: Renderer
    source: ApplicationSource
    tree: Path
    app_dir: Path
    app_name: str
    namespace: str
    kube: KubeTarget
    time_limit: float
    display: str | None = None
    dependencies: Path | None = None
    lookup: LookupAccess | None = None

    def to_json(self) -> JSON:
        return {
            "renderer": self.renderer.value,
            "source": self.source.model_dump(mode="json", by_alias=True, exclude_none=True),
            "tree": str(self.tree),
            "appDir": str(self.app_dir),
            "appName": self.app_name,
            "namespace": self.namespace,
            "kube": {"version": self.kube.version, "apiVersions": list(self.kube.api_versions)},
            "timeLimit": self.time_limit,
            "display": self.display,
            "dependencies": str(self.dependencies) if self.dependencies else None,
            "lookup": self.lookup.to_json() if self.lookup else None,
        }

    @classmethod
    def from_json(cls, data: JSON) -> RenderRequest:
        """The request of ``data``; ``ValueError``/``KeyError``/``TypeError`` when malformed."""
        kube = data["kube"]
        return cls(
            renderer=Renderer(data["renderer"]),
            source=ApplicationSource.model_validate(data["source"]),
            tree=Path(data["tree"]),
            app_dir=Path(data["appDir"]),
            app_name=str(data["appName"]),
            namespace=str(data["namespace"]),
            kube=KubeTarget(str(kube["version"]), tuple(str(v) for v in kube["apiVersions"])),
            time_limit=float(data["timeLimit"]),
            display=data.get("display"),
            dependencies=Path(data["dependencies"]) if data.get("dependencies") else None,
            lookup=LookupAccess.from_json(data["lookup"]) if data.get("lookup") else None,
        )


def encode_frame(value: Any) -> bytes:
    body = json.dumps(value, separators=(",", ":")).encode()
    return HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader, max_bytes: int) -> Any:
    """The next frame's JSON value; ``FrameError`` when oversized, cut short or not JSON."""
    try:
        header = await reader.readexactly(HEADER.size)
        (length,) = HEADER.unpack(header)
        if length > max_bytes:
            raise FrameError(f"answer of {length} bytes exceeds the limit of {max_bytes}")
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise FrameError("connection closed before a complete answer") from None
    return decode_body(body)


def decode_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise FrameError("answer is not valid JSON") from None


def manifests_reply(manifests: list[Manifest]) -> JSON:
    return {
        "manifests": [
            {"obj": m.obj, "file": m.source_file, "line": m.line, "extra": m.extra}
            for m in manifests
        ]
    }


def error_reply(exc: DriftlessError) -> JSON:
    """``exc`` as a reply; its class is kept as one of the few types the caller knows."""
    kind = "DriftlessError"
    for candidate in (RenderError, SourceError, StallingError, TransientError):
        if isinstance(exc, candidate):
            kind = candidate.__name__
            break
    error: JSON = {"type": kind, "message": exc.message, "reason": exc.reason}
    if isinstance(exc, RenderError):
        # The message already carries "file:line: "; keep the parts to rebuild it.
        error.update(file=exc.file, line=exc.line, message=_unlocated(exc))
    return {"error": error}


def reply_manifests(reply: Any) -> list[Manifest]:
    """The manifests of a reply, or the error it carries raised."""
    if not isinstance(reply, dict):
        raise TransientError("the render server sent a malformed answer")
    if "error" in reply:
        raise _error(reply["error"])
    items = reply.get("manifests")
    if not isinstance(items, list):
        raise TransientError("the render server sent a malformed answer")
    manifests = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("obj"), dict):
            raise TransientError("the render server sent a malformed answer")
        manifests.append(
            Manifest(
                obj=item["obj"],
                source_file=item.get("file"),
                line=item.get("line"),
                extra=item.get("extra") or {},
            )
        )
    return manifests


def _error(error: Any) -> DriftlessError:
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return TransientError("the render server sent a malformed answer")
    message, reason = error["message"], _reason(error.get("reason"))
    kind = error.get("type")
    if kind == "RenderError":
        line = error.get("line")
        return RenderError(
            message,
            file=error.get("file") if isinstance(error.get("file"), str) else None,
            line=line if isinstance(line, int) else None,
            reason=reason,
        )
    classes: dict[Any, type[DriftlessError]] = {
        "SourceError": SourceError,
        "StallingError": StallingError,
        "TransientError": TransientError,
    }
    return classes.get(kind, DriftlessError)(message, reason=reason)


def _reason(value: Any) -> Reason | None:
    """The reason a reply names; an unknown one gives way to the error class's own."""
    try:
        return Reason(value)
    except ValueError:
        return None


def _unlocated(exc: RenderError) -> str:
    if exc.file is None:
        return exc.message
    located = f"{exc.file}:{exc.line}: " if exc.line is not None else f"{exc.file}: "
    return exc.message.removeprefix(located)
