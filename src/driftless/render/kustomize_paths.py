"""The repository fence for Kustomize: no kustomization may read outside the repository.

Why a scanner of our own: ``kustomize build``'s load restrictor
(``LoadRestrictionsRootOnly``) confines *files* (patches, generator inputs)
to the directory of the kustomization that names them, but a *directory*
resource, base or component may be anywhere on disk. The repository tree lives
at ``<cache>/trees/<commit>``, so ``resources: [../../../<other-commit>/app]``
would read another repository's tree or the controller's host. Kustomize would
also happily fetch remote bases (``https://…``, ``github.com/…?ref=…``) with
git, bypassing the controller's source handling and credentials.

Contract of ``check_kustomization_tree(root, start)``:

* Starting at the kustomization in ``start``, walks every kustomization it
  reaches (``resources``, ``bases``, ``components``, and generator /
  transformer / validator entries that are directories) and checks every
  local path any of them names: ``resources``, ``bases``, ``components``,
  ``crds``, ``configurations``, ``generators``, ``transformers``,
  ``validators``, ``patchesStrategicMerge``, ``patches[].path``,
  ``patchesJson6902[].path``, ``replacements[].path``, ``openapi.path``,
  ``configMapGenerator``/``secretGenerator`` ``files``, ``envs`` and ``env``.
* Refused with a ``RenderError`` naming the kustomization file (relative to
  ``root``) and the line of the entry: a path that lexically leaves ``root``
  (``..`` too far, absolute paths), a path whose real location (symlinks
  followed) is outside ``root``, a remote resource (URL, ``git@…``,
  ``github.com/…``, ``?ref=``), Helm chart inflation (``helmCharts``: off in
  driftless), and a kustomization that is not a YAML mapping.
* Paths that do not exist are left alone: ``kustomize build`` reports them
  with its own message, and they cannot leak anything.
* Inline entries (a patch or transformer config written as a YAML string)
  name no file and are skipped; the files *they* name are read by kustomize
  through its root-only load restrictor, which driftless always keeps on.
* Reads only kustomization files under ``root``; no exec, no network.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftless.core.errors import RenderError
from driftless.render import yaml_docs

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_REMOTE_PREFIXES = ("git@", "git::", "gh:", "github.com/", "gitlab.com/", "bitbucket.org/")
_GLOB_CHARS = frozenset("*?[")
# Fields whose entries may be a directory holding another kustomization.
_KUSTOMIZATION_DIR_FIELDS = (
    "resources",
    "bases",
    "components",
    "generators",
    "transformers",
    "validators",
)
_FILE_LIST_FIELDS = ("crds", "configurations", "patchesStrategicMerge")
_PATCH_FIELDS = ("patches", "patchesJson6902", "replacements")
_GENERATOR_FIELDS = ("configMapGenerator", "secretGenerator")
_HELM_FIELDS = ("helmCharts", "helmChartInflationGenerator", "helmGlobals")


@dataclass(frozen=True)
class PathRef:
    """One path a kustomization names: the field it is in and its text."""

    field: str
    value: str
    may_be_kustomization: bool


def find_kustomization(directory: Path) -> Path | None:
    """The kustomization file of ``directory`` (first of the names kustomize accepts)."""
    for name in KUSTOMIZATION_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def check_kustomization_tree(root: Path, start: Path) -> None:
    """Raise ``RenderError`` if the kustomization graph from ``start`` leaves ``root``."""
    real_root = root.resolve()
    seen: set[Path] = set()
    pending = [start]
    while pending:
        directory = pending.pop()
        real = directory.resolve()
        if real in seen:
            continue
        seen.add(real)
        kfile = find_kustomization(directory)
        if kfile is None:
            continue  # kustomize itself says what is missing
        pending.extend(_check_file(real_root, kfile))


def path_refs(kustomization: dict[str, Any]) -> Iterator[PathRef]:
    """Every path-like string entry of a parsed kustomization (pure)."""
    for field in _KUSTOMIZATION_DIR_FIELDS:
        for entry in _strings(kustomization.get(field)):
            if not _is_inline(entry):
                yield PathRef(field, entry, may_be_kustomization=True)
    for field in _FILE_LIST_FIELDS:
        for entry in _strings(kustomization.get(field)):
            if not _is_inline(entry):
                yield PathRef(field, entry, may_be_kustomization=False)
    for field in _PATCH_FIELDS:
        for item in _mappings(kustomization.get(field)):
            path = item.get("path")
            if isinstance(path, str) and path:
                yield PathRef(f"{field}[].path", path, may_be_kustomization=False)
    for field in _GENERATOR_FIELDS:
        for item in _mappings(kustomization.get(field)):
            yield from _generator_refs(field, item)
    openapi = kustomization.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield PathRef("openapi.path", openapi["path"], may_be_kustomization=False)


def is_remote(value: str) -> bool:
    """A URL or go-getter/git spec that kustomize would fetch over the network."""
    text = value.strip()
    return bool(_SCHEME.match(text)) or text.startswith(_REMOTE_PREFIXES) or "?ref=" in text


def looks_like_host_path(value: str) -> bool:
    """``example.com/org/repo//dir``: a remote spec without scheme (only if not on disk)."""
    # kustomize tries a missing local path as a remote one, so this is its own rule:
    # a first segment that looks like a host name, followed by a path.
    first, slash, _ = value.strip().partition("/")
    return "//" in value or (bool(slash) and "." in first and not first.startswith("."))


def lexically_inside(kdir_rel: str, value: str) -> str | None:
    """``value`` (relative to the kustomization dir ``kdir_rel``) as a root-relative
    POSIX path, or ``None`` when it is absolute or climbs above the root."""
    if value.startswith("/") or "\x00" in value:
        return None
    joined = posixpath.normpath(posixpath.join(kdir_rel or ".", value))
    if joined == ".." or joined.startswith("../"):
        return None
    return joined


def _check_file(real_root: Path, kfile: Path) -> list[Path]:
    """Check one kustomization file; return the directories to visit next."""
    real_kfile = kfile.resolve()
    if not real_kfile.is_relative_to(real_root):
        shown = _shown(kfile, real_root)
        raise RenderError(
            "kustomization is a symlink that points outside the repository", file=shown
        )
    shown = real_kfile.relative_to(real_root).as_posix()
    text = _read(real_kfile, shown)
    data = _parse(text, shown)
    for field in _HELM_FIELDS:
        if data.get(field):
            raise RenderError(
                f"{field}: Helm chart inflation inside Kustomize is off in driftless;"
                " use a Helm source (spec.source.helm) for the chart instead",
                file=shown,
                line=_line_of(text, field),
            )
    kdir = real_kfile.parent
    kdir_rel = kdir.relative_to(real_root).as_posix()
    kdir_rel = "" if kdir_rel == "." else kdir_rel
    next_dirs: list[Path] = []
    for ref in path_refs(data):
        target = _check_ref(real_root, kdir_rel, ref, text, shown)
        if target is not None and ref.may_be_kustomization and target.is_dir():
            next_dirs.append(target)
    return next_dirs


def _check_ref(real_root: Path, kdir_rel: str, ref: PathRef, text: str, shown: str) -> Path | None:
    """The checked on-disk target of ``ref`` (``None`` when it does not exist)."""

    def refuse(why: str) -> RenderError:
        return RenderError(
            f"{ref.field} entry {ref.value!r} {why}", file=shown, line=_line_of(text, ref.value)
        )

    if is_remote(ref.value):
        raise refuse("is a remote resource; driftless renders only what is in the repository")
    relative = lexically_inside(kdir_rel, ref.value)
    if relative is None:
        raise refuse("points outside the repository")
    candidates = [real_root / relative]
    if _GLOB_CHARS & set(relative):
        candidates = sorted(real_root.glob(relative)) if relative != "." else candidates
    found: Path | None = None
    for candidate in candidates:
        try:
            real = candidate.resolve()
            exists = real.exists()
        except OSError as exc:  # a name over NAME_MAX, a symlink loop: the input's fault
            raise refuse(f"cannot be looked up ({exc.strerror})") from None
        except RuntimeError:  # Python 3.11's resolve() on a symlink loop
            raise refuse("is a symlink loop") from None
        if not real.is_relative_to(real_root):
            raise refuse("resolves (through a symlink) outside the repository")
        if exists:
            found = found or real
    if found is None and looks_like_host_path(ref.value):
        raise refuse("looks like a remote resource; driftless renders only the repository")
    return found


def _generator_refs(field: str, item: dict[str, Any]) -> Iterator[PathRef]:
    for entry in _strings(item.get("files")):
        # "key=path" names the key in the generated ConfigMap; the file is after "=".
        path = entry.split("=", 1)[1] if "=" in entry else entry
        yield PathRef(f"{field}[].files", path.strip(), may_be_kustomization=False)
    for entry in _strings(item.get("envs")):
        yield PathRef(f"{field}[].envs", entry, may_be_kustomization=False)
    env = item.get("env")
    if isinstance(env, str) and env:
        yield PathRef(f"{field}[].env", env, may_be_kustomization=False)


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str) and v.strip()]


def _mappings(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


def _is_inline(entry: str) -> bool:
    """A YAML document written into the list rather than a file name."""
    return "\n" in entry.strip()


def _line_of(text: str, needle: str) -> int | None:
    """The first line mentioning ``needle`` (good enough to point a person at it)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


def _shown(path: Path, real_root: Path) -> str:
    """``path`` relative to the root, its directory's symlinks resolved but not its own."""
    try:
        return (path.parent.resolve() / path.name).relative_to(real_root).as_posix()
    except ValueError:
        return path.name


def _read(path: Path, shown: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RenderError("kustomization is not UTF-8 text", file=shown) from None
    except OSError as exc:
        raise RenderError(f"cannot read kustomization: {exc.strerror}", file=shown) from None


def _parse(text: str, shown: str) -> dict[str, Any]:
    documents = yaml_docs.parse_yaml_stream(text, shown)
    if not documents:
        return {}
    if len(documents) > 1:
        raise RenderError(
            "kustomization has more than one YAML document", file=shown, line=documents[1].line
        )
    data = documents[0].data
    if not isinstance(data, dict):
        raise RenderError("kustomization is not a YAML mapping", file=shown, line=documents[0].line)
    return data
