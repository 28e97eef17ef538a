"""The git source: a shared cache of repositories and of checked-out commits.

Contract:

* ``GitCache.resolve(url, revision)`` returns the full commit id that
  ``revision`` (branch, tag, annotated tag, full or short commit id, ``HEAD``,
  empty/``None`` for the default branch, or a semver range over tags such as
  ``~1.2`` or ``>=1.0 <2``, see ``tagrange``) names in the repository *now*.
  An exact ref name always wins over reading the same string as a range.
* ``GitCache.checkout(url, revision)`` resolves and returns an ``Artifact``
  whose directory holds the tree of that commit.
* ``GitCache.subtree(url, commit, path)`` is the git tree id of directory
  ``path`` of a commit the clone has, when it names that directory's whole
  content (``subtrees``), else ``None``: one ``git ls-tree`` per commit,
  shared by every app, the newest ``_INDEXES_KEPT`` commits remembered;
  local, never fetches, and a git failure is ``None`` (it only costs the
  caller a cache miss).
* Cost: at most one ``git ls-remote`` per call (or none, see "revision
  cache"); a fetch only when the commit is not already in the local clone; a
  checkout only when that commit's tree is not already on disk. Apps on the
  same repository share one clone, and work on it is *single-flight* per
  canonical URL (``singleflight``): concurrent resolves share one
  ``ls-remote`` (its answer or its failure), concurrent resolves of one
  commit share one lookup-and-fetch, and every caller holding the same
  ``ls-remote`` answer shares that answer's one fetch (a failed fetch is
  raised to each of them, not retried once per app); concurrent checkouts of
  one commit share one checkout. Changes to a clone are serialized by an
  ``asyncio.Lock``, so N apps that see the same new commit cause one fetch. A
  commit found in the clone is remembered for a while, so the common pass (a
  known commit) runs no git command but the shared ``ls-remote``. Cancelling
  one caller never cancels work others wait for; cancelling the last one
  kills its git before it returns. A clone made for a
  branch or tag is shallow (``--depth=1`` of every branch and tag, a subset
  of a full clone's objects) and its later fetches stay shallow; the first
  lookup of a commit id the clone lacks deepens it to full history once, so
  any commit of the remote can still be named.
* Revision cache: with ``revision_ttl`` > 0, a repository's refs (the
  ``ls-remote`` answer) are reused for that many seconds, so N apps on one
  repository, and the passes a sync or a live change causes, cost one
  ``ls-remote`` per repository per ``revision_ttl``; a push is then seen up
  to ``revision_ttl`` later. ``fresh=True`` (a hard refresh) always asks the
  repository (never joining an ``ls-remote`` already in flight) and renews
  the cached answer; ``forget_refs(url)`` (a refresh, a webhook's push) drops
  a repository's cached answer, and later callers never join an
  ``ls-remote`` that was in flight then; ``forget_refs(url, since=t)`` keeps
  an answer asked (or an ``ls-remote`` started) at or after ``t``, so apps
  refreshed together share one. ``0`` (the constructor's default; the
  controller's ``--revision-cache`` is 2 s, see ``cli.controller``): every
  call asks, concurrent calls still share one ``ls-remote``. A failed
  ``ls-remote`` is remembered for the same time (N apps on an unreachable
  repository wait for one timeout per ``revision_ttl``, not N). Only the
  refs are reused: a commit the clone lacks is still fetched.
* Errors: the repository cannot be reached, refuses us or times out →
  ``SourceUnavailableError`` (transient, retried); the repository answered but
  has no such revision → ``SourceError`` (stalling); the local cache itself
  fails → ``DriftlessError``. A refused credential (or none where one is
  needed) and an untrusted SSH host key are ``SourceUnavailableError`` saying
  "authentication failed for URL" / "host key verification failed for URL";
  git never prompts, so they fail at once. No message contains credentials.

Layout under ``root`` (default ``$DRIFTLESS_CACHE_DIR/repos``, where
``DRIFTLESS_CACHE_DIR`` defaults to ``~/.cache/driftless``)::

    <name>-<hash of normalized URL>/   bare clone: refs/heads/*, refs/tags/* of the remote
    trees/<commit>/                    the files of one commit, newest ``keep_trees`` kept

Local repositories (``file://`` URLs and absolute paths) let whoever writes
an Application read any repository on the controller's disk, so they are
refused (``SourceError`` saying how to allow them) unless the cache is made
with ``allow_local=True`` (``driftless controller
--allow-local-repositories``); the refusal names the cache's ``owner`` (the
command whose cache it is, default ``driftless controller``) and its
``local_flag`` (``None``: that process has no way to allow them). Even then
a path inside driftless's own cache directories (``root`` and
``$DRIFTLESS_CACHE_DIR``, where the clones of credentialed repositories
live) is refused, symlinks resolved; and git only
speaks ``file://`` when local repositories are allowed
(``GIT_ALLOW_PROTOCOL``).

Bounded work (``gitlimits.GitLimits``, defaults from the environment): a
network command is killed after ``fetch_timeout``; a fetch is killed once the
clone grows past ``max_repo_bytes`` (incoming data always lands in one pack
file, ``fetch.unpackLimit=1``, whose leftovers are removed); a commit is
checked out only when ``git ls-tree`` shows at most ``max_checkout_files``
entries adding up to at most ``max_checkout_bytes``. Every ls-remote, fetch
and checkout is counted and timed (``gitmetrics``).

What git is given is the canonical URL (``urls.check_repo_url``): the very
string Project allow-lists and credential prefixes were matched against.
Every URL, revision and refspec follows ``--end-of-options``.

The cache belongs to one process; two controllers must not share a root.
Credentials come from the ``credentials`` hook (``CredentialStore.auth`` in
production): given a URL, an async context manager yielding a ``GitAuth``
(extra environment for git, secrets to scrub) that lives for one resolve, so
key files exist only while git runs. See ``gitauth`` for how nothing leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from driftless.core.errors import DriftlessError, SourceError, SourceUnavailableError
from driftless.core.paths import cache_root
from driftless.sources import gitmetrics, refs, tagrange
from driftless.sources.artifact import Artifact, resolve_app_path
from driftless.sources.gitauth import NO_AUTH, GitAuth
from driftless.sources.gitexec import ALLOWED_PROTOCOLS, GitCommandError, run_git
from driftless.sources.gitlimits import GitLimits
from driftless.sources.singleflight import SingleFlight
from driftless.sources.subtrees import SubtreeIndex
from driftless.sources.urls import parse_repo_url, redact, repo_cache_key

__all__ = [
    "Artifact",
    "CredentialEnv",
    "GitAuth",
    "GitCache",
    "GitLimits",
    "GitStats",
    "default_cache_root",
    "resolve_app_path",
]

SourceFailure = SourceError | SourceUnavailableError
"""What a remote's answer can fail with: remembered and shared (see the contract)."""

CredentialEnv = Callable[[str], AbstractAsyncContextManager[GitAuth]]
"""Given a repository URL, a context yielding what git needs to authenticate to it."""

DEFAULT_KEEP_TREES = 16
NETWORK_PROTOCOLS = ":".join(p for p in ALLOWED_PROTOCOLS.split(":") if p != "file")
LOCAL_FLAG = "--allow-local-repositories"
CACHE_MARKER = ".driftless-git-cache"
# Under the cache root, only the dev clusters' directories may hold a user's
# own repositories (the quickstart's example repository lives there).
_USER_AREAS = ("devcluster",)
_LOCAL_TIMEOUT = 60.0
_COMMIT_FORMAT = "%H%x00%an%x00%ae%x00%aI%x00%B"
_COMMIT_INFO_TIMEOUT = 10.0
_COMMIT_INFO_MAX = 1024 * 1024
COMMIT_MESSAGE_MAX = 4096


@dataclass(frozen=True)
class CommitInfo:
    """One commit as ``GitCache.commit_info`` read it (author and message are untrusted)."""

    sha: str
    author_name: str
    author_email: str
    date: str  # ISO 8601, the author date
    message: str  # at most COMMIT_MESSAGE_MAX characters


# A temp tree older than this is a leftover of a crash, not work in progress.
_STALE_TMP_SECONDS = 3600.0
# A tree used this recently is never pruned: an app may still be rendering it.
_IN_USE_SECONDS = 600.0
_FETCH_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_DETACHED_HEAD_REF = "refs/driftless/HEAD"
# Repositories whose last ``forget_refs`` time is kept (the oldest go first).
_FORGOTTEN_KEPT = 1024
# A commit seen in a clone is trusted to be there this long without asking git
# (gc prunes only objects unreachable for two weeks, and a clone is removed
# only by ``_too_large``, which forgets them).
_PRESENT_SECONDS = 600.0
_PRESENT_KEPT = 4096
# A tree's "last used" mtime is renewed at most this often (well below
# ``_IN_USE_SECONDS``), so a pass over a known commit costs no syscall storm.
_TOUCH_SECONDS = 60.0
# Commits whose directory index (``subtree``) is kept: the current one and a few before.
_INDEXES_KEPT = 8
# What git, git-remote-http(s) and ssh print when a server refuses us.
_AUTH_FAILED = re.compile(
    r"Authentication failed|could not read (Username|Password)|terminal prompts disabled"
    r"|Permission denied \(|Permission denied, please try again|returned error: 40[13]"
    r"|Too many authentication failures|no supported authentication methods"
)
_HOST_KEY_FAILED = re.compile(
    r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED"
    r"|host key is known for|No .* host key is known"
)


def default_cache_root() -> Path:
    """``${DRIFTLESS_CACHE_DIR:-~/.cache/driftless}/repos``."""
    return cache_root() / "repos"


@dataclass
class GitStats:
    """Counters of the expensive operations, for metrics and tests."""

    ls_remotes: int = 0
    fetches: int = 0
    checkouts: int = 0


class GitCache:
    """Bare clones and commit trees of every repository the controller uses."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        keep_trees: int = DEFAULT_KEEP_TREES,
        timeout: float | None = None,
        credentials: CredentialEnv | None = None,
        allow_local: bool = False,
        limits: GitLimits | None = None,
        revision_ttl: float = 0.0,
        owner: str = "driftless controller",
        local_flag: str | None = LOCAL_FLAG,
    ) -> None:
        self.owner = owner
        self.local_flag = local_flag
        self.root = root if root is not None else default_cache_root()
        self.revision_ttl = max(0.0, revision_ttl)
        # The last ls-remote answer of each repository (fetch URL), by monotonic time.
        self._refs: dict[str, tuple[float, refs.RemoteRefs]] = {}
        # When ``forget_refs`` last dropped a repository's refs, by ``core.repourl`` key: an
        # ls-remote that started earlier (in flight then) must not be cached as fresh.
        self._forgotten: dict[str, float] = {}
        # A failed ls-remote, remembered like an answer (see "Revision cache").
        self._refs_failed: dict[str, tuple[float, SourceFailure]] = {}
        # When the newest ls-remote of each URL started.
        self._asking: dict[str, float] = {}
        # Single-flight runs: ls-remote by (URL, forget generation); lookups by commit;
        # checkouts by (URL, commit).
        self._ls_remotes: SingleFlight[tuple[str, int], refs.RemoteRefs] = SingleFlight()
        self._generation: dict[str, int] = {}
        self._lookups: SingleFlight[tuple[str, str, str | None], str] = SingleFlight()
        self._checkouts: SingleFlight[tuple[str, str], None] = SingleFlight()
        # The ls-remote answer each clone was last fetched for, and the outcome.
        self._fetched: dict[str, tuple[refs.RemoteRefs, SourceFailure | None]] = {}
        # Commits known to be in a URL's clone, with when that was seen.
        self._present: dict[tuple[str, str], float] = {}
        self._touched: dict[Path, float] = {}
        self._indexes: dict[tuple[str, str], SubtreeIndex] = {}
        self._indexing: SingleFlight[tuple[str, str], SubtreeIndex] = SingleFlight()
        self.trees = self.root / "trees"
        self.keep_trees = max(1, keep_trees)
        self.limits = limits if limits is not None else GitLimits.from_env()
        self.timeout = timeout if timeout is not None else self.limits.fetch_timeout
        self.allow_local = allow_local
        self._protocols = ALLOWED_PROTOCOLS if allow_local else NETWORK_PROTOCOLS
        self.stats = GitStats()
        self._credentials = credentials
        self._locks: dict[str, asyncio.Lock] = {}
        self._checked_clones: set[Path] = set()

    # -- public API -----------------------------------------------------------

    async def resolve(self, repo_url: str, revision: str | None, *, fresh: bool = False) -> str:
        """The full commit id ``revision`` names in ``repo_url`` now (``fresh``: never from
        the revision cache)."""
        url = self._fetch_url(repo_url)
        wanted = _check_revision(revision, url)
        remote = await self._remote_refs(url, fresh)
        match = _match(remote, wanted, url)
        if match is not None:
            if self._is_present(url, match.sha):
                return match.sha
            key = (url, match.sha, match.ref)
        elif wanted is not None and refs.looks_like_sha(wanted):
            key = (url, wanted, None)
        else:
            raise SourceError(_not_found(wanted, url))
        return await self._lookups.run(key, lambda: self._locate(url, remote, match, wanted))

    async def checkout(
        self, repo_url: str, revision: str | None, *, fresh: bool = False
    ) -> Artifact:
        """Resolve ``revision`` (``fresh``: as ``resolve``) and return the tree of that commit."""
        sha = await self.resolve(repo_url, revision, fresh=fresh)
        url = self._fetch_url(repo_url)
        tree = self.trees / sha
        if tree.is_dir():
            self._touch(tree)
        else:
            await self._checkouts.run((url, sha), lambda: self._checkout(url, sha, tree))
        return Artifact(repo_url=repo_url, revision=sha, path=tree)

    async def subtree(self, repo_url: str, sha: str, path: str) -> str | None:
        """The tree id of directory ``path`` at commit ``sha`` when it names all of its
        content, else ``None`` (see the module contract)."""
        url = self._fetch_url(repo_url)
        key = (url, sha)
        index = self._indexes.pop(key, None)
        if index is None:
            index = await self._indexing.run(key, lambda: self._index(url, sha))
        self._indexes[key] = index  # most recently used last
        while len(self._indexes) > _INDEXES_KEPT:
            del self._indexes[next(iter(self._indexes))]
        return index.tree_of(path)

    async def _index(self, url: str, sha: str) -> SubtreeIndex:
        if not refs.is_full_sha(sha):
            return SubtreeIndex()
        # ~ one line per entry; a listing past this is over the checkout limit anyway.
        cap = self.limits.max_checkout_files * 512 + (1 << 20)
        try:
            out = await run_git(
                ["ls-tree", "-r", "-t", "-z", "--full-tree", "--end-of-options", sha],
                git_dir=self.root / repo_cache_key(url),
                time_limit=_LOCAL_TIMEOUT,
                max_stdout=cap,
            )
        except GitCommandError:
            return SubtreeIndex()
        return await asyncio.to_thread(SubtreeIndex.parse, out)

    def forget_refs(self, repo_url: str, *, since: float | None = None) -> int:
        """Drop the revision cache's refs of ``repo_url`` (any URL form of it: the
        ``core.repourl`` key is compared), so the next resolve asks the repository;
        returns how many entries went. An ``ls-remote`` already in flight then is not
        cached either (it may predate the push). A webhook's push calls it.

        ``since`` (a ``time.monotonic()`` value: when this process first saw the
        request to look again, e.g. an app's refresh annotation): an answer for
        ``repo_url`` asked at or after it, or an ``ls-remote`` started at or after
        it, already satisfies the request and is kept (returns 0), so N apps
        refreshed together share one ``ls-remote`` instead of each forgetting the
        answer the previous one just got.
        """
        try:
            key = parse_repo_url(repo_url).key
        except SourceError:
            return 0
        if since is not None and self._asked_since(repo_url, key, since):
            return 0
        cutoff = time.monotonic() if since is None else since
        self._forgotten[key] = max(cutoff, self._forgotten.pop(key, cutoff))
        while len(self._forgotten) > _FORGOTTEN_KEPT:
            del self._forgotten[next(iter(self._forgotten))]
        stale = [url for url in self._refs if parse_repo_url(url).key == key]
        for url in stale:
            del self._refs[url]
        for url in [url for url in self._refs_failed if parse_repo_url(url).key == key]:
            del self._refs_failed[url]
        # Later callers start a new ls-remote instead of joining one asked before now.
        self._generation[key] = self._generation.get(key, 0) + 1
        return len(stale)

    def _asked_since(self, repo_url: str, key: str, since: float) -> bool:
        """Whether the refs of ``repo_url`` were asked for at or after ``since`` (a cached
        answer or failure, or the ``ls-remote`` that a resolve would join now)."""
        try:
            url = parse_repo_url(repo_url).check_fetchable()
        except SourceError:
            return False
        for remembered in (self._refs.get(url), self._refs_failed.get(url)):
            if remembered is not None and remembered[0] >= since:
                return True
        flight = (url, self._generation.get(key, 0))
        return self._ls_remotes.in_flight(flight) and self._asking.get(url, -1.0) >= since

    async def commit_info(self, repo_url: str, sha: str) -> CommitInfo | None:
        """Author, date and message (first 4 KiB) of commit ``sha`` if the clone has it.

        Read-only and local (never fetches, no lock: a concurrent fetch only adds
        objects); None when the commit is unknown or git fails. The message is
        the repository's text: untrusted.
        """
        if not refs.is_full_sha(sha):
            return None
        try:
            clone = self.root / repo_cache_key(self._fetch_url(repo_url))
            out = await run_git(
                ["log", "-1", "--no-show-signature", f"--format={_COMMIT_FORMAT}", sha, "--"],
                git_dir=clone,
                time_limit=_COMMIT_INFO_TIMEOUT,
                max_stdout=_COMMIT_INFO_MAX,
            )
        except (GitCommandError, DriftlessError):
            return None
        parts = out.decode("utf-8", "replace").split("\x00", 4)
        if len(parts) != 5 or parts[0] != sha:
            return None
        return CommitInfo(sha, parts[1], parts[2], parts[3], parts[4].strip()[:COMMIT_MESSAGE_MAX])

    # -- what may be fetched ----------------------------------------------------

    def _fetch_url(self, repo_url: str) -> str:
        """The canonical URL git is given; ``SourceError`` for a refused local path."""
        parsed = parse_repo_url(repo_url)
        url = parsed.check_fetchable()
        if parsed.is_local:
            self._check_local(Path(parsed.path), url)
        return url

    def _check_local(self, path: Path, url: str) -> None:
        if not self.allow_local:
            # Named after the process that refused it: the server's cache never
            # reads local repositories, so it may not point at a controller flag.
            how = (
                " (an administrator can allow local repositories with"
                f" `{self.owner} {self.local_flag}`)"
            )
            raise SourceError(
                f"local repository {url} refused: {self.owner} does not read repositories"
                f" from its own disk; use an https:// or ssh:// URL"
                + (how if self.local_flag else "")
            )
        private = _private_cache_of(path.resolve(), self.root.resolve())
        if private is not None:
            raise SourceError(
                f"local repository {url} refused: it is inside driftless's own cache"
                f" ({private}), which holds clones of other apps' repositories"
            )

    # -- resolving --------------------------------------------------------------

    async def _commit_of_ref(
        self,
        clone: Path,
        url: str,
        auth: GitAuth,
        remote: refs.RemoteRefs,
        match: refs.RefMatch,
        wanted: str | None,
    ) -> str:
        """The commit of an advertised ref, fetching it if the clone lacks it."""
        if await self._commit_id(clone, match.sha) is not None:
            return match.sha
        await self._fetch_for(clone, url, auth, remote)
        if await self._commit_id(clone, match.sha) is not None:
            return match.sha
        # The ref moved (or was force-pushed) between ls-remote and fetch: what
        # the fetch brought is newer than what ls-remote said, so use it.
        local_ref = match.ref if match.ref is not None else _DETACHED_HEAD_REF
        sha = await self._commit_id(clone, local_ref)
        if sha is None:
            raise SourceError(
                f"revision {wanted or 'HEAD'!r} in {redact(url)} does not point to a commit"
            )
        return sha

    async def _commit_by_id(
        self,
        clone: Path,
        url: str,
        auth: GitAuth,
        remote: refs.RemoteRefs,
        wanted: str,
    ) -> str:
        """A (possibly abbreviated) commit id that no ref is named after."""
        sha = await self._commit_id(clone, wanted)
        if sha is not None:
            return sha
        # Full history: the commit may be any ancestor of what a shallow clone has.
        await self._fetch(clone, url, auth, remote, shallow=False)
        sha = await self._commit_id(clone, wanted)
        if sha is None and refs.is_full_sha(wanted):
            # Not reachable from any branch or tag; servers that allow fetching
            # any commit by id (GitHub, GitLab) still give it to us.
            self.stats.fetches += 1
            args = ["fetch", "--quiet", "--no-tags", "--end-of-options", url, wanted]
            try:
                with gitmetrics.measured("fetch"):
                    await self._run_network(args, clone, auth)
            except GitCommandError as exc:
                if exc.limit is not None:
                    raise await self._too_large(clone, url, exc) from None
            else:
                sha = await self._commit_id(clone, wanted)
        if sha is None:
            raise SourceError(_not_found(wanted, url))
        return sha

    async def _commit_id(self, clone: Path, revision: str) -> str | None:
        """The full id of the commit ``revision`` names in the clone, if it has it."""
        try:
            out = await run_git(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
                git_dir=clone,
                time_limit=_LOCAL_TIMEOUT,
            )
        except GitCommandError as exc:
            if exc.timed_out:
                raise DriftlessError(f"git cache lookup of {revision!r} timed out") from exc
            if "ambiguous" in exc.stderr:
                raise SourceError(
                    f"revision {revision!r} is ambiguous; use more digits of the commit id"
                ) from exc
            return None
        sha = out.decode().strip()
        return sha or None

    # -- talking to the remote ------------------------------------------------

    async def _remote_refs(self, url: str, fresh: bool) -> refs.RemoteRefs:
        """The repository's refs: the cached answer (or failure) while younger than
        ``revision_ttl`` (unless ``fresh``), else one ``ls-remote`` shared with every
        concurrent caller (and cached)."""
        key = parse_repo_url(url).key
        if not fresh:
            now = time.monotonic()
            cached = self._refs.get(url)
            if cached is not None and now - cached[0] < self.revision_ttl:
                return cached[1]
            failed = self._refs_failed.get(url)
            if failed is not None and now - failed[0] < self.revision_ttl:
                raise _copy_error(failed[1])
        flight = (url, self._generation.get(key, 0))
        if fresh or not self._ls_remotes.in_flight(flight):
            self._asking[url] = time.monotonic()  # this call starts the ls-remote
        return await self._ls_remotes.run(flight, lambda: self._ask_refs(url, key), join=not fresh)

    async def _ask_refs(self, url: str, key: str) -> refs.RemoteRefs:
        """``ls-remote`` now; its answer (or its failure to reach the repository) cached."""
        asked = time.monotonic()  # aged from when it was asked
        try:
            async with self._auth(url) as auth:
                remote = await self._ls_remote(url, auth)
        except (SourceError, SourceUnavailableError) as exc:
            if self._forgotten.get(key, -1.0) < asked:
                self._refs_failed[url] = (asked, exc)
            raise
        self._refs_failed.pop(url, None)
        if self._forgotten.get(key, -1.0) < asked:
            self._refs[url] = (asked, remote)
        return remote

    async def _ls_remote(self, url: str, auth: GitAuth) -> refs.RemoteRefs:
        self.stats.ls_remotes += 1
        try:
            with gitmetrics.measured("ls-remote"):
                out = await self._run_network(
                    ["ls-remote", "--symref", "--end-of-options", url], None, auth
                )
        except GitCommandError as exc:
            raise _unavailable(url, exc, self.timeout, auth) from None
        return refs.parse_ls_remote(out.decode("utf-8", errors="replace"))

    async def _fetch(
        self,
        clone: Path,
        url: str,
        auth: GitAuth,
        remote: refs.RemoteRefs,
        *,
        shallow: bool,
    ) -> None:
        """Bring the clone's branches and tags up to date with the remote.

        git's negotiation sends only objects the clone does not have yet.
        ``shallow``: the tips are enough (a branch or tag was asked for), so
        a new or already shallow clone gets only them; otherwise a shallow
        clone is deepened to the full history.
        """
        self.stats.fetches += 1
        refspecs = list(_FETCH_REFSPECS)
        if remote.head is not None and remote.head_target is None:
            refspecs.append(f"+HEAD:{_DETACHED_HEAD_REF}")
        args = ["fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head"]
        args += await self._depth_args(clone, shallow)
        try:
            with gitmetrics.measured("fetch"):
                await self._run_network([*args, "--end-of-options", url, *refspecs], clone, auth)
        except GitCommandError as exc:
            _clear_stale_locks(clone)
            if exc.limit is not None:
                raise await self._too_large(clone, url, exc) from None
            raise _unavailable(url, exc, self.timeout, auth) from None
        except BaseException:
            # Cancelled: git was killed mid-write and may have left *.lock files.
            _clear_stale_locks(clone)
            raise

    async def _fetch_for(
        self, clone: Path, url: str, auth: GitAuth, remote: refs.RemoteRefs
    ) -> None:
        """One shallow fetch per ``ls-remote`` answer (caller holds the clone's lock).

        Everyone holding the same answer wants a commit it advertised: after the
        first fetch for it, the clone has them all, and a failure would fail the
        same way again, so it is raised to each caller instead of fetched again.
        A new answer (the next poll, a refresh) fetches again.
        """
        done = self._fetched.get(url)
        if done is not None and done[0] is remote:
            if done[1] is not None:
                raise _copy_error(done[1])
            return
        try:
            await self._fetch(clone, url, auth, remote, shallow=True)
        except (SourceError, SourceUnavailableError) as exc:
            self._fetched[url] = (remote, exc)
            raise
        self._fetched[url] = (remote, None)

    async def _too_large(self, clone: Path, url: str, exc: GitCommandError) -> SourceError:
        """Drop the over-sized clone (caller holds its lock) and say why."""
        # What was received stays on no disk: the next attempt starts empty.
        self._checked_clones.discard(clone)
        self._present.clear()
        await asyncio.to_thread(shutil.rmtree, clone, True)
        return SourceError(
            f"repository {redact(url)} is too large: the fetch was stopped because {exc.limit}"
            f" (limit {_limit_var('DRIFTLESS_GIT_MAX_REPO_SIZE')})"
        )

    async def _depth_args(self, clone: Path, shallow: bool) -> list[str]:
        is_shallow = (clone / "shallow").is_file()
        if not shallow:
            return ["--unshallow"] if is_shallow else []
        if is_shallow or not await self._has_refs(clone):
            return ["--depth=1"]
        return []

    async def _has_refs(self, clone: Path) -> bool:
        out = await _local_git(["for-each-ref", "--count=1", "--format=%(refname)"], clone)
        return bool(out.strip())

    async def _run_network(self, args: list[str], clone: Path | None, auth: GitAuth) -> bytes:
        config = auth.config
        disk_limit = None
        if clone is not None:
            # Every byte received lands in one temporary pack (never loose
            # objects), so a killed fetch leaves one file to remove.
            config = (*config, ("fetch.unpackLimit", "1"))
            disk_limit = (clone, self.limits.max_repo_bytes)
        try:
            return await run_git(
                args,
                git_dir=clone,
                time_limit=self.timeout,
                extra_env=auth.env,
                secrets=auth.secrets,
                config=config,
                allow_protocols=self._protocols,
                disk_limit=disk_limit,
            )
        except BaseException:
            if clone is not None:
                await asyncio.to_thread(_remove_partial_packs, clone)
            raise

    def _auth(self, url: str) -> AbstractAsyncContextManager[GitAuth]:
        if self._credentials is None:
            return contextlib.nullcontext(NO_AUTH)
        return self._credentials(url)

    # -- local state ----------------------------------------------------------

    async def _locate(
        self,
        url: str,
        remote: refs.RemoteRefs,
        match: refs.RefMatch | None,
        wanted: str | None,
    ) -> str:
        """The commit ``match`` (or the commit id ``wanted``) in the clone, fetched if needed."""
        async with self._auth(url) as auth, self._lock(url):
            clone = await self._ensure_clone(url)
            if match is not None:
                sha = await self._commit_of_ref(clone, url, auth, remote, match, wanted)
            else:
                assert wanted is not None
                sha = await self._commit_by_id(clone, url, auth, remote, wanted)
        self._note_present(url, sha)
        return sha

    def _is_present(self, url: str, sha: str) -> bool:
        seen = self._present.get((url, sha))
        return seen is not None and time.monotonic() - seen < _PRESENT_SECONDS

    def _note_present(self, url: str, sha: str) -> None:
        self._present.pop((url, sha), None)
        self._present[(url, sha)] = time.monotonic()
        while len(self._present) > _PRESENT_KEPT:
            del self._present[next(iter(self._present))]

    async def _checkout(self, url: str, sha: str, tree: Path) -> None:
        """Write commit ``sha``'s tree (once, however many apps wait) and prune old trees."""
        async with self._lock(url):
            if not tree.is_dir():
                try:
                    await self._materialize(self.root / repo_cache_key(url), url, sha, tree)
                except DriftlessError:
                    # The clone may be gone (a cache directory removed under us): the
                    # next resolve looks in git again instead of trusting the memo.
                    self._present.clear()
                    raise
            await asyncio.to_thread(self._prune_trees, tree)
        self._touched[tree] = time.monotonic()

    def _touch(self, tree: Path) -> None:
        """Renew ``tree``'s mtime, the "last used" clock of the bounded tree cache."""
        now = time.monotonic()
        if now - self._touched.get(tree, -_TOUCH_SECONDS) < _TOUCH_SECONDS:
            return
        with contextlib.suppress(OSError):
            os.utime(tree)
        if len(self._touched) > 4 * _PRESENT_KEPT:
            self._touched.clear()
        self._touched[tree] = now

    def _lock(self, url: str) -> asyncio.Lock:
        key = repo_cache_key(url)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _ensure_clone(self, url: str) -> Path:
        """The bare clone of ``url``, created empty on first use (caller holds the lock)."""
        clone = self.root / repo_cache_key(url)
        if (clone / "HEAD").is_file():
            if clone not in self._checked_clones:
                # A previous process may have died inside git, leaving *.lock files.
                self._checked_clones.add(clone)
                await asyncio.to_thread(_clear_stale_locks, clone)
            return clone
        self.root.mkdir(parents=True, exist_ok=True)
        # Marks the directory as a cache, so no GitCache reads it as a local repository.
        (self.root / CACHE_MARKER).touch(exist_ok=True)
        tmp = self.root / f".tmp-{clone.name}-{uuid.uuid4().hex[:8]}"
        try:
            await _local_git(["init", "--quiet", "--bare", str(tmp)], None)
            settings = {
                # gc in the foreground, inside our lock, never racing a fetch
                "gc.autoDetach": "false",
                "core.logAllRefUpdates": "false",
                # for a person looking at the cache; credentials stripped
                "driftless.url": redact(url),
            }
            for key, value in settings.items():
                await _local_git(["config", "--end-of-options", key, value], tmp)
            # Atomic: a crash leaves a .tmp- directory, never a half-made clone.
            tmp.rename(clone)
        finally:
            if tmp.exists():
                await asyncio.to_thread(shutil.rmtree, tmp, True)
        return clone

    async def _materialize(self, clone: Path, url: str, sha: str, tree: Path) -> None:
        """Write the files of commit ``sha`` to ``tree``, atomically."""
        await self._check_tree_size(clone, url, sha)
        self.stats.checkouts += 1
        self.trees.mkdir(parents=True, exist_ok=True)
        tmp = self.trees / f".tmp-{sha}-{uuid.uuid4().hex[:8]}"
        index = tmp.with_name(tmp.name + ".index")
        tmp.mkdir()
        # A private index file: the bare clone's own index is never touched,
        # so checkouts cannot disturb each other or a fetch.
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            with gitmetrics.measured("checkout"):
                await _local_git(["read-tree", "--end-of-options", sha], clone, env=env)
                await _local_git(
                    ["checkout-index", "--all", "--force"], clone, env=env, work_tree=tmp
                )
                _publish_tree(tmp, tree)
        except OSError as exc:
            raise DriftlessError(f"cannot write the tree of {sha[:12]}: {exc}") from exc
        finally:
            index.unlink(missing_ok=True)
            if tmp.exists():
                await asyncio.to_thread(shutil.rmtree, tmp, True)

    async def _check_tree_size(self, clone: Path, url: str, sha: str) -> None:
        """``SourceError`` unless commit ``sha`` fits the checkout limits."""
        limits = self.limits
        # ~ one line per entry; a listing past this is over the file limit anyway.
        listing_cap = limits.max_checkout_files * 512 + (1 << 20)
        too_many = SourceError(
            f"commit {sha[:12]} of {redact(url)} has more than {limits.max_checkout_files}"
            f" files (limit {_limit_var('DRIFTLESS_GIT_MAX_CHECKOUT_FILES')})"
        )
        try:
            out = await run_git(
                ["ls-tree", "-r", "-l", "-z", "--full-tree", "--end-of-options", sha],
                git_dir=clone,
                time_limit=_LOCAL_TIMEOUT,
                max_stdout=listing_cap,
            )
        except GitCommandError as exc:
            if exc.limit is not None:
                raise too_many from None
            raise DriftlessError(f"git cache: {exc}") from None
        files, total = _tree_totals(out)
        if files > limits.max_checkout_files:
            raise too_many
        if total > limits.max_checkout_bytes:
            raise SourceError(
                f"commit {sha[:12]} of {redact(url)} holds {total} bytes of files, more than"
                f" the limit of {limits.max_checkout_bytes}"
                f" ({_limit_var('DRIFTLESS_GIT_MAX_CHECKOUT_SIZE')})"
            )

    def _prune_trees(self, keep: Path) -> None:
        """Keep the ``keep_trees`` most recently used trees, ``keep``, and any in use.

        "In use" means used in the last ``_IN_USE_SECONDS``: a caller renders
        its tree right after ``checkout`` returns, and must not find it gone.
        """
        try:
            entries = list(os.scandir(self.trees))
        except FileNotFoundError:
            return
        now = time.time()
        trees: list[tuple[float, str]] = []
        for entry in entries:
            mtime = _mtime(entry)
            if entry.name.startswith(".tmp-"):
                if now - mtime > _STALE_TMP_SECONDS:
                    _remove(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                trees.append((mtime, entry.name))
        trees.sort(reverse=True)
        for mtime, name in trees[self.keep_trees :]:
            if name != keep.name and now - mtime > _IN_USE_SECONDS:
                _remove(self.trees / name)


# -- helpers ------------------------------------------------------------------


async def _local_git(
    args: list[str],
    git_dir: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    work_tree: Path | None = None,
) -> bytes:
    """A git command on the local cache; any failure is an internal error."""
    try:
        return await run_git(
            args, git_dir=git_dir, work_tree=work_tree, time_limit=_LOCAL_TIMEOUT, extra_env=env
        )
    except GitCommandError as exc:
        raise DriftlessError(f"git cache: {exc}") from None


def _private_cache_of(real: Path, own_root: Path) -> Path | None:
    """The driftless cache directory that ``real`` lies in, if any.

    That is this cache's root, any directory marked as a git cache (another
    ``GitCache``, e.g. a dev cluster's), or ``$DRIFTLESS_CACHE_DIR`` outside
    the dev clusters' directories (chart caches, the CLI's clones, binaries).
    """
    if real.is_relative_to(own_root):
        return own_root
    for directory in (real, *real.parents):
        if (directory / CACHE_MARKER).is_file():
            return directory
    shared = cache_root().resolve()
    in_user_area = any(real.is_relative_to(shared / area) for area in _USER_AREAS)
    if real.is_relative_to(shared) and not in_user_area:
        return shared
    return None


def _tree_totals(listing: bytes) -> tuple[int, int]:
    """(entries, bytes) of ``git ls-tree -r -l -z`` output; submodules count 0 bytes."""
    files = total = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        files += 1
        meta = entry.partition(b"\t")[0].split()
        if len(meta) == 4 and meta[3].isdigit():
            total += int(meta[3])
    return files, total


def _limit_var(name: str) -> str:
    return f"set by {name}"


def _remove_partial_packs(clone: Path) -> None:
    """Remove what a killed fetch left: temporary packs never referenced by anything."""
    pack_dir = clone / "objects" / "pack"
    with contextlib.suppress(OSError):
        for leftover in pack_dir.glob("tmp_*"):
            leftover.unlink(missing_ok=True)


def _check_revision(revision: str | None, url: str) -> str | None:
    """``revision`` stripped, or ``SourceError`` when git could never accept it."""
    if revision is None or refs.is_default_revision(revision):
        return None
    wanted = revision.strip()
    if tagrange.parse_range(wanted) is not None:
        # Never handed to git as an argument: matched against ls-remote output.
        return wanted
    problem = refs.check_revision(wanted)
    if problem is not None:
        raise SourceError(f"revision {wanted!r} for {redact(url)}: {problem}")
    return wanted


def _copy_error(exc: SourceFailure) -> SourceFailure:
    """A new exception like ``exc`` (one instance raised in many tasks would pile up
    their tracebacks)."""
    return type(exc)(exc.message, reason=exc.reason)


def _not_found(wanted: str | None, url: str) -> str:
    if wanted is None:
        return f"repository {redact(url)} has no default branch (is it empty?)"
    what = "no branch, tag or commit" if refs.looks_like_sha(wanted) else "no branch or tag"
    return f"revision {wanted!r} not found in {redact(url)}: {what} of that name"


def _match(remote: refs.RemoteRefs, wanted: str | None, url: str) -> refs.RefMatch | None:
    """The advertised ref ``wanted`` names: an exact ref first, then a semver range."""
    match = refs.match_revision(remote, wanted)
    if match is not None or wanted is None:
        return match
    tag_range = tagrange.parse_range(wanted)
    if tag_range is None:
        return None
    return tagrange.select(remote, tag_range, url)


def _unavailable(
    url: str, exc: GitCommandError, timeout: float, auth: GitAuth
) -> SourceUnavailableError:
    """The message for a remote that failed us, saying *why* when git tells."""
    shown = redact(url)
    if exc.timed_out:
        detail = f"git {exc.command} timed out after {timeout:g}s"
        return SourceUnavailableError(f"cannot reach repository {shown}: {detail}")
    detail = exc.stderr or f"git {exc.command} exited with status {exc.returncode}"
    if _HOST_KEY_FAILED.search(detail):
        trusted = f"the knownHosts of {auth.label}" if auth.label else "known hosts"
        return SourceUnavailableError(
            f"host key verification failed for {shown}: the server's key is not in {trusted}"
            f" ({detail})"
        )
    if _AUTH_FAILED.search(detail):
        if auth.label is None:
            why = "no repository credential matches this URL (see `driftless repo add`)"
        else:
            why = f"the server refused {auth.label}"
        return SourceUnavailableError(f"authentication failed for {shown}: {why}")
    return SourceUnavailableError(f"cannot reach repository {shown}: {detail}")


def _publish_tree(tmp: Path, tree: Path) -> None:
    """Move a finished tree into place; atomic, so readers never see half a tree."""
    try:
        tmp.rename(tree)
    except OSError:
        # Another repository with this very commit won the race: same content.
        if not tree.is_dir():
            raise


def _clear_stale_locks(clone: Path) -> None:
    """Remove git's ``*.lock`` files from a clone nobody is using.

    Only valid while holding the clone's lock, in the one process that owns
    the cache: then no git process can be writing, and a lock file left by a
    killed git would otherwise make every later fetch fail.
    """
    candidates = [clone / name for name in ("packed-refs.lock", "shallow.lock", "config.lock")]
    candidates.extend((clone / "refs").rglob("*.lock"))
    for lock_file in candidates:
        lock_file.unlink(missing_ok=True)


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
