"""The README's first command, run as a user would: it converges, then Ctrl-C stops it."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from driftless.devcluster import binaries, versions
from driftless.devcluster.cluster import DevCluster
from tests.integration.cli_driver import entry_point

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "All applications are Synced and Healthy"
DEADLINE_SECONDS = 420  # under the 600 s pytest-timeout of every test


class _Output:
    """Collects a process's stdout in a thread; lets the test wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.text = ""
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.text += line
                self._changed.notify_all()

    def wait_for(self, needle: str, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: needle in self.text, timeout)

    def join(self) -> None:
        self._thread.join(timeout=60)


def _kubectl(kubeconfig: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [str(binaries.ensure(versions.KUBECTL)), f"--kubeconfig={kubeconfig}", *args, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


def test_quickstart_end_to_end() -> None:
    """The example app becomes Synced and Healthy in the quickstart's own cluster;
    Ctrl-C then stops the controller and the control plane, exit status 0."""
    name = "qs-test"
    kubeconfig = DevCluster(name).kubeconfig
    process = subprocess.Popen(
        [entry_point(), "quickstart", "--name", name, "--examples", str(REPO_ROOT / "examples")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(process)
    try:
        assert output.wait_for(READY_LINE, DEADLINE_SECONDS), output.text
        assert "Sync Status:   Synced" in output.text
        assert "Health:        Healthy" in output.text
        # What the table says is what the cluster holds.
        app = _kubectl(kubeconfig, "-n", "driftless", "get", "application", "guestbook")
        assert isinstance(app["status"], dict) and app["status"]["sync"]["status"] == "Synced"
        deployment = _kubectl(kubeconfig, "-n", "guestbook", "get", "deployment", "guestbook-ui")
        assert isinstance(deployment["status"], dict)
        assert deployment["status"]["availableReplicas"] == 2
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, output.text
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output.join()
    assert "Stopping the controller and the control plane" in output.text
    assert "Traceback" not in output.text
    # Nothing of the cluster is left running: its API server no longer answers.
    probe = subprocess.run(
        [str(binaries.ensure(versions.KUBECTL)), f"--kubeconfig={kubeconfig}", "get", "ns",
         "--request-timeout=5s"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert probe.returncode != 0
