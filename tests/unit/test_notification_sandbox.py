"""The template worker's confinement: memory, CPU, its parent's death, no files, no environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from driftless.notifications.renderer import TemplateRenderer, _environment
from driftless.notifications.sandbox_worker import DEFAULT_MEMORY_MIB
from driftless.notifications.templates import Failure

SPIN = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def _request(body: str) -> bytes:
    return (json.dumps({"op": "render", "fields": {"body": body}}) + "\n").encode()


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


async def test_450_mib_is_refused_in_the_worker_and_marked_exhausted() -> None:
    assert DEFAULT_MEMORY_MIB <= 128
    renderer = TemplateRenderer()
    try:
        failure = await renderer.render({"body": "{{ 'x'.center(450000000) }}"}, {})
        assert isinstance(failure, Failure) and failure.exhausted
        assert failure.message == "out of memory"
        late = await TemplateRenderer(timeout=0.5).render({"body": SPIN}, {})
        assert isinstance(late, Failure) and late.exhausted
        # A template's own error is not a limit: the rule is not quarantined for it.
        typo = await renderer.render({"body": "{{ nope }}"}, {})
        assert isinstance(typo, Failure) and not typo.exhausted
    finally:
        await renderer.close()


def _worker(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "driftless.notifications.sandbox_worker", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_environment(Path("/tmp")),
    )


def test_a_spinning_template_is_killed_by_its_cpu_limit_without_the_parent() -> None:
    worker = _worker("--cpu-seconds", "1")
    try:
        assert worker.stdin is not None
        worker.stdin.write(_request(SPIN))
        worker.stdin.flush()
        started = time.monotonic()
        assert worker.wait(timeout=20) != 0  # SIGXCPU, nobody killed it
        assert time.monotonic() - started < 10
    finally:
        worker.kill()
        worker.wait()


def test_an_orphaned_worker_dies_with_its_parent(tmp_path: Path) -> None:
    """The parent starts a worker busy spinning, then dies: the worker goes too."""
    script = textwrap.dedent(
        f"""
        import json, os, subprocess, sys
        worker = subprocess.Popen(
            [sys.executable, "-m", "driftless.notifications.sandbox_worker",
             "--cpu-seconds", "600", "--parent-pid", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        )
        worker.stdin.write({_request(SPIN)!r})
        worker.stdin.flush()
        import time; time.sleep(1.0)
        print(worker.pid, "spinning" if worker.poll() is None else "dead", flush=True)
        os._exit(0)
        """
    )
    parent = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=30, check=True, text=True
    )
    pid_text, state = parent.stdout.split()
    pid = int(pid_text)
    assert state == "spinning"  # alive when its parent died
    deadline = time.monotonic() + 5
    while not _gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            pytest.fail("the worker outlived its parent")
        time.sleep(0.05)


def test_the_worker_gets_no_environment_of_the_controller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("DRIFTLESS_SECRET", "s3cr3t")
    env = _environment(Path("/tmp"))
    assert set(env) == {"PATH", "HOME", "LC_ALL", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
    assert "s3cr3t" not in str(env)


def test_landlock_closes_every_file_when_the_kernel_has_it(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token")
    probe = textwrap.dedent(
        f"""
        from driftless.notifications import sandbox_worker
        sandbox_worker.warm_up()
        if not sandbox_worker.confine():
            print("no-landlock")
        else:
            try:
                print(open({str(token)!r}).read())
            except PermissionError:
                print("refused")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, timeout=30, text=True, check=True
    ).stdout.strip()
    if out == "no-landlock":
        pytest.skip("this kernel has no Landlock")
    assert out == "refused"


async def test_the_workers_start_is_not_counted_against_a_template() -> None:
    # Starting Python and warming up takes longer than this deadline: only the
    # render itself is timed, so a loaded machine never quarantines an innocent rule.
    renderer = TemplateRenderer(timeout=0.2)
    try:
        assert await renderer.render({"title": "{{ 1 + 1 }}"}, {}) == {"title": "2"}
    finally:
        await renderer.close()
