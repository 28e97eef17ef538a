"""The web UI's files, served from the package directory ``server/static/``.

Contract of ``router(static_dir)`` (mounted after every other route):

* ``GET /<path>`` answers the file at ``static_dir/<path>`` when it exists;
  a path that leaves ``static_dir`` (``..``, symlinks out, NUL, backslash)
  is never read.
* A missing file under ``assets/`` is a plain 404 (the page asked for a
  script or style; HTML in its place would not parse).
* Any other non-API path answers ``index.html``: the UI routes in the browser
  (SPA fallback), so a deep link such as ``/applications/team-a/web`` works on
  reload.
* ``/api`` and ``/api/...`` paths no route took are the API's 404 in the one
  error shape, never ``index.html``.
* Without a build (no ``index.html``) every UI path answers a plain page
  "UI not built: run make ui" with 503, never a 500.
* Files under ``assets/`` (content-hashed by the build) may be cached for a
  year; ``index.html`` is revalidated on every load so a new build shows.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse
from starlette.responses import Response

from driftless.server.errors import NotFoundError

__all__ = ["NOT_BUILT", "resolve", "router"]

NOT_BUILT = "UI not built: run make ui\n"
_IMMUTABLE = "public, max-age=31536000, immutable"


def resolve(static_dir: Path, path: str) -> Path | None:
    """The file ``path`` names inside ``static_dir``, or ``None`` (missing or outside)."""
    if not path or "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        return None
    root = static_dir.resolve()
    candidate = root.joinpath(*parts)
    try:
        real = candidate.resolve()
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root) or not real.is_file():
        return None
    return real


def is_api_path(path: str) -> bool:
    return path == "api" or path.startswith("api/")


def router(static_dir: Path) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.api_route("/{path:path}", methods=["GET", "HEAD"])
    async def ui(path: str) -> Response:
        if is_api_path(path):
            raise NotFoundError(f"no such API path: /{path}")
        found = resolve(static_dir, path)
        asset = path.startswith("assets/")
        if found is not None:
            return FileResponse(
                found, headers={"Cache-Control": _IMMUTABLE if asset else "no-cache"}
            )
        if asset:  # a script or style the page asked for: index.html would not parse as one
            return PlainTextResponse("not found\n", status_code=404)
        index = resolve(static_dir, "index.html")
        if index is None:
            return PlainTextResponse(NOT_BUILT, status_code=503)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return routes
