"""Review item 6: a file:// Helm dependency with a symlink loop or a NUL is a RenderError."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftless.core.errors import RenderError
from driftless.render import helm


@pytest.mark.parametrize("repository", ["file://../loop", "file://../loop/sub", "file://../a\0b"])
def test_hostile_file_dependency_is_a_render_error(tmp_path: Path, repository: str) -> None:
    root = tmp_path / "repo"
    chart = root / "chart"
    chart.mkdir(parents=True)
    (root / "loop").symlink_to("loop")
    dep = helm.Dependency(name="dep", repository=repository)
    with pytest.raises(RenderError) as caught:
        helm._check_buildable([dep], root.resolve(), chart.resolve(), "chart/Chart.yaml")
    assert caught.value.file == "chart/Chart.yaml"
    assert "dep" in caught.value.message
