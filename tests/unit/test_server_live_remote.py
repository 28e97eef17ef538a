"""The live objects of remote clusters (``server.remote_live``), on scripted clients.

One ``LiveObjects`` per cluster Secret, its changes told as local ones; a
new client (the Secret changed) stops the old follows and releases the old
client once no plan holds it; a cluster that does not answer (refused, or
no answer in time) is said in words without its credentials, its follows
stopped, asked again only once the answer is stale; an unregistered
destination is said as the controller says it; a cluster nobody asks for is
forgotten.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from driftless.controller.destinations import Destination, Destinations
from driftless.core.errors import StallingError
from driftless.core.models import Application
from driftless.kube.client import KubeClient
from driftless.kube.errors import unavailable
from driftless.server.planning import Leases
from driftless.server.remote_live import RemoteLive
from tests.unit.test_server_tree import DEPLOY, ScriptedClient, eventually

JSON = dict[str, Any]
SERVER = "https://staging.example:6443"
DEPLOYMENT = (("apps/v1", "Deployment"), "ns")


class Cluster(ScriptedClient):
    """A scripted cluster whose ``/version`` answers, refuses or hangs."""

    server = SERVER

    def __init__(self) -> None:
        super().__init__({"Deployment": [DEPLOY]})
        self.versions = 0
        self.refuse = ""
        self.hang = False

    async def version(self) -> JSON:
        self.versions += 1
        if self.hang:
            await asyncio.Event().wait()
        if self.refuse:
            raise unavailable(self.refuse)
        return {"gitVersion": "v1.31.0"}


class FakeDestinations:
    """Resolves every app to ``client`` (swapped to rotate), or raises ``refuse``."""

    def __init__(self, client: Cluster) -> None:
        self.client = client
        self.refuse: Exception | None = None
        self.released: list[object] = []

    async def resolve(self, app: Application) -> Destination:
        if self.refuse is not None:
            raise self.refuse
        return Destination(SERVER, cast(KubeClient, self.client), local=False)

    async def release(self, client: object) -> None:
        self.released.append(client)


class Told(list[tuple[Any, str]]):
    """The changes told, as ``(kind, namespace)``."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


APP = Application.model_validate(
    {
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {
            "source": {"repoURL": "https://git.example/web.git"},
            "destination": {"name": "staging", "namespace": "ns"},
        },
    }
)


def remote_live(
    destinations: FakeDestinations, told: Told, clock: Clock, **kwargs: Any
) -> RemoteLive:
    return RemoteLive(
        cast(Destinations, destinations),
        Leases(),
        lambda kind, namespace: told.append((kind, namespace)),
        wait_seconds=5,
        clock=clock,
        **kwargs,
    )


async def test_a_remote_cluster_is_followed_once_and_its_changes_are_told() -> None:
    cluster, told, clock = Cluster(), Told(), Clock()
    remote = remote_live(FakeDestinations(cluster), told, clock)
    try:
        live = await remote.live_for(APP)
        assert not isinstance(live, str)
        assert await live.ensure([DEPLOYMENT]) == []
        assert live.lookup("apps", "v1", "Deployment", "ns", "web") == DEPLOY
        assert told and told[0] == DEPLOYMENT  # the listing told, as a local one is
        assert await remote.live_for(APP) is live
        assert cluster.versions == 1  # probed once while fresh
        assert list(remote.clusters) == [("apps", SERVER)]
    finally:
        await remote.close()


async def test_a_changed_secret_follows_again_on_the_new_client_and_releases_the_old() -> None:
    old, told, clock = Cluster(), Told(), Clock()
    destinations = FakeDestinations(old)
    remote = remote_live(destinations, told, clock)
    try:
        first = await remote.live_for(APP)
        assert not isinstance(first, str)
        await first.ensure([DEPLOYMENT])
        destinations.client = new = Cluster()  # Destinations hands a new client out
        second = await remote.live_for(APP)
        assert not isinstance(second, str) and second is not first
        assert first.followed == set()  # the old watches are stopped
        assert destinations.released == [old]
        assert second.client is cast(KubeClient, new)
    finally:
        await remote.close()


async def test_an_unreachable_cluster_is_said_without_credentials_and_its_follows_stopped() -> None:
    cluster, told, clock = Cluster(), Told(), Clock()
    remote = remote_live(FakeDestinations(cluster), told, clock, fresh_seconds=10)
    try:
        live = await remote.live_for(APP)
        assert not isinstance(live, str)
        await live.ensure([DEPLOYMENT])
        clock.now += 10
        cluster.refuse = (
            f"cannot reach the API server at {SERVER}: "
            "proxy https://admin:s3cret-token@proxy.example refused"
        )
        problem = await remote.live_for(APP)
        assert isinstance(problem, str)
        assert problem.startswith(f"cluster {SERVER} cannot be reached: proxy https://")
        assert "refused" in problem and "s3cret-token" not in problem
        assert live.followed == set()  # no stale memory kept
        assert await remote.live_for(APP) == problem
        assert cluster.versions == 2  # the answer holds: not asked again at once
        clock.now += 10
        cluster.refuse = ""
        again = await remote.live_for(APP)
        assert again is live and cluster.versions == 3
        assert await live.ensure([DEPLOYMENT]) == []  # followed again
    finally:
        await remote.close()


async def test_a_cluster_that_does_not_answer_is_given_up_on_after_the_probe_time() -> None:
    cluster, told, clock = Cluster(), Told(), Clock()
    cluster.hang = True
    remote = remote_live(FakeDestinations(cluster), told, clock, probe_seconds=0.05)
    try:
        waits = [remote.live_for(APP) for _ in range(3)]
        problems = await asyncio.wait_for(asyncio.gather(*waits), 5)
        assert problems == [f"cluster {SERVER} cannot be reached: no answer within 0.05 s"] * 3
        assert cluster.versions == 1  # one probe for every caller
    finally:
        await remote.close()


async def test_an_unregistered_destination_is_said_as_the_controller_says_it() -> None:
    destinations, told = FakeDestinations(Cluster()), Told()
    destinations.refuse = StallingError("destination cluster staging is not registered in apps")
    remote = remote_live(destinations, told, Clock())
    assert await remote.live_for(APP) == "destination cluster staging is not registered in apps"
    destinations.refuse = unavailable("cannot reach the API server at https://control: refused")
    problem = await remote.live_for(APP)
    assert problem == "cannot read the registered clusters of namespace apps"
    assert remote.clusters == {}


async def test_a_cluster_nobody_asks_for_is_forgotten() -> None:
    cluster, told, clock = Cluster(), Told(), Clock()
    destinations = FakeDestinations(cluster)
    remote = remote_live(destinations, told, clock, idle_seconds=600)
    try:
        live = await remote.live_for(APP)
        assert not isinstance(live, str)
        await live.ensure([DEPLOYMENT])
        clock.now += 600
        other = APP.model_copy(update={"metadata": {"name": "db", "namespace": "tenant"}})
        await remote.live_for(other)
        assert list(remote.clusters) == [("tenant", SERVER)]
        await eventually(lambda: live.followed == set())
    finally:
        await remote.close()
