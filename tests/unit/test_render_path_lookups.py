"""Kustomization paths the file system itself refuses end as RenderErrors (found by fuzzing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftless.core.errors import RenderError
from driftless.render.kustomize_paths import check_kustomization_tree


def _app(tmp_path: Path, resources: str) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "kustomization.yaml").write_text(f"resources: [{resources}]\n")
    return app


def test_a_name_longer_than_name_max_is_a_render_error(tmp_path: Path) -> None:
    app = _app(tmp_path, "x" * 300)
    with pytest.raises(RenderError, match="cannot be looked up"):
        check_kustomization_tree(tmp_path, app)


def test_a_symlink_loop_is_a_render_error(tmp_path: Path) -> None:
    app = _app(tmp_path, "loop")
    (app / "loop").symlink_to("loop")
    with pytest.raises(RenderError, match="symlink loop"):
        check_kustomization_tree(tmp_path, app)
