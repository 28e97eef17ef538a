"""Identical failures of many apps: one line per backoff step, with a count."""

from __future__ import annotations

import logging

import pytest

from driftless.controller.repeats import Repeats


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(caplog: pytest.LogCaptureFixture) -> tuple[Repeats, Clock, pytest.LogCaptureFixture]:
    clock = Clock()
    caplog.set_level(logging.INFO, logger="repeats-test")
    return Repeats(logging.getLogger("repeats-test"), base=5, cap=60, clock=clock), clock, caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_a_thousand_apps_failing_alike_log_one_line(
    setup: tuple[Repeats, Clock, pytest.LogCaptureFixture],
) -> None:
    repeats, _, caplog = setup
    for i in range(1000):
        repeats.log(
            logging.WARNING, ("ns", f"app{i}"), f"app ns/app{i}", "cannot reach the API server"
        )
    assert _lines(caplog) == ["app ns/app0: cannot reach the API server"]


def test_after_the_window_one_line_says_how_many_were_collapsed(
    setup: tuple[Repeats, Clock, pytest.LogCaptureFixture],
) -> None:
    repeats, clock, caplog = setup
    for i in range(3):
        repeats.log(logging.WARNING, ("ns", f"a{i}"), f"app ns/a{i}", "boom")
    clock.now += 5
    repeats.log(logging.WARNING, ("ns", "a0"), "app ns/a0", "boom")
    assert _lines(caplog)[-1] == "app ns/a0: boom (and 2 more times for 2 apps in the last 5s)"
    # The window doubles: 9 s later it is still collapsed, 10 s later it is written.
    clock.now += 9
    assert not repeats.log(logging.WARNING, ("ns", "a1"), "app ns/a1", "boom")
    clock.now += 1
    assert repeats.log(logging.WARNING, ("ns", "a1"), "app ns/a1", "boom")


def test_different_messages_and_levels_are_not_collapsed(
    setup: tuple[Repeats, Clock, pytest.LogCaptureFixture],
) -> None:
    repeats, _, caplog = setup
    repeats.log(logging.WARNING, "k", "app a", "one")
    repeats.log(logging.WARNING, "k", "app a", "two")
    repeats.log(logging.INFO, "k", "app a", "one")
    assert len(_lines(caplog)) == 3


def test_a_message_quiet_for_the_cap_starts_over(
    setup: tuple[Repeats, Clock, pytest.LogCaptureFixture],
) -> None:
    repeats, clock, caplog = setup
    repeats.log(logging.WARNING, "k", "app a", "boom")
    clock.now += 61
    assert repeats.log(logging.WARNING, "k", "app a", "boom")
    assert _lines(caplog)[-1] == "app a: boom"
