"""Which controller replicas are alive: one member Lease per replica.

Each replica holds the Lease ``driftless-member-<replica id>`` in the
controller's namespace (holder = its id) and renews it every few seconds; the
live members are the holders of unexpired member Leases (``leases``: judged by
our own clock). The Lease carries the replica's number of shards (label
``driftless.dev/shards``): replicas that disagree on it stop reconciling until
they agree (``disagreeing``). A replica that ends cleanly deletes its Lease, so the others
re-balance at once; one that is killed drops out one Lease duration later.

The replica id is ``--replica-id`` (the pod's name in a Deployment, through
the downward API), else ``<hostname>-<pid>``; it must be unique among the
replicas and is a DNS label-like string so it fits in a Lease's name.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable

from driftless.controller import leases
from driftless.kube.client import KubeClient

PREFIX = "driftless-member-"
ROLE = "member"
MAX_ID = 200
_ID = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def valid_replica_id(text: str) -> bool:
    """Lowercase letters, digits, '-' and '.', alphanumeric at both ends, at most 200."""
    return len(text) <= MAX_ID and _ID.fullmatch(text) is not None


def default_replica_id() -> str:
    """``<hostname>-<pid>``, made a valid id."""
    host = re.sub(r"[^a-z0-9.-]+", "-", socket.gethostname().lower()).strip("-.") or "replica"
    return f"{host[: MAX_ID - 12]}-{os.getpid()}"


def lease_name(replica_id: str) -> str:
    return PREFIX + replica_id


class Membership:
    """This replica's member Lease, and the live members seen in a listing."""

    def __init__(
        self, client: KubeClient, namespace: str, replica_id: str, duration: int, shards: int
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.id = replica_id
        self.duration = duration
        self.name = lease_name(replica_id)
        self.shards = shards
        self._labels = {leases.SHARDS_LABEL: str(shards)}

    async def renew(self, seen: leases.Observations) -> bool:
        """Create or renew our member Lease; False when the API refused or raced us."""
        current = seen.get(self.name)
        if current is None:
            obj = leases.body(
                self.name, self.namespace, ROLE, self.id, self.duration, labels=self._labels
            )
            written = await leases.create(self.client, obj)
            if written is None:  # left over by our previous life: take it over
                fetched = await self.client.get(
                    leases.API_VERSION, leases.KIND, self.name, self.namespace
                )
                if fetched is None:
                    return False
                current = leases.lease_of(fetched)
        if current is not None:
            spec = leases.renewal(self.id, self.duration)
            written = await leases.update(
                self.client, self.namespace, current, spec, labels=self._labels
            )
        if written is None:
            return False
        seen.note(written)
        return True

    def live(self, seen: leases.Observations) -> set[str]:
        """The live members (this replica counted in: it is deciding)."""
        return seen.holders(ROLE) | {self.id}

    def disagreeing(self, seen: leases.Observations) -> dict[str, str]:
        """Live replicas started with another number of shards: their id -> their number."""
        return disagreeing(seen.live(ROLE), self.shards)

    async def leave(self) -> None:
        """Delete our member Lease so the others re-balance now."""
        await self.client.delete(leases.API_VERSION, leases.KIND, self.name, self.namespace)


def disagreeing(members: Iterable[leases.Lease], shards: int) -> dict[str, str]:
    """The members whose number of shards is not ``shards`` (unlabelled ones agree). Pure.

    Replicas that map apps to shards differently could reconcile one app
    twice under two shard Leases: while any disagree, none reconciles.
    """
    return {m.holder: m.shards for m in members if m.shards and m.shards != str(shards)}
