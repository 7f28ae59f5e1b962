"""The Kafka connectors' logic that needs no broker: batching sink, partitioner, security.

The sink is driven against a stand-in producer that hands out real aiokafka batch
builders and records every ``send_batch``; the broker-facing behaviour is covered by
the integration tests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from connectors.kafka import KafkaSecurity
from connectors.kafka.sink import KafkaSink

pytestmark = pytest.mark.anyio
DEADLINE = 5.0


class FakeProducer:
    def __init__(self, batch_size: int = 16_384) -> None:
        self.batch_size = batch_size
        self.created: list[BatchBuilder] = []
        self.sent: list[tuple[int, BatchBuilder]] = []
        self.results: list[asyncio.Future[Any]] = []
        self.refuse: Exception | None = None

    def create_batch(self) -> BatchBuilder:
        builder = BatchBuilder(self.batch_size, 0)
        self.created.append(builder)
        return builder

    async def send_batch(self, builder: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future[Any]:
        await asyncio.sleep(0)  # a real producer may wait for room here
        if self.refuse is not None:
            raise self.refuse
        assert builder.closed(), "a builder is closed before it is handed over"
        assert all(b is not builder for _, b in self.sent), "a builder was submitted twice"
        self.sent.append((partition, builder))
        result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.results.append(result)
        return result


def _sink(producer: FakeProducer, partitions: int = 4, linger: float = 60.0) -> KafkaSink:
    return KafkaSink(
        producer, "out", list(range(partitions)), linger=linger, max_batch_size=producer.batch_size
    )


async def _until(condition: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def test_keys_go_where_the_java_default_partitioner_sends_them() -> None:
    sink = _sink(FakeProducer(), partitions=7)
    reference = DefaultPartitioner()
    for i in range(300):
        key = b"device-%d" % i
        assert sink._partition_for(key) == reference(key, list(range(7)), list(range(7)))
        assert sink._partition_for(key) == reference(key, list(range(7)), list(range(7)))  # cached


async def test_records_without_a_key_stick_to_one_partition_per_batch() -> None:
    producer = FakeProducer()
    sink = _sink(producer)
    deliveries = [await sink.send(b"v%d" % i, None, []) for i in range(10)]
    assert len({id(d) for d in deliveries}) == 1
    await sink.submit_all()
    assert len(producer.sent) == 1 and producer.sent[0][1].record_count() == 10


async def test_full_batches_go_out_in_order_and_each_record_gets_its_batchs_delivery() -> None:
    producer = FakeProducer(batch_size=300)
    sink = _sink(producer, partitions=1)
    deliveries = [await sink.send(b"x" * 40, b"k", [("h", b"1")]) for _ in range(20)]
    await sink.submit_all()
    sent = [builder for _, builder in producer.sent]
    assert sent == producer.created  # submitted in the order they were filled
    assert sum(b.record_count() for b in sent) == 20 and len(sent) > 2
    assert not any(d.done() for d in deliveries)
    producer.results[0].set_result("metadata")
    await _until(deliveries[0].done, "the first batch's deliveries")
    first = sent[0].record_count()
    assert all(d.done() for d in deliveries[:first]) and not any(d.done() for d in deliveries[first:])


async def test_appended_records_read_back_from_the_built_batch_as_sent() -> None:
    producer = FakeProducer(batch_size=1_000)
    sink = _sink(producer, partitions=1)
    sent = [(b"key-%d" % i, b"value-%d" % i, [("express-n", b"%d" % i), ("other", b"x")]) for i in range(30)]
    for key, value, headers in sent:
        await sink.send(value, key, headers)
    await sink.submit_all()
    read = []
    for _, builder in producer.sent:
        batch = MemoryRecords(bytes(builder._build())).next_batch()
        assert batch is not None
        read += [(r.offset, r.key, r.value, list(r.headers)) for r in batch]
        assert builder.record_count() == len(list(MemoryRecords(bytes(builder._build())).next_batch() or []))
    assert len(producer.sent) > 1
    assert [(k, v, h) for _, k, v, h in read] == sent
    # Offsets are relative to their batch: 0, 1, ... in each.
    expected = [i for _, builder in producer.sent for i in range(builder.record_count())]
    assert [offset for offset, *_ in read] == expected


async def test_a_partly_filled_batch_goes_out_when_the_linger_expires() -> None:
    producer = FakeProducer()
    sink = _sink(producer, linger=0.005)
    await sink.send(b"v", b"k", [])
    await _until(lambda: producer.sent, "the linger")
    assert producer.sent[0][1].record_count() == 1


async def test_while_a_batch_is_unacknowledged_the_next_keeps_filling_past_the_linger() -> None:
    producer = FakeProducer()
    sink = _sink(producer, partitions=1, linger=0.005)
    first = await sink.send(b"v0", b"k", [])
    await _until(lambda: len(producer.sent) == 1, "the first linger")
    later = [await sink.send(b"v%d" % i, b"k", []) for i in range(1, 4)]
    await asyncio.sleep(0.03)  # several lingers: the batch stays open behind the first
    assert len(producer.sent) == 1
    later.append(await sink.send(b"v4", b"k", []))
    producer.results[0].set_result("metadata")
    await _until(lambda: len(producer.sent) == 2, "the batch behind the acknowledged one")
    assert first.done() and producer.sent[1][1].record_count() == 4
    assert len({id(d) for d in later}) == 1 and not later[0].done()


async def test_an_unacknowledged_partition_holds_back_only_its_own_batches() -> None:
    producer = FakeProducer()
    sink = _sink(producer, partitions=4, linger=0.005)
    keys = {sink._partition_for(b"key-%d" % i): b"key-%d" % i for i in range(50)}
    busy, idle = keys[0], keys[1]
    await sink.send(b"a", busy, [])
    await _until(lambda: len(producer.sent) == 1, "the first linger")
    await sink.send(b"b", busy, [])
    await sink.send(b"c", idle, [])
    await _until(lambda: len(producer.sent) == 2, "the idle partition's linger")
    assert producer.sent[1][0] == 1
    producer.results[0].set_exception(OSError("gone"))  # a failure settles the partition too
    await _until(lambda: len(producer.sent) == 3, "the held batch")
    assert producer.sent[2][0] == 0


async def test_full_batches_go_out_even_while_earlier_ones_are_unacknowledged() -> None:
    producer = FakeProducer(batch_size=300)
    sink = _sink(producer, partitions=1, linger=0.005)
    for _ in range(20):
        await sink.send(b"x" * 40, b"k", [])
    await _until(lambda: len(producer.sent) >= 2, "the full batches")
    assert not any(result.done() for result in producer.results)


async def test_a_batch_filled_while_being_flushed_is_submitted_once() -> None:
    producer = FakeProducer(batch_size=200)
    sink = _sink(producer, partitions=2)
    flushing = asyncio.ensure_future(sink.submit_all())
    for i in range(40):
        await sink.send(b"y" * 30, b"key-%d" % (i % 5), [])
    await flushing
    await sink.submit_all()
    assert sorted(id(b) for _, b in producer.sent) == sorted(id(b) for b in producer.created)


async def test_a_refused_batch_fails_its_deliveries() -> None:
    producer = FakeProducer()
    producer.refuse = OSError("broker gone")
    sink = _sink(producer)
    delivery = await sink.send(b"v", b"k", [])
    await sink.submit_all()
    assert delivery.done() and isinstance(delivery.exception(), OSError)


async def test_a_record_larger_than_a_batch_travels_in_a_batch_of_its_own() -> None:
    producer = FakeProducer(batch_size=100)
    sink = _sink(producer, partitions=1)
    await sink.send(b"a", b"k", [])
    await sink.send(b"z" * 1000, b"k", [])
    await sink.send(b"b", b"k", [])
    await sink.submit_all()
    assert [b.record_count() for _, b in producer.sent] == [1, 1, 1]


def test_security_settings_map_to_aiokafka_options_and_hide_secrets() -> None:
    plain = KafkaSecurity()
    assert plain.client_options() == {"security_protocol": "PLAINTEXT"}
    sasl = KafkaSecurity(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password="pw",
    )
    assert sasl.client_options() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "u",
        "sasl_plain_password": "pw",
    }
    assert "pw" not in repr(sasl)
    tls = KafkaSecurity(security_protocol="SSL").client_options()
    assert tls["ssl_context"].check_hostname is True
    with pytest.raises(ValueError, match="needs a SASL mechanism"):
        KafkaSecurity(security_protocol="SASL_SSL")
    with pytest.raises(ValueError, match="unknown security protocol"):
        KafkaSecurity(security_protocol="TLS")
