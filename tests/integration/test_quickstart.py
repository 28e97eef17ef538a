"""The README's first command, run as a user would (minus Ctrl-C)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_end_to_end() -> None:
    """The README's first command, minus Ctrl-C: the example app becomes Ready."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "driftless.cli.main",
            "quickstart",
            "--name",
            "qs-test",
            "--exit-when-ready",
            "--examples",
            str(REPO_ROOT / "examples"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "guestbook" in result.stdout
    assert "Sync Status:   Synced" in result.stdout
    assert "Health:        Healthy" in result.stdout
