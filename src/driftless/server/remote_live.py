"""The live objects of apps deployed to other clusters: one ``LiveObjects`` per cluster Secret.

A remote app's tree is built as a local one's, from a ``LiveObjects`` that
follows its destination cluster. The cluster is found exactly as the
controller finds it (``controller.destinations.Destinations``: the labelled
cluster Secret of the app's namespace, matched by name or server, read as
``kube.clusters`` reads it), and the clients are the ones the server's
diffs plan with (``server.planning`` hands its ``Destinations`` and
``Leases`` over): one client per (app namespace, server, Secret version).
When the Secret changes, ``Destinations`` hands out a new client: that
cluster's follows are stopped and started again on the new one, and the
old client is released once no plan uses it either (``Leases``).

Bounds, per cluster: at most ``MAX_FOLLOWS`` follows at once (kinds and
Events in a namespace, as on this cluster: ``live.MAX_FOLLOWS``; their
watches hold connections of a pool of their own, ``live.POOL_SIZE``, so the
plans' and discovery's client, 16 connections, ``kube.clusters.connect``,
keeps its pool), at most ``live.MAX_OBJECTS`` objects per
follow, a follow nobody asks for 10 minutes stopped (``live.IDLE_SECONDS``),
and a cluster nobody asks for that long forgotten with its client's lease.

Reachability: before its follows are read, a cluster is asked its
``/version`` (at most ``PROBE_SECONDS``, once per ``FRESH_SECONDS``; callers
meanwhile share the answer). A cluster that does not answer has its follows
stopped (their memory would only grow stale), and ``live_for`` returns the
reason in words -- the server and the error, never a credential -- which
the caller says as the tree's ``partial``. Other apps never wait for it:
nothing here is shared across clusters but the control client's Secret
list.

Changes a remote follow sees are told to ``told(kind, namespace)`` (the
local ``LiveObjects.tell``), so the apps' streams hear them as local ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from driftless.controller.destinations import Destinations
from driftless.core.errors import StallingError
from driftless.core.models import Application
from driftless.core.repourl import redact
from driftless.kube.client import KubeApiError, KubeClient
from driftless.server import live as local
from driftless.server.live import IDLE_SECONDS, ChangeListener, LiveObjects
from driftless.server.planning import Leases

__all__ = ["FRESH_SECONDS", "MAX_FOLLOWS", "PROBE_SECONDS", "RemoteLive"]

log = logging.getLogger(__name__)

ClusterKey = tuple[str, str]  # (app namespace, server)
#: Follows at once per remote cluster (in a pool of their own, as this cluster's).
MAX_FOLLOWS: Final = local.MAX_FOLLOWS
#: How long a cluster's ``/version`` may take before it counts as unreachable.
PROBE_SECONDS: Final = 5.0
#: How long a probe's answer (reachable or not) holds.
FRESH_SECONDS: Final = 10.0
#: How long a remote tree waits for the first lists of its follows.
WAIT_SECONDS: Final = 10.0


@dataclass(eq=False)
class _Cluster:
    server: str
    client: KubeClient
    live: LiveObjects
    asked: float
    checked: float = float("-inf")
    problem: str = ""
    probing: asyncio.Task[str] | None = field(default=None, repr=False)


class RemoteLive:
    """``LiveObjects`` of remote clusters (see the module docstring)."""

    def __init__(
        self,
        destinations: Destinations,
        leases: Leases[KubeClient],
        told: ChangeListener,
        *,
        probe_seconds: float = PROBE_SECONDS,
        fresh_seconds: float = FRESH_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        max_follows: int = MAX_FOLLOWS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.destinations = destinations
        self.leases = leases
        self.told = told
        self.probe_seconds = probe_seconds
        self.fresh_seconds = fresh_seconds
        self.wait_seconds = wait_seconds
        self.idle_seconds = idle_seconds
        self.max_follows = max_follows
        self.clock = clock
        self._clusters: dict[ClusterKey, _Cluster] = {}

    @property
    def clusters(self) -> dict[ClusterKey, LiveObjects]:
        """The clusters followed now, by (app namespace, server)."""
        return {key: cluster.live for key, cluster in self._clusters.items()}

    async def live_for(self, app: Application) -> LiveObjects | str:
        """The live objects of ``app``'s (remote) destination, or why they cannot be read."""
        try:
            destination = await self.destinations.resolve(app)
        except StallingError as exc:  # not registered: the controller says the same
            return str(exc)
        except KubeApiError as exc:
            log.warning("cannot read the cluster Secrets of %s: %s", app.namespace, exc)
            return f"cannot read the registered clusters of namespace {app.namespace}"
        now = self.clock()
        await self._forget_idle(now)
        key = (app.namespace, destination.server)
        cluster = self._clusters.get(key)
        if cluster is None or cluster.client is not destination.client:
            # Taken first: a replaced client is then retired, and released once unused.
            self.leases.take(key, destination.client)
            if cluster is not None:
                await self._forget(key)  # its Secret changed: follow again with the new client
            live = LiveObjects(
                destination.client,
                wait_seconds=self.wait_seconds,
                idle_seconds=self.idle_seconds,
                max_follows=self.max_follows,
                clock=self.clock,
            )
            live.subscribe(self.told)
            cluster = _Cluster(destination.server, destination.client, live, asked=now)
            self._clusters[key] = cluster
        cluster.asked = now
        problem = await self._reachable(cluster)
        return problem or cluster.live

    async def _reachable(self, cluster: _Cluster) -> str:
        """'' when the cluster answered lately, else why not (one probe for all callers)."""
        if self.clock() - cluster.checked < self.fresh_seconds:
            return cluster.problem
        if cluster.probing is None or cluster.probing.done():
            cluster.probing = asyncio.create_task(self._probe(cluster), name="probe cluster")
        return await asyncio.shield(cluster.probing)

    async def _probe(self, cluster: _Cluster) -> str:
        try:
            await asyncio.wait_for(cluster.client.version(), self.probe_seconds)
            problem = ""
        except TimeoutError:
            problem = f"no answer within {self.probe_seconds:g} s"
        except KubeApiError as exc:
            # The client's own wording names the server again: said once is enough.
            problem = (exc.message or str(exc)).removeprefix(
                f"cannot reach the API server at {cluster.client.server}: "
            )
        if problem:
            problem = redact(f"cluster {cluster.server} cannot be reached: {problem}")
            if not cluster.problem:
                log.warning("%s", problem)
            await cluster.live.close()  # stale memory is no answer; follows start again later
        cluster.problem, cluster.checked = problem, self.clock()
        return problem

    async def _forget_idle(self, now: float) -> None:
        for key, cluster in list(self._clusters.items()):
            if now - cluster.asked >= self.idle_seconds:
                await self._forget(key)

    async def _forget(self, key: ClusterKey) -> None:
        cluster = self._clusters.pop(key)  # a probe running finishes (bounded) for its callers
        await cluster.live.close()
        for stale in self.leases.give_back(cluster.client):
            await self.destinations.release(stale)

    async def close(self) -> None:
        """Stop every remote follow (the clients are closed by their ``Destinations``)."""
        for cluster in self._clusters.values():
            if cluster.probing is not None:
                cluster.probing.cancel()
            await cluster.live.close()
        self._clusters.clear()
