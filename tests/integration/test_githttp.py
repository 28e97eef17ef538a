"""The quickstart's loopback git server serves fetches and refuses pushes
(``driftless.devcluster.githttp`` without ``allow_push``): anyone on the machine
can reach 127.0.0.1, so the example repository is read-only there."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from driftless.devcluster.githttp import GitHttpServer
from tests.fixtures.git import MakeGitRepo

pytestmark = pytest.mark.integration


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_published_repository_is_cloned_but_not_pushed_to(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": "a: 1\n"})
    with GitHttpServer(tmp_path / "root") as server:
        url = server.publish(repo.path, "examples.git")
        assert url.startswith("http://127.0.0.1:")
        clone = tmp_path / "clone"
        assert _git("clone", "-q", url, str(clone), cwd=tmp_path).returncode == 0
        assert (clone / "cm.yaml").read_text() == "a: 1\n"
        (clone / "cm.yaml").write_text("a: 2\n")
        assert _git("commit", "-qam", "hostile", cwd=clone).returncode == 0
        pushed = _git("push", "origin", "HEAD:refs/heads/other", cwd=clone)
    assert pushed.returncode != 0, pushed.stdout + pushed.stderr
    assert "The requested URL returned error: 403" in pushed.stderr, pushed.stderr
    assert _git("rev-parse", "--verify", "-q", "refs/heads/other", cwd=repo.path).returncode != 0
