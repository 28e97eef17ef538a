"""The cache of pinned binaries: find them, or build them once.

:func:`ensure` returns the path of a component's binary, building it from the
Go module proxy the first time (minutes for Kubernetes, seconds afterwards from
Go's build cache). Guarantees:

  * a path returned is a complete executable: builds write a temporary file and
    ``os.replace`` it into ``bin/<name>-<version>``, so a killed build leaves no
    half binary under the final name;
  * concurrent callers (two test sessions, the CLI and a test) build each
    component at most once: builds hold an exclusive ``flock`` on the bin dir;
  * builds run one at a time, so at most one Go link (the memory-hungry step)
    runs on the machine per driftless process tree.

Other packages use :func:`ensure_tools` (or :func:`tool`) to locate kubectl,
kustomize and helm.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from driftless.devcluster import gobuild, kwok, paths, versions
from driftless.devcluster.errors import BuildError
from driftless.devcluster.versions import Component

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def binary_path(component: Component) -> Path:
    """Where ``component``'s binary lives in the cache (it may not exist yet)."""
    return paths.bin_dir() / component.filename


def assets_path(component: Component) -> Path:
    """Where ``component``'s run-time asset directories live (``Component.assets``)."""
    return paths.bin_dir() / f"{component.filename}.assets"


def kwok_stages_path() -> Path:
    """Where the kwok stage config matching the pinned kwok lives in the cache."""
    return paths.bin_dir() / kwok.stages_filename(versions.KWOK.version)


def is_cached(component: Component) -> bool:
    """True when ``component`` (and, for kwok, its stage config) is already built."""
    ready = os.access(binary_path(component), os.X_OK)
    if component == versions.KWOK:
        ready = ready and kwok_stages_path().is_file()
    if component.assets:
        ready = ready and assets_path(component).is_dir()
    return ready


def missing(components: Iterable[Component]) -> list[Component]:
    """The components of ``components`` that still need a build."""
    return [c for c in components if not is_cached(c)]


def ensure(component: Component, *, progress: Progress = _stderr) -> Path:
    """The path of ``component``'s binary, building it first if it is not cached."""
    return ensure_all([component], progress=progress)[component.name]


def ensure_all(
    components: Iterable[Component] = versions.ALL, *, progress: Progress = _stderr
) -> dict[str, Path]:
    """Make sure every one of ``components`` is built; map their names to paths.

    Raises :class:`BuildError` on the first failing build (its go log quoted).
    """
    wanted = list(components)
    if missing(wanted):
        with _build_lock():
            # Another process may have built some while we waited for the lock.
            for component in missing(wanted):
                _build_one(component, progress)
    return {c.name: binary_path(c) for c in wanted}


@dataclass(frozen=True)
class Tools:
    """Paths of the client tools other packages shell out to."""

    kubectl: Path
    kustomize: Path
    helm: Path


def ensure_tools(*, progress: Progress = _stderr) -> Tools:
    """Build (if needed) and return kubectl, kustomize and helm."""
    found = ensure_all(versions.TOOLS, progress=progress)
    return Tools(kubectl=found["kubectl"], kustomize=found["kustomize"], helm=found["helm"])


def tool(name: str, *, progress: Progress = _stderr) -> Path:
    """The path of one pinned component by executable name (``"kubectl"``, ...)."""
    try:
        component = versions.BY_NAME[name]
    except KeyError:
        raise BuildError(f"unknown component {name!r}; known: {sorted(versions.BY_NAME)}") from None
    return ensure(component, progress=progress)


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    directory = paths.bin_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_one(component: Component, progress: Progress) -> None:
    goenv = gobuild.GoEnv.detect()
    workdir = paths.build_dir() / gobuild.workdir_name(component)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"build-{component.name}.log"
    log.write_text("")
    final = binary_path(component)
    # We hold the build lock, so any partial file left here is from a killed build.
    for stale in final.parent.glob(f".{final.name}.partial-*"):
        stale.unlink(missing_ok=True)
    partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
    progress(
        f"building {component.name} {component.version} "
        f"(first run only, several minutes; log: {log})…"
    )
    started = time.monotonic()
    try:
        gobuild.build(goenv, component, workdir, partial, log)
        if component == versions.KWOK:
            _install_kwok_stages(goenv, workdir, log)
        if component.assets:
            _install_assets(component, gobuild.module_source_dir(workdir))
        partial.chmod(0o755)
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    progress(f"built {component.name} {component.version} in {time.monotonic() - started:.0f} s")


def _install_assets(component: Component, source: Path) -> None:
    """Copy the asset directories into place whole: a partial copy is never seen."""
    target = assets_path(component)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    for name in component.assets:
        shutil.copytree(source / name, partial / name)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def _install_kwok_stages(goenv: gobuild.GoEnv, workdir: Path, log: Path) -> None:
    source = gobuild.module_dir(goenv, versions.KWOK.module, workdir, log)
    try:
        text = kwok.collect_stages(source)
    except OSError as exc:
        raise BuildError(f"kwok {versions.KWOK.version} has no default stages: {exc}") from exc
    target = kwok_stages_path()
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.write_text(text)
    partial.replace(target)
