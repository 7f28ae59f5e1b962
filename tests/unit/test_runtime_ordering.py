"""Ordering modes map records to lanes."""

from __future__ import annotations

import pytest

from express.runtime.ordering import ORDERINGS, lane_function
from express.runtime.records import Record


def test_partition_mode_puts_every_record_of_a_partition_in_one_lane() -> None:
    lane = lane_function("partition")
    assert lane is not None
    assert lane(Record("t", 0, 0, b"", key=b"a")) == lane(Record("t", 0, 1, b"", key=b"b")) is not None


def test_key_mode_gives_each_key_its_lane_and_keyless_records_none() -> None:
    lane = lane_function("key")
    assert lane is not None
    assert lane(Record("t", 0, 0, b"", key=b"a")) != lane(Record("t", 0, 1, b"", key=b"b"))
    assert lane(Record("t", 0, 0, b"", key=b"a")) == lane(Record("t", 0, 9, b"", key=b"a"))
    assert lane(Record("t", 0, 0, b"")) is None


def test_unordered_mode_has_no_lanes_and_unknown_modes_are_refused() -> None:
    assert lane_function("unordered") is None
    assert set(ORDERINGS) == {"partition", "key", "unordered"}
    with pytest.raises(ValueError, match="use one of partition, key, unordered"):
        lane_function("random")
