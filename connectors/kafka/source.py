"""Kafka source: an aiokafka consumer in a consumer group, with manual commits.

Records come from ``getmany`` in batches and go to the runtime as aiokafka's own
``ConsumerRecord`` objects (they satisfy ``RecordLike``), keyed by aiokafka's
``TopicPartition`` (equal to the runtime's ``(topic, partition)`` tuples). Auto-commit
is off: offsets are committed only when the runtime says every record below them is
done. Rebalances reach the runtime's listener through aiokafka's
``ConsumerRebalanceListener``; aiokafka awaits the listener, so a revocation finishes
before the partitions go to another member.

``KafkaSource`` is also the runtime's ``ConsumerProbe``: the end offset, the time of the
broker's last fetch answer and the group generation of each assigned partition, read
from the consumer's own bookkeeping (no request to the broker), for metrics and liveness.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from connectors.kafka.security import KafkaSecurity
from express.runtime.records import CommitRejectedError, Partition, RebalanceListener, RecordLike

__all__ = ["KafkaSource", "KafkaSourceSettings"]

log = logging.getLogger("express.kafka")


@dataclass(frozen=True)
class KafkaSourceSettings:
    bootstrap_servers: str
    topics: tuple[str, ...]
    group_id: str
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    client_id: str = "express"
    auto_offset_reset: str = "earliest"
    isolation_level: str = "read_committed"
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_poll_interval_ms: int = 300_000
    max_partition_fetch_bytes: int = 1_048_576
    fetch_max_bytes: int = 52_428_800
    group_instance_id: str | None = None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, listener: RebalanceListener, assigned_at: dict[Partition, float]) -> None:
        self._listener = listener
        self._assigned_at = assigned_at

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._listener.on_revoked([(tp.topic, tp.partition) for tp in revoked])
        for tp in revoked:
            self._assigned_at.pop((tp.topic, tp.partition), None)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        now = time.time()
        for tp in assigned:
            self._assigned_at[(tp.topic, tp.partition)] = now
        await self._listener.on_assigned([(tp.topic, tp.partition) for tp in assigned])


class KafkaSource:
    """Consumes ``settings.topics`` as a member of ``settings.group_id``."""

    finished = False  # a topic never ends

    def __init__(self, settings: KafkaSourceSettings) -> None:
        self.settings = settings
        self._consumer: Any = None
        self._assigned_at: dict[Partition, float] = {}  # epoch seconds of each partition's assignment
        self._committed_only = settings.isolation_level == "read_committed"

    @property
    def consumer(self) -> Any:
        """The aiokafka consumer (after ``start``)."""
        return self._consumer

    async def start(self, listener: RebalanceListener) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            group_id=s.group_id,
            client_id=s.client_id,
            enable_auto_commit=False,
            auto_offset_reset=s.auto_offset_reset,
            isolation_level=s.isolation_level,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            max_poll_interval_ms=s.max_poll_interval_ms,
            max_partition_fetch_bytes=s.max_partition_fetch_bytes,
            fetch_max_bytes=s.fetch_max_bytes,
            group_instance_id=s.group_instance_id,
            **s.security.client_options(),
        )
        consumer.subscribe(list(s.topics), listener=_Listener(listener, self._assigned_at))
        # Set before ``start``: the first assignment can reach the listener while it runs.
        self._consumer = consumer
        try:
            await consumer.start()
        except BaseException:
            self._consumer = None
            raise

    async def fetch(self, timeout: float, max_records: int) -> Mapping[Partition, Sequence[RecordLike]]:
        records: Mapping[Partition, Sequence[RecordLike]] = await self._consumer.getmany(
            timeout_ms=int(timeout * 1000), max_records=max_records
        )
        return records

    async def keep_alive(self) -> None:
        # getmany resets aiokafka's poll timer; paused partitions hand out nothing.
        paused = self._consumer.paused()
        if paused:
            await self._consumer.getmany(*paused, timeout_ms=0)

    def _assigned(self, partitions: Iterable[Partition]) -> list[TopicPartition]:
        # aiokafka refuses to pause a partition it no longer holds; a rebalance may just
        # have taken one away.
        assigned = self._consumer.assignment()
        wanted = (TopicPartition(topic, partition) for topic, partition in partitions)
        return [tp for tp in wanted if tp in assigned]

    def pause(self, partitions: Iterable[Partition]) -> None:
        self._consumer.pause(*self._assigned(partitions))

    def resume(self, partitions: Iterable[Partition]) -> None:
        self._consumer.resume(*self._assigned(partitions))

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        try:
            await self._consumer.commit(
                {TopicPartition(topic, p): offset for (topic, p), offset in offsets.items()}
            )
        except (CommitFailedError, IllegalStateError) as exc:
            raise CommitRejectedError(str(exc)) from exc

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    # -- ConsumerProbe -------------------------------------------------------------------------

    def end_offset(self, partition: Partition) -> int | None:
        tp = self._held(partition)
        if tp is None:
            return None
        end: int | None = self._consumer.highwater(tp)
        if self._committed_only:
            # A read_committed consumer sees no further than the last stable offset.
            stable: int | None = self._consumer.last_stable_offset(tp)
            if stable is not None and stable >= 0:
                end = stable
        return end

    def fetch_age(self, partition: Partition) -> float | None:
        tp = self._held(partition)
        if tp is None or tp in self._consumer.paused():
            return None
        stamp: int | None = self._consumer.last_poll_timestamp(tp)
        since = stamp / 1000 if stamp is not None else self._assigned_at.get(partition)
        return None if since is None else max(time.time() - since, 0.0)

    def generation(self) -> int | None:
        # aiokafka has no public accessor; its coordinator holds the generation it joined
        # (-1 while it is not a member).
        generation = getattr(getattr(self._consumer, "_coordinator", None), "generation", None)
        return generation if isinstance(generation, int) and generation >= 0 else None

    def _held(self, partition: Partition) -> TopicPartition | None:
        if self._consumer is None:
            return None
        tp = TopicPartition(partition[0], partition[1])
        return tp if tp in self._consumer.assignment() else None
