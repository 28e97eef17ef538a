"""Building one Go main package from the module proxy, through a wrapper module.

Why a wrapper module: ``go install pkg@version`` refuses modules whose go.mod
has ``replace`` lines (etcd's server, k8s.io/kubernetes). A throwaway module
that *requires* the wanted module ignores the dependency's replace lines, and
for Kubernetes we restate them ourselves, pointing each staging module
(``k8s.io/api``, ``k8s.io/client-go``, ...) at its published ``v0.Y.Z`` release.

The pure half (go.mod text, ldflags) is separate from the half that runs
``go`` so it can be unit-tested without a toolchain.

For ``Recipe.SOURCE`` the wrapper module's own ``main.go`` is driftless's
file (``SOURCE_DIR / component.source``), copied in at each build.

Contract of :func:`build`: on success ``output`` is a complete executable; on
failure :class:`BuildError` is raised with the tail of the go log, and
``output`` is untouched (callers build into a temporary name and rename).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from driftless.devcluster.errors import BuildError
from driftless.devcluster.logtail import tail
from driftless.devcluster.versions import Component, Recipe

#: The go directive of wrapper modules: the oldest Go that builds every pinned version.
GO_DIRECTIVE = "1.26.0"
_VERSION_PKG = "k8s.io/component-base/version"
_STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.\-/]+)\s*=>\s*\./staging/\S+\s*$")
_RELEASE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
#: Where the mains of ``Recipe.SOURCE`` components live (shipped as package data).
SOURCE_DIR = Path(__file__).parent


# ---------------------------------------------------------------------------
# pure parts


def staging_modules(upstream_gomod: str) -> list[str]:
    """The modules k8s.io/kubernetes's go.mod maps to ``./staging/...``, sorted."""
    found = {
        m.group(1) for line in upstream_gomod.splitlines() if (m := _STAGING_REPLACE.match(line))
    }
    return sorted(found)


def staging_version(kubernetes_version: str) -> str:
    """``v1.36.3`` -> ``v0.36.3``: the tag the staging modules are published under."""
    match = _RELEASE.match(kubernetes_version)
    if match is None or match.group(1) != "1":
        raise ValueError(f"not a Kubernetes v1 release tag: {kubernetes_version!r}")
    return f"v0.{match.group(2)}.{match.group(3)}"


def wrapper_gomod(component: Component, upstream_gomod: str | None = None) -> str:
    """The go.mod of the wrapper module that builds ``component``.

    ``upstream_gomod`` (k8s.io/kubernetes's own go.mod) is required for the
    KUBERNETES recipe and ignored otherwise.
    """
    lines = [
        f"module driftless.local/{_module_slug(component.module)}build",
        "",
        f"go {GO_DIRECTIVE}",
        "",
        f"require {component.module} {component.version}",
    ]
    if component.recipe is Recipe.KUBERNETES:
        if upstream_gomod is None:
            raise ValueError("the KUBERNETES recipe needs k8s.io/kubernetes's go.mod")
        published = staging_version(component.version)
        modules = staging_modules(upstream_gomod)
        if not modules:
            raise ValueError("k8s.io/kubernetes's go.mod has no ./staging replace lines")
        lines += ["", "replace ("]
        lines += [f"\t{module} => {module} {published}" for module in modules]
        lines.append(")")
    return "\n".join(lines) + "\n"


def ldflags(component: Component, build_date: str) -> str:
    """Linker flags: strip symbols and stamp the version the binary reports.

    Kubernetes reads its version from ``k8s.io/component-base/version``; without
    these ``/version`` says ``v0.0.0-master`` and Helm's kubeVersion checks fail.
    """
    flags = ["-s", "-w"]
    if component.recipe is Recipe.KUBERNETES:
        match = _RELEASE.match(component.version)
        if match is None:
            raise ValueError(f"not a release tag: {component.version!r}")
        stamps = {
            "gitVersion": component.version,
            "gitMajor": match.group(1),
            "gitMinor": match.group(2),
            "gitTreeState": "clean",
            "buildDate": build_date,
        }
        flags += [f"-X {_VERSION_PKG}.{key}={value}" for key, value in stamps.items()]
    if component.version_var is not None:
        flags.append(f"-X {component.version_var}={component.version}")
    return " ".join(flags)


def _module_slug(module: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", module.lower()).strip("-")


def workdir_name(component: Component) -> str:
    """Directory name of the wrapper module; shared by components of one module@version."""
    own = f"-{component.name}" if component.recipe is Recipe.SOURCE else ""
    return f"{_module_slug(component.module)}@{component.version}{own}"


# ---------------------------------------------------------------------------
# running go


@dataclass(frozen=True)
class GoEnv:
    """How to run ``go``: the executable and the environment for every call."""

    go: str
    env: dict[str, str]

    @classmethod
    def detect(cls) -> GoEnv:
        """Find ``go`` on PATH; raise :class:`BuildError` saying what to install if absent."""
        go = shutil.which("go")
        if go is None:
            raise BuildError(
                "the Go toolchain (go >= 1.26) is needed to build the dev cluster binaries; "
                "install it and put `go` on PATH"
            )
        env = dict(os.environ)
        # Static binaries run anywhere; -mod=mod lets `go get`/`go build` write go.sum;
        # GOWORK=off keeps a user's go.work from leaking into the wrapper module.
        env["CGO_ENABLED"] = "0"
        env["GOWORK"] = "off"
        env["GOFLAGS"] = " ".join(filter(None, [env.get("GOFLAGS", ""), "-mod=mod"]))
        return cls(go=go, env=env)

    def run(self, args: Sequence[str], *, cwd: Path, log: Path) -> str:
        """Run ``go args...`` in ``cwd``, appending its output to ``log``; return stdout.

        Raises :class:`BuildError` quoting the log tail when go fails.
        """
        with log.open("ab") as sink:
            sink.write(f"$ go {' '.join(args)}\n".encode())
            sink.flush()
            proc = subprocess.run(
                [self.go, *args],
                cwd=cwd,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=sink,
                check=False,
            )
            sink.write(proc.stdout)
        if proc.returncode != 0:
            raise BuildError(
                f"`go {' '.join(args[:3])} ...` failed (exit {proc.returncode}); "
                f"log {log}:\n{tail(log)}"
            )
        return proc.stdout.decode()


def module_info(goenv: GoEnv, module: str, version: str, *, cwd: Path, log: Path) -> dict[str, str]:
    """``go mod download -json module@version``: paths of its go.mod, .info and source dir."""
    out = goenv.run(["mod", "download", "-json", f"{module}@{version}"], cwd=cwd, log=log)
    info: dict[str, str] = json.loads(out)
    return info


def release_date(info_file: str) -> str:
    """The commit time the proxy records for a release: a reproducible build date."""
    data = json.loads(Path(info_file).read_text())
    return str(data.get("Time", "1970-01-01T00:00:00Z"))


def prepare(goenv: GoEnv, component: Component, workdir: Path, log: Path) -> str:
    """Write the wrapper module into ``workdir`` and resolve its dependencies.

    Returns the build date to stamp. Idempotent: rerunning on a prepared
    directory only re-resolves, which is quick once modules are downloaded.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    info = module_info(goenv, component.module, component.version, cwd=workdir, log=log)
    upstream = None
    if component.recipe is Recipe.KUBERNETES:
        upstream = Path(info["GoMod"]).read_text()
    gomod = workdir / "go.mod"
    wanted = wrapper_gomod(component, upstream)
    # `go get` rewrites go.mod (adds indirect requirements); only reset it when the
    # pinned inputs changed, so repeated builds keep the already resolved go.sum.
    marker = workdir / "go.mod.in"
    if not marker.exists() or marker.read_text() != wanted or not gomod.exists():
        gomod.write_text(wanted)
        (workdir / "go.sum").unlink(missing_ok=True)
        marker.write_text(wanted)
    target = component.package
    if component.recipe is Recipe.SOURCE:
        if component.source is None:
            raise BuildError(f"{component.name}: a SOURCE component names its source")
        shutil.copyfile(SOURCE_DIR / component.source, workdir / "main.go")
        target = component.module
    goenv.run(["get", f"{target}@{component.version}"], cwd=workdir, log=log)
    return release_date(info["Info"])


def build_args(component: Component, build_date: str, output: Path) -> list[str]:
    """The ``go build`` arguments for ``component`` (pure)."""
    tags = ["-tags", ",".join(component.tags)] if component.tags else []
    return [
        "build",
        "-trimpath",
        *tags,
        "-ldflags",
        ldflags(component, build_date),
        "-o",
        str(output),
        component.package,
    ]


def build(goenv: GoEnv, component: Component, workdir: Path, output: Path, log: Path) -> None:
    """Compile and link ``component.package`` from a prepared ``workdir`` into ``output``."""
    if component.cgo:
        goenv = GoEnv(goenv.go, {**goenv.env, "CGO_ENABLED": "1"})
    if component.recipe is Recipe.MODULE:
        build_date = prepare_module(goenv, component, workdir, log)
        cwd = module_source_dir(workdir)
    else:
        build_date = prepare(goenv, component, workdir, log)
        cwd = workdir
    goenv.run(build_args(component, build_date, output), cwd=cwd, log=log)


def module_source_dir(workdir: Path) -> Path:
    """Where ``Recipe.MODULE`` keeps its writable copy of the module's source."""
    return workdir / "src"


def prepare_module(goenv: GoEnv, component: Component, workdir: Path, log: Path) -> str:
    """Copy ``component.module``'s source out of the module cache into ``workdir``.

    The module cache is read-only and go may rewrite go.sum, so the build works
    on a writable copy, made once per version (a marker file records which).
    Returns the build date to stamp.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    info = module_info(goenv, component.module, component.version, cwd=workdir, log=log)
    source = module_source_dir(workdir)
    marker = workdir / "source.version"
    if not marker.exists() or marker.read_text() != component.version:
        if source.exists():
            shutil.rmtree(source)
        shutil.copytree(info["Dir"], source, copy_function=shutil.copyfile)
        for directory, _, _ in os.walk(source):
            Path(directory).chmod(0o755)  # copytree kept the cache's read-only modes
        marker.write_text(component.version)
    return release_date(info["Info"])


def module_dir(goenv: GoEnv, module: str, workdir: Path, log: Path) -> Path:
    """The extracted source directory of ``module`` as resolved in ``workdir``."""
    out = goenv.run(["list", "-m", "-json", module], cwd=workdir, log=log)
    return Path(json.loads(out)["Dir"])
