"""JSON-lines source and sink."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pytest

from connectors.files import LinesSink, LinesSource
from express.runtime.records import DELIVERED, Partition

pytestmark = pytest.mark.anyio


class Listener:
    def __init__(self) -> None:
        self.assigned: list[Partition] = []

    async def on_assigned(self, partitions: Iterable[Partition]) -> None:
        self.assigned.extend(partitions)

    async def on_revoked(self, partitions: Iterable[Partition]) -> None:
        raise AssertionError("a file is never revoked")


async def test_each_line_is_a_record_whose_offset_is_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "events.v1.jsonl"
    path.write_bytes(b'{"a": 1}\r\n\n   \n{"a": 2}\n{"a": 3}')
    source = LinesSource(path)
    listener = Listener()
    await source.start(listener)
    assert listener.assigned == [("events.v1.jsonl", 0)]
    batch = await source.fetch(1.0, 2)
    assert [(r.offset, r.value) for r in batch[("events.v1.jsonl", 0)]] == [
        (0, b'{"a": 1}'),
        (3, b'{"a": 2}'),
    ]
    assert not source.finished
    batch = await source.fetch(1.0, 10)
    assert [(r.offset, r.value) for r in batch[("events.v1.jsonl", 0)]] == [(4, b'{"a": 3}')]
    assert source.finished
    assert await source.fetch(1.0, 10) == {}
    await source.stop()


async def test_a_paused_source_hands_out_nothing(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"1\n2\n")
    source = LinesSource(path)
    await source.start(Listener())
    source.pause([("in.jsonl", 0)])
    assert await source.fetch(0, 10) == {}
    source.resume([("in.jsonl", 0)])
    assert len((await source.fetch(0, 10))[("in.jsonl", 0)]) == 2
    await source.stop()


async def test_a_pipe_is_read_in_a_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys

    read_end, write_end = os.pipe()
    os.write(write_end, b'{"x": 1}\n{"x": 2}\n')
    os.close(write_end)
    with open(read_end, "rb") as pipe:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(pipe))
        source = LinesSource(None)
        assert source.topic == "stdin"
        await source.start(Listener())
        assert source._threaded
        batch = await source.fetch(1.0, 10)
        assert [r.value for r in batch[("stdin", 0)]] == [b'{"x": 1}', b'{"x": 2}']
        assert await source.fetch(1.0, 10) == {} and source.finished


async def test_the_sink_writes_one_line_per_record_and_creates_its_directory(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.jsonl"
    sink = LinesSink(target)
    assert await sink.send(b'{"a":1}', None, []) is DELIVERED
    await sink.send(b'{"a":2}', b"k", [("h", b"v")])
    await sink.flush()
    sink.close()
    assert target.read_bytes() == b'{"a":1}\n{"a":2}\n'
    assert sink.written == 2


async def test_a_sink_on_a_given_stream_never_closes_it() -> None:
    stream = io.BytesIO()
    sink = LinesSink(stream=stream)
    await sink.send(b"x", None, [])
    sink.close()
    assert not stream.closed and stream.getvalue() == b"x\n"
