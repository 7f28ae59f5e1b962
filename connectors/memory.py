"""In-memory source and sink, for tests and benchmarks.

``MemorySource`` serves a fixed list of records (or ones added later with ``push``)
split over partitions, honours pause/resume, and records every commit. ``MemorySink``
keeps what it was sent; its deliveries are done at once unless ``manual`` is set, in
which case each delivery completes when the test calls ``acknowledge`` (or ``fail``).

The source is finite when built with ``finite=True``: once its records are handed out,
``finished`` turns true and the pipeline stops after finishing them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from express.runtime.records import (
    DELIVERED,
    CommitRejectedError,
    Delivery,
    Headers,
    Partition,
    RebalanceListener,
    Record,
    RecordLike,
)

__all__ = ["MemorySink", "MemorySource", "MemoryTransactions", "SentRecord"]


class MemorySource:
    """Records held in memory, one deque per partition."""

    def __init__(self, records: Iterable[Record] = (), *, finite: bool = True) -> None:
        self._queues: dict[Partition, deque[Record]] = {}
        self._finite = finite
        self._arrived: asyncio.Event | None = None
        self.paused: set[Partition] = set()
        self.commits: list[dict[Partition, int]] = []
        self.committed: dict[Partition, int] = {}
        self.reject_commits = False
        self.listener: RebalanceListener | None = None
        self.stopped = False
        for record in records:
            self.push(record)

    def push(self, record: Record) -> None:
        self._queues.setdefault((record.topic, record.partition), deque()).append(record)
        if self._arrived is not None:
            self._arrived.set()

    def add_partition(self, partition: Partition) -> None:
        self._queues.setdefault(partition, deque())

    @property
    def finished(self) -> bool:
        return self._finite and not any(self._queues.values())

    @property
    def partitions(self) -> list[Partition]:
        return sorted(self._queues)

    async def start(self, listener: RebalanceListener) -> None:
        self.listener = listener
        self._arrived = asyncio.Event()
        await listener.on_assigned(self.partitions)

    async def fetch(self, timeout: float, max_records: int) -> Mapping[Partition, Sequence[RecordLike]]:
        batch = self._take(max_records)
        if batch or timeout <= 0 or self._arrived is None or self._finite:
            return batch
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except TimeoutError:
            return {}
        return self._take(max_records)

    def _take(self, max_records: int) -> dict[Partition, list[RecordLike]]:
        batch: dict[Partition, list[RecordLike]] = {}
        for partition, queue in self._queues.items():
            if partition in self.paused or not queue:
                continue
            take = min(len(queue), max_records)
            batch[partition] = [queue.popleft() for _ in range(take)]
            max_records -= take
            if max_records == 0:
                break
        return batch

    async def keep_alive(self) -> None:
        return None

    def pause(self, partitions: Iterable[Partition]) -> None:
        self.paused.update(partitions)

    def resume(self, partitions: Iterable[Partition]) -> None:
        self.paused.difference_update(partitions)

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        if self.reject_commits:
            raise CommitRejectedError("commits are being rejected")
        self.commits.append(dict(offsets))
        self.committed.update(offsets)

    async def stop(self) -> None:
        self.stopped = True


@dataclass(frozen=True)
class SentRecord:
    value: bytes
    key: bytes | None
    headers: dict[str, bytes] = field(default_factory=dict)


class MemorySink:
    """Keeps every record sent; deliveries complete at once unless ``manual``."""

    def __init__(self, *, manual: bool = False) -> None:
        self.records: list[SentRecord] = []
        self._manual = manual
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.flushes = 0

    async def send(self, value: bytes, key: bytes | None, headers: Headers) -> Delivery:
        return self.send_nowait(value, key, headers)

    def send_nowait(self, value: bytes, key: bytes | None, headers: Headers) -> Delivery:
        self.records.append(SentRecord(value, key, dict(headers)))
        if not self._manual:
            return DELIVERED
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(delivery)
        return delivery

    @property
    def unacknowledged(self) -> int:
        return len(self._waiting)

    def acknowledge(self, count: int | None = None) -> None:
        """Complete the oldest ``count`` deliveries (all of them by default)."""
        for _ in range(len(self._waiting) if count is None else count):
            self._waiting.popleft().set_result(None)

    def fail(self, error: BaseException) -> None:
        """Refuse the oldest outstanding delivery."""
        self._waiting.popleft().set_exception(error)

    async def flush(self) -> None:
        self.flushes += 1


class MemoryTransactions:
    """Records the transaction calls a pipeline makes, in order: ``("begin",)``, ``("commit", offsets)``..."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.open = False

    async def begin(self) -> None:
        assert not self.open, "a transaction is already open"
        self.open = True
        self.calls.append(("begin",))

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        assert self.open, "no transaction is open"
        self.open = False
        self.calls.append(("commit", dict(offsets)))

    async def abort(self) -> None:
        self.open = False
        self.calls.append(("abort",))
