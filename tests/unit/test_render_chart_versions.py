"""Picking a chart version from an exact version or a semver range."""

from __future__ import annotations

import pytest

from driftless.render.chart_versions import (
    InvalidRangeError,
    is_exact,
    newest,
    pick_version,
    to_npm_range,
)

AVAILABLE = ["0.9.0", "1.0.0", "1.2.0", "1.2.7", "1.3.0", "1.4.0-rc.1", "2.0.0", "v2.1.0", "junk"]

CASES = {
    "exact": ("1.2.0", "1.2.0"),
    "exact with v": ("v1.2.7", "1.2.7"),
    "exact repo spelling with v": ("2.1.0", "v2.1.0"),
    "exact prerelease": ("1.4.0-rc.1", "1.4.0-rc.1"),
    "exact missing": ("1.2.1", None),
    "tilde": ("~1.2", "1.2.7"),
    "tilde patch": ("~1.2.0", "1.2.7"),
    "caret": ("^1", "1.3.0"),
    "caret minor": ("^1.2.0", "1.3.0"),
    "and range": (">=1.0 <2", "1.3.0"),
    "masterminds comma and spaces": (">= 1.0, < 2", "1.3.0"),
    "x range": ("1.2.x", "1.2.7"),
    "or": ("<1 || >=2.0.1", "v2.1.0"),
    "latest by star": ("*", "v2.1.0"),
    "latest by HEAD": ("HEAD", "v2.1.0"),
    "latest by empty": ("", "v2.1.0"),
    "prerelease only when asked": (">=1.4.0-0 <1.5", "1.4.0-rc.1"),
    "range excludes prereleases": (">1.3.0 <2", None),
    "nothing matches": (">=3", None),
}


@pytest.mark.parametrize("wanted,expected", CASES.values(), ids=CASES.keys())
def test_pick_version(wanted: str, expected: str | None) -> None:
    assert pick_version(wanted, AVAILABLE) == expected


def test_invalid_range() -> None:
    with pytest.raises(InvalidRangeError, match="neither a version nor a semver range"):
        pick_version(">>>1", AVAILABLE)


@pytest.mark.parametrize(
    "text,exact", [("1.2.3", True), ("v1.2", True), ("1.2.3-rc.1+b", True), ("~1.2", False)]
)
def test_is_exact(text: str, exact: bool) -> None:
    assert is_exact(text) is exact


def test_to_npm_range() -> None:
    assert to_npm_range(">= 1.0, < 2") == ">=1.0 <2"
    assert to_npm_range("latest") == "*"


def test_newest() -> None:
    assert newest(AVAILABLE, 3) == ["v2.1.0", "2.0.0", "1.4.0-rc.1"]
