"""In-memory source and sink."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from connectors.memory import MemorySink, MemorySource
from express.runtime.records import CommitRejectedError, Partition, Record

pytestmark = pytest.mark.anyio


class Listener:
    async def on_assigned(self, partitions: Iterable[Partition]) -> None:
        self.assigned = list(partitions)

    async def on_revoked(self, partitions: Iterable[Partition]) -> None:
        return None


async def test_records_come_by_partition_up_to_the_limit_and_not_from_paused_ones() -> None:
    source = MemorySource([Record("t", p, o, b"1") for p in (0, 1) for o in range(3)])
    listener = Listener()
    await source.start(listener)
    assert listener.assigned == [("t", 0), ("t", 1)]
    source.pause([("t", 0)])
    batch = await source.fetch(0, 2)
    assert list(batch) == [("t", 1)] and [r.offset for r in batch[("t", 1)]] == [0, 1]
    source.resume([("t", 0)])
    batch = await source.fetch(0, 10)
    assert {k: len(v) for k, v in batch.items()} == {("t", 0): 3, ("t", 1): 1}
    assert source.finished


async def test_an_endless_source_waits_for_pushed_records() -> None:
    source = MemorySource(finite=False)
    source.add_partition(("t", 0))
    await source.start(Listener())
    assert await source.fetch(0.01, 10) == {}
    waiting = asyncio.ensure_future(source.fetch(5.0, 10))
    await asyncio.sleep(0)
    source.push(Record("t", 0, 0, b"1"))
    batch = await asyncio.wait_for(waiting, 5.0)
    assert [r.offset for r in batch[("t", 0)]] == [0]
    assert not source.finished


async def test_commits_are_recorded_or_rejected() -> None:
    source = MemorySource()
    await source.commit({("t", 0): 3})
    assert source.committed == {("t", 0): 3} and source.commits == [{("t", 0): 3}]
    source.reject_commits = True
    with pytest.raises(CommitRejectedError):
        await source.commit({("t", 0): 4})
    assert source.committed == {("t", 0): 3}


async def test_a_manual_sink_completes_deliveries_when_told() -> None:
    sink = MemorySink(manual=True)
    first = await sink.send(b"a", b"k", [("h", b"1")])
    second = await sink.send(b"b", None, [])
    assert not first.done() and sink.unacknowledged == 2
    sink.acknowledge(1)
    assert first.done() and first.exception() is None and not second.done()
    sink.fail(OSError("no"))
    assert isinstance(second.exception(), OSError)
    assert sink.records[0].headers == {"h": b"1"} and sink.records[1].key is None
