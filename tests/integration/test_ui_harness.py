"""The browser tests' screenshots are kept where CI can collect them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.ui_harness import ARTIFACTS_ENV, screenshot_dir

REPO = Path(__file__).resolve().parents[2]


def test_screenshots_go_under_the_artifacts_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ARTIFACTS_ENV, str(tmp_path))
    where = screenshot_dir(REPO / "tests" / "integration" / "test_ui_ops_browser.py")
    assert where == tmp_path / "ui-screenshots" / "test_ui_ops_browser"
    assert where.is_dir()


def test_by_default_they_go_under_build_which_git_ignores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ARTIFACTS_ENV, raising=False)
    where = screenshot_dir(Path("test_ui_example_browser.py"))
    try:
        assert where == REPO / "build" / "ui-screenshots" / "test_ui_example_browser"
        assert where.is_dir()
        assert "build/" in (REPO / ".gitignore").read_text().splitlines()
    finally:
        where.rmdir()


def test_every_browser_test_file_gets_its_own_directory(screenshots: Path) -> None:
    """The fixture, as the browser tests receive it."""
    assert screenshots.name == "test_ui_harness"
    assert screenshots.parent.name == "ui-screenshots"
    assert screenshots.is_dir()
