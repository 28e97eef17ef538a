"""The plain-directory renderer: every YAML/JSON manifest in a directory of the repo.

Contract of ``render_directory(root, app_dir, recurse=, include=, exclude=)``:

* Reads ``*.yaml``, ``*.yml`` and ``*.json`` files of ``app_dir`` (and of its
  subdirectories when ``recurse``), in a deterministic order: sorted by path
  relative to ``app_dir``, a directory's files before its subdirectories.
  Names starting with ``.`` (files and directories) are skipped.
* ``include`` / ``exclude`` are glob patterns like Argo CD's directory
  options: one pattern, several separated by commas, or ``{a,b}``. They match
  the path relative to ``app_dir`` (``*`` also matches ``/``); a file is read
  when it matches some include pattern (or there is none) and no exclude
  pattern.
* Multi-document YAML, ``kind: List`` flattened; empty and ``null`` documents
  skipped. Each ``Manifest`` has ``source_file`` relative to ``root`` (the
  repository tree, POSIX separators) and the 1-based ``line`` where its
  document starts.
* ``kustomization.yaml``, ``Chart.yaml`` and ``values.yaml`` get no special
  treatment here: they are read as plain manifests (and usually fail, having
  no ``metadata.name``). Picking the right renderer is the caller's job.
* Errors are ``RenderError`` with file and line: invalid YAML/JSON, a document
  that is not a Kubernetes object, a missing ``apiVersion``, ``kind`` or
  ``metadata.name``, a duplicate object, a file that is not UTF-8, a symlink
  that leaves ``root``. Nothing is returned from a render that has any error.
* Bounded: a file larger than ``yaml_docs.MANIFEST_LIMITS.max_bytes``, or
  files adding up to more than ``MAX_TOTAL_BYTES``, are refused by their size
  before being read; parsing is bounded by ``yaml_docs``.
* Pure apart from reading files under ``root``; no Kubernetes access.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from driftless.core.errors import RenderError
from driftless.core.resources import Manifest
from driftless.render import manifests as checks
from driftless.render import yaml_docs

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_TOTAL_BYTES = 256 * 1024 * 1024


def render_directory(
    root: Path,
    app_dir: Path,
    *,
    recurse: bool = False,
    include: str | None = None,
    exclude: str | None = None,
) -> list[Manifest]:
    """All manifests under ``app_dir`` (inside the repository tree ``root``)."""
    real_root = root.resolve()
    start = app_dir.resolve()
    if not start.is_relative_to(real_root):
        raise RenderError(f"{app_dir} is outside the repository tree")
    includes = split_patterns(include)
    excludes = split_patterns(exclude)
    rendered: list[Manifest] = []
    total = 0
    for relative in repository_files(start, real_root, recurse, is_manifest_name):
        if not is_selected(relative, includes, excludes):
            continue
        path = start.joinpath(relative)
        source_file = path.relative_to(real_root).as_posix()
        total += _checked_size(path, source_file, total)
        text = _read_inside(path, real_root, source_file)
        rendered.extend(checks.to_manifests(_parse(text, source_file), source_file))
    checks.reject_duplicates(rendered)
    return rendered


def split_patterns(spec: str | None) -> list[str]:
    """``"a,b"``, ``"{a,b}"`` or ``"a"`` → ``["a", "b"]`` / ``["a"]``; blanks dropped."""
    if spec is None:
        return []
    text = spec.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return [part.strip() for part in text.split(",") if part.strip()]


def is_selected(relative: str, includes: list[str], excludes: list[str]) -> bool:
    """Whether a file at ``relative`` (POSIX, relative to the app dir) is read."""
    if includes and not any(fnmatch.fnmatchcase(relative, p) for p in includes):
        return False
    return not any(fnmatch.fnmatchcase(relative, p) for p in excludes)


def is_manifest_name(name: str) -> bool:
    """A visible file with a manifest suffix."""
    return not name.startswith(".") and name.lower().endswith(MANIFEST_SUFFIXES)


def repository_files(
    start: Path, real_root: Path, recurse: bool, wanted: Callable[[str], bool]
) -> Iterator[str]:
    """POSIX paths relative to ``start`` of the files whose name is ``wanted``.

    Render order: sorted by name, a directory's files before its
    subdirectories; hidden names skipped. Shared by the file-based renderers.
    """
    # Symlinked directories are followed only while they stay inside the
    # repository; remembering real paths stops link cycles.
    seen: set[Path] = set()

    def walk(directory: Path, prefix: PurePosixPath) -> Iterator[str]:
        real = _resolved(directory, directory.relative_to(real_root).as_posix())
        if not real.is_relative_to(real_root):
            where = directory.relative_to(real_root).as_posix()
            raise RenderError("symlink points outside the repository", file=where)
        if real in seen:
            return
        seen.add(real)
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
        subdirs: list[os.DirEntry[str]] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_dir(entry):
                subdirs.append(entry)
            elif wanted(entry.name):
                yield str(prefix / entry.name)
        if recurse:
            for entry in subdirs:
                yield from walk(Path(entry.path), prefix / entry.name)

    yield from walk(start, PurePosixPath())


def _checked_size(path: Path, source_file: str, total_before: int) -> int:
    """The size of ``path``; ``RenderError`` when it or the running total is too large."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RenderError(f"cannot read file: {exc.strerror}", file=source_file) from None
    limit = yaml_docs.MANIFEST_LIMITS.max_bytes
    if size > limit:
        raise RenderError(
            f"file larger than the limit of {limit // (1024 * 1024)} MiB", file=source_file
        )
    if total_before + size > MAX_TOTAL_BYTES:
        raise RenderError(
            f"the manifests add up to more than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB",
            file=source_file,
        )
    return size


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is a directory; a symlink loop or an over-long target is not one
    (``DirEntry.is_dir`` raises for those instead of answering)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _resolved(path: Path, source_file: str) -> Path:
    """``path.resolve()``; a link the file system refuses (loop, name over NAME_MAX)
    is the repository's fault: ``RenderError``."""
    try:
        return path.resolve()
    except OSError as exc:
        raise RenderError(f"cannot follow symlink: {exc.strerror}", file=source_file) from None
    except RuntimeError:  # Python 3.11 reports some loops this way
        raise RenderError("cannot follow symlink: symlink loop", file=source_file) from None


def _read_inside(path: Path, real_root: Path, source_file: str) -> str:
    """The text of ``path``; refuses files whose real location is outside ``real_root``."""
    if not _resolved(path, source_file).is_relative_to(real_root):
        raise RenderError("symlink points outside the repository", file=source_file)
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RenderError(
            f"not UTF-8 text (invalid byte at offset {exc.start})", file=source_file
        ) from None
    except OSError as exc:
        raise RenderError(f"cannot read file: {exc.strerror}", file=source_file) from None


def _parse(text: str, source_file: str) -> list[yaml_docs.Document]:
    if source_file.lower().endswith(".json"):
        return yaml_docs.parse_json(text, source_file)
    return yaml_docs.parse_yaml_stream(text, source_file)
