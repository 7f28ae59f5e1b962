"""Completion tracking: the committable offset only covers a done prefix."""

from __future__ import annotations

import asyncio

import pytest

from express.runtime.offsets import DeliveryError, OffsetTracker
from express.runtime.records import DELIVERED

pytestmark = pytest.mark.anyio


async def test_out_of_order_completions_commit_only_the_done_prefix() -> None:
    loop = asyncio.get_running_loop()
    tracker = OffsetTracker(("t", 0))
    slots = [tracker.track(offset) for offset in (10, 11, 13)]  # offsets may have gaps
    futures = [loop.create_future() for _ in slots]
    for slot, future in zip(slots, futures, strict=True):
        slot[1] = future
    assert tracker.reap() == 0 and tracker.due() is None
    futures[1].set_result(None)
    futures[2].set_result(None)
    assert tracker.reap() == 0 and tracker.due() is None
    futures[0].set_result(None)
    assert tracker.reap() == 3
    assert tracker.due() == 14
    tracker.committed = 14
    assert tracker.due() is None


async def test_a_record_still_running_holds_the_commit_back() -> None:
    tracker = OffsetTracker(("t", 0))
    first, second = tracker.track(0), tracker.track(1)
    second[1] = DELIVERED
    assert tracker.reap() == 0  # offset 0 has no delivery yet: its execution still runs
    first[1] = DELIVERED
    assert tracker.reap() == 2 and tracker.due() == 2


async def test_a_failed_or_cancelled_delivery_is_an_error_and_stays_uncommitted() -> None:
    loop = asyncio.get_running_loop()
    tracker = OffsetTracker(("t", 3))
    ok, bad = tracker.track(5), tracker.track(6)
    ok[1] = DELIVERED
    failed: asyncio.Future[None] = loop.create_future()
    failed.set_exception(OSError("gone"))
    bad[1] = failed
    with pytest.raises(DeliveryError, match=r"t\[3\]@6.*gone") as caught:
        tracker.reap()
    assert (caught.value.partition, caught.value.offset) == (("t", 3), 6)
    assert tracker.due() == 6

    cancelled: asyncio.Future[None] = loop.create_future()
    cancelled.cancel()
    bad[1] = cancelled
    with pytest.raises(DeliveryError):
        tracker.reap()
    assert tracker.due() == 6


def test_head_delivery_is_what_the_next_commit_waits_for() -> None:
    tracker = OffsetTracker(("t", 0))
    assert tracker.head_delivery() is None
    slot = tracker.track(0)
    assert tracker.head_delivery() is None
    slot[1] = DELIVERED
    assert tracker.head_delivery() is DELIVERED
