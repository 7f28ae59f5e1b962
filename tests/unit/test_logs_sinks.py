"""Log sinks: bounded non-blocking buffering, loss accounting, the local store, stdout, Kafka."""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from connectors.logsinks import (
    BatchWriter,
    KafkaLogSink,
    LocalLogStore,
    MemoryLogSink,
    StdoutLogSink,
    open_log_sink,
)
from express.errors import UsageError
from express.logs.layout import VALIDATION_STREAM, decode_event, encode_event, group_dir

DEADLINE = 10.0
T = 1713959670672  # 2024-04-24T11:54:30.672Z
ARN = "arn:aws:states:us-east-1:111111111111:express:Router:e1:0001"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def wait_for(condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """Wait until ``condition()`` holds, failing the test at the deadline."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        pause.wait(0.005)


class Drops:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, reason: str, count: int) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + count


# -- BatchWriter ---------------------------------------------------------------------


def test_writer_delivers_everything_in_order_in_bounded_batches() -> None:
    batches: list[list[int]] = []
    writer: BatchWriter[int] = BatchWriter("t", batches.append, capacity=1000, batch_size=7, linger=0.01)
    for n in range(100):
        writer.offer(n)
    writer.close()
    assert [n for batch in batches for n in batch] == list(range(100))
    assert max(len(batch) for batch in batches) <= 7
    stats = writer.stats()
    assert (stats.written, stats.queued, stats.dropped_total) == (100, 0, 0)


def test_full_buffer_drops_without_blocking_and_reports() -> None:
    release = threading.Event()
    drops = Drops()
    delivered: list[int] = []

    def deliver(batch: list[int]) -> None:
        release.wait(DEADLINE)
        delivered.extend(batch)

    writer: BatchWriter[int] = BatchWriter(
        "slow", deliver, capacity=5, batch_size=1, linger=0.01, on_drop=drops
    )
    writer.offer(0)
    wait_for(lambda: writer.stats().queued == 0)  # the thread holds item 0, stuck in deliver
    started = time.monotonic()
    for n in range(1, 21):
        writer.offer(n)
    assert time.monotonic() - started < 1.0
    assert writer.stats().queued == 5
    assert writer.stats().dropped["full"] == 15
    release.set()
    writer.close()
    assert delivered == [0, 1, 2, 3, 4, 5]
    assert drops.counts == {"full": 15}


def test_failing_delivery_is_counted_and_warned(caplog: pytest.LogCaptureFixture) -> None:
    drops = Drops()

    def deliver(batch: list[int]) -> None:
        raise OSError("disk full")

    with caplog.at_level(logging.WARNING, logger="express.logs"):
        writer: BatchWriter[int] = BatchWriter("broken", deliver, batch_size=2, linger=0.01, on_drop=drops)
        for n in range(5):
            writer.offer(n)
        writer.close()
    assert writer.stats().dropped["failed"] == 5
    assert drops.counts == {"failed": 5}
    assert "failed to deliver: OSError: disk full" in caplog.text
    assert "dropped 5 log events (failed: 5)" in caplog.text


def test_close_gives_up_on_stuck_delivery_and_counts_the_rest() -> None:
    release = threading.Event()

    def deliver(batch: list[int]) -> None:
        release.wait(DEADLINE)

    writer: BatchWriter[int] = BatchWriter("stuck", deliver, batch_size=1, linger=0.01)
    writer.offer(0)
    wait_for(lambda: writer.stats().queued == 0)
    writer.offer(1)
    writer.offer(2)
    writer.close(timeout=0.05)
    release.set()
    assert writer.stats().dropped["closed"] == 2
    writer.offer(3)  # after close: counted, not kept
    assert writer.stats().dropped["closed"] == 3


def test_entries_of_many_lines_count_as_their_lines() -> None:
    """An execution's lines are one entry; capacity, written and dropped count lines."""
    release = threading.Event()
    drops = Drops()
    delivered: list[tuple[str, int]] = []

    def deliver(batch: list[tuple[str, int]]) -> None:
        release.wait(DEADLINE)
        delivered.extend(batch)

    writer: BatchWriter[tuple[str, int]] = BatchWriter(
        "lines",
        deliver,
        capacity=10,
        batch_size=1,
        linger=0.01,
        on_drop=drops,
        lines_of=lambda entry: entry[1],
    )
    writer.offer(("first", 3), 3)
    wait_for(lambda: writer.stats().queued == 0)  # the thread holds it, stuck in deliver
    writer.offer(("second", 6), 6)
    writer.offer(("third", 5), 5)  # 6 + 5 > 10: dropped whole
    writer.offer(("fourth", 4), 4)
    assert (writer.stats().queued, writer.stats().dropped["full"]) == (10, 5)
    release.set()
    writer.close()
    assert delivered == [("first", 3), ("second", 6), ("fourth", 4)]
    assert (writer.stats().written, writer.stats().queued) == (13, 0)
    assert drops.counts == {"full": 5}


def test_entries_left_at_close_count_as_their_lines() -> None:
    release = threading.Event()

    def deliver(batch: list[tuple[str, int]]) -> None:
        release.wait(DEADLINE)

    writer: BatchWriter[tuple[str, int]] = BatchWriter(
        "stuck-lines", deliver, batch_size=1, linger=0.01, lines_of=lambda entry: entry[1]
    )
    writer.offer(("held", 1))
    wait_for(lambda: writer.stats().queued == 0)
    writer.offer(("a", 4), 4)
    writer.offer(("b", 7), 7)
    writer.close(timeout=0.05)
    release.set()
    assert writer.stats().dropped["closed"] == 11
    writer.offer(("late", 2), 2)
    assert writer.stats().dropped["closed"] == 13


def test_a_writer_lowers_the_switch_interval_and_never_raises_it() -> None:
    previous = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        BatchWriter("a", lambda batch: None).close()
        assert sys.getswitchinterval() == pytest.approx(0.001)
        sys.setswitchinterval(0.0005)
        BatchWriter("b", lambda batch: None).close()
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        sys.setswitchinterval(previous)


def test_writer_rejects_nonsense_bounds() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BatchWriter("x", lambda batch: None, capacity=0)


# -- LocalLogStore -------------------------------------------------------------------


def _store_lines(folder: Path) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    streams = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != VALIDATION_STREAM:
            name = path.relative_to(folder).as_posix()
            streams[name] = [decode_event(line) for line in path.read_bytes().splitlines()]
    return streams


def _line(event_id: int) -> bytes:
    return b'{"id":"%d","type":"PassStateEntered","execution_arn":"%s"}' % (event_id, ARN.encode())


def test_store_names_streams_as_aws_does_and_frames_events(tmp_path: Path) -> None:
    with LocalLogStore(tmp_path, "/aws/vendedlogs/states/Router-Logs") as store:
        store.write(T, _line(1), "Router", ARN)
        store.write(T + 1, _line(2), "Router", ARN)
        store.write(T + 60_000, _line(3), "Router", ARN)  # the next minute: the next stream
        store.write(T, _line(1), "Other", ARN)
    folder = tmp_path / "%2Faws%2Fvendedlogs%2Fstates%2FRouter-Logs"
    assert folder == group_dir(tmp_path, "/aws/vendedlogs/states/Router-Logs")
    assert (folder / VALIDATION_STREAM).is_file()
    streams = _store_lines(folder)
    assert list(streams) == [
        "states/Other/2024-04-24-11-54/00000000",
        "states/Router/2024-04-24-11-54/00000000",
        "states/Router/2024-04-24-11-55/00000000",
    ]
    assert [(ts, record["id"]) for ts, record in streams["states/Router/2024-04-24-11-54/00000000"]] == [
        (T, "1"),
        (T + 1, "2"),
    ]
    raw = (folder / "states/Router/2024-04-24-11-55/00000000").read_bytes()
    assert raw == b'{"timestamp":%d,"message":%s}\n' % (T + 60_000, _line(3))
    assert orjson.loads(raw)["message"] == orjson.loads(_line(3))
    assert store.stats().written == 4


def test_store_takes_an_executions_framed_lines_as_the_same_bytes(tmp_path: Path) -> None:
    stamps = [T, T + 1, T + 2]
    with LocalLogStore(tmp_path, "raw") as raw, LocalLogStore(tmp_path, "framed") as framed:
        for n, stamp in enumerate(stamps):
            raw.write(stamp, _line(n), "Router", ARN)
        framed.write_framed_batch(
            stamps, b"".join(encode_event(stamp, _line(n)) for n, stamp in enumerate(stamps)), "Router", ARN
        )
        assert framed.stats().queued in {0, 3}  # one entry of three lines
    assert _store_lines(group_dir(tmp_path, "raw")) == _store_lines(group_dir(tmp_path, "framed"))
    stream = "states/Router/2024-04-24-11-54/00000000"
    assert (group_dir(tmp_path, "raw") / stream).read_bytes() == (
        group_dir(tmp_path, "framed") / stream
    ).read_bytes()
    assert framed.stats().written == 3


def test_an_executions_lines_across_a_minute_go_to_each_minutes_stream(tmp_path: Path) -> None:
    boundary = T - T % 60_000 + 60_000
    stamps = [boundary - 1, boundary - 1, boundary, boundary + 1, boundary - 1]  # the clock may step back
    lines = b"".join(encode_event(stamp, _line(n)) for n, stamp in enumerate(stamps))
    with LocalLogStore(tmp_path, "g") as store:
        store.write_framed_batch(stamps, lines, "Router", ARN)
    streams = _store_lines(group_dir(tmp_path, "g"))
    assert {name: [record["id"] for _, record in events] for name, events in streams.items()} == {
        "states/Router/2024-04-24-11-54/00000000": ["0", "1", "4"],
        "states/Router/2024-04-24-11-55/00000000": ["2", "3"],
    }
    assert store.stats().written == 5


def test_a_batch_counts_its_lines_against_the_capacity(tmp_path: Path) -> None:
    with LocalLogStore(tmp_path, "g", capacity=4, linger=60) as store:
        framed = b"".join(encode_event(T, _line(n)) for n in range(3))
        store.write_framed_batch([T] * 3, framed, "Router", ARN)
        store.write_framed_batch([T] * 3, framed, "Router", ARN)  # 6 lines > 4: dropped whole
        assert (store.stats().queued, store.stats().dropped["full"]) == (3, 3)
    assert store.stats().written == 3


def _execution_lines(first: int, count: int, pad: int = 0) -> bytes:
    """Framed lines of ``count`` events, ids from ``first``, each padded by ``pad`` bytes."""
    filler = "x" * pad
    return b"".join(
        encode_event(T, b'{"id":"%d","pad":"%s"}' % (first + n, filler.encode())) for n in range(count)
    )


def test_store_gathers_many_executions_into_chunks_in_order(tmp_path: Path) -> None:
    # About 3 MiB from 3,000 executions: several chunks, each buffer written and reused.
    with LocalLogStore(tmp_path, "g", linger=60) as store:
        for execution in range(3000):
            store.write_framed_batch([T] * 10, _execution_lines(10 * execution, 10, 60), "Router", ARN)
    events = _store_lines(group_dir(tmp_path, "g"))["states/Router/2024-04-24-11-54/00000000"]
    assert [int(record["id"]) for _, record in events] == list(range(30_000))
    assert store.stats().written == 30_000
    assert store.stats().dropped_total == 0


def test_store_writes_an_execution_larger_than_a_chunk_in_its_place(tmp_path: Path) -> None:
    huge = _execution_lines(1, 6, 300_000)  # about 1.8 MB: more than a chunk holds
    with LocalLogStore(tmp_path, "g", linger=60) as store:
        store.write_framed_batch([T], _execution_lines(0, 1), "Router", ARN)
        store.write_framed_batch([T] * 6, huge, "Router", ARN)
        store.write_framed_batch([T], _execution_lines(7, 1), "Router", ARN)
    stream = group_dir(tmp_path, "g") / "states/Router/2024-04-24-11-54/00000000"
    assert stream.read_bytes() == _execution_lines(0, 1) + huge + _execution_lines(7, 1)
    assert store.stats().written == 8


def test_store_writes_gathered_lines_after_the_linger_without_more_writes(tmp_path: Path) -> None:
    with LocalLogStore(tmp_path, "g", linger=0.05) as store:
        store.write_framed_batch([T] * 2, _execution_lines(0, 2), "Router", ARN)
        stream = group_dir(tmp_path, "g") / "states/Router/2024-04-24-11-54/00000000"
        wait_for(lambda: stream.is_file() and stream.read_bytes() == _execution_lines(0, 2))
        assert store.stats().written == 2


def test_store_keeps_each_machines_lines_in_its_stream_when_writes_alternate(tmp_path: Path) -> None:
    with LocalLogStore(tmp_path, "g", linger=60) as store:
        for n in range(100):
            store.write_framed_batch([T], _execution_lines(n, 1), "Router" if n % 2 else "Other", ARN)
    streams = _store_lines(group_dir(tmp_path, "g"))
    assert [int(r["id"]) for _, r in streams["states/Other/2024-04-24-11-54/00000000"]] == list(
        range(0, 100, 2)
    )
    assert [int(r["id"]) for _, r in streams["states/Router/2024-04-24-11-54/00000000"]] == list(
        range(1, 100, 2)
    )


def test_store_rotates_by_size(tmp_path: Path) -> None:
    with LocalLogStore(tmp_path, "g", max_stream_bytes=300, batch_size=1) as store:
        for n in range(6):
            store.write(T + n, _line(n), "Router", ARN)
    streams = _store_lines(group_dir(tmp_path, "g"))
    assert len(streams) > 1
    assert next(iter(streams)) == "states/Router/2024-04-24-11-54/00000000"
    assert [name.rsplit("/", 1)[1] for name in streams] == [f"{n:08d}" for n in range(len(streams))]
    assert [record["id"] for events in streams.values() for _, record in events] == [str(n) for n in range(6)]


def test_store_never_appends_to_another_writers_stream(tmp_path: Path) -> None:
    taken = group_dir(tmp_path, "g") / "states/Router/2024-04-24-11-54/00000000"
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"someone else's\n")
    with LocalLogStore(tmp_path, "g") as store:
        store.write(T, _line(1), "Router", ARN)
    assert taken.read_bytes() == b"someone else's\n"
    assert (taken.parent / "00000001").is_file()


def test_store_retention_deletes_expired_buckets_only(tmp_path: Path) -> None:
    now = [T / 1000]
    expired = group_dir(tmp_path, "g") / "states/Router/2024-04-22-11-54"
    with LocalLogStore(tmp_path, "g", retention_days=1, clock=lambda: now[0], sweep_interval=60) as store:
        store.write(T - 2 * 86_400_000, _line(1), "Router", ARN)  # two days old
        store.write(T - 3_600_000, _line(2), "Router", ARN)  # an hour old
        store.write(T, _line(3), "Router", ARN)
        wait_for(lambda: store.stats().written == 3)
        assert expired.is_dir()  # not swept before the interval has passed
        now[0] += 60
        wait_for(lambda: not expired.exists())
    remaining = _store_lines(group_dir(tmp_path, "g"))
    assert sorted(record["id"] for events in remaining.values() for _, record in events) == ["2", "3"]


def test_store_expires_earlier_runs_streams_at_start(tmp_path: Path) -> None:
    old = group_dir(tmp_path, "g") / "states/Router/2024-04-01-00-00/00000000"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"")
    LocalLogStore(tmp_path, "g", retention_days=7, clock=lambda: T / 1000).close()
    assert not old.parent.exists()
    assert not (group_dir(tmp_path, "g") / "states/Router").exists()


def test_store_encodes_unsafe_state_machine_names(tmp_path: Path) -> None:
    with LocalLogStore(tmp_path, "g") as store:
        store.write(T, _line(1), "../escape", ARN)
    assert list(_store_lines(group_dir(tmp_path, "g"))) == ["states/..%2Fescape/2024-04-24-11-54/00000000"]


def test_store_counts_write_failures(tmp_path: Path) -> None:
    drops = Drops()
    store = LocalLogStore(tmp_path, "g", on_drop=drops)
    (group_dir(tmp_path, "g") / "states").write_bytes(b"a file where a folder must go")
    store.write(T, _line(1), "Router", ARN)
    store.close()
    assert store.stats().dropped["failed"] == 1
    assert drops.counts == {"failed": 1}


# -- StdoutLogSink and MemoryLogSink -------------------------------------------------


def test_stdout_sink_prints_one_record_per_line() -> None:
    out = io.BytesIO()
    with StdoutLogSink(out) as sink:
        sink.write(T, _line(1), "Router", ARN)
        sink.write(T, _line(2), "Router", ARN)
    assert out.getvalue() == _line(1) + b"\n" + _line(2) + b"\n"


def test_stdout_sink_prints_an_executions_lines_together_and_counts_them() -> None:
    out = io.BytesIO()
    with StdoutLogSink(out) as sink:
        sink.write(T, _line(1), "Router", ARN)
        sink.write_batch([T, T + 1], _line(2) + b"\n" + _line(3) + b"\n", "Router", ARN)
    assert out.getvalue() == b"".join(_line(n) + b"\n" for n in (1, 2, 3))
    assert sink.stats().written == 3


def test_stdout_sink_prints_many_executions_in_order_through_chunks() -> None:
    out = io.BytesIO()
    executions = [b"".join(_line(10 * n + k) + b"\n" for k in range(10)) for n in range(2000)]
    with StdoutLogSink(out, linger=60) as sink:
        for lines in executions:
            sink.write_batch([T] * 10, lines, "Router", ARN)
        sink.write_batch([T], b'{"big":"' + b"x" * 400_000 + b'"}\n', "Router", ARN)  # beyond a chunk
        sink.write(T, _line(-1), "Router", ARN)
    assert out.getvalue() == b"".join(executions) + b'{"big":"' + b"x" * 400_000 + b'"}\n' + _line(-1) + b"\n"
    assert sink.stats().written == 20_002


def test_stdout_sink_prints_after_the_linger_without_more_writes() -> None:
    out = io.BytesIO()
    with StdoutLogSink(out, linger=0.05) as sink:
        sink.write(T, _line(1), "Router", ARN)
        wait_for(lambda: sink.stats().written == 1)
        assert out.getvalue() == _line(1) + b"\n"


def test_memory_sink_keeps_an_executions_lines_one_by_one() -> None:
    sink = MemoryLogSink(capacity=2)
    sink.write_batch([T, T + 1, T + 2], b"".join(_line(n) + b"\n" for n in range(3)), "Router", ARN)
    assert sink.entries == [(T, _line(0), "Router", ARN), (T + 1, _line(1), "Router", ARN)]
    assert sink.stats().dropped["full"] == 1


def test_memory_sink_is_bounded() -> None:
    sink = MemoryLogSink(capacity=2)
    for n in range(3):
        sink.write(T, _line(n), "Router", ARN)
    assert len(sink.lines) == 2
    assert sink.stats().dropped == {"full": 1, "failed": 0, "closed": 0}


# -- KafkaLogSink --------------------------------------------------------------------


class FakeProducer:
    """Records what is sent; fails deliveries of values listed in ``fail``."""

    def __init__(self, expected: int, fail: frozenset[bytes] = frozenset()) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, int | None]] = []
        self.expected = expected
        self.fail = fail
        self.done = anyio.Event()

    async def start(self) -> None:
        raise AssertionError("an injected producer is started by its owner")

    async def stop(self) -> None:
        raise AssertionError("an injected producer is stopped by its owner")

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        timestamp_ms: int | None = None,
    ) -> Any:
        self.sent.append((topic, value, key, timestamp_ms))
        if len(self.sent) >= self.expected:
            self.done.set()
        delivery: Any = _Delivery(value in self.fail)
        return delivery


class _Delivery:
    def __init__(self, fails: bool) -> None:
        self.fails = fails

    def __await__(self) -> Any:
        if self.fails:
            raise RuntimeError("broker said no")
        return None
        yield  # a generator, hence awaitable


@pytest.mark.anyio
async def test_kafka_sink_keys_records_by_execution_and_counts_failures() -> None:
    producer = FakeProducer(expected=3, fail=frozenset({_line(2)}))
    drops = Drops()
    sink = KafkaLogSink("express-logs", producer=producer, linger=0.001, on_drop=drops)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            await group.start(sink.run)
            for n in range(1, 4):
                sink.write(T + n, _line(n), "Router", ARN)
            await producer.done.wait()
            group.cancel_scope.cancel()
    assert producer.sent == [("express-logs", _line(n), ARN.encode(), T + n) for n in range(1, 4)]
    assert sink.stats().written == 2
    assert sink.stats().dropped["failed"] == 1
    assert drops.counts == {"failed": 1}


@pytest.mark.anyio
async def test_kafka_sink_flushes_on_shutdown() -> None:
    producer = FakeProducer(expected=10**6)
    sink = KafkaLogSink("logs", producer=producer, linger=DEADLINE)  # never flushes on its own
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            await group.start(sink.run)
            for n in range(5):
                sink.write(T, _line(n), "Router", ARN)
            group.cancel_scope.cancel()
    assert [value for _, value, _, _ in producer.sent] == [_line(n) for n in range(5)]
    assert sink.stats().written == 5


def test_kafka_sink_needs_a_broker_or_a_producer() -> None:
    with pytest.raises(ValueError, match="bootstrap_servers or a producer"):
        KafkaLogSink("logs")


# -- open_log_sink -------------------------------------------------------------------


def test_destinations_name_their_sinks(tmp_path: Path) -> None:
    store = open_log_sink(str(tmp_path / "logs"), log_group="g", retention_days=3)
    assert isinstance(store, LocalLogStore) and store.folder == group_dir(tmp_path / "logs", "g")
    store.close()
    store = open_log_sink(f"file:{tmp_path}", log_group="g")
    assert isinstance(store, LocalLogStore) and store.root == tmp_path
    store.close()
    stdout = open_log_sink("stdout", log_group="g")
    assert isinstance(stdout, StdoutLogSink)
    stdout.close()
    kafka = open_log_sink("kafka:express-logs", log_group="g", bootstrap_servers="127.0.0.1:9092")
    assert isinstance(kafka, KafkaLogSink) and kafka.topic == "express-logs"


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("kafka:", "needs a topic"),
        ("kafka:logs", "set --bootstrap-servers"),
        ("s3://bucket/logs", "unknown log destination"),
        ("file:", "unknown log destination"),
    ],
)
def test_bad_destinations_say_how_to_fix(destination: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        open_log_sink(destination, log_group="g")


@pytest.mark.anyio
async def test_kafka_sink_against_a_real_broker(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    from aiokafka import AIOKafkaConsumer

    topic = kafka_topic("logs", partitions=3)
    arns = [f"{ARN}-{n}" for n in range(4)]
    sink = KafkaLogSink(topic, bootstrap_servers=kafka_bootstrap, linger=0.01)
    sent = [(T + n, _line(n), arns[n % 4]) for n in range(40)]
    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            await group.start(sink.run)
            for timestamp_ms, line, arn in sent:
                sink.write(timestamp_ms, line, "Router", arn)
            while sink.stats().written < len(sent):
                await anyio.sleep(0.01)  # yields to the sink's task; the deadline bounds the wait
            group.cancel_scope.cancel()
        assert sink.stats().dropped_total == 0
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            received: list[Any] = []
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=1000)
                received += [message for messages in batches.values() for message in messages]
        finally:
            await consumer.stop()
    by_arn: dict[bytes, list[tuple[int, bytes, int]]] = {}
    for message in received:
        by_arn.setdefault(message.key, []).append((message.offset, message.value, message.timestamp))
    assert len(by_arn) == 4
    for n, arn in enumerate(arns):
        # One execution's events: one partition, in the order they were written.
        events = sorted(by_arn[arn.encode()])
        assert [(value, ts) for _, value, ts in events] == [
            (line, ts) for ts, line, a in sent if a == arns[n]
        ]
    assert len({message.partition for message in received if message.key == arns[0].encode()}) == 1
