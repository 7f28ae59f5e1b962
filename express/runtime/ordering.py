"""Ordering modes: which records of a partition must run one after another.

Records are grouped into *lanes*. A lane runs one execution at a time, in offset order;
different lanes run concurrently. The mode decides the lane of a record once, as a plain
function chosen when the pipeline is built:

``partition``  one lane per partition: a partition's records run and complete in order,
               so concurrency is at most the number of assigned partitions.
``key``        one lane per record key within a partition: records with the same key run in
               order; different keys run concurrently, so concurrency can far exceed the
               partition count. Records without a key have no lane (nothing to order by).
``unordered``  no lanes: every record runs as soon as it is fetched.

Either way, concurrency is bounded by the pipeline's in-flight limit, and the committed
offset never passes a record that is not done, whatever order records finish in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from express.runtime.records import RecordLike

__all__ = ["KEY", "ORDERINGS", "PARTITION", "UNORDERED", "LaneOf", "lane_function"]

PARTITION = "partition"
KEY = "key"
UNORDERED = "unordered"
ORDERINGS = (PARTITION, KEY, UNORDERED)

# A record's lane within its partition; None: the record runs without waiting for any other.
LaneOf = Callable[[RecordLike], Hashable | None]

_WHOLE_PARTITION = 0


def _partition_lane(record: RecordLike) -> Hashable | None:
    return _WHOLE_PARTITION


def _key_lane(record: RecordLike) -> Hashable | None:
    return record.key


def lane_function(ordering: str) -> LaneOf | None:
    """The lane function of a mode; None for ``unordered`` (no lane bookkeeping at all)."""
    if ordering == PARTITION:
        return _partition_lane
    if ordering == KEY:
        return _key_lane
    if ordering == UNORDERED:
        return None
    raise ValueError(f"unknown ordering {ordering!r}: use one of {', '.join(ORDERINGS)}")
