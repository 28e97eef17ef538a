"""On-demand plans for the diff and manifests routes, through the controller's own planner.

``Planning`` plans an app the way the controller does (``pipeline.planner``:
its Project read from the controller's namespace, the source checked against
it, a render in the render server, a server-side dry-run of every object)
and diffs it with ``pipeline.diffs.plan_diffs`` -- the diff ``driftless app
diff`` prints, Secret values masked by ``diff.report``. ``manifests`` renders
the app at a revision without planning (nothing dry-run), each Secret masked
by ``diff.secrets.mask``, after the same Project checks as a plan
(``Planner.check_app``: destination and source; a render must not look up a
cluster the app's Project does not deploy to).

What it is given (``driftless server`` builds them, see ``cli/server.py``):
its OWN git cache (never the controller's or the CLI's; local repositories
refused: a repository is untrusted input, the render server's sandbox is the
protection) and render tools whose renders run in a render server.

Readers without write rights: Kubernetes authorizes a dry run exactly like
the write, and the server's least-privilege ServiceAccount (``install
--with-server``: read-only but for Applications and its own Secrets) may not
patch the app's objects. Giving it that right would let a compromised server
write anything anywhere, past every Project. So a plan whose dry run (or
read) the API server's *authorizer* refuses (403 "User ... cannot ...",
``refused_by_rbac``; an admission webhook's or a quota's 403 is a refusal
shown as such) is made again without dry runs (``Planner.plan(dry_run=False)``:
each apply predicted client-side by ``diff.predict``, an object it may not
read marked ``unreadable``), and the destination is remembered for
``RETRY_DRY_RUN_SECONDS`` so the next plans go there directly. Each diff
says which way it was computed (``predicted``: ``dry-run`` or
``client-side``). An admin's kubeconfig keeps the dry runs.

Remote destinations are planned against their cluster, found as the
controller finds it (``controller.destinations``); a client replaced by a
newer one (its Secret changed) is closed once no plan uses it. A remote
destination's planner lives for one request and is closed with it (its Helm
lookup proxy, a TLS listener, with it); ``close`` closes the local one's.

Planning is expensive, so ``Results``: at most ``CONCURRENCY`` plans or
renders run at once, identical requests made while one runs share it, and a
result is kept ``FRESH_SECONDS`` in a small LRU keyed by what it depends on
(the app's uid and resourceVersion -- which the controller's status writes
move on -- and the revision). Failures are never kept. The queue is bounded
too (each distinct ``?revision=`` is a new plan): at most ``MAX_QUEUED``
plans running or waiting in all, and ``MAX_PER_PRINCIPAL`` started by one
identity (``who``); a request beyond is refused at once (503), while one
that joins a plan already under way is never refused.

Contract: ``diffs`` and ``manifests`` raise ``DriftlessError`` subclasses
(the routes map them to the error shape): ``InvalidRequestError`` for a
revision git could not take, ``StallingError`` for what the app's source or
Project makes impossible, ``TransientError`` for what may pass; and
``errors.UnavailableError`` (503) over the queue's bounds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from driftless.controller.destinations import Destinations
from driftless.core.models import Application
from driftless.core.resources import DEFAULT_APP_NAMESPACE
from driftless.diff.secrets import mask
from driftless.kube.client import KubeClient
from driftless.kube.errors import KubeApiError, KubeForbiddenError
from driftless.pipeline.decryption import Decrypting
from driftless.pipeline.diffs import diff_entries
from driftless.pipeline.plan import Plan
from driftless.pipeline.planner import Planner
from driftless.pipeline.projects import ClusterProjects
from driftless.pipeline.renderers import GitRenderer, Rendered
from driftless.pipeline.requests import checked_revision
from driftless.render import RenderTools
from driftless.server import metrics
from driftless.server.errors import UnavailableError
from driftless.sources.git import GitCache

__all__ = [
    "CONCURRENCY",
    "FRESH_SECONDS",
    "MAX_PER_PRINCIPAL",
    "MAX_QUEUED",
    "MAX_RESULTS",
    "RETRY_DRY_RUN_SECONDS",
    "Diffs",
    "Leases",
    "Manifests",
    "Planning",
    "Refusals",
    "ResultKey",
    "Results",
    "masked",
    "refused_by_rbac",
    "result_key",
]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Plans or renders running at once (each may run helm or kustomize and dry-run every object).
CONCURRENCY: Final = 2
#: How long a result answers identical requests (a page's tab, then its node panel).
FRESH_SECONDS: Final = 15.0
#: Results kept at most (one may hold the YAML of hundreds of objects).
MAX_RESULTS: Final = 16
#: Plans or renders running or waiting for a slot, in all and started by one identity.
MAX_QUEUED: Final = 32
MAX_PER_PRINCIPAL: Final = 4
#: How long a destination whose dry runs RBAC refused is planned without trying them.
RETRY_DRY_RUN_SECONDS: Final = 300.0
# The authorizer's wording (k8s.io/apiserver ``forbiddenMessage``), which admission
# webhooks and quotas never use: ``User "x" cannot patch resource "y" ...`` (for a
# Secret the quoted values are ``<redacted>`` by ``sync.redact``).
_RBAC_REFUSAL: Final = re.compile(r'\bUser (?:"[^"]*"|<redacted>) cannot [a-z]+ resource ')


@dataclass(frozen=True)
class Diffs:
    """The revision planned and every resource's diff (``pipeline.diffs.diff_entries``)."""

    revision: str
    resources: list[JSON]


@dataclass(frozen=True)
class Manifests:
    """The revision rendered and its manifests, Secrets masked."""

    revision: str
    manifests: list[JSON]


def refused_by_rbac(exc: KubeApiError) -> bool:
    """Whether ``exc`` is the authorizer refusing this identity (not admission or quota). Pure."""
    return isinstance(exc, KubeForbiddenError) and bool(_RBAC_REFUSAL.search(exc.message))


class Refusals:
    """Destinations whose dry runs RBAC refused, each remembered for ``seconds``. Pure."""

    def __init__(
        self, seconds: float = RETRY_DRY_RUN_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.clock = clock
        self._since: dict[str, float] = {}

    def remember(self, destination: str) -> None:
        self._since[destination] = self.clock()

    def refuses(self, destination: str) -> bool:
        since = self._since.get(destination)
        if since is not None and self.clock() - since >= self.seconds:
            del self._since[destination]  # its RBAC may have changed: try the dry run again
            return False
        return since is not None


@dataclass(frozen=True)
class ResultKey:
    what: str  # "diff" or "manifests"
    uid: str
    version: str  # the Application's resourceVersion
    revision: str  # "" for the app's target


def result_key(what: str, app: Application, revision: str | None) -> ResultKey:
    """What a result depends on: the app (uid: a re-created app is another), its version
    (every spec or status write moves it on) and the revision asked for. Pure."""
    meta = app.metadata
    uid = str(meta.get("uid") or f"{app.namespace}/{app.name}")
    return ResultKey(what, uid, str(meta.get("resourceVersion", "")), revision or "")


def masked(rendered: Rendered) -> Manifests:
    """The manifests of a render, each Secret's values masked (``diff.secrets.mask``). Pure."""
    return Manifests(rendered.revision, [mask(m.obj) for m in rendered.manifests])


class Results(Generic[K, V]):
    """Bounded, coalescing, briefly cached results of an expensive ``compute``.

    ``get(key, compute)``: a result computed less than ``seconds`` ago is
    returned as is; a ``compute`` of the same key already running is awaited
    (not started again); else ``compute`` runs once a slot of ``concurrency``
    is free, and its result is kept (the least recently used dropped beyond
    ``entries``). A failure reaches every caller waiting for it and is not
    kept. A caller that goes away (cancelled) does not cancel a computation
    others may share; it finishes and is kept. A new computation is refused
    (``UnavailableError``) when ``queued`` run or wait already, or ``per_owner``
    started by the same ``owner``; joining a running one never is.
    """

    def __init__(
        self,
        *,
        entries: int = MAX_RESULTS,
        seconds: float = FRESH_SECONDS,
        concurrency: int = CONCURRENCY,
        queued: int = MAX_QUEUED,
        per_owner: int = MAX_PER_PRINCIPAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.entries = entries
        self.seconds = seconds
        self.queued = queued
        self.per_owner = per_owner
        self.clock = clock
        self.computed = 0  # computations started, for tests and logs
        self._slots = asyncio.Semaphore(concurrency)
        self._done: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._running: dict[K, asyncio.Task[V]] = {}
        self._owners: dict[K, str] = {}  # who started each running computation

    def __len__(self) -> int:
        return len(self._done)

    async def get(self, key: K, compute: Callable[[], Awaitable[V]], owner: str = "") -> V:
        kept = self._done.get(key)
        if kept is not None:
            if self.clock() - kept[0] < self.seconds:
                self._done.move_to_end(key)
                return kept[1]
            del self._done[key]
        task = self._running.get(key)
        if task is None:
            self._admit(owner)
            task = asyncio.create_task(self._compute(key, compute))
            self._running[key] = task
            self._owners[key] = owner
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    async def _compute(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        async with self._slots:
            self.computed += 1
            value = await compute()
        self._done[key] = (self.clock(), value)
        self._done.move_to_end(key)
        while len(self._done) > self.entries:
            self._done.popitem(last=False)
        return value

    def _admit(self, owner: str) -> None:
        """Refuse one more computation over the bounds (``UnavailableError``)."""
        if len(self._running) >= self.queued:
            raise UnavailableError(
                f"{self.queued} plans are running or waiting; try again in a moment"
            )
        if owner and sum(1 for o in self._owners.values() if o == owner) >= self.per_owner:
            raise UnavailableError(
                f"you have {self.per_owner} plans running or waiting; try again once they end"
            )

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
            self._owners.pop(key, None)
        if not task.cancelled():
            task.exception()  # seen: a failure nobody waits for any more is not "never retrieved"


C = TypeVar("C")


class Leases(Generic[C]):
    """Which remote clients plans use, so a replaced one is closed once unused. Pure.

    ``take(key, client)`` before a plan on ``client`` (``key``: the app's
    namespace and server, which ``controller.destinations`` hands a new client
    when the cluster's Secret changed); ``give_back(client)`` after it returns
    the replaced clients no plan uses any more, for the caller to release.
    """

    def __init__(self) -> None:
        self._current: dict[tuple[str, str], C] = {}
        self._users: Counter[int] = Counter()
        self._retired: dict[int, C] = {}

    def take(self, key: tuple[str, str], client: C) -> None:
        old = self._current.get(key)
        if old is not None and old is not client:
            self._retired[id(old)] = old
        self._current[key] = client
        self._users[id(client)] += 1

    def give_back(self, client: C) -> list[C]:
        self._users[id(client)] -= 1
        if self._users[id(client)] <= 0:
            del self._users[id(client)]
        unused = [c for i, c in self._retired.items() if not self._users[i]]
        for stale in unused:
            del self._retired[id(stale)]
        return unused


class Planning:
    """Plans and renders of apps on demand (see the module docstring)."""

    def __init__(
        self,
        control: KubeClient,
        git: GitCache,
        tools: RenderTools,
        *,
        home: str = DEFAULT_APP_NAMESPACE,
    ) -> None:
        if git.allow_local:
            raise ValueError("the server never reads local repositories")
        self.control = control
        self.home = home
        self.renderer = Decrypting(GitRenderer(git, tools), control)
        self.projects = ClusterProjects(control, home)
        self.local = Planner(control, self.renderer, self.projects, home=home)
        self.destinations = Destinations(control)
        self.results: Results[ResultKey, Any] = Results()
        self.leases: Leases[KubeClient] = Leases()
        self.refusals = Refusals()

    async def diffs(self, app: Application, revision: str | None, who: str = "") -> Diffs:
        """Every resource of ``app`` at ``revision`` (default: its target) against the live one;
        ``who``: the identity asking (its plans are bounded)."""
        wanted = checked_revision(revision)

        async def compute() -> Diffs:
            with metrics.plan_timed("diff"):
                async with self._planner(app) as planner:
                    plan = await self._plan(planner, app, wanted)
            return Diffs(plan.revision, diff_entries(plan))

        with metrics.plan_request("diff"):
            result: Diffs = await self.results.get(result_key("diff", app, wanted), compute, who)
        return result

    async def manifests(self, app: Application, revision: str | None, who: str = "") -> Manifests:
        """``app``'s source rendered at ``revision`` (default: its target), Secrets masked;
        ``who``: the identity asking (its renders are bounded)."""
        wanted = checked_revision(revision)

        async def compute() -> Manifests:
            with metrics.plan_timed("manifests"):
                project = await self.projects.project_for(app)
                async with self._planner(app) as planner:
                    # The controller's rules before any render: destination and source
                    # (a view must not render, or look up, what the controller would refuse).
                    planner.check_app(app, project)
                    target = await planner.kube_target()
                    # The planner's rules for renders (chart repositories, Helm lookup).
                    with planner.render_scope(app, project):
                        return masked(await self.renderer.render(app, wanted, target))

        key = result_key("manifests", app, wanted)
        with metrics.plan_request("manifests"):
            result: Manifests = await self.results.get(key, compute, who)
        return result

    async def _plan(self, planner: Planner, app: Application, revision: str | None) -> Plan:
        """A dry-run plan, or a client-side one where RBAC refuses dry runs (module doc)."""
        where = planner.server_url
        if not self.refusals.refuses(where):
            try:
                return await planner.plan(app, revision=revision)
            except KubeForbiddenError as exc:
                if not refused_by_rbac(exc):
                    raise
                log.info("dry runs refused on %s, diffs computed client-side: %s", where, exc)
                self.refusals.remember(where)
        return await planner.plan(app, revision=revision, dry_run=False)

    async def close(self) -> None:
        """Close the local planner's lookup proxy and the remote clients (the control
        client and the tools are the caller's)."""
        await self.local.close()
        await self.destinations.close()

    @asynccontextmanager
    async def _planner(self, app: Application) -> AsyncIterator[Planner]:
        """A planner of the app's destination cluster, for the block."""
        destination = await self.destinations.resolve(app)
        if destination.local:
            yield self.local
            return
        client = destination.client
        self.leases.take((app.namespace, destination.server), client)
        # No watches (cache None), but a lookup proxy (a TLS listener once a lookup
        # render started it): closed with the request; the client is shared, leased.
        planner = Planner(
            client, self.renderer, self.projects, server_url=destination.server, home=self.home
        )
        try:
            yield planner
        finally:
            try:
                await planner.close()
            finally:
                for stale in self.leases.give_back(client):
                    await self.destinations.release(stale)
