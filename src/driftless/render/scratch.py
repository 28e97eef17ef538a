"""Private, disposable copies of a repository tree.

Repository trees are shared by every app on a commit and must stay
read-only. A renderer that has to change something (an app-level
kustomization override, ``helm dependency build`` writing ``charts/``) works
on a copy made here.

Contract of ``tree_copy(root, parent)`` (an async context manager; the copying
and removal run in a worker thread, off the event loop): yields the root
of a copy of ``root`` and removes it afterwards. Files are hard links when the
file system allows (same file system, so the copy costs metadata only) and
real copies otherwise; symlinks are copied as symlinks, so anything that was
inside the tree stays inside the copy. Callers that modify a copied file must
replace it (``unlink`` then write), never write through the link: ``replace``
does that.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


@asynccontextmanager
async def tree_copy(root: Path, parent: Path | None = None) -> AsyncIterator[Path]:
    """A private copy of ``root`` (see the module contract)."""
    workdir = Path(tempfile.mkdtemp(prefix="driftless-render-", dir=parent))
    copy_root = workdir / "repo"
    try:
        await asyncio.to_thread(
            shutil.copytree, root, copy_root, symlinks=True, copy_function=_link_or_copy
        )
        yield copy_root
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, True)


def replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a new file, so a hard-linked original is untouched."""
    path.unlink(missing_ok=True)
    path.write_text(text)


def unshare(paths: list[Path]) -> None:
    """Turn the hard-linked files at ``paths`` (files or directories, recursively)
    into private copies, for a tool that may rewrite them in place."""
    for path in paths:
        if path.is_symlink() or not path.exists():
            continue
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if file.is_symlink():
                continue
            private = file.with_name(f".{file.name}.unshared")
            shutil.copy2(file, private)
            private.replace(file)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: a real copy
        shutil.copy2(src, dst)
