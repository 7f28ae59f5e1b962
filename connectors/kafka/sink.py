"""Kafka sinks: records appended straight into aiokafka batch builders, one per partition.

``KafkaProducer`` owns one aiokafka producer (idempotent, ``acks=all`` by default);
``KafkaProducer.sink(topic)`` gives a ``KafkaSink`` for one topic. Several sinks share the
producer (outputs and dead letters), which a transaction needs.

Why builders rather than ``producer.send``: ``send`` costs a coroutine, a metadata wait,
a pure-Python murmur2 hash and a future per record. Here a record is appended to the open
``BatchBuilder`` of its partition and gets that batch's delivery future; a batch is
submitted with ``send_batch`` when it is full, when ``linger`` expires, or on ``flush``.
Partitions are chosen exactly as the Java client's default partitioner does (murmur2 of
the key; records without a key stick to one partition per batch), with the key hashes
cached, since keys (device ids, customer ids) repeat. The topic's partition list is read
once, when the sink is made.

A full batch is closed and queued for a submitter task rather than submitted in place:
aiokafka accepts a partition's next batch only once the previous one is on its way, a
broker round trip later, and the stream loop must not wait for that while it has
records to run (memory stays bounded by the loop's in-flight limit).

Batches grow with the load, as the Java producer's do: when the linger expires, a
partition's batch is closed only if none of its earlier batches is still unacknowledged;
otherwise it keeps filling and goes out as soon as the earlier one is acknowledged.
aiokafka sends one request at a time to a broker, with at most one batch per partition,
so batches closed every linger would queue behind each other (each waiting a round trip)
while a partition's throughput stayed at one small batch per round trip. At low rates
nothing is outstanding, and a record waits no longer than the linger.

Invariants:
  * records of one partition reach the broker in the order they were appended
    (one submitter per sink takes closed batches in closing order, and aiokafka keeps
    one batch per partition in its queue);
  * a record's delivery completes when its whole batch is acknowledged, or fails with
    the batch's error once the producer has given up retrying.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from connectors.kafka.security import KafkaSecurity
from express.runtime.records import Delivery, Headers, Partition

__all__ = ["KafkaProducer", "KafkaProducerSettings", "KafkaSink", "KafkaTransactions"]

_HASH_CACHE_LIMIT = 100_000


@dataclass(frozen=True)
class KafkaProducerSettings:
    bootstrap_servers: str
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    client_id: str = "express"
    acks: str = "all"  # "all", "1" or "0"; idempotence needs "all"
    linger_ms: int = 5
    max_batch_size: int = 524_288  # see express.runtime.config
    compression_type: str | None = None
    request_timeout_ms: int = 40_000
    transactional_id: str | None = None


class KafkaProducer:
    """One aiokafka producer shared by the sinks made from it."""

    def __init__(self, settings: KafkaProducerSettings) -> None:
        self.settings = settings
        self._producer: Any = None
        self._sinks: list[KafkaSink] = []

    @property
    def producer(self) -> Any:
        return self._producer

    async def start(self) -> None:
        s = self.settings
        acks: int | str = s.acks if s.acks == "all" else int(s.acks)
        producer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_servers,
            client_id=s.client_id,
            acks=acks,
            enable_idempotence=acks == "all",
            linger_ms=s.linger_ms,
            max_batch_size=s.max_batch_size,
            compression_type=s.compression_type,
            request_timeout_ms=s.request_timeout_ms,
            transactional_id=s.transactional_id,
            **s.security.client_options(),
        )
        await producer.start()
        self._producer = producer

    async def sink(self, topic: str) -> KafkaSink:
        """A sink for ``topic``; waits until the topic's partitions are known."""
        partitions = await self._producer.partitions_for(topic)
        sink = KafkaSink(
            self._producer,
            topic,
            sorted(partitions),
            linger=self.settings.linger_ms / 1000,
            max_batch_size=self.settings.max_batch_size,
        )
        self._sinks.append(sink)
        return sink

    def transactions(self, group_id: str) -> KafkaTransactions:
        """Commit outputs and the group's offsets together (needs ``transactional_id``)."""
        if self.settings.transactional_id is None:
            raise ValueError("transactions need a producer with a transactional_id")
        return KafkaTransactions(self, group_id)

    async def flush(self) -> None:
        """Submit every open batch of every sink and wait for all deliveries."""
        for sink in self._sinks:
            await sink.submit_all()
        await self._producer.flush()

    async def stop(self) -> None:
        if self._producer is not None:
            for sink in self._sinks:
                sink.close()
            await self._producer.stop()


class _OpenBatch:
    """A partition's batch being filled.

    Records go straight into aiokafka's C record builder (``append(offset, timestamp, key,
    value, headers)``), which ``BatchBuilder.append`` wraps in a layer of Python per
    record; ``count`` is the next relative offset, handed back to the ``BatchBuilder``
    when the batch closes so that it counts its records as if it had appended them.
    """

    __slots__ = ("append", "builder", "count", "delivery", "partition")

    def __init__(self, builder: Any, delivery: asyncio.Future[Any], partition: int) -> None:
        self.builder = builder
        self.append = builder._builder.append
        self.count = 0
        self.delivery = delivery
        self.partition = partition

    def close(self) -> None:
        self.builder._relative_offset = self.count
        self.builder.close()


def _fail(delivery: asyncio.Future[Any], error: BaseException) -> None:
    if not delivery.done():
        delivery.set_exception(error)
        # The pipeline reads the error from the oldest delivery only; the rest would
        # each log "exception never retrieved" when collected.
        delivery.exception()


def _settle(delivery: asyncio.Future[Any], sent: asyncio.Future[Any]) -> None:
    if delivery.done():
        return
    if sent.cancelled():
        delivery.cancel()
    elif (error := sent.exception()) is not None:
        _fail(delivery, error)
    else:
        delivery.set_result(sent.result())


class KafkaSink:
    """Appends records for one topic into per-partition batches (see the module docstring)."""

    def __init__(
        self, producer: Any, topic: str, partitions: list[int], *, linger: float, max_batch_size: int
    ) -> None:
        self.topic = topic
        self._max_batch_size = max_batch_size
        self._producer = producer
        self._partitions = partitions
        self._linger = linger
        self._open: dict[int, _OpenBatch] = {}
        self._hashes: dict[bytes, int] = {}
        self._sticky: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        # Closed batches waiting for the producer, oldest first. aiokafka takes a
        # partition's next batch only once its previous one is on the wire, which takes a
        # broker round trip: the submitter waits for that, so appending never does.
        self._closed: deque[_OpenBatch] = deque()
        self._submitter: asyncio.Task[None] | None = None
        # Per partition: batches closed and not yet acknowledged (or failed).
        self._unacked: dict[int, int] = {}
        # Partitions whose open batch outlived the linger while an earlier one was unacknowledged.
        self._due: set[int] = set()

    def _partition_for(self, key: bytes | None) -> int:
        partitions = self._partitions
        if key is None:
            if self._sticky is None:
                self._sticky = random.choice(partitions)
            return self._sticky
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= _HASH_CACHE_LIMIT:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return partitions[hashed % len(partitions)]

    def _open_batch(self, partition: int) -> _OpenBatch:
        loop = asyncio.get_running_loop()
        batch = self._open[partition] = _OpenBatch(
            self._producer.create_batch(), loop.create_future(), partition
        )
        if self._timer is None:
            self._timer = loop.call_later(self._linger, self._linger_expired)
        return batch

    def send_nowait(self, value: bytes, key: bytes | None, headers: Headers) -> Delivery | None:
        """Append to the partition's open batch, closing it for submission when full.

        Returns None, having taken nothing, only for a record too large for any batch
        (``send`` then says so).
        """
        partition = self._partition_for(key)
        batch = self._open.get(partition) or self._open_batch(partition)
        if batch.append(batch.count, None, key, value, headers) is not None:
            batch.count += 1
            return batch.delivery
        if batch.count == 0:
            return None
        self._close(batch)
        batch = self._open_batch(partition)
        if batch.append(0, None, key, value, headers) is not None:
            batch.count = 1
            return batch.delivery
        return None

    async def send(self, value: bytes, key: bytes | None, headers: Headers) -> Delivery:
        delivery = self.send_nowait(value, key, headers)
        if delivery is None:
            raise ValueError(
                f"a record of {len(value)} bytes does not fit in a batch of "
                f"{self._max_batch_size} bytes: raise max_batch_size"
            )
        return delivery

    def _close(self, batch: _OpenBatch) -> None:
        """Take an open batch out for submission, behind those closed before it."""
        partition = batch.partition
        if self._open.get(partition) is batch:
            del self._open[partition]
        self._due.discard(partition)
        if partition == self._sticky:
            self._sticky = None
        batch.close()
        self._unacked[partition] = self._unacked.get(partition, 0) + 1
        self._closed.append(batch)
        if self._submitter is None or self._submitter.done():
            self._submitter = asyncio.ensure_future(self._submit_closed())

    def _settled(self, partition: int) -> None:
        """One of the partition's batches is acknowledged or failed: a due batch goes out."""
        left = self._unacked[partition] - 1
        if left:
            self._unacked[partition] = left
            return
        del self._unacked[partition]
        if partition in self._due:
            batch = self._open.get(partition)
            if batch is None:
                self._due.discard(partition)
            else:
                self._close(batch)

    async def _submit_closed(self) -> None:
        # One submitter per sink, in closing order: a partition's batches reach the
        # producer in the order their records were appended.
        closed = self._closed
        while closed:
            batch = closed.popleft()
            try:
                sent = await self._producer.send_batch(batch.builder, self.topic, partition=batch.partition)
            except Exception as exc:
                # The records' deliveries carry the failure to the pipeline, which stops there.
                _fail(batch.delivery, exc)
                self._settled(batch.partition)
                continue
            sent.add_done_callback(lambda done, batch=batch: self._acknowledged(batch, done))

    def _acknowledged(self, batch: _OpenBatch, sent: asyncio.Future[Any]) -> None:
        _settle(batch.delivery, sent)
        self._settled(batch.partition)

    async def submit_all(self) -> None:
        """Hand every batch, open or closed, to the producer (without waiting for delivery)."""
        self.cancel_linger()
        for batch in list(self._open.values()):
            self._close(batch)
        while self._submitter is not None and not self._submitter.done():
            await asyncio.shield(self._submitter)

    def _linger_expired(self) -> None:
        self._timer = None
        for batch in list(self._open.values()):
            if batch.partition in self._unacked:
                self._due.add(batch.partition)  # goes out when the earlier batch is acknowledged
            else:
                self._close(batch)

    def discard_open(self) -> None:
        """Drop the batches not yet submitted (their transaction is being aborted)."""
        self.cancel_linger()
        opened, closed = list(self._open.values()), list(self._closed)
        self._open.clear()
        self._closed.clear()
        self._due.clear()
        self._sticky = None
        for batch in (*opened, *closed):
            _fail(batch.delivery, RuntimeError("the transaction was aborted"))
        for batch in closed:  # never submitted: no acknowledgement will settle them
            self._settled(batch.partition)

    def cancel_linger(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Stop lingering and submitting; what was not submitted is never delivered."""
        self.cancel_linger()
        if self._submitter is not None:
            self._submitter.cancel()

    async def flush(self) -> None:
        await self.submit_all()
        await self._producer.flush()


class KafkaTransactions:
    """Kafka transactions of one producer, offsets committed for ``group_id`` inside them.

    The sinks' open batches are submitted before a commit, so every output appended so
    far belongs to the transaction that commits its input's offset.

    Limit: aiokafka commits offsets in a transaction by group id only (it does not send
    the member's generation, KIP-447), so fencing rests on the transactional id alone. A
    worker that restarts fences its predecessor (same host and index, same id); a worker
    that stalls past its session timeout while its partitions move elsewhere is not
    fenced by the new owner, and could still commit one last transaction.
    """

    def __init__(self, owner: KafkaProducer, group_id: str) -> None:
        self._owner = owner
        self._group_id = group_id

    async def begin(self) -> None:
        await self._owner.producer.begin_transaction()

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        await self._owner.flush()
        producer = self._owner.producer
        await producer.send_offsets_to_transaction(
            {TopicPartition(topic, partition): offset for (topic, partition), offset in offsets.items()},
            self._group_id,
        )
        await producer.commit_transaction()

    async def abort(self) -> None:
        for sink in self._owner._sinks:
            sink.discard_open()
        await self._owner.producer.abort_transaction()
