"""A log sink that produces each AWS log record to a Kafka topic, with aiokafka.

The record's key is the execution ARN, so all events of one execution land in one
partition, in order; its value is the AWS record; its timestamp the event's. ``write``
only queues (a ``BoundedQueue``); ``run`` is the task that drains the queue: start it in
the application's task group with ``await task_group.start(sink.run)``. It sends each
batch with ``send()`` (one delivery future per record, gathered per batch, never
``send_and_wait`` per record) and counts records whose delivery failed.

On cancellation ``run`` flushes what is queued, shielded and bounded by
``close_timeout``, then stops the producer it started; anything left is counted as lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import anyio
from anyio.abc import TaskStatus

from connectors.logsinks.writer import BoundedQueue
from express.logs.sink import DropReporter, SinkStats

__all__ = ["KafkaLogSink", "LogProducer"]

_Entry = tuple[int, bytes, bytes]


class LogProducer(Protocol):
    """The part of ``aiokafka.AIOKafkaProducer`` the sink uses."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        timestamp_ms: int | None = None,
    ) -> Awaitable[Any]: ...


class KafkaLogSink:
    def __init__(
        self,
        topic: str,
        *,
        bootstrap_servers: str | None = None,
        producer: LogProducer | None = None,
        producer_options: Mapping[str, Any] | None = None,
        capacity: int = 10_000,
        batch_size: int = 512,
        linger: float = 0.05,
        close_timeout: float = 10.0,
        on_drop: DropReporter | None = None,
    ) -> None:
        if producer is None and bootstrap_servers is None:
            raise ValueError("KafkaLogSink needs bootstrap_servers or a producer")
        self.topic = topic
        self._producer = producer
        self._owns_producer = producer is None
        self._bootstrap = bootstrap_servers
        self._options = dict(producer_options or {})
        self._linger = linger
        self._close_timeout = close_timeout
        self._queue: BoundedQueue[_Entry] = BoundedQueue(
            f"kafka:{topic}", capacity=capacity, batch_size=batch_size, on_drop=on_drop
        )

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        self._queue.offer((event_timestamp_ms, line, execution_arn.encode()))

    def stats(self) -> SinkStats:
        return self._queue.stats()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        producer = self._producer
        if producer is None:
            producer = self._producer = _make_producer(self._bootstrap, self._options)
        if self._owns_producer:
            await producer.start()
        task_status.started()
        try:
            while True:
                if len(self._queue) < self._queue.batch_size:
                    # Like Kafka's linger.ms: let a batch fill before sending it.
                    await anyio.sleep(self._linger)
                await self._send_batch(producer)
                self._queue.report()
        finally:
            with anyio.CancelScope(shield=True):
                self._queue.closing = True
                with anyio.move_on_after(self._close_timeout):
                    while len(self._queue):
                        await self._send_batch(producer)
                self._queue.abandon()
                if self._owns_producer:
                    with anyio.move_on_after(self._close_timeout):
                        await producer.stop()
                self._queue.report(final=True)

    async def _send_batch(self, producer: LogProducer) -> None:
        batch = self._queue.take(self._queue.batch_size)
        if not batch:
            return
        topic = self.topic
        futures: list[Awaitable[Any]] = []
        failed = 0
        error: BaseException | None = None
        for index, (timestamp_ms, line, key) in enumerate(batch):
            try:
                futures.append(await producer.send(topic, value=line, key=key, timestamp_ms=timestamp_ms))
            except Exception as exc:
                # The producer refuses more (closed, or a fatal error): the rest is lost.
                failed, error = len(batch) - index, exc
                break
        for future in futures:
            try:
                await future
            except Exception as exc:
                failed += 1
                error = error or exc
        if error is not None:
            self._queue.failed(failed, error)
        self._queue.delivered(len(batch) - failed)


def _make_producer(bootstrap_servers: str | None, options: Mapping[str, Any]) -> LogProducer:
    from aiokafka import AIOKafkaProducer

    settings: dict[str, Any] = {"linger_ms": 20, "acks": 1, "compression_type": None}
    settings.update(options)
    factory: Callable[..., LogProducer] = AIOKafkaProducer
    return factory(bootstrap_servers=bootstrap_servers, **settings)
