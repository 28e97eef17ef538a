"""Create a local git repository from a directory (the quickstart's example repo).

``seed_repository(src, dest)`` copies ``src`` into a fresh repository at
``dest`` on branch ``main`` with one commit, and returns its ``file://`` URL.
An existing repository at ``dest`` is kept as it is, so a user's own commits
survive a second quickstart run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from driftless.sources.gitexec import run_git

_TIME_LIMIT = 60.0
_AUTHOR = ["-c", "user.name=driftless quickstart", "-c", "user.email=quickstart@driftless.dev"]


async def seed_repository(src: Path, dest: Path) -> str:
    """Make ``dest`` a git repository holding ``src``'s files; returns its URL."""
    if not (dest / ".git").is_dir():
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src, dest)
        await run_git(["init", "-q", "-b", "main"], cwd=dest, time_limit=_TIME_LIMIT)
        await run_git(["add", "-A"], cwd=dest, time_limit=_TIME_LIMIT)
        await run_git(
            [*_AUTHOR, "commit", "-q", "-m", "Example apps from driftless"],
            cwd=dest,
            time_limit=_TIME_LIMIT,
        )
    return dest.resolve().as_uri()


async def commit_all(repo: Path, message: str) -> str:
    """Commit every change in ``repo``'s work tree; returns the new HEAD SHA."""
    await run_git(["add", "-A"], cwd=repo, time_limit=_TIME_LIMIT)
    await run_git([*_AUTHOR, "commit", "-q", "-m", message], cwd=repo, time_limit=_TIME_LIMIT)
    out = await run_git(["rev-parse", "HEAD"], cwd=repo, time_limit=_TIME_LIMIT)
    return out.decode().strip()
