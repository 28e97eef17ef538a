"""Git and render requests are counted once each, by outcome; a cancelled one is not."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from driftless.render import metrics as render_metrics
from driftless.render.exec import ToolError
from driftless.sources import gitmetrics
from driftless.sources.gitexec import GitCommandError


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_git_request_counted_by_outcome() -> None:
    ok = _value("driftless_git_request_total", request_type="fetch", outcome="success")
    bad = _value("driftless_git_request_total", request_type="fetch", outcome="failure")
    timed = _value("driftless_git_request_duration_seconds_count", request_type="fetch")
    with gitmetrics.measured("fetch"):
        pass
    with pytest.raises(RuntimeError), gitmetrics.measured("fetch"):
        raise RuntimeError("git failed")
    with pytest.raises(asyncio.CancelledError), gitmetrics.measured("fetch"):
        raise asyncio.CancelledError
    assert _value("driftless_git_request_total", request_type="fetch", outcome="success") == ok + 1
    assert _value("driftless_git_request_total", request_type="fetch", outcome="failure") == bad + 1
    assert _value("driftless_git_request_duration_seconds_count", request_type="fetch") == timed + 2


def test_render_failure_counted_and_timed() -> None:
    count = _value("driftless_render_duration_seconds_count", renderer="jsonnet")
    failed = _value("driftless_render_failures_total", renderer="jsonnet")
    with render_metrics.measured("jsonnet"):
        pass
    with pytest.raises(ValueError), render_metrics.measured("jsonnet"):
        raise ValueError("bad input")
    assert _value("driftless_render_duration_seconds_count", renderer="jsonnet") == count + 2
    assert _value("driftless_render_failures_total", renderer="jsonnet") == failed + 1


def test_the_real_errors_pass_through_unchanged() -> None:
    """git's and the tools' errors are frozen dataclasses: they reach the caller as they are
    (not a FrozenInstanceError from re-setting their traceback), still counted."""
    bad = _value("driftless_git_request_total", request_type="ls-remote", outcome="failure")
    failed = _value("driftless_render_failures_total", renderer="helm")
    error = GitCommandError("ls-remote", 128, "fatal: unable to access")
    with pytest.raises(GitCommandError) as raised, gitmetrics.measured("ls-remote"):
        raise error
    assert raised.value is error
    with pytest.raises(ToolError), render_metrics.measured("helm"):
        raise ToolError("helm", 1, "Error: chart not found")
    assert _value("driftless_git_request_total", request_type="ls-remote", outcome="failure") == (
        bad + 1
    )
    assert _value("driftless_render_failures_total", renderer="helm") == failed + 1
