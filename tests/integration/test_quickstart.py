"""The README's first command, run as a user would: it converges, its web UI's server
answers and lets the admin in, shows the example app's diff (its repository is
served over HTTP, which the server reads), repeats the login in its last line,
then Ctrl-C stops it all."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from driftless.devcluster import binaries, versions
from driftless.devcluster.cluster import DevCluster
from driftless.server import auth
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


def _http(opener: urllib.request.OpenerDirector, url: str, body: object = None) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with opener.open(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _check_server(output: str, kubeconfig: Path) -> str:
    """The printed URL answers, and the printed password (the initial admin
    Secret's) logs in and shows the example app and its diff; the last line
    repeats both; a local repository's diff is refused by the server, in its
    own name; the URL."""
    found = re.search(r"Web UI and API: (\S+)\n  log in as admin with password (\S+)", output)
    assert found, output
    url, password = found.groups()
    assert f"get secret {auth.INITIAL_SECRET}" in output
    secret = _kubectl(kubeconfig, "-n", "driftless", "get", "secret", auth.INITIAL_SECRET)
    assert isinstance(secret["data"], dict)
    assert base64.b64decode(secret["data"][auth.INITIAL_KEY]).decode() == password
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    assert _http(opener, f"{url}/readyz")[0] == 200
    assert _http(opener, f"{url}/api/v1/applications")[0] == 401
    login = {"username": "admin", "password": password}
    status, body = _http(opener, f"{url}/api/v1/session", login)
    assert (status, json.loads(body)) == (200, {"user": "admin"})
    status, body = _http(opener, f"{url}/api/v1/applications")
    assert status == 200, body
    assert [item["name"] for item in json.loads(body)["items"]] == ["guestbook"]
    # The Diff view of the example app: its repository is served over loopback HTTP.
    status, body = _http(opener, f"{url}/api/v1/applications/driftless/guestbook/diff")
    assert status == 200, body
    assert {r["kind"] for r in json.loads(body)["resources"]} >= {"Deployment", "Service"}
    login = f"Web UI: {url} (user admin, password {password})"
    assert f"{READY_LINE}. {login}. Press Ctrl-C to stop." in output.splitlines(), output
    _check_local_refused(opener, url, kubeconfig)
    return url


def _check_local_refused(opener: urllib.request.OpenerDirector, url: str, kubeconfig: Path) -> None:
    """An app on a file:// URL: the server's 422 names the server, not a controller flag."""
    app = {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "local", "namespace": "driftless"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "file:///nowhere/repo.git", "path": "."},
            "destination": {"namespace": "local"},
        },
    }
    subprocess.run(
        [str(binaries.ensure(versions.KUBECTL)), f"--kubeconfig={kubeconfig}", "apply", "-f", "-"],
        input=json.dumps(app), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        status, body = _http(opener, f"{url}/api/v1/applications/driftless/local/diff")
        if status != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 422, body
    message = json.loads(body)["error"]["message"]
    assert "local repository file:///nowhere/repo.git refused: driftless server" in message
    assert "controller" not in message


def test_quickstart_end_to_end() -> None:
    """The example app becomes Synced and Healthy in the quickstart's own cluster;
    its server answers at the printed URL and the printed password logs in;
    Ctrl-C then stops the server, the controller and the control plane, exit status 0."""
    name = "qs-test"
    kubeconfig = DevCluster(name).kubeconfig
    examples = str(REPO_ROOT / "examples")
    process = subprocess.Popen(
        [entry_point(), "quickstart", "--name", name, "--port", "0", "--examples", examples],
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
        url = _check_server(output.text, kubeconfig)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, output.text
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output.join()
    assert "Stopping the server, the controller and the control plane" in output.text
    assert "Traceback" not in output.text
    # Nothing of the cluster is left running: its API server no longer answers.
    probe = subprocess.run(
        [str(binaries.ensure(versions.KUBECTL)), f"--kubeconfig={kubeconfig}", "get", "ns",
         "--request-timeout=5s"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert probe.returncode != 0
    # Nor the server: nothing listens at its URL any more.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/healthz", timeout=10)
