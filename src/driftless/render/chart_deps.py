"""Helm chart dependencies from chart repositories, fetched like ``helm dependency build``.

Runs in the controller process (it needs the network and the repository
credentials; the render server has neither). The render server only copies
the result into a private ``charts/`` (``helm.render_helm(dependencies=…)``).

Contract of ``prepare(chart_dir, shown, tools, check_repository)``:

* What is declared: ``dependencies`` of ``Chart.yaml``, or of
  ``requirements.yaml`` for ``apiVersion: v1`` charts. Entries already
  vendored in ``charts/`` (a directory or a ``.tgz``) and ``file://`` ones
  (built from the repository by the render server, as before) are left
  alone. When nothing else is declared, ``prepare`` returns ``None`` and does
  no I/O beyond reading those files.
* Repositories are URLs: ``https://``/``http://`` (a Helm repository with an
  ``index.yaml``) or ``oci://`` (a registry; the chart name is appended). A
  repository alias (``@stable``, ``alias:stable``), a URL with user info, one
  starting with ``-`` or of any other scheme is a ``RenderError`` on
  ``Chart.yaml`` naming the dependency; nothing is fetched.
* Versions: the lock file (``Chart.lock`` / ``requirements.lock``) is honoured
  when it matches — every fetched dependency has a lock entry of the same
  name and repository whose version satisfies the declared range; otherwise
  the range is resolved against the repository like ``helm dependency
  update`` would (``chart_versions``: highest match, prereleases only when
  named); a hard refresh resolves ranges again at once.
* Every repository is first passed to ``check_repository`` (the Project's
  ``sourceRepos`` rule, the same as for chart sources); one it refuses is a
  ``RenderError`` and is never contacted. Callers that render for an app set
  that rule around the whole render with ``checking_repositories(check)``
  (a context variable: the renderers between the planner and this module
  need not carry it); when neither is given every repository is allowed
  (push mode and ``app diff --local`` act with the user's own rights). Credentials come from
  ``tools.chart_credentials`` for that repository URL and are bound by
  ``chart_repo``/``chart_http`` to its origin: never sent to another host
  (not to an archive URL of the index that points elsewhere, not across a
  redirect).
* Bounds: at most ``MAX_CHARTS`` dependency charts in all, ``MAX_DEPTH``
  levels of dependencies of dependencies, ``MAX_TOTAL_BYTES`` unpacked, the
  whole preparation within ``tools.download_limit`` seconds, each index and
  archive within ``chart_repo``'s size limits. A chart already on the path being resolved
  (same repository, chart and version) is a cycle: ``RenderError``.
* Cache: the versions resolved for a chart are remembered by (digest of its
  declared dependencies, digest of its lock file); with a matching lock the
  entry never expires, with ranges it lasts ``RANGE_TTL`` seconds so a new
  release is picked up like a new ``helm dependency update`` (a resolution
  served from the memo keeps its expiry: ranges are resolved again every
  ``RANGE_TTL`` however often the chart renders). Archives are
  cached on disk per credential by ``chart_repo``, and the assembled
  dependency tree under ``<chart cache>/dependencies/<digest>`` keyed by
  every chart it holds (and the credential that fetched it).
* ``noting_resolutions()``: within the block, the ``Resolutions`` it yields
  learns the earliest moment a range its renders resolved is resolved again
  (``changes_at``): the same commit may render differently from then on (the
  controller's fast path takes a full pass then, ``controller.fastpath``).
* A dependency that cannot be fetched (repository down, chart or version
  unknown, refused credentials, over a limit) is a ``RenderError`` on
  ``Chart.yaml`` naming the dependency, its repository and the version asked
  for: the render fails, so the controller applies and prunes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftless.core.errors import DriftlessError, RenderError, SourceError
from driftless.render import chart_repo, chart_versions, yaml_docs
from driftless.render.chart_http import redact
from driftless.render.context import RenderTools

MAX_DEPTH = 5
MAX_CHARTS = 64
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # all dependency charts of one chart, unpacked
RANGE_TTL = 300.0
_MEMO_SIZE = 512
_REMOTE_SCHEMES = ("https://", "http://", "oci://")
_LOCK_FILES = {"Chart.yaml": "Chart.lock", "requirements.yaml": "requirements.lock"}

RepositoryCheck = Callable[[str], None]
_CHECK: contextvars.ContextVar[RepositoryCheck | None] = contextvars.ContextVar(
    "driftless_chart_repository_check", default=None
)


@dataclass
class Resolutions:
    """What the renders within ``noting_resolutions`` resolved by range (mutable, shared)."""

    # time.monotonic() when the first of their range resolutions expires; None: only locks.
    changes_at: float | None = None

    def expire_at(self, at: float) -> None:
        self.changes_at = at if self.changes_at is None else min(self.changes_at, at)


_NOTES: contextvars.ContextVar[Resolutions | None] = contextvars.ContextVar(
    "driftless_chart_resolutions", default=None
)


@dataclass(frozen=True)
class Requirement:
    """One declared dependency that must be fetched from a repository."""

    name: str
    version: str  # what Chart.yaml asks for: a version or a range ("" = newest)
    repository: str


@dataclass(frozen=True)
class Declared:
    """What a chart declares: the dependencies to fetch and the lock's pins."""

    file: str  # Chart.yaml or requirements.yaml (relative to the chart)
    fetch: tuple[Requirement, ...]
    locked: dict[tuple[str, str], str] = field(default_factory=dict)
    digest: str = ""  # of the declaration and the lock, for the resolution memo


@dataclass(frozen=True)
class Prepared:
    """The dependency charts, ready to copy into ``charts/``; ``identity`` keys renders."""

    charts: Path
    identity: str


# (declaration+lock digest) -> (expiry or None, versions picked per requirement)
_MEMO: dict[str, tuple[float | None, dict[Requirement, str]]] = {}


@contextlib.contextmanager
def checking_repositories(check: RepositoryCheck) -> Iterator[None]:
    """Within the block, dependency repositories must pass ``check`` (the app's Project)."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)


@contextlib.contextmanager
def noting_resolutions() -> Iterator[Resolutions]:
    """Within the block, renders note their range resolutions in the object yielded."""
    # One mutable object: tasks and threads started in the block copy the context, not it.
    notes = Resolutions()
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


async def prepare(
    chart_dir: Path,
    shown: str,
    tools: RenderTools,
    check_repository: RepositoryCheck | None = None,
    root: Path | None = None,
    fresh: bool = False,
) -> Prepared | None:
    """Fetch the chart's repository dependencies (see the module contract).

    ``root``: the tree the chart's files must not lead out of (default: the
    chart). ``fresh`` (a hard refresh): ranges are resolved again now.
    """
    declared = await asyncio.to_thread(read_declared, chart_dir, shown, root)
    if not declared.fetch:
        return None
    walk = _Walk(tools, check_repository or _CHECK.get(), fresh)
    try:
        async with asyncio.timeout(tools.download_limit):
            nodes = await walk.resolve(declared, shown, depth=1, path=())
    except TimeoutError:
        raise RenderError(
            f"fetching the dependencies took longer than {tools.download_limit:g} s",
            file=_join(shown, declared.file),
        ) from None
    identity = hashlib.sha256(json.dumps(_identities(nodes)).encode()).hexdigest()
    root = tools.chart_cache / "dependencies"
    charts = await asyncio.to_thread(_assemble, root, identity, nodes, _join(shown, declared.file))
    return Prepared(charts=charts, identity=f"dependencies:{identity}")


@dataclass(frozen=True)
class _Node:
    """One fetched dependency chart and the charts it needs in turn."""

    name: str
    fetched: chart_repo.FetchedChart
    children: tuple[_Node, ...]


class _Walk:
    """One preparation: the bound on charts and the credentials asked so far."""

    def __init__(self, tools: RenderTools, check: RepositoryCheck | None, fresh: bool) -> None:
        self.tools = tools
        self.check = check
        self.fresh = fresh
        self.count = 0

    async def resolve(
        self, declared: Declared, shown: str, *, depth: int, path: tuple[str, ...]
    ) -> tuple[_Node, ...]:
        where = _join(shown, declared.file)
        if depth > MAX_DEPTH:
            raise RenderError(
                f"dependencies are nested more than {MAX_DEPTH} levels deep", file=where
            )
        memo = {} if self.fresh else _remembered(declared.digest)
        picked: dict[Requirement, str] = {}
        nodes: list[_Node] = []
        for req in declared.fetch:
            self.count += 1
            if self.count > MAX_CHARTS:
                raise RenderError(f"more than {MAX_CHARTS} dependency charts", file=where)
            self._allowed(req, where)
            wanted = memo.get(req) or declared.locked.get((req.name, req.repository)) or req.version
            fetched = await self._fetch(req, wanted, where)
            picked[req] = fetched.version
            key = f"{_repo_key(req.repository)} {req.name}@{fetched.version}"
            if key in path:
                raise RenderError(f"dependency cycle: {' -> '.join([*path, key])}", file=where)
            inner_shown = f"{req.name}@{fetched.version}"
            inner = await asyncio.to_thread(read_declared, fetched.path, inner_shown, None)
            children = (
                await self.resolve(inner, inner_shown, depth=depth + 1, path=(*path, key))
                if inner.fetch
                else ()
            )
            nodes.append(_Node(req.name, fetched, children))
        if not memo:  # a remembered resolution keeps its expiry (RANGE_TTL from resolving)
            _remember(declared, picked)
        _note(declared)
        return tuple(nodes)

    def _allowed(self, req: Requirement, where: str) -> None:
        if self.check is None:
            return
        try:
            self.check(req.repository)
        except DriftlessError as exc:
            raise RenderError(f"dependency {req.name}: {exc.message}", file=where) from None

    async def _fetch(self, req: Requirement, wanted: str, where: str) -> chart_repo.FetchedChart:
        what = f"dependency {req.name} {wanted or '(newest)'} from {redact(req.repository)}"
        try:
            credentials = None
            if self.tools.chart_credentials is not None:
                credentials = await self.tools.chart_credentials(req.repository)
            return await chart_repo.fetch_chart(
                req.repository,
                req.name,
                wanted,
                cache_root=self.tools.chart_cache,
                plain_http_registries=self.tools.plain_http_registries,
                timeout=self.tools.download_limit,
                credentials=credentials,
            )
        except DriftlessError as exc:  # SourceError, SourceUnavailableError, ...
            raise RenderError(f"{what} cannot be fetched: {exc.message}", file=where) from None


# --------------------------------------------------------------- pure parts


def read_declared(chart_dir: Path, shown: str, root: Path | None = None) -> Declared:
    """The repository dependencies of the chart in ``chart_dir`` not vendored in ``charts/``.

    No ``Chart.yaml``: nothing to fetch (the renderer reports the missing chart).
    A file read through a symlink leading out of ``root`` (default: the chart
    directory) is a ``RenderError``: this runs in the controller process.
    """
    real_root = (root or chart_dir).resolve()
    if not (chart_dir / "Chart.yaml").is_file():
        return Declared(file="Chart.yaml", fetch=())
    meta = _load(chart_dir / "Chart.yaml", _join(shown, "Chart.yaml"), real_root)
    if not isinstance(meta, dict):
        raise RenderError("Chart.yaml is not a YAML mapping", file=_join(shown, "Chart.yaml"))
    file = "Chart.yaml"
    entries = meta.get("dependencies")
    if str(meta.get("apiVersion", "")) == "v1" and (chart_dir / "requirements.yaml").is_file():
        file = "requirements.yaml"
        reqs = _load(chart_dir / file, _join(shown, file), real_root)
        entries = reqs.get("dependencies") if isinstance(reqs, dict) else None
    where = _join(shown, file)
    declared = declared_requirements(entries, where)
    vendored = _vendored(chart_dir, real_root)
    fetch = tuple(r for r in declared if not _is_vendored(r.name, vendored))
    lock_path = chart_dir / _LOCK_FILES[file]
    lock_shown = _join(shown, lock_path.name)
    lock_text = _read_text(lock_path, lock_shown, real_root) if lock_path.is_file() else ""
    lock = _load_text(lock_text, _join(shown, lock_path.name)) if lock_text else None
    locked = matching_lock(fetch, lock)
    digest = hashlib.sha256(
        json.dumps([[r.name, r.version, r.repository] for r in fetch]).encode()
        + b"\0"
        + lock_text.encode()
    ).hexdigest()
    return Declared(file=file, fetch=fetch, locked=locked, digest=digest)


def declared_requirements(entries: Any, where: str) -> list[Requirement]:
    """The entries that name a chart repository, each checked (``RenderError`` otherwise)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise RenderError("dependencies must be a list", file=where)
    found: list[Requirement] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise RenderError(f"dependencies[{index}] has no name", file=where)
        name = entry["name"]
        repository = str(entry.get("repository") or "").strip()
        version = str(entry.get("version") or "").strip()
        if not repository or repository.startswith("file://"):
            continue  # in the repository: built by the render server
        check_repository_url(name, repository, where)
        found.append(Requirement(name=name, version=version, repository=repository))
    return found


def check_repository_url(name: str, repository: str, where: str) -> None:
    """Refuse what is not a plain chart repository URL driftless may fetch."""
    if repository.startswith(("@", "alias:")):
        raise RenderError(
            f"dependency {name}: repository {repository!r} is a `helm repo add` alias;"
            " write the repository URL (https://… or oci://…)",
            file=where,
        )
    if not repository.lower().startswith(_REMOTE_SCHEMES):
        raise RenderError(
            f"dependency {name}: repository {redact(repository)!r} must be an https://,"
            " http:// or oci:// URL, or a file:// path inside the repository",
            file=where,
        )
    authority = repository.split("://", 1)[1].split("/", 1)[0]
    if "@" in authority:
        raise RenderError(
            f"dependency {name}: repository {redact(repository)!r} has credentials in it;"
            " credentials belong in a repository Secret",
            file=where,
        )


def matching_lock(fetch: tuple[Requirement, ...], lock: Any) -> dict[tuple[str, str], str]:
    """The lock's version per (name, repository) when it matches every requirement, else ``{}``."""
    entries = lock.get("dependencies") if isinstance(lock, dict) else None
    if not fetch or not isinstance(entries, list):
        return {}
    pins: dict[tuple[str, str], str] = {}
    for entry in entries:
        if isinstance(entry, dict):
            key = (str(entry.get("name", "")), str(entry.get("repository", "")).strip())
            pins[key] = str(entry.get("version", "")).strip()
    for req in fetch:
        pin = pins.get((req.name, req.repository))
        if not pin or not chart_versions.is_exact(pin) or not _satisfies(pin, req.version):
            return {}
    return {(r.name, r.repository): pins[(r.name, r.repository)] for r in fetch}


def _satisfies(version: str, wanted: str) -> bool:
    try:
        return chart_versions.pick_version(wanted or "*", [version]) == version
    except chart_versions.InvalidRangeError:
        return False


def _vendored(chart_dir: Path, real_root: Path) -> list[str]:
    charts = chart_dir / "charts"
    names: list[str] = []
    if charts.is_dir() and not charts.is_symlink():
        for entry in charts.iterdir():
            if entry.is_dir() and (entry / "Chart.yaml").is_file():
                names.append(entry.name)
                try:
                    data = _load(entry / "Chart.yaml", "charts", real_root)
                except RenderError:  # helm reports a broken vendored chart itself
                    data = None
                if isinstance(data, dict) and isinstance(data.get("name"), str):
                    names.append(data["name"])
            elif entry.name.endswith(".tgz"):
                names.append(entry.name)
    return names


def _is_vendored(name: str, vendored: list[str]) -> bool:
    return any(v == name or (v.startswith(f"{name}-") and v.endswith(".tgz")) for v in vendored)


def _repo_key(repository: str) -> str:
    return redact(repository).rstrip("/")


def _join(shown: str, rest: str) -> str:
    return rest if shown in ("", ".") else f"{shown}/{rest}"


def _read_text(path: Path, shown: str, real_root: Path) -> str:
    try:
        if not path.resolve().is_relative_to(real_root):
            raise RenderError("symlink points outside the repository", file=shown)
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RenderError("not UTF-8 text", file=shown) from None
    except (OSError, RuntimeError) as exc:  # str() names the host path: only the reason
        why = exc.strerror if isinstance(exc, OSError) else "symlink loop"
        raise RenderError(f"cannot be read: {why}", file=shown) from None


def _load(path: Path, shown: str, real_root: Path) -> Any:
    return _load_text(_read_text(path, shown, real_root), shown)


def _load_text(text: str, shown: str) -> Any:
    # Bounded like every repository file: depth, aliases and size are limited.
    documents = yaml_docs.parse_yaml_stream(text, shown)
    return documents[0].data if documents else None


def _remembered(digest: str) -> dict[Requirement, str]:
    entry = _MEMO.get(digest) if digest else None
    if entry is None:
        return {}
    expiry, picked = entry
    if expiry is not None and expiry < time.monotonic():
        _MEMO.pop(digest, None)
        return {}
    return picked


def _remember(declared: Declared, picked: dict[Requirement, str]) -> None:
    """Remember the versions picked for this (declaration, lock) digest."""
    key = declared.digest
    if not key:
        return
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    expiry = None if declared.locked else time.monotonic() + RANGE_TTL
    _MEMO[key] = (expiry, dict(picked))


def _note(declared: Declared) -> None:
    """Tell ``noting_resolutions`` when this resolution of ranges expires (never for a lock)."""
    notes = _NOTES.get()
    if notes is None or declared.locked:
        return
    entry = _MEMO.get(declared.digest)
    # Not remembered (evicted meanwhile): resolved again by the next render.
    notes.expire_at(entry[0] if entry is not None and entry[0] is not None else time.monotonic())


def forget_resolutions() -> None:
    """Drop every remembered resolution (tests; a hard refresh)."""
    _MEMO.clear()


def _identities(nodes: tuple[_Node, ...]) -> list[Any]:
    return [[n.name, n.fetched.identity, _identities(n.children)] for n in nodes]


def _assemble(root: Path, identity: str, nodes: tuple[_Node, ...], where: str) -> Path:
    """``<root>/<identity>``: one directory per dependency chart, nested ones in its charts/."""
    final = root / identity
    if final.is_dir():
        return final
    if _size(nodes) > MAX_TOTAL_BYTES:
        raise RenderError(
            f"the dependency charts unpack to more than {MAX_TOTAL_BYTES // 2**20} MiB", file=where
        )
    root.mkdir(parents=True, exist_ok=True)
    temp = root / f".tmp-{uuid.uuid4().hex}"
    try:
        temp.mkdir()
        _copy_nodes(temp, nodes)
        try:
            temp.rename(final)
        except OSError:  # a concurrent preparation stored the same tree first
            if not final.is_dir():
                raise SourceError("chart cache: cannot store dependencies") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return final


def _size(nodes: tuple[_Node, ...]) -> int:
    total = 0
    for node in nodes:
        total += sum(f.lstat().st_size for f in node.fetched.path.rglob("*") if f.is_file())
        total += _size(node.children)
    return total


def _copy_nodes(target: Path, nodes: tuple[_Node, ...]) -> None:
    for node in nodes:
        # name-version: two aliases of one chart at different versions both fit.
        dest = target / f"{node.name.replace('/', '_')}-{node.fetched.version}"
        if dest.exists():
            continue
        shutil.copytree(node.fetched.path, dest, symlinks=True)
        if node.children:
            (dest / "charts").mkdir(exist_ok=True)
            _copy_nodes(dest / "charts", node.children)
