"""Which kustomize/helm a process renders with when the pinned ones are not cached.

The tools on PATH here are tiny scripts that print a version: what is tested is
the lookup policy, not the tools.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from driftless.cli import tools
from driftless.core.paths import CACHE_ENV_VAR
from driftless.devcluster import versions


def _fake_tool(directory: Path, name: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{version}+gdeadbeef'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    monkeypatch.delenv(tools.PINNED_TOOLS_ENV, raising=False)
    return tmp_path


def test_the_suite_runs_with_the_pinned_tools_required() -> None:
    # conftest.py sets this for every test process and the CLI processes they start.
    assert tools.default_fallback(service=False) is tools.Fallback.FORBID


def test_pinned_binary_in_the_cache_is_used(empty_cache: Path) -> None:
    pinned = _fake_tool(empty_cache / "cache" / "bin", versions.HELM.filename, "v0.0.1")
    _fake_tool(empty_cache / "path", "helm", versions.HELM.version)
    assert tools.resolve(versions.HELM, tools.Fallback.FORBID) == str(pinned)


def test_forbid_refuses_a_tool_on_path(empty_cache: Path) -> None:
    _fake_tool(empty_cache / "path", "helm", versions.HELM.version)
    with pytest.raises(tools.ToolsError, match=r"helm v\d.*devcluster build"):
        tools.resolve(versions.HELM, tools.Fallback.FORBID)


def test_service_refuses_another_version_and_names_both(empty_cache: Path) -> None:
    found = _fake_tool(empty_cache / "path", "kustomize", "v4.0.0")
    with pytest.raises(tools.ToolsError) as caught:
        tools.resolve(versions.KUSTOMIZE, tools.Fallback.SAME_VERSION)
    message = caught.value.message
    assert str(found) in message
    assert "v4.0.0" in message
    assert versions.KUSTOMIZE.version in message


def test_service_accepts_the_pinned_version_on_path(empty_cache: Path) -> None:
    found = _fake_tool(empty_cache / "path", "helm", versions.HELM.version)
    assert tools.resolve(versions.HELM, tools.Fallback.SAME_VERSION) == str(found)


def test_cli_warns_with_the_version_found(
    empty_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = _fake_tool(empty_cache / "path", "helm", "v3.1.0")
    assert tools.resolve(versions.HELM, tools.Fallback.WARN) == str(found)
    err = capsys.readouterr().err
    assert "warning" in err
    assert str(found) in err
    assert "v3.1.0" in err


def test_no_tool_anywhere_is_a_clear_error(empty_cache: Path) -> None:
    with pytest.raises(tools.ToolsError, match="neither"):
        tools.resolve(versions.HELM, tools.Fallback.WARN)


def test_a_tool_that_prints_no_version_is_refused_by_a_service(empty_cache: Path) -> None:
    path = empty_cache / "path"
    path.mkdir()
    (path / "helm").write_text("#!/bin/sh\necho hello\n")
    (path / "helm").chmod(0o755)
    with pytest.raises(tools.ToolsError, match="unknown version"):
        tools.resolve(versions.HELM, tools.Fallback.SAME_VERSION)


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("v3.22.0+g1a2b3c", "v3.22.0"),
        ("{Version:v5.8.2 GitCommit:x}", "v5.8.2"),
        ("version 3", None),
        ("", None),
    ],
)
def test_parse_version(output: str, version: str | None) -> None:
    assert tools.parse_version(output) == version
