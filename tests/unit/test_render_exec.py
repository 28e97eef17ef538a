"""The exec edge of the renderers, driven with /bin/sh as a stand-in tool."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from driftless.core.errors import DriftlessError
from driftless.render.exec import ToolError, run_tool, trim_output

SH = "/bin/sh"


async def test_returns_stdout() -> None:
    assert await run_tool([SH, "-c", "printf 'a: 1\\n'"], time_limit=10) == b"a: 1\n"


async def test_arguments_are_not_interpreted_by_a_shell(tmp_path: Path) -> None:
    out = await run_tool([SH, "-c", 'printf "%s" "$1"', "sh", "$(touch x); *"], time_limit=10)
    assert out == b"$(touch x); *"


async def test_environment_is_scrubbed_and_home_is_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    monkeypatch.setenv("KUBECONFIG", "/root/.kube/config")
    out = await run_tool([SH, "-c", "env; echo HOME_IS=$HOME"], time_limit=10)
    text = out.decode()
    assert "hunter2" not in text and "KUBECONFIG" not in text
    home = text.split("HOME_IS=")[1].strip()
    assert home != os.environ.get("HOME")
    assert "driftless-tool-" in home
    assert not Path(home).exists()  # removed afterwards
    assert "HELM_CONFIG_HOME=" + home in text


async def test_failure_keeps_the_last_lines_of_stderr() -> None:
    script = (
        "for i in $(seq 1 30); do echo line $i >&2; done; echo 'Error: the real cause' >&2; exit 3"
    )
    with pytest.raises(ToolError) as caught:
        await run_tool([SH, "-c", script], time_limit=10)
    error = caught.value
    assert error.returncode == 3
    assert error.output.endswith("Error: the real cause")
    assert "line 1;" not in error.output and error.output.startswith("...")
    assert str(error).startswith("sh failed: ")


async def test_path_aliases_hide_cache_paths() -> None:
    with pytest.raises(ToolError) as caught:
        await run_tool(
            [SH, "-c", "echo 'open /cache/trees/abc/app/x.yaml: no such file' >&2; exit 1"],
            time_limit=10,
            path_aliases={"/cache/trees/abc/": ""},
        )
    assert caught.value.output == "open app/x.yaml: no such file"


async def test_timeout_kills_the_process_group() -> None:
    started = time.monotonic()
    with pytest.raises(ToolError) as caught:
        await run_tool([SH, "-c", "sleep 30 & sleep 30; wait"], time_limit=0.5)
    assert caught.value.timed_out
    assert time.monotonic() - started < 20  # far below the 30 s a surviving child takes


async def test_stdout_cap() -> None:
    with pytest.raises(ToolError) as caught:
        # endless output: the pipe must still be drained and the process reaped
        await run_tool([SH, "-c", "yes x"], time_limit=10, max_stdout=1000)
    assert caught.value.too_large


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


async def test_cancellation_kills_the_tool_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # The tool and a child of its own, both recorded before the test cancels.
    script = f"sleep 300 & echo $! > {pids}.tmp; echo $$ >> {pids}.tmp; mv {pids}.tmp {pids}; wait"
    task = asyncio.create_task(run_tool([SH, "-c", script], time_limit=600))
    deadline = time.monotonic() + 60
    while not pids.exists():
        assert time.monotonic() < deadline, "the tool never started"
        assert not task.done(), task
        await asyncio.sleep(0.05)
    recorded = [int(line) for line in pids.read_text().split()]
    assert len(recorded) == 2 and all(_alive(pid) for pid in recorded)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in recorded):
        assert time.monotonic() < deadline, f"still running after cancel: {recorded}"
        await asyncio.sleep(0.05)


async def test_missing_executable_is_an_operator_error() -> None:
    with pytest.raises(DriftlessError, match="executable was not found"):
        await run_tool(["/nonexistent/helm", "template"], time_limit=10)


def test_trim_output_caps_length() -> None:
    trimmed = trim_output(b"x" * 5000)
    assert len(trimmed) <= 1203 and trimmed.startswith("...")
