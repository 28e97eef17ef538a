"""The binary cache: locations under DRIFTLESS_CACHE_DIR and what counts as built."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftless.devcluster import binaries, versions


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRIFTLESS_CACHE_DIR", str(tmp_path))
    return tmp_path


def _fake_binary(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)


def test_binaries_live_under_the_cache_dir(cache: Path) -> None:
    assert binaries.binary_path(versions.ETCD) == cache / "bin" / "etcd-v3.6.16"
    assert binaries.kwok_stages_path() == cache / "bin" / "kwok-stages-v0.8.0.yaml"


def test_cached_binaries_are_returned_without_building(cache: Path) -> None:
    _fake_binary(binaries.binary_path(versions.KUBECTL))
    assert binaries.missing([versions.KUBECTL]) == []
    assert binaries.tool("kubectl") == cache / "bin" / "kubectl-v1.36.3"


def test_kwok_needs_its_stage_file_too(cache: Path) -> None:
    _fake_binary(binaries.binary_path(versions.KWOK))
    assert binaries.missing([versions.KWOK]) == [versions.KWOK]
    binaries.kwok_stages_path().write_text("kind: Stage\n")
    assert binaries.missing([versions.KWOK]) == []


def test_a_file_that_is_not_executable_is_not_a_binary(cache: Path) -> None:
    path = binaries.binary_path(versions.HELM)
    path.parent.mkdir(parents=True)
    path.write_text("partial")
    assert binaries.missing([versions.HELM]) == [versions.HELM]


def test_unknown_tool_is_a_build_error(cache: Path) -> None:
    with pytest.raises(binaries.BuildError):
        binaries.tool("nope")
