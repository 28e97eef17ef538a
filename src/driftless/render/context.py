"""What a render needs from outside the repository: tool paths and the destination.

* ``RenderTools`` says where the external renderers are and how long they may
  run. ``render`` never locates pinned binaries itself (that is
  ``driftless.devcluster``'s business, a layer it must not import): the
  controller and the tests pass paths in; the default looks ``kustomize`` and
  ``helm`` up on ``PATH`` when they are used.
* ``RenderIsolation`` is the seam to the render server: with
  ``RenderTools.isolation`` set, every render of a fetched tree runs there
  (a separate process with hard limits, see ``driftless.render.server``);
  without it, in this process (tests of pure logic, one-off CLI use).
* ``KubeTarget`` is the destination cluster as Helm's ``.Capabilities`` sees
  it: the server version (``/version``'s ``gitVersion``, e.g. ``v1.36.3``) and
  the API versions from discovery (``apps/v1``, and ``apps/v1/Deployment`` for
  charts that test for a kind).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from driftless.core.errors import DriftlessError
from driftless.core.paths import cache_root
from driftless.core.resources import Manifest

if TYPE_CHECKING:
    from driftless.render.wire import RenderRequest

DEFAULT_TIME_LIMIT = 120.0

# A chart repository URL -> the (user name, password) driftless holds for it, if any.
ChartCredentials = Callable[[str], Awaitable[tuple[str, str] | None]]


def default_cache_dir() -> Path:
    """``${DRIFTLESS_CACHE_DIR:-~/.cache/driftless}``."""
    return cache_root()


class RenderIsolation(Protocol):
    """Where renders run when not in this process (``render.isolation``)."""

    async def render(self, request: RenderRequest) -> list[Manifest]:
        """The manifests of ``request``, or the typed error of the render."""
        ...


@dataclass(frozen=True)
class RenderTools:
    """External tools and local directories of the renderers.

    ``kustomize`` / ``helm``: executable paths, or bare names looked up on
    ``PATH``. ``chart_cache``: where charts from repositories are kept
    (default ``$DRIFTLESS_CACHE_DIR/charts``). ``scratch_dir``: parent of
    temporary copies of repository trees (default: the system temp dir; on
    the same file system as the git cache, copies are hard links).
    ``plain_http_registries``: ``host:port`` of OCI registries spoken to over
    plain HTTP (a local test registry); every other one uses HTTPS.
    ``isolation``: the render server every render goes to (``None``: render
    in this process). ``chart_credentials``: the repository credentials for a
    chart repository URL (charts and their dependencies are fetched in the
    controller process, never in the render server).
    """

    kustomize: str = "kustomize"
    helm: str = "helm"
    chart_cache: Path = field(default_factory=lambda: default_cache_dir() / "charts")
    scratch_dir: Path | None = None
    plain_http_registries: frozenset[str] = frozenset()
    time_limit: float = DEFAULT_TIME_LIMIT
    download_limit: float = DEFAULT_TIME_LIMIT
    isolation: RenderIsolation | None = field(default=None, compare=False)
    chart_credentials: ChartCredentials | None = field(default=None, compare=False)

    def executable(self, name: str) -> str:
        """The path of ``kustomize`` or ``helm``; ``DriftlessError`` when it is nowhere."""
        configured = self.kustomize if name == "kustomize" else self.helm
        if os.sep in configured:
            return configured
        found = shutil.which(configured)
        if found is None:
            raise DriftlessError(
                f"the {name} executable was not found on PATH; install it or configure its path"
            )
        return found

    def fingerprint(self, name: str) -> str:
        """Identity of a tool binary for cache keys: path, size and mtime (no exec)."""
        path = self.executable(name)
        try:
            stat = Path(path).stat()
        except OSError:
            return path
        return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


@dataclass(frozen=True)
class KubeTarget:
    """The destination as templates see it: server version and served API versions."""

    version: str
    api_versions: tuple[str, ...] = ()

    @classmethod
    def build(cls, version: str, served: Iterable[tuple[str, str]]) -> KubeTarget:
        """From ``/version``'s ``gitVersion`` and the served (apiVersion, kind) pairs.

        Lists every ``group/version`` and every ``group/version/Kind``, as Helm's
        own client does, sorted so equal clusters give equal cache keys.
        """
        pairs = list(served)
        names = {api for api, _ in pairs} | {f"{api}/{kind}" for api, kind in pairs}
        return cls(version=version, api_versions=tuple(sorted(names)))
