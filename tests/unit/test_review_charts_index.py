"""Review item 1: a hostile chart repository cannot make the controller balloon.

The index is parsed in the controller process, so its limits must bound the
worst case: 32 MiB of text and 1M nodes (measured: the worst case, a flat
list of 1M one-letter scalars, peaks near 400 MB RSS and ~5 s; a realistic index
is ~19 bytes a node, so up to ~19 MB of real index parses). A chart archive is
read header by header with a cap on entries and bytes, never all headers first.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from driftless.core.errors import SourceError
from driftless.render import chart_repo, yaml_docs


def test_index_limits_bound_the_worst_case() -> None:
    assert yaml_docs.INDEX_LIMITS.max_bytes <= 32 * 1024 * 1024
    assert yaml_docs.INDEX_LIMITS.max_nodes <= 1_000_000
    assert chart_repo.MAX_INDEX_BYTES <= 32 * 1024 * 1024


def test_index_of_too_many_nodes_is_refused() -> None:
    body = b"entries: {x: [" + b"a," * 1_000_001 + b"a]}\n"
    with pytest.raises(SourceError, match="nodes"):
        chart_repo.parse_index(body, "index of chart repository https://charts.example.com")


def test_index_over_the_size_limit_is_refused() -> None:
    body = b"entries: {}\n" + b"#" * (33 * 1024 * 1024) + b"\n"
    with pytest.raises(SourceError):
        chart_repo.parse_index(body, "index of chart repository https://charts.example.com")


def test_a_realistic_large_index_still_parses() -> None:
    entry = (
        "    - apiVersion: v2\n      appVersion: 1.2.{i}\n"
        '      created: "2024-05-01T10:00:00.123456789Z"\n'
        "      description: A chart for the application with a long description text.\n"
        "      digest: 5f2b6d6c0b8e2c5f9f2d6e4a1b3c5d7e9f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c\n"
        "      keywords: [app, database, sql]\n"
        "      maintainers:\n      - name: Someone\n        url: https://example.com/x\n"
        "      name: chart{j}\n      urls:\n      - https://charts.example.com/c-1.2.{i}.tgz\n"
        "      version: 1.2.{i}\n"
    )
    text = "apiVersion: v1\nentries:\n" + "".join(
        f"  chart{j}:\n" + "".join(entry.format(i=i, j=j) for i in range(200)) for j in range(75)
    )
    assert len(text) > 6_000_000
    index = chart_repo.parse_index(text.encode(), "index")
    assert len(index["entries"]["chart7"]) == 200


def _archive(path: Path, empty_files: int) -> None:
    with tarfile.open(path, "w:gz") as archive:
        data = b"apiVersion: v2\nname: demo\nversion: 1.0.0\n"
        info = tarfile.TarInfo("demo/Chart.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        for number in range(empty_files):
            archive.addfile(tarfile.TarInfo(f"demo/e/{number}"))


def test_archive_of_too_many_entries_is_refused_before_extraction(tmp_path: Path) -> None:
    tgz = tmp_path / "chart.tgz"
    _archive(tgz, chart_repo.MAX_ARCHIVE_MEMBERS + 1)
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(SourceError, match="entries"):
        chart_repo._extract(tgz, target, "demo", "1.0.0")
    assert not any(target.iterdir())


def test_archive_within_the_caps_is_extracted(tmp_path: Path) -> None:
    tgz = tmp_path / "chart.tgz"
    _archive(tgz, 10)
    target = tmp_path / "out"
    target.mkdir()
    chart_repo._extract(tgz, target, "demo", "1.0.0")
    assert (target / "demo" / "Chart.yaml").is_file()
    assert len(list((target / "demo" / "e").iterdir())) == 10
