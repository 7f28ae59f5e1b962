"""The contracts between the stream runtime and its connectors.

A *source* hands out batches of records grouped by partition, can pause and resume
partitions, and stores committed offsets. A *sink* accepts encoded records and returns a
*delivery*: a future-like object that is done once the destination has the record.

Partitions are ``(topic, partition)`` tuples. aiokafka's ``TopicPartition`` is a named tuple
equal to the plain tuple, so Kafka connectors can hand over the records and mappings they
get from aiokafka unchanged, and the runtime's dictionaries find them.

Invariants every source keeps:
  * records of one partition arrive in increasing offset order;
  * ``commit({p: n})`` means "every record of p below offset n is done";
  * the listener learns about revoked partitions before they go to anyone else, and
    about assigned partitions before any of their records are fetched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

__all__ = [
    "CommitRejectedError",
    "ConsumerProbe",
    "DELIVERED",
    "Delivery",
    "Headers",
    "Partition",
    "Record",
    "RecordLike",
    "RebalanceListener",
    "Sink",
    "Source",
    "Transactions",
]

Partition: TypeAlias = tuple[str, int]
Headers: TypeAlias = Sequence[tuple[str, bytes]]


class RecordLike(Protocol):
    """What the runtime reads from an input record (aiokafka's ``ConsumerRecord`` fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...  # epoch milliseconds
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Record:
    """An input record from a source that is not Kafka (files, memory)."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp: int = 0
    headers: Sequence[tuple[str, bytes]] = field(default=())


class Delivery(Protocol):
    """A record handed to a sink: ``done()`` once the destination acknowledged or refused it."""

    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def exception(self) -> BaseException | None: ...
    def add_done_callback(self, fn: Any, /) -> None: ...


class _Delivered:
    """The delivery of a sink that writes synchronously: done at once, never failed."""

    __slots__ = ()

    def done(self) -> bool:
        return True

    def cancelled(self) -> bool:
        return False

    def exception(self) -> BaseException | None:
        return None

    def add_done_callback(self, fn: Any, /) -> None:
        fn(self)


DELIVERED: Delivery = _Delivered()


class Sink(Protocol):
    """Where encoded records go. ``send`` may wait for buffer space, never for delivery.

    ``send_nowait`` hands a record over without a coroutine when there is room at once and
    returns its delivery; it returns None, having taken nothing, when the caller must
    ``await send`` instead. The stream loop calls it for every record, so it is the path
    that counts.
    """

    def send(self, value: bytes, key: bytes | None, headers: Headers) -> Awaitable[Delivery]: ...

    def send_nowait(self, value: bytes, key: bytes | None, headers: Headers) -> Delivery | None: ...

    async def flush(self) -> None:
        """Wait until every record sent so far is delivered or refused."""
        ...


class RebalanceListener(Protocol):
    async def on_assigned(self, partitions: Iterable[Partition]) -> None: ...
    async def on_revoked(self, partitions: Iterable[Partition]) -> None: ...


class Source(Protocol):
    """Where records come from."""

    @property
    def finished(self) -> bool:
        """True once a finite source (a file) has handed out its last record."""
        ...

    async def start(self, listener: RebalanceListener) -> None:
        """Connect; report the first assignment to ``listener`` (now or once the group forms)."""
        ...

    async def fetch(self, timeout: float, max_records: int) -> Mapping[Partition, Sequence[RecordLike]]:
        """Up to ``max_records`` records by partition; waits up to ``timeout`` seconds for any."""
        ...

    async def keep_alive(self) -> None:
        """Show the group this member is alive while every partition is paused."""
        ...

    def pause(self, partitions: Iterable[Partition]) -> None: ...
    def resume(self, partitions: Iterable[Partition]) -> None: ...

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Store, per partition, the offset below which every record is done."""
        ...

    async def stop(self) -> None: ...


class ConsumerProbe(Protocol):
    """What a group consumer can tell about its partitions, asked off the hot path (for metrics).

    Each answer is None when the consumer does not know (yet), or, for ``fetch_age``, when
    no fetch is due (the partition is paused).
    """

    def end_offset(self, partition: Partition) -> int | None:
        """The offset the next record appended to the partition will get, as last seen."""
        ...

    def fetch_age(self, partition: Partition) -> float | None:
        """Seconds since the broker last answered a fetch of the partition (since assignment)."""
        ...

    def generation(self) -> int | None:
        """The consumer group's generation this member joined."""
        ...


class Transactions(Protocol):
    """Outputs and input offsets committed atomically (Kafka transactions: exactly-once)."""

    async def begin(self) -> None: ...

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Add ``offsets`` to the open transaction and commit it; the caller begins the next."""
        ...

    async def abort(self) -> None: ...


class CommitRejectedError(Exception):
    """The source refused a commit because the partitions moved to another group member.

    Not fatal: the new owner processes the records again from its committed offset.
    """
