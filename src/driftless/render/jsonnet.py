"""The Jsonnet renderer: every ``*.jsonnet`` of the app directory, evaluated in-process.

Contract of ``render_jsonnet(root, app_dir, options, recurse=, include=, exclude=)``
(blocking: the caller runs it in a worker thread):

* Evaluates each ``*.jsonnet`` file of ``app_dir`` (subdirectories only with
  ``recurse``; ``include``/``exclude`` globs as for plain directories; names
  starting with ``.`` skipped), in sorted order, with the PyPI ``jsonnet``
  binding. ``*.libsonnet`` files are libraries and are never evaluated.
* Top-level arguments and external variables come from ``options`` (a string,
  or Jsonnet code when ``code`` is set). ``libs`` are library search paths,
  relative to the repository root, that must exist inside it.
* Imports (``import``, ``importstr``, ``importbin``) are resolved by our own
  callback: first relative to the importing file, then in each library path.
  Any import whose real location (symlinks followed) is outside the
  repository is refused, so ``import '../../../../etc/passwd'`` fails.
* A file's result may be one object, an array of objects, or a ``kind: List``;
  each becomes a ``Manifest`` with ``source_file`` the ``.jsonnet`` file
  (relative to ``root``) and ``line`` ``None``.
* Errors: a Jsonnet static or runtime error → ``RenderError`` at the file and
  line Jsonnet names (paths shown relative to the repository), with
  Jsonnet's first message line; a result that is not objects → the usual
  manifest errors. Duplicates across files are refused.
* Limits: ``max_stack`` bounds recursion depth and the output is checked
  like parsed YAML (``yaml_docs.check_value``). Evaluation cannot be
  interrupted from inside, so a program that never ends is stopped by the
  render server, which kills the render's process at its deadline.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _jsonnet  # type: ignore[import-untyped]

from driftless.core.errors import RenderError
from driftless.core.models import JsonnetSource, JsonnetVar
from driftless.core.resources import Manifest
from driftless.render import manifests as checks
from driftless.render import output, yaml_docs
from driftless.render.directory import is_selected, repository_files, split_patterns
from driftless.render.yaml_docs import Document

JSONNET_SUFFIX = ".jsonnet"
MAX_STACK = 500
# "/abs/file.jsonnet:3:5-17" or "/abs/file.jsonnet:(3:1)-(4:4)" or "file:3:5:"
_LOCATION = re.compile(r"(?P<file>[^\s:()]+\.(?:jsonnet|libsonnet|json)):\(?(?P<line>\d+):\d+")


def render_jsonnet(
    root: Path,
    app_dir: Path,
    options: JsonnetSource | None,
    *,
    recurse: bool = False,
    include: str | None = None,
    exclude: str | None = None,
) -> list[Manifest]:
    """Every object the Jsonnet files of ``app_dir`` evaluate to (see the module contract)."""
    opts = options or JsonnetSource()
    real_root = root.resolve()
    start = app_dir.resolve()
    if not start.is_relative_to(real_root):
        raise RenderError(f"{app_dir} is outside the repository tree")
    libs = [library_path(real_root, lib) for lib in opts.libs]
    importer = RepositoryImporter(real_root, libs)
    includes, excludes = split_patterns(include), split_patterns(exclude)
    rendered: list[Manifest] = []
    for relative in jsonnet_files(start, real_root, recurse):
        if not is_selected(relative, includes, excludes):
            continue
        path = start / relative
        source_file = path.relative_to(real_root).as_posix()
        value = evaluate(path, real_root, opts, importer)
        rendered.extend(to_manifests(value, source_file))
    checks.reject_duplicates(rendered)
    return rendered


def library_path(real_root: Path, lib: str) -> Path:
    """A ``libs`` entry as a checked directory inside the repository."""
    normalized = posixpath.normpath(lib.strip() or ".")
    if lib.startswith("/") or normalized == ".." or normalized.startswith("../"):
        raise RenderError(f"jsonnet library path {lib!r} is outside the repository")
    path = (real_root / normalized).resolve()
    if not path.is_relative_to(real_root):
        raise RenderError(f"jsonnet library path {lib!r} resolves outside the repository")
    if not path.is_dir():
        raise RenderError(f"jsonnet library path {lib!r} not found in the repository")
    return path


class RepositoryImporter:
    """The import callback: the importing file's directory, then the libraries;
    nothing outside the repository."""

    def __init__(self, real_root: Path, libs: list[Path]) -> None:
        self.real_root = real_root
        self.libs = libs

    def __call__(self, base: str, rel: str) -> tuple[str, bytes]:
        if rel.startswith("/"):
            raise RuntimeError(f"absolute import {rel!r} is not allowed")
        for directory in [Path(base), *self.libs]:
            candidate = Path(os.path.normpath(directory / rel))
            real = candidate.resolve()
            if not candidate.is_relative_to(self.real_root) or not real.is_relative_to(
                self.real_root
            ):
                raise RuntimeError(f"import {rel!r} is outside the repository")
            if real.is_file():
                return str(candidate), real.read_bytes()
        raise RuntimeError(f"import {rel!r} not found next to the file or in the library paths")


def evaluate(path: Path, real_root: Path, opts: JsonnetSource, importer: RepositoryImporter) -> Any:
    """The JSON value of one file; ``RenderError`` located at the failing line."""
    ext_vars, ext_codes = _split_vars(opts.ext_vars)
    tla_vars, tla_codes = _split_vars(opts.tlas)
    try:
        output = _jsonnet.evaluate_file(
            str(path),
            ext_vars=ext_vars,
            ext_codes=ext_codes,
            tla_vars=tla_vars,
            tla_codes=tla_codes,
            import_callback=importer,
            max_stack=MAX_STACK,
            max_trace=20,
        )
    except RuntimeError as exc:
        fallback = path.relative_to(real_root).as_posix()
        raise error_from_text(str(exc), real_root, fallback) from None
    try:
        value = json.loads(output)
    except RecursionError:
        fallback = path.relative_to(real_root).as_posix()
        raise RenderError("jsonnet output is nested too deeply", file=fallback) from None
    yaml_docs.check_value(value, path.relative_to(real_root).as_posix())
    return value


def error_from_text(text: str, real_root: Path, fallback_file: str) -> RenderError:
    """A ``RenderError`` for Jsonnet's error text (pure apart from path arithmetic).

    The file and line are those of the first location Jsonnet names (the
    innermost frame, where the error happened); the message is Jsonnet's
    first line, with the location itself removed and paths made relative.
    """
    prefix = f"{real_root}/"
    cleaned = text.replace(prefix, "")
    first = next((line.strip() for line in cleaned.splitlines() if line.strip()), "error")
    file, line = fallback_file, None
    match = _LOCATION.search(cleaned)
    if match:
        file, line = match.group("file"), int(match.group("line"))
    # "STATIC ERROR: main.jsonnet:1:7: unexpected ..." → "STATIC ERROR: unexpected ..."
    first = re.sub(r"\S+\.(?:jsonnet|libsonnet|json):\(?\d+:\d+\)?(?:-\(?[\d:]+\)?)?: ", "", first)
    return RenderError(f"jsonnet {first}", file=file, line=line)


def to_manifests(value: Any, source_file: str) -> list[Manifest]:
    """A file's value (object, array of objects, ``List``) as checked manifests."""
    items = value if isinstance(value, list) else [value]
    documents = [Document(data=item, line=1) for item in items if item is not None]
    return output.to_manifests(documents, source_file)


def jsonnet_files(start: Path, real_root: Path, recurse: bool) -> Iterator[str]:
    """POSIX paths relative to ``start`` of the ``*.jsonnet`` files, in render order.

    A file that is a symlink out of the repository is refused here, before
    it is evaluated.
    """
    for relative in repository_files(start, real_root, recurse, _is_jsonnet):
        path = start / relative
        if not path.resolve().is_relative_to(real_root):
            shown = path.relative_to(real_root).as_posix()
            raise RenderError("symlink points outside the repository", file=shown)
        yield relative


def _is_jsonnet(name: str) -> bool:
    return name.endswith(JSONNET_SUFFIX)


def _split_vars(variables: list[JsonnetVar]) -> tuple[dict[str, str], dict[str, str]]:
    """(string variables, code variables)."""
    strings = {v.name: v.value for v in variables if not v.code}
    codes = {v.name: v.value for v in variables if v.code}
    return strings, codes
