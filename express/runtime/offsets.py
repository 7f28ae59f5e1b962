"""Per-partition completion tracking: which offset may be committed.

Each record fetched from a partition gets a *slot*, ``[offset, delivery]``, appended to the
partition's ``pending`` deque in fetch order. The delivery is ``None`` while the record's
execution runs; it becomes the sink's delivery for the output or dead letter. A record is
*done* when its delivery is done without error.

Invariant: ``committable`` is one past the last offset of the longest done prefix of the
partition's records, i.e. the highest offset below which every record is done. Records may
finish in any order; only the head of ``pending`` moves ``committable``.

Reaping looks at deliveries lazily (``done()`` on the head), so a delivery costs no
callback. A tracker lives exactly as long as one assignment of its partition.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from express.runtime.records import Partition

__all__ = ["DeliveryError", "OffsetTracker", "Slot"]

# [offset, delivery or None]; a list because the delivery is filled in after the fact.
Slot = list[Any]


class DeliveryError(Exception):
    """A sink refused a record after its own retries; nothing past it may be committed."""

    def __init__(self, partition: Partition, offset: int, cause: BaseException | None) -> None:
        where = f"{partition[0]}[{partition[1]}]@{offset}"
        super().__init__(f"delivery of the result of {where} failed: {cause!r}")
        self.partition = partition
        self.offset = offset


class OffsetTracker:
    """The slots of one partition's records that are not yet committable."""

    __slots__ = ("committable", "committed", "partition", "pending")

    def __init__(self, partition: Partition) -> None:
        self.partition = partition
        self.pending: deque[Slot] = deque()
        self.committable: int | None = None
        self.committed: int | None = None

    def track(self, offset: int) -> Slot:
        slot: Slot = [offset, None]
        self.pending.append(slot)
        return slot

    def reap(self) -> int:
        """Drop the done prefix, advance ``committable``; return how many slots were dropped."""
        pending = self.pending
        dropped = 0
        # Many records share a delivery (one per produced batch): each is inspected once.
        succeeded: set[Any] = set()
        while pending:
            offset, delivery = pending[0]
            if delivery not in succeeded:
                if delivery is None or not delivery.done():
                    break
                if delivery.cancelled():
                    raise DeliveryError(self.partition, offset, None)
                failure = delivery.exception()
                if failure is not None:
                    raise DeliveryError(self.partition, offset, failure)
                succeeded.add(delivery)
            pending.popleft()
            self.committable = offset + 1
            dropped += 1
        return dropped

    def due(self) -> int | None:
        """The offset to commit now, or None when nothing new is committable."""
        if self.committable is not None and self.committable != self.committed:
            return self.committable
        return None

    def head_delivery(self) -> Any:
        """The delivery the next commit waits for (None while that record still runs)."""
        return self.pending[0][1] if self.pending else None
