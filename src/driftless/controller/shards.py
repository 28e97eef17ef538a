"""Holding shard Leases: a replica reconciles an app only while it holds its shard.

``controller.sharding`` says which replica *should* own each shard; this
module makes it so with one Lease ``driftless-shard-<k>`` per shard, in the
controller's namespace, and guarantees that no app is reconciled by two
replicas at once:

* every ``period`` seconds (``tick``) a replica renews its member Lease (in
  its first round only that: the replicas starting together see each other
  before they claim shards, so they do not hand shards around), lists
  all driftless Leases, renews the shard Leases it holds and acquires the ones
  hashing gives it, but only when free or expired (by its own clock, see
  ``controller.leases``) — never by force;
* a shard it holds but no longer should (a replica joined) is *released*: no
  new reconciles of its apps start, the ones in flight get ``release_wait``
  seconds to end, the rest are cancelled, then the Lease is freed so the new
  owner starts at once;
* a shard it *loses* — someone else holds its Lease, or a renewal has not
  succeeded for ``renew_deadline`` seconds (a timer, not the next tick, so an
  API server gone cannot delay it) — stops at once: reconciles in flight are
  cancelled, no write of them follows. ``renew_deadline`` is well below the
  Lease duration, so the old holder has stopped before anyone may take over;
* ``run_owned`` runs one reconcile under this guard: it refuses (returns
  False) when the shard is not held, and is cancelled when it is lost;
* a shard gained calls ``on_gained`` (the manager re-enqueues its apps), one
  lost or released ``on_lost`` (the manager drops remote clusters' watches no
  owned app needs);
* while a live member Lease says another replica uses another number of
  shards, this replica holds no shard (it would map apps to shards
  differently) and logs an error once per backoff step;
* ``close`` (shutdown, after the workers stopped) frees every held Lease and
  deletes the member Lease, so successors take over at once.

With ``shards == 1`` this is plain leader election (HA: one active replica,
the others on standby); with more, the replicas share the apps.
Failover after a holder was killed: at most one Lease duration plus one
period after its last renewal (10 s + 2 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from driftless.controller import leases, membership, sharding
from driftless.controller.membership import Membership
from driftless.controller.repeats import Repeats
from driftless.kube.client import KubeApiError, KubeClient

log = logging.getLogger(__name__)

PREFIX = "driftless-shard-"
ROLE = "shard"
LEASE_SECONDS = 10
PERIOD_SECONDS = 2.0
RENEW_DEADLINE_SECONDS = 7.0
RELEASE_WAIT_SECONDS = 5.0

Key = tuple[str, str]


def shard_lease(shard: int) -> str:
    return f"{PREFIX}{shard}"


class ShardKeeper:
    """The shard Leases one replica holds, and the reconciles running under them."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        replica_id: str,
        shards: int,
        *,
        on_gained: Callable[[set[int]], None] = lambda _: None,
        on_lost: Callable[[], None] = lambda: None,
        duration: int = LEASE_SECONDS,
        period: float = PERIOD_SECONDS,
        renew_deadline: float = RENEW_DEADLINE_SECONDS,
        release_wait: float = RELEASE_WAIT_SECONDS,
    ) -> None:
        if not sharding.valid_shards(shards):
            raise ValueError(f"shards must be 1..{sharding.MAX_SHARDS}")
        self.client = client
        self.namespace = namespace
        self.id = replica_id
        self.shards = shards
        self.member = Membership(client, namespace, replica_id, duration, shards)
        self.seen = leases.Observations(trust_wall_clock=frozenset({membership.ROLE}))
        self._on_gained = on_gained
        self._on_lost = on_lost
        self._duration = duration
        self._period = period
        self._deadline = renew_deadline
        self._release_wait = release_wait
        self._held: dict[int, asyncio.TimerHandle] = {}  # shard -> its renew deadline
        self._releasing: set[int] = set()
        self._running: dict[int, set[asyncio.Task[Any]]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._rounds = 0
        self._repeats = Repeats(log)

    # -- what the workers ask -------------------------------------------

    def shard_of(self, key: Key, labels: Mapping[str, object] | None) -> int:
        return sharding.shard_of(key[0], key[1], labels, self.shards)

    def owns(self, key: Key, labels: Mapping[str, object] | None) -> bool:
        shard = self.shard_of(key, labels)
        return shard in self._held and shard not in self._releasing

    @property
    def held(self) -> set[int]:
        return set(self._held)

    async def run_owned(
        self,
        key: Key,
        labels: Mapping[str, object] | None,
        body: Callable[[], Coroutine[Any, Any, None]],
    ) -> bool:
        """Run ``body`` if this replica owns the app; False (nothing ran) if not.

        Losing the shard meanwhile cancels ``body``; that returns True (it ran,
        and its app is someone else's now).
        """
        shard = self.shard_of(key, labels)
        if shard not in self._held or shard in self._releasing:
            return False
        task = asyncio.create_task(body())
        running = self._running.setdefault(shard, set())
        running.add(task)
        # Who reconciled what, when (the HA test checks no app ran on two replicas at once).
        log.debug("replica %s: reconcile of %s/%s began (shard %d)", self.id, *key, shard)
        try:
            await asyncio.wait({task})
        finally:
            running.discard(task)
            task.cancel()  # only when we were cancelled ourselves: it is done otherwise
            log.debug("replica %s: reconcile of %s/%s ended", self.id, *key)
        if task.cancelled():
            log.info("app %s/%s: reconcile cancelled: shard %d lost", *key, shard)
            return True
        task.result()  # a failure of the body is the caller's
        return True

    # -- the loop -------------------------------------------------------

    async def run(self) -> None:
        """Tick every ``period`` seconds until cancelled."""
        # A round cut short is retried next period; the renew deadline timers keep
        # the guarantee meanwhile, whatever the API server does.
        bound = max(self._period, self._deadline / 2)
        while True:
            try:
                async with asyncio.timeout(bound):
                    await self.tick()
            except TimeoutError:
                log.debug("lease round took longer than %gs", bound)
            except KubeApiError as exc:
                log.debug("lease round failed: %s", exc)
            await asyncio.sleep(self._period)

    async def tick(self) -> None:
        """One round: membership, then renew, lose, acquire and release shards."""
        self.seen.observe(await leases.list_leases(self.client, self.namespace))
        await self.member.renew(self.seen)
        self._rounds += 1
        if self._rounds == 1:
            return  # announce ourselves first: replicas starting together then split at once
        others = self.member.disagreeing(self.seen)
        if others:
            await self._stand_down(others)
            return
        wanted = sharding.owned_by(self.id, self.shards, self.member.live(self.seen))
        # In parallel: one slow request must not hold up the other renewals.
        await asyncio.gather(*(self._keep(shard) for shard in list(self._held)))
        missing = sorted(wanted - set(self._held))
        won = await asyncio.gather(*(self._acquire(shard) for shard in missing))
        gained = {shard for shard, ok in zip(missing, won, strict=True) if ok}
        for shard in set(self._held) - wanted - self._releasing:
            self._start_release(shard)
        if gained:
            log.info("replica %s: now holds shards %s", self.id, sorted(gained))
            self._on_gained(gained)

    async def _keep(self, shard: int) -> None:
        lease = self.seen.get(shard_lease(shard))
        if lease is None or lease.holder != self.id:
            self._lose(shard, "its Lease is gone or held by another replica")
            return
        written = await leases.update(
            self.client, self.namespace, lease, leases.renewal(self.id, self._duration)
        )
        if written is None:
            self._lose(shard, "its Lease changed under us")
        elif shard in self._held:
            self._renewed(shard, written)

    async def _acquire(self, shard: int) -> bool:
        name = shard_lease(shard)
        lease = self.seen.get(name)
        if lease is None:
            obj = leases.body(name, self.namespace, ROLE, self.id, self._duration)
            written = await leases.create(self.client, obj)
        elif self.seen.held(name) and lease.holder != self.id:
            return False  # someone holds it: wait for them to release it or expire
        else:
            spec = leases.takeover(lease, self.id, self._duration)
            written = await leases.update(self.client, self.namespace, lease, spec)
        if written is None:
            return False
        self._renewed(shard, written)
        return True

    def _renewed(self, shard: int, written: leases.Lease) -> None:
        self.seen.note(written)
        previous = self._held.get(shard)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._held[shard] = loop.call_later(self._deadline, self._lose, shard, "renewal overdue")

    def _lose(self, shard: int, why: str) -> None:
        """Stop at once: no more writes for the apps of ``shard``."""
        timer = self._held.pop(shard, None)
        if timer is None:
            return
        timer.cancel()
        self._releasing.discard(shard)
        cancelled = self._cancel(shard)
        self._on_lost()
        log.warning(
            "replica %s: lost shard %d (%s); cancelled %d reconciles",
            self.id,
            shard,
            why,
            cancelled,
        )

    def _cancel(self, shard: int) -> int:
        running = self._running.get(shard, set())
        for task in running:
            task.cancel()
        return len(running)

    # -- giving shards up -----------------------------------------------

    async def _stand_down(self, others: dict[str, str]) -> None:
        """Replicas disagree on the number of shards: hold none until they agree."""
        what = ", ".join(f"{who} has {count}" for who, count in sorted(others.items()))
        message = f"replicas disagree on --shards ({what}; this one has {self.shards})"
        self._repeats.log(logging.ERROR, self.id, f"replica {self.id}", message + ": standing by")
        for shard in list(self._held):
            self._lose(shard, "replicas disagree on --shards")
            await self._free(shard)

    def _start_release(self, shard: int) -> None:
        self._releasing.add(shard)
        task = asyncio.create_task(self._release_when_idle(shard))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _release_when_idle(self, shard: int) -> None:
        running = self._running.get(shard, set())
        if running:
            _, stuck = await asyncio.wait(set(running), timeout=self._release_wait)
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck, timeout=1.0)
        if shard not in self._releasing:
            return  # lost meanwhile
        await self._free(shard)
        self._on_lost()
        log.info("replica %s: released shard %d", self.id, shard)

    async def _free(self, shard: int) -> None:
        timer = self._held.pop(shard, None)
        if timer is not None:
            timer.cancel()
        self._releasing.discard(shard)
        lease = self.seen.get(shard_lease(shard))
        if lease is not None and lease.holder == self.id:
            with contextlib.suppress(KubeApiError):
                await leases.update(self.client, self.namespace, lease, leases.release())

    async def close(self) -> None:
        """Shutdown (the workers have stopped): free every Lease held, leave the members."""
        for task in list(self._background):
            task.cancel()
        for shard in list(self._held):
            self._cancel(shard)
        await asyncio.gather(*(self._free(shard) for shard in list(self._held)))
        with contextlib.suppress(KubeApiError):
            await self.member.leave()


async def holders(client: KubeClient, namespace: str) -> dict[str, list[int]]:
    """Which replica holds which shard now, from the shard Leases (for ``driftless version``).

    A snapshot of the Leases as written: a holder that died keeps its shards
    here until a successor takes them over (one Lease duration).
    """
    found: dict[str, list[int]] = {}
    for lease in await leases.list_leases(client, namespace):
        index = lease.name.removeprefix(PREFIX)
        if lease.role != ROLE or not lease.holder or not index.isdigit():
            continue
        found.setdefault(lease.holder, []).append(int(index))
    return {holder: sorted(shards) for holder, shards in sorted(found.items())}
