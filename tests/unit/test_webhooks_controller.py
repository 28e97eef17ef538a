"""The controller's webhook refresher: the cached refs of every form of the repository go."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from driftless.controller.queue import WorkQueue
from driftless.controller.webhooks import ControllerRefresher
from driftless.sources.git import GitCache
from driftless.sources.refs import parse_ls_remote
from driftless.webhooks.matching import Key


def app(name: str, url: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "apps", "name": name},
        "spec": {"source": {"repoURL": url, "targetRevision": "main"}},
    }


def cached(git: GitCache) -> set[str]:
    return set(git._refs)


async def test_refresh_forgets_every_matched_apps_url_and_every_pushed_url(tmp_path: Path) -> None:
    git = GitCache(tmp_path, revision_ttl=3600)
    written = [
        "git@github.com:o/r",  # scp-like: its own cache entry (ssh://)
        "https://github.com/O/R.git",  # another case of the path: another entry
        "https://github.com/o/r",  # the form the payload's clone_url names
        "https://github.com/o/unrelated",
    ]
    for url in written:
        git._refs[git._fetch_url(url)] = (time.monotonic(), parse_ls_remote(""))
    apps: dict[Key, Any] = {
        ("apps", "scp"): app("scp", written[0]),
        ("apps", "upper"): app("upper", written[1]),
        ("apps", "hostile"): {"spec": "not an object"},
        ("apps", "other"): app("other", written[3]),
    }
    queue: WorkQueue[Key] = WorkQueue()
    controller = SimpleNamespace(
        apps=apps,
        queue=queue,
        reconciler=SimpleNamespace(git=git),
        client=None,
        owned=lambda key: True,  # no sharding
    )
    refresher = ControllerRefresher(controller)  # type: ignore[arg-type]
    keys = [("apps", "scp"), ("apps", "upper"), ("apps", "hostile"), ("apps", "gone")]
    await refresher.refresh(keys, ["https://github.com/o/r", "not a url\n"])
    assert cached(git) == {git._fetch_url(written[3])}  # only the unrelated repository kept
    assert queue.adds == 3  # the deleted app is not queued
