"""Run the driftless CLI with the commands of issue 5 mounted.

``invoke`` runs it in-process with click's ``CliRunner`` (fast; in a thread,
since every command calls ``asyncio.run``); ``run_subprocess`` runs it as a
real process through ``python -c``, mounting the groups the same way, so the
test does not depend on ``cli/main.py`` having them yet.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner, Result

import driftless.cli.app_edit  # noqa: F401  (registers app create|set|delete)
from driftless.cli.cluster import cluster_group
from driftless.cli.completion import completion_command
from driftless.cli.main import cli
from driftless.cli.project import project_group
from driftless.cli.version import version_command

MOUNT = (
    "from driftless.cli.main import cli\n"
    "import driftless.cli.app_edit\n"
    "from driftless.cli.project import project_group\n"
    "from driftless.cli.cluster import cluster_group\n"
    "from driftless.cli.version import version_command\n"
    "from driftless.cli.completion import completion_command\n"
    "for command in (project_group, cluster_group, version_command, completion_command):\n"
    "    if command.name not in cli.commands:\n"
    "        cli.add_command(command)\n"
    "cli(prog_name='driftless')\n"
)


def full_cli() -> click.Group:
    for command in (project_group, cluster_group, version_command, completion_command):
        if command.name not in cli.commands:
            cli.add_command(command)
    return cli


def _invoke(kubeconfig: Path, args: tuple[str, ...], stdin: str | None) -> Result:
    return CliRunner().invoke(full_cli(), ["--kubeconfig", str(kubeconfig), *args], input=stdin)


async def invoke(kubeconfig: Path, *args: str, stdin: str | None = None) -> Result:
    """Run ``driftless --kubeconfig K ARGS`` in-process; never raises for a failing command."""
    result = await asyncio.to_thread(_invoke, kubeconfig, args, stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"driftless {' '.join(args)} raised") from result.exception
    return result


def _subprocess(kubeconfig: Path, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MOUNT, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def run_subprocess(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a real process; check ``returncode``, ``stdout``, ``stderr``."""
    return await asyncio.to_thread(_subprocess, kubeconfig, args)
