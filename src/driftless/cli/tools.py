"""Renderer tools for processes started from the CLI.

Which kustomize and helm a render uses, decided once per process:

  * the binaries ``driftless devcluster build`` caches, at the pinned versions
    of ``driftless.devcluster.versions``, whenever they are there;
  * otherwise the ones on ``PATH`` (the controller's container image ships
    them there), under a policy:

    - ``Fallback.FORBID`` (the test suite: ``DRIFTLESS_PINNED_TOOLS=require``
      in the environment): no fallback at all, a :class:`ToolsError` naming
      the missing binary, so tests never run against another version unseen;
    - ``Fallback.SAME_VERSION`` (the controller and the render server): a tool
      on ``PATH`` is used only if it reports the pinned version, otherwise a
      :class:`ToolsError` names both versions, before anything is rendered;
    - ``Fallback.WARN`` (one-off CLI commands): any version, with one line on
      stderr saying which binary and version is used instead of the pin.

Every render goes to a render server (``driftless.render.server``): the one
listening on ``render_socket`` when given (the renderer container of the
controller's pod), otherwise one started as a child of this process on first
use. Rendering in-process is for unit tests of pure logic only.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click

from driftless.devcluster import binaries, versions
from driftless.devcluster.versions import Component
from driftless.render import RenderTools
from driftless.render.isolation import RenderServerClient, isolated

#: Set to ``require`` (the test suite does) to forbid any tool but the pinned, cached one.
PINNED_TOOLS_ENV = "DRIFTLESS_PINNED_TOOLS"

#: How long a ``<tool> version`` may take; a tool that hangs here is not usable anyway.
_VERSION_TIMEOUT_SECONDS = 30.0

# Both tools print their version as a ``vX.Y.Z`` word (helm: ``v3.22.0+g1a2b3c``).
_VERSION = re.compile(r"\bv\d+\.\d+\.\d+\b")


class Fallback(enum.Enum):
    """What to do when a pinned binary is not in the cache (see the module docstring)."""

    FORBID = "forbid"
    SAME_VERSION = "same-version"
    WARN = "warn"


class ToolsError(click.ClickException):
    """No usable kustomize or helm: the message says which one and what to do."""


def default_fallback(service: bool) -> Fallback:
    """The policy of this process: tests forbid, services want the pin, the CLI warns."""
    if os.environ.get(PINNED_TOOLS_ENV, "") == "require":
        return Fallback.FORBID
    return Fallback.SAME_VERSION if service else Fallback.WARN


def parse_version(output: str) -> str | None:
    """The first ``vX.Y.Z`` in a tool's ``version`` output (pure)."""
    match = _VERSION.search(output)
    return match.group(0) if match else None


def _version_argv(component: Component, path: str) -> list[str]:
    if component == versions.HELM:
        return [path, "version", "--short"]
    return [path, "version"]


def _reported_version(component: Component, path: str) -> str | None:
    try:
        done = subprocess.run(
            _version_argv(component, path),
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_version(done.stdout + done.stderr)


def resolve(component: Component, fallback: Fallback) -> str:
    """The path of ``component``'s binary under ``fallback``; :class:`ToolsError` if none."""
    pinned = binaries.binary_path(component)
    if pinned.is_file():
        return str(pinned)
    wanted = f"{component.name} {component.version}"
    if fallback is Fallback.FORBID:
        raise ToolsError(
            f"{wanted} is not at {pinned} and {PINNED_TOOLS_ENV}=require forbids another"
            " one: run `driftless devcluster build`"
        )
    found = shutil.which(component.name)
    if found is None:
        raise ToolsError(
            f"{wanted} is neither at {pinned} nor on PATH: run `driftless devcluster build`"
            f" or install {component.name}"
        )
    version = _reported_version(component, found)
    if version == component.version:
        return found
    shown = version or "an unknown version"
    if fallback is Fallback.SAME_VERSION:
        raise ToolsError(
            f"{found} is {component.name} {shown}, not the pinned {component.version}:"
            f" install {wanted} or run `driftless devcluster build`"
        )
    print(
        f"driftless: warning: using {found} ({component.name} {shown});"
        f" the pinned {component.version} is not at {pinned}",
        file=sys.stderr,
        flush=True,
    )
    return found


def local_tools(*, service: bool = False) -> RenderTools:
    """Tool paths only: what a render server itself renders with.

    ``service``: the caller is the controller or a render server (see
    :func:`default_fallback`).
    """
    fallback = default_fallback(service)
    return RenderTools(
        kustomize=resolve(versions.KUSTOMIZE, fallback),
        helm=resolve(versions.HELM, fallback),
    )


def render_tools(render_socket: Path | None = None, *, service: bool = False) -> RenderTools:
    """Tools whose renders run in a render server (see the module docstring)."""
    if render_socket is not None:
        # The server on the socket renders with its own tools; this process needs none.
        return dataclasses.replace(RenderTools(), isolation=RenderServerClient(render_socket))
    return isolated(local_tools(service=service))
