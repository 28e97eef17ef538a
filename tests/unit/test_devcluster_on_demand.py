"""Components built on demand only (Gitea): their table entry and their go build arguments."""

from __future__ import annotations

from pathlib import Path

from driftless.devcluster import gobuild, versions
from driftless.devcluster.versions import Recipe


def test_gitea_is_built_on_demand_not_by_devcluster_build() -> None:
    assert versions.GITEA in versions.ON_DEMAND
    assert versions.GITEA not in versions.ALL  # `devcluster build` builds ALL
    assert versions.BY_NAME["gitea"] is versions.GITEA
    assert set(versions.ALL).isdisjoint(versions.ON_DEMAND)
    assert versions.GITEA.filename == f"gitea-{versions.GITEA_VERSION}"
    assert versions.GITEA.recipe is Recipe.MODULE and versions.GITEA.cgo


def test_build_args_carry_the_tags_only_when_there_are_some() -> None:
    out = Path("/tmp/out")
    gitea = gobuild.build_args(versions.GITEA, "2026-01-01T00:00:00Z", out)
    assert gitea[gitea.index("-tags") + 1] == "sqlite,sqlite_unlock_notify"
    assert f"-X main.Version={versions.GITEA_VERSION}" in gitea[gitea.index("-ldflags") + 1]
    assert gitea[-3:] == ["-o", str(out), "."]
    etcd = gobuild.build_args(versions.ETCD, "2026-01-01T00:00:00Z", out)
    assert "-tags" not in etcd and etcd[:2] == ["build", "-trimpath"]
