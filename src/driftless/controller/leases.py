"""coordination.k8s.io/v1 Leases: read, create, renew and release one, race-free.

The standard Kubernetes mechanism (client-go's leader election), not a lock of
our own:

* a Lease is held by ``spec.holderIdentity`` for ``spec.leaseDurationSeconds``
  after its last renewal; an empty holder means free;
* every change is a compare-and-swap: a create fails if the Lease exists, an
  update carries the ``resourceVersion`` it read and fails if anyone wrote in
  between (HTTP 409) — so of two replicas racing for one Lease exactly one wins;
* whether someone else's Lease expired is judged by *our* clock, like
  client-go: ``Observations`` notes when each Lease last changed as we saw it,
  and a Lease unchanged for its duration is expired. Clocks of different nodes
  are not compared for shard Leases (one first seen counts as fresh: a
  newcomer waits one duration before it takes over a dead holder's Lease);
  member Leases may trust ``renewTime`` on first sight (``trust_wall_clock``),
  so a newcomer does not count a long-dead replica as live;
* releasing writes an empty holder (a successor takes over at once instead of
  waiting for the duration).

Leases of driftless carry the label ``driftless.dev/lease`` (``member`` or
``shard``), so one LIST reads them all. Pure helpers plus a few requests; the
callers bound their time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from driftless.core.wellknown import LEASE_LABEL as LEASE_LABEL
from driftless.core.wellknown import SHARDS_LABEL as SHARDS_LABEL
from driftless.kube.client import KubeClient, KubeConflictError, KubeNotFoundError

JSON = dict[str, Any]

API_VERSION = "coordination.k8s.io/v1"
KIND = "Lease"
# A duration outside this range in someone's Lease is clamped (hostile or broken writers).
MIN_DURATION, MAX_DURATION = 1, 3600


@dataclass(frozen=True)
class Lease:
    """The fields of a Lease this package reads."""

    name: str
    holder: str
    duration: int
    version: str  # metadata.resourceVersion, the compare-and-swap token
    transitions: int = 0
    role: str = ""  # the LEASE_LABEL value
    renewed: float | None = None  # spec.renewTime, wall-clock seconds (None: unreadable)
    shards: str = ""  # the SHARDS_LABEL value


def lease_of(obj: JSON) -> Lease:
    """The ``Lease`` view of an API object (tolerates missing or odd fields)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    transitions = spec.get("leaseTransitions")
    return Lease(
        name=str(meta.get("name", "")),
        holder=str(spec.get("holderIdentity") or ""),
        duration=_clamp(duration if isinstance(duration, int) else MAX_DURATION),
        version=str(meta.get("resourceVersion", "")),
        transitions=transitions if isinstance(transitions, int) else 0,
        role=str((meta.get("labels") or {}).get(LEASE_LABEL, "")),
        renewed=_seconds(spec.get("renewTime")),
        shards=str((meta.get("labels") or {}).get(SHARDS_LABEL, "")),
    )


def _seconds(stamp: object) -> float | None:
    if not isinstance(stamp, str) or len(stamp) > 64:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _clamp(seconds: int) -> int:
    return max(MIN_DURATION, min(seconds, MAX_DURATION))


def micro_time(seconds: float | None = None) -> str:
    """A MicroTime as the API wants it (RFC 3339 with microseconds, UTC)."""
    moment = datetime.fromtimestamp(time.time() if seconds is None else seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def body(
    name: str,
    namespace: str,
    role: str,
    holder: str,
    duration: int,
    transitions: int = 0,
    labels: Mapping[str, str] | None = None,
) -> JSON:
    """A Lease held by ``holder`` (empty: free), renewed now."""
    now = micro_time()
    spec: JSON = {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration,
        "renewTime": now,
        "leaseTransitions": transitions,
    }
    if holder:
        spec["acquireTime"] = now
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**(labels or {}), LEASE_LABEL: role},
        },
        "spec": spec,
    }


class Observations:
    """When each Lease last changed, by our clock (see the module doc)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        *,
        trust_wall_clock: frozenset[str] = frozenset(),
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._trusted = trust_wall_clock
        self._seen: dict[str, tuple[Lease, float]] = {}

    def observe(self, leases: Iterable[Lease]) -> None:
        """A full listing: remember changes, forget Leases that are gone."""
        now = self._clock()
        fresh: dict[str, tuple[Lease, float]] = {}
        for lease in leases:
            previous = self._seen.get(lease.name)
            if previous is None:
                since = now - self._age(lease)
            elif previous[0].version != lease.version:
                since = now
            else:
                since = previous[1]
            fresh[lease.name] = (lease, since)
        self._seen = fresh

    def _age(self, lease: Lease) -> float:
        """How old a Lease first seen is: 0, unless its role trusts the wall clock.

        Membership may (it only says who *should* own what, Leases guarantee
        who does): a replica killed long ago then does not count as live for
        one more duration. Shard Leases never do: clock skew must not let two
        replicas hold one.
        """
        if lease.role not in self._trusted or lease.renewed is None:
            return 0.0
        return max(0.0, min(self._wall() - lease.renewed, float(lease.duration)))

    def note(self, lease: Lease) -> None:
        """Our own write: its new version, seen now."""
        self._seen[lease.name] = (lease, self._clock())

    def get(self, name: str) -> Lease | None:
        seen = self._seen.get(name)
        return seen[0] if seen is not None else None

    def held(self, name: str) -> bool:
        """Is the Lease held by someone and not expired (by our clock)?"""
        seen = self._seen.get(name)
        if seen is None:
            return False
        lease, since = seen
        return bool(lease.holder) and self._clock() - since < lease.duration

    def holders(self, role: str) -> set[str]:
        """The holders of the unexpired Leases of ``role``."""
        return {lease.holder for lease in self.live(role)}

    def live(self, role: str) -> list[Lease]:
        """The unexpired Leases of ``role``."""
        return [
            lease
            for name, (lease, _) in self._seen.items()
            if lease.role == role and self.held(name)
        ]


async def list_leases(client: KubeClient, namespace: str) -> list[Lease]:
    objs = await client.list(API_VERSION, KIND, namespace, label_selector=LEASE_LABEL)
    return [lease_of(obj) for obj in objs]


async def create(client: KubeClient, obj: JSON) -> Lease | None:
    """Create a Lease; None if it exists already (someone was faster)."""
    try:
        return lease_of(await client.create(obj))
    except KubeConflictError:
        return None


async def update(
    client: KubeClient,
    namespace: str,
    seen: Lease,
    spec: JSON,
    labels: Mapping[str, str] | None = None,
) -> Lease | None:
    """Change a Lease read at ``seen.version``; None if it changed meanwhile or is gone."""
    meta: JSON = {"resourceVersion": seen.version}
    if labels:
        meta["labels"] = dict(labels)
    patch = {"metadata": meta, "spec": spec}
    try:
        written = await client.merge_patch(API_VERSION, KIND, seen.name, patch, namespace=namespace)
    except (KubeConflictError, KubeNotFoundError):
        return None
    return lease_of(written)


def renewal(holder: str, duration: int) -> JSON:
    return {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": micro_time()}


def takeover(seen: Lease, holder: str, duration: int) -> JSON:
    """The spec of a Lease taken over (free or expired) by ``holder``."""
    now = micro_time()
    return {
        **renewal(holder, duration),
        "acquireTime": now,
        "leaseTransitions": seen.transitions + 1,
    }


def release() -> JSON:
    """The spec of a Lease given up: free at once for everyone (client-go does the same)."""
    return {"holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": micro_time()}
