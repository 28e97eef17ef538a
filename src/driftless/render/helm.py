"""The Helm renderer: ``helm template`` of a chart, hooks mapped to sync hooks.

Contract of ``render_helm(chart_dir, root, options, ...)``:

* ``chart_dir`` holds ``Chart.yaml``; ``root`` is the tree it must not leave
  (the repository, or the extracted archive of a chart from a repository).
* Dependencies: those vendored in ``charts/`` (a directory or a ``.tgz``) are
  used as they are. Dependencies from chart repositories are fetched by the
  controller (``chart_deps``, it holds the network and the credentials) and
  given as ``dependencies``, a directory of unpacked charts: they are copied
  into ``charts/`` of a private copy of the tree (the shared tree is never
  written), in-repository ``file://`` ones beside them. Without
  ``dependencies``, in-repository ``file://`` charts are built with ``helm
  dependency build`` on a private copy, and a missing dependency from a chart
  repository is a ``RenderError`` (the render server never downloads). A
  ``file://`` path outside the repository, through a symlink loop or holding
  a NUL is a ``RenderError`` on ``Chart.yaml``.
* Values, in Helm's order of precedence: ``valueFiles`` (relative to the
  chart directory, inside ``root``; a missing one is a ``RenderError`` naming
  it), then the inline ``values`` document, then ``parameters`` (``--set``, or
  ``--set-string`` when ``forceString``; commas in values are escaped so a
  value is one value, except Helm's ``{a,b}`` list syntax).
* ``--include-crds`` unless ``skipCrds``; the release name defaults to the app
  name and the namespace to the destination namespace; ``--kube-version`` and
  ``--api-versions`` come from the destination (``KubeTarget``), so
  ``.Capabilities`` answers what the real cluster serves.
* The command line: every value built from input is checked by ``argv`` as
  Helm would check it (release name, namespace, versions, ``--set`` names)
  and never starts with ``-``; option values are passed as ``--flag=value``
  and option parsing ends with ``--`` before the release name and chart, so
  no value can become an option (``--post-renderer``, ``--set-file``).
* Output: one ``Manifest`` per object with ``source_file`` the template that
  produced it (from Helm's ``# Source:`` comments, relative to the repository
  root, or ``<chart>@<version>/…`` for repository charts) and ``line`` None.
  Helm hooks are mapped by ``helm_hooks`` (test hooks and delete/rollback-only
  hooks dropped).
* Lookup: with ``lookup`` (the app opted in, ``render.lookup_proxy``), a
  kubeconfig naming only the lookup proxy and the render's token is written
  (mode 0600) in the render's private directory and ``helm template`` runs
  with ``--dry-run=server --kubeconfig=...``, so ``lookup`` reads through the
  proxy. Without it, neither flag: ``lookup`` returns empty maps.
* Errors: a missing chart, values file or dependency, invalid inline values,
  a symlink in the chart leading out of ``root`` (Helm's loader would follow
  it), ``helm template`` failing → ``RenderError`` with the template file and line
  when Helm names them and Helm's trimmed message; a timeout →
  ``TransientError``.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftless.core.errors import RenderError, TransientError
from driftless.core.models import HelmParameter, HelmSource
from driftless.core.resources import Manifest
from driftless.render import argv, helm_hooks, lookup_proxy, scratch, yaml_docs
from driftless.render import manifests as checks
from driftless.render import output as tool_output
from driftless.render.context import KubeTarget
from driftless.render.exec import ToolError, run_tool

CHART_FILE = "Chart.yaml"
_DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
_SOURCE_COMMENT = re.compile(r"^# Source: (\S.*?)\s*$", re.MULTILINE)
# "at (demo/templates/x.yaml:3:15)", "template: demo/templates/x.yaml:3:4: ..."
_TEMPLATE_AT_LINE = re.compile(r"([\w.\-]+(?:/[\w.\-]+)*?/(?:templates|crds)/[\w.\-/]+):(\d+)")
# "YAML parse error on demo/templates/x.yaml: ..."
_TEMPLATE_NO_LINE = re.compile(r"\bon ([\w.\-]+(?:/[\w.\-]+)*?/(?:templates|crds)/[\w.\-/]+):")


@dataclass(frozen=True)
class Release:
    """Who the chart is rendered for."""

    name: str
    namespace: str


@dataclass(frozen=True)
class Dependency:
    """One entry of ``dependencies:`` in Chart.yaml."""

    name: str
    repository: str


async def render_helm(
    chart_dir: Path,
    root: Path,
    options: HelmSource | None,
    *,
    release: Release,
    kube: KubeTarget,
    helm: str,
    time_limit: float,
    scratch_dir: Path | None = None,
    display: str | None = None,
    dependencies: Path | None = None,
    lookup: lookup_proxy.LookupAccess | None = None,
) -> list[Manifest]:
    """Render the chart in ``chart_dir`` (see the module contract).

    ``display`` names the chart directory in messages and ``source_file``
    (default: its path relative to ``root``); ``dependencies`` holds the
    chart's fetched repository dependencies (``chart_deps.prepare``).
    """
    opts = options or HelmSource()
    release = checked_release(release)
    real_root = root.resolve()
    real_chart = chart_dir.resolve()
    shown = display or _relative(real_chart, real_root)
    value_files, missing = await asyncio.to_thread(
        _inspect_chart, real_root, real_chart, shown, opts, dependencies is not None
    )
    with tempfile.TemporaryDirectory(prefix="driftless-helm-") as private:
        inline = _write_inline_values(opts.values, Path(private))
        args = template_arguments(opts, release, kube, [*value_files, *inline])
        if lookup is not None:
            args += lookup_arguments(_write_kubeconfig(lookup, Path(private)))
        aliases = {f"{real_root}/": "", f"{private}/": ""}
        if not missing and dependencies is None:
            output = await _template(
                helm, release.name, real_chart, args, time_limit, aliases, shown
            )
        elif dependencies is not None:
            async with scratch.tree_copy(real_root, scratch_dir) as copy_root:
                copy_chart = copy_root / _relative(real_chart, real_root)
                aliases[f"{copy_root}/"] = ""
                await asyncio.to_thread(
                    _vendor, copy_root, copy_chart, dependencies, missing, shown
                )
                output = await _template(
                    helm, release.name, copy_chart, args, time_limit, aliases, shown
                )
        else:
            # Dependencies to build: on a private copy, never in the shared tree.
            async with scratch.tree_copy(real_root, scratch_dir) as copy_root:
                copy_chart = copy_root / _relative(real_chart, real_root)
                aliases[f"{copy_root}/"] = ""
                await _dependency_build(helm, copy_chart, time_limit, aliases, shown)
                output = await _template(
                    helm, release.name, copy_chart, args, time_limit, aliases, shown
                )
    text = output.decode("utf-8", errors="replace")
    rendered = await asyncio.to_thread(parse_output, text, shown)
    checks.reject_duplicates(rendered)
    return rendered


def _inspect_chart(
    real_root: Path, real_chart: Path, shown: str, opts: HelmSource, fetched: bool = False
) -> tuple[list[Path], list[Dependency]]:
    """Check the chart before Helm reads it: (checked values files, deps to build).

    ``fetched``: the repository dependencies were fetched; only ``file://``
    ones are left to build.
    """
    chart_file = real_chart / CHART_FILE
    if not chart_file.is_file():
        raise RenderError("no Chart.yaml in the chart directory", file=shown)
    check_symlinks(real_chart, real_root, shown)
    meta = _read_chart_meta(chart_file, _join(shown, CHART_FILE))
    value_files = [_value_file(real_root, real_chart, shown, vf) for vf in opts.value_files]
    missing = missing_dependencies(meta, real_chart)
    if fetched:
        missing = [d for d in missing if not d.repository or d.repository.startswith("file://")]
    _check_buildable(missing, real_root, real_chart, _join(shown, CHART_FILE))
    return value_files, missing


def _write_inline_values(values: str | None, directory: Path) -> list[Path]:
    """The inline values as a file for ``--values`` (none when there are none)."""
    if values is None or not values.strip():
        return []
    path = directory / "inline-values.yaml"
    path.write_text(_checked_inline_values(values))
    return [path]


def _write_kubeconfig(lookup: lookup_proxy.LookupAccess, directory: Path) -> Path:
    """The lookup kubeconfig, readable by this user only (it holds the render's token)."""
    path = directory / "lookup-kubeconfig"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(lookup_proxy.kubeconfig(lookup))
    return path


# --------------------------------------------------------------- pure parts


def lookup_arguments(kubeconfig: Path) -> list[str]:
    """Flags that make ``lookup`` read through the proxy the kubeconfig names.

    ``--dry-run=server`` is what lets ``helm template`` contact a cluster at
    all; without ``--validate`` it still takes ``.Capabilities`` from the
    flags and checks nothing against the cluster, so lookups are its only
    requests.
    """
    return ["--dry-run=server", f"--kubeconfig={argv.safe_arg(str(kubeconfig), 'kubeconfig')}"]


def check_symlinks(real_chart: Path, real_root: Path, shown: str) -> None:
    """Refuse a symlink in the chart that leads outside ``real_root``.

    Helm's chart loader follows symlinks, so ``files/x -> /etc/shadow`` would
    hand the host's file to ``.Files.Get`` and into a rendered ConfigMap.
    """
    seen: set[Path] = set()
    # Followed like Helm follows them, so links behind links are checked too.
    for directory, dirnames, filenames in os.walk(real_chart, followlinks=True):
        real_dir = _followed(Path(directory), real_chart, shown)
        if real_dir in seen:
            dirnames.clear()  # a link cycle: already checked
            continue
        seen.add(real_dir)
        for name in [*dirnames, *filenames]:
            path = Path(directory) / name
            if path.is_symlink() and not _followed(path, real_chart, shown).is_relative_to(
                real_root
            ):
                where = _join(shown, path.relative_to(real_chart).as_posix())
                raise RenderError("symlink points outside the repository", file=where)


def _followed(path: Path, real_chart: Path, shown: str) -> Path:
    """``path.resolve()``; a link loop or a name over NAME_MAX is a ``RenderError``."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: Python 3.11's symlink loop
        why = exc.strerror if isinstance(exc, OSError) else "symlink loop"
        where = _join(shown, path.relative_to(real_chart).as_posix())
        raise RenderError(f"cannot follow symlink: {why}", file=where) from None


def checked_release(release: Release) -> Release:
    """``release`` if Helm accepts its name and namespace (``RenderError`` otherwise)."""
    argv.release_name(release.name)
    if release.namespace:
        argv.namespace(release.namespace)
    return release


def template_command(
    helm: str, release_name: str, chart_dir: Path, flags: Sequence[str]
) -> list[str]:
    """``helm template FLAGS -- NAME CHART``: after ``--`` nothing is an option."""
    return [
        helm,
        "template",
        *flags,
        "--",
        argv.release_name(release_name),
        argv.safe_arg(str(chart_dir), "chart directory"),
    ]


def template_arguments(
    opts: HelmSource, release: Release, kube: KubeTarget, values: Sequence[Path]
) -> list[str]:
    """The flags of ``helm template`` (before ``--``), in precedence order."""
    return [
        *[f"--values={argv.safe_arg(str(path), 'values file')}" for path in values],
        *set_arguments(opts.parameters),
        *capability_arguments(kube),
        *([f"--namespace={argv.namespace(release.namespace)}"] if release.namespace else []),
        *([] if opts.skip_crds else ["--include-crds"]),
    ]


def set_arguments(parameters: Sequence[HelmParameter]) -> list[str]:
    """``--set=`` / ``--set-string=`` arguments for the parameters, in order.

    ``--set`` and ``--set-string`` never read files (``--set-file`` does, and
    is never passed), so a value may be anything but a NUL character.
    """
    args: list[str] = []
    for index, param in enumerate(parameters):
        where = f"spec.source.helm.parameters[{index}]"
        name = argv.set_name(param.name, f"{where}.name")
        if "\x00" in param.value:
            raise RenderError(f"{where}.value: contains a NUL character")
        flag = "--set-string" if param.force_string else "--set"
        args.append(f"{flag}={name}={escape_set_value(param.value)}")
    return args


def escape_set_value(value: str) -> str:
    """A ``--set`` value that Helm reads as one value: unescaped commas escaped.

    Helm splits ``--set a=1,b=2`` at commas; a parameter's value is one value,
    except Helm's list syntax ``{a,b}`` which the user wrote on purpose.
    """
    if value.startswith("{") and value.endswith("}"):
        return value
    return re.sub(r"(?<!\\),", r"\\,", value)


def capability_arguments(kube: KubeTarget) -> list[str]:
    """``--kube-version`` and one ``--api-versions`` per served API version."""
    args = [f"--kube-version={argv.kube_version(kube.version)}"] if kube.version else []
    for api_version in kube.api_versions:
        args.append(f"--api-versions={argv.api_version(api_version)}")
    return args


def missing_dependencies(meta: dict[str, Any], chart_dir: Path) -> list[Dependency]:
    """Dependencies of Chart.yaml that are not vendored in ``charts/``."""
    declared = meta.get("dependencies") or []
    if not isinstance(declared, list):
        return []
    charts = chart_dir / "charts"
    present = set()
    archives: list[str] = []
    if charts.is_dir():
        for entry in charts.iterdir():
            if entry.is_dir() and (entry / CHART_FILE).is_file():
                present.add(entry.name)
                present.add(str(_read_name(entry / CHART_FILE) or entry.name))
            elif entry.name.endswith(".tgz"):
                archives.append(entry.name)
    missing: list[Dependency] = []
    for dep in declared:
        if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
            continue
        name = dep["name"]
        if name in present or any(re.match(rf"{re.escape(name)}-\d", a) for a in archives):
            continue
        missing.append(Dependency(name=name, repository=str(dep.get("repository") or "")))
    return missing


def parse_output(text: str, shown: str) -> list[Manifest]:
    """``helm template``'s output as manifests located at the templates they came from."""
    rendered: list[Manifest] = []
    for chunk in _DOC_SEPARATOR.split(text):
        match = _SOURCE_COMMENT.search(chunk)
        source = template_path(match.group(1), shown) if match else _join(shown, "(helm output)")
        documents = yaml_docs.parse_yaml_stream(chunk, source)
        for manifest in tool_output.to_manifests(documents, source):
            mapped = helm_hooks.map_hook(manifest.obj)
            if mapped is not None:
                manifest.obj = mapped
                rendered.append(manifest)
    return rendered


def template_path(helm_source: str, shown: str) -> str:
    """``demo/templates/x.yaml`` (Helm names the chart first) → under ``shown``."""
    _, _, rest = helm_source.partition("/")
    return _join(shown, rest or helm_source)


def locate_error(message: str, shown: str) -> tuple[str | None, int | None]:
    """The template file and line a Helm error names, relative to ``shown``."""
    match = _TEMPLATE_AT_LINE.search(message)
    if match:
        return template_path(match.group(1), shown), int(match.group(2))
    match = _TEMPLATE_NO_LINE.search(message)
    if match:
        return template_path(match.group(1), shown), None
    return None, None


# ----------------------------------------------------------------- helpers


def _join(shown: str, rest: str) -> str:
    return rest if shown in ("", ".") else posixpath.join(shown, rest)


def _relative(path: Path, real_root: Path) -> str:
    return path.relative_to(real_root).as_posix() or "."


def _read_chart_meta(chart_file: Path, shown: str) -> dict[str, Any]:
    try:
        text = chart_file.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RenderError(f"cannot read Chart.yaml: {exc}", file=shown) from None
    documents = yaml_docs.parse_yaml_stream(text, shown)
    data = documents[0].data if documents else None
    if not isinstance(data, dict):
        raise RenderError("Chart.yaml is not a YAML mapping", file=shown)
    return data


def _read_name(chart_file: Path) -> str | None:
    try:
        # Bounded like every repository file (a vendored subchart is untrusted too).
        data = yaml_docs.load_single(chart_file.read_text(), str(chart_file))
    except (OSError, UnicodeDecodeError, RenderError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def _value_file(real_root: Path, real_chart: Path, shown: str, value_file: str) -> Path:
    """The checked real path of one ``valueFiles`` entry."""
    where = _join(shown, value_file)
    if "://" in value_file:
        raise RenderError(f"values file {value_file!r}: only files in the repository are supported")
    if value_file.startswith("/"):
        raise RenderError(f"values file {value_file!r} must be relative to the chart directory")
    chart_rel = _relative(real_chart, real_root)
    joined = posixpath.normpath(posixpath.join(chart_rel, value_file))
    if joined == ".." or joined.startswith("../"):
        raise RenderError(f"values file {value_file!r} is outside the repository")
    try:
        path = (real_root / joined).resolve()
        if not path.is_relative_to(real_root):
            raise RenderError(f"values file {value_file!r} resolves outside the repository")
        found = path.is_file()
    except (OSError, RuntimeError, ValueError):  # a link loop, a name over NAME_MAX, a NUL
        raise RenderError(f"values file {value_file!r} cannot be looked up", file=where) from None
    if not found:
        raise RenderError(f"values file {value_file!r} not found", file=where)
    return path


def _checked_inline_values(values: str) -> str:
    try:
        values.encode("utf-8")  # written to a file for helm: it must have a UTF-8 form
    except UnicodeEncodeError:
        raise RenderError("spec.source.helm.values is not valid Unicode text") from None
    documents = yaml_docs.parse_yaml_stream(values, "spec.source.helm.values")
    if len(documents) > 1 or (documents and not isinstance(documents[0].data, dict)):
        raise RenderError("spec.source.helm.values must be one YAML mapping")
    return values


def _check_buildable(
    missing: list[Dependency], real_root: Path, real_chart: Path, shown_chart_file: str
) -> None:
    """Refuse dependencies that a render cannot build from inside the tree."""
    for dep in missing:
        if not dep.repository.startswith("file://"):
            where = f" ({dep.repository})" if dep.repository else ""
            raise RenderError(
                f"dependency {dep.name}{where} is not vendored in charts/; driftless does not"
                " download dependencies from chart repositories while rendering: run"
                " `helm dependency build` and commit charts/, or use a file:// dependency",
                file=shown_chart_file,
            )
        local = dep.repository.removeprefix("file://")
        chart_rel = _relative(real_chart, real_root)
        joined = posixpath.normpath(posixpath.join(chart_rel, local))
        try:
            target = (real_root / joined).resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL in the name
            raise RenderError(
                f"dependency {dep.name} ({dep.repository!r}) is not a usable path",
                file=shown_chart_file,
            ) from None
        if local.startswith("/") or joined.startswith("../") or joined == "..":
            raise RenderError(
                f"dependency {dep.name} ({dep.repository}) is outside the repository",
                file=shown_chart_file,
            )
        if not target.is_relative_to(real_root):
            raise RenderError(
                f"dependency {dep.name} ({dep.repository}) resolves outside the repository",
                file=shown_chart_file,
            )


def _vendor(
    copy_root: Path, copy_chart: Path, fetched: Path, local: list[Dependency], shown: str
) -> None:
    """Fill ``charts/`` of the private copy: the fetched charts, then the file:// ones.

    Only new entries are added: files of the copy (hard links into the shared
    tree) are never written.
    """
    charts = copy_chart / "charts"
    if charts.is_symlink() or (charts.exists() and not charts.is_dir()):
        raise RenderError("charts is not a directory", file=_join(shown, "charts"))
    charts.mkdir(exist_ok=True)
    for entry in sorted(fetched.iterdir()):
        if entry.is_dir() and not (charts / entry.name).exists():
            shutil.copytree(entry, charts / entry.name, symlinks=True)
    chart_rel = _relative(copy_chart, copy_root)
    for dep in local:
        path = posixpath.normpath(posixpath.join(chart_rel, dep.repository.removeprefix("file://")))
        source = (copy_root / path).resolve()
        # _check_buildable already refused paths outside the repository.
        if not source.is_relative_to(copy_root.resolve()) or not (source / CHART_FILE).is_file():
            raise RenderError(
                f"dependency {dep.name} ({dep.repository}) has no Chart.yaml",
                file=_join(shown, CHART_FILE),
            )
        target = charts / f"{dep.name}-file"
        if not target.exists():
            shutil.copytree(source, target, symlinks=True)


async def _dependency_build(
    helm: str, chart_dir: Path, time_limit: float, aliases: dict[str, str], shown: str
) -> None:
    # Helm writes charts/ and Chart.lock: in the copy those must be files of our
    # own, not hard links into the shared tree, and not symlinks leading out of it.
    for name in ("charts", "Chart.lock", "requirements.lock"):
        target = chart_dir / name
        if target.is_symlink():
            raise RenderError(
                f"{name} is a symlink; Helm would write through it", file=_join(shown, name)
            )
    await asyncio.to_thread(scratch.unshare, [chart_dir / "charts", chart_dir / "Chart.lock"])
    try:
        await run_tool(
            [
                helm,
                "dependency",
                "build",
                "--skip-refresh",
                "--",
                argv.safe_arg(str(chart_dir), "chart directory"),
            ],
            time_limit=time_limit,
            path_aliases=aliases,
        )
    except ToolError as exc:
        if exc.timed_out:
            raise TransientError(f"helm dependency build of {shown} timed out") from None
        raise RenderError(
            f"helm dependency build failed: {exc.output}", file=_join(shown, CHART_FILE)
        ) from None


async def _template(
    helm: str,
    release_name: str,
    chart_dir: Path,
    args: list[str],
    time_limit: float,
    aliases: dict[str, str],
    shown: str,
) -> bytes:
    try:
        return await run_tool(
            template_command(helm, release_name, chart_dir, args),
            time_limit=time_limit,
            path_aliases=aliases,
        )
    except ToolError as exc:
        if exc.timed_out:
            raise TransientError(f"helm template of {shown} timed out") from None
        file, line = locate_error(exc.output, shown)
        message = exc.output.removeprefix("Error: ")
        message = message.replace("; Use --debug flag to render out invalid YAML", "")
        raise RenderError(
            f"helm template failed: {message}", file=file or _join(shown, CHART_FILE), line=line
        ) from None
