"""Run the driftless CLI exactly as a user does.

``invoke`` runs the ``cli`` group of ``driftless.cli.main`` in-process with
click's ``CliRunner`` (fast; in a thread, since every command calls
``asyncio.run``); ``run_subprocess`` runs the installed ``driftless`` entry
point (the console script of ``pyproject.toml``) as a real process. Neither
adds a command: a command missing from ``driftless`` itself fails its test.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from driftless.cli.main import cli


def entry_point() -> str:
    """The ``driftless`` executable installed next to this interpreter."""
    beside = Path(sys.executable).parent / "driftless"
    found = str(beside) if beside.is_file() else shutil.which("driftless")
    if found is None:
        raise AssertionError("the driftless console script is not installed (pip install -e .)")
    return found


def _invoke(kubeconfig: Path, args: tuple[str, ...], stdin: str | None) -> Result:
    return CliRunner().invoke(cli, ["--kubeconfig", str(kubeconfig), *args], input=stdin)


async def invoke(kubeconfig: Path, *args: str, stdin: str | None = None) -> Result:
    """Run ``driftless --kubeconfig K ARGS`` in-process; never raises for a failing command."""
    result = await asyncio.to_thread(_invoke, kubeconfig, args, stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"driftless {' '.join(args)} raised") from result.exception
    return result


def _subprocess(kubeconfig: Path, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [entry_point(), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def run_subprocess(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a real process; check ``returncode``, ``stdout``, ``stderr``."""
    return await asyncio.to_thread(_subprocess, kubeconfig, args)
