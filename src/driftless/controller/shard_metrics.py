"""``driftless_shard_held``: which shards this replica holds, read at scrape time.

One series per shard held (value 1), labelled with the replica's id and the
shard number, so a dashboard sums them per replica and an alert sees a shard
nobody holds. Together with ``driftless version`` (the Leases) this is how an
administrator sees which replica owns what; the app -> shard mapping is
``controller.sharding.shard_of``. Cardinality is bounded by the number of
shards (at most ``sharding.MAX_SHARDS``). Registered only when sharding is on.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftless.controller.shards import ShardKeeper


class ShardCollector(Collector):
    def __init__(self, keeper: ShardKeeper) -> None:
        self._keeper = keeper

    def collect(self) -> Iterator[Metric]:
        held = GaugeMetricFamily(
            "driftless_shard_held",
            "Shards whose Lease this replica holds (1 per shard held).",
            labels=("replica", "shard"),
        )
        for shard in sorted(self._keeper.held):
            held.add_metric((self._keeper.id, str(shard)), 1)
        yield held
