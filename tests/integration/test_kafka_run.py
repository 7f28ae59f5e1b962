"""``express run`` against a real Kafka broker: delivery, dead letters, order, restarts, scale.

In-process tests drive ``Pipeline`` with the Kafka connectors; process tests run the
``express run`` command and signal it the way an operator or an orchestrator would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka_streams import (
    HERE,
    Worker,
    committed,
    count,
    duplicates,
    end_offsets,
    header,
    produce,
    read_all,
    source_of,
    wait_all_committed,
    wait_until,
)

import express
from connectors.kafka import KafkaProducer, KafkaProducerSettings, KafkaSource, KafkaSourceSettings
from express.runtime.envelope import MAX_INPUT_BYTES
from express.runtime.pipeline import Pipeline, PipelineSettings

pytestmark = [pytest.mark.kafka, pytest.mark.anyio]

DEFINITION = HERE / "workflows" / "stream.asl.json"
HANDLERS = HERE / "workflows" / "stream_handlers.py"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _workflow(**handlers: Any) -> express.Workflow:
    registry = express.load_handlers(HANDLERS)
    for name, handler in handlers.items():
        registry.register(name, handler)
    return express.compile_workflow(DEFINITION.read_bytes(), handlers=registry, name="stream")


@contextlib.asynccontextmanager
async def running_pipeline(
    bootstrap: str,
    workflow: express.Workflow,
    topics: dict[str, str],
    group: str,
    *,
    fetch_bytes: int = 1_048_576,
    **settings: Any,
) -> AsyncIterator[Pipeline]:
    """A pipeline over the Kafka connectors, running as a task until the block ends."""
    producer = KafkaProducer(KafkaProducerSettings(bootstrap_servers=bootstrap))
    await producer.start()
    try:
        output = await producer.sink(topics["out"])
        dead = await producer.sink(topics["dlq"]) if "dlq" in topics else output
        source = KafkaSource(
            KafkaSourceSettings(
                bootstrap_servers=bootstrap,
                topics=(topics["in"],),
                group_id=group,
                max_partition_fetch_bytes=fetch_bytes,
            )
        )
        pipeline = Pipeline(workflow, source, output, dead, PipelineSettings(commit_interval=0.2, **settings))
        task = asyncio.ensure_future(pipeline.run())
        try:
            yield pipeline
        finally:
            pipeline.stop()
            await asyncio.wait_for(task, 60)
    finally:
        await producer.stop()


def _run_args(bootstrap: str, topics: dict[str, str], group: str, *extra: str) -> list[str]:
    return [
        str(DEFINITION),
        "--handlers", str(HANDLERS),
        "--bootstrap-servers", bootstrap,
        "--input-topic", topics["in"],
        "--output-topic", topics["out"],
        "--dlq-topic", topics["dlq"],
        "--group-id", group,
        "--commit-interval", "0.2",
        "--session-timeout-ms", "3000",
        "--heartbeat-interval-ms", "500",
        *extra,
    ]  # fmt: skip


async def test_n_records_in_n_outputs_out_with_matching_keys(kafka_bootstrap: str, kafka_topic: Any) -> None:
    topics = {"in": kafka_topic("in", 4), "out": kafka_topic("out", 3), "dlq": kafka_topic("dlq")}
    n = 600
    await produce(
        kafka_bootstrap, topics["in"], ((b"key-%d" % (i % 37), orjson.dumps({"seq": i})) for i in range(n))
    )
    inputs = {(r.partition, r.offset): r for r in await read_all(kafka_bootstrap, topics["in"])}

    async with running_pipeline(kafka_bootstrap, _workflow(), topics, "g-n") as pipeline:
        await wait_all_committed(kafka_bootstrap, "g-n", topics["in"])
    assert pipeline.stats.spawned == 0  # this workflow never waits: no task per record

    outputs = await read_all(kafka_bootstrap, topics["out"])
    assert len(outputs) == n
    assert await count(kafka_bootstrap, topics["dlq"]) == 0
    assert sorted(source_of(r) for r in outputs) == sorted(inputs)
    for record in outputs:
        source = inputs[source_of(record)]
        assert record.key == source.key
        assert orjson.loads(record.value) == {**orjson.loads(source.value), "worked": True}
        name = header(record, "express-execution-name").decode()
        assert name.endswith(f"-{source.partition}-{source.offset}")
        assert f":{name}:" in header(record, "express-execution-arn").decode()


async def test_bad_records_go_to_the_dead_letter_topic_with_their_reasons(
    kafka_bootstrap: str, kafka_topic: Any
) -> None:
    topics = {"in": kafka_topic("in", 2), "out": kafka_topic("out", 2), "dlq": kafka_topic("dlq")}
    bad = {
        b"not-json": (b"{oops", "InvalidExecutionInput"),
        b"not-utf8": (b'{"a": "\xff"}', "InvalidExecutionInput"),
        b"too-big": (b'"' + b"x" * MAX_INPUT_BYTES + b'"', "States.DataLimitExceeded"),
        b"fails": (b'{"fail": 1}', "Rejected"),
    }
    records = [(b"good-%d" % i, orjson.dumps({"seq": i})) for i in range(50)]
    for key, (value, _) in bad.items():
        records.insert(random.randrange(len(records)), (key, value))
    await produce(kafka_bootstrap, topics["in"], records)

    async with running_pipeline(kafka_bootstrap, _workflow(), topics, "g-bad"):
        await wait_all_committed(kafka_bootstrap, "g-bad", topics["in"])

    outputs = await read_all(kafka_bootstrap, topics["out"])
    assert sorted(orjson.loads(r.value)["seq"] for r in outputs) == list(range(50))
    letters = {r.key: orjson.loads(r.value) for r in await read_all(kafka_bootstrap, topics["dlq"])}
    assert set(letters) == set(bad)
    for key, (value, error) in bad.items():
        letter = letters[key]
        assert letter["error"] == error and letter["cause"]
        assert letter["status"] == ("FAILED" if key == b"fails" else "NOT_STARTED")
        assert letter["key"] == key.decode()
        assert letter["source"]["topic"] == topics["in"]
        assert letter["execution_name"].endswith(
            f"-{letter['source']['partition']}-{letter['source']['offset']}"
        )
        if letter["value_encoding"] == "text":
            assert letter["value"].encode() == value
        else:
            assert key == b"not-utf8" and letter["value_encoding"] == "base64"


async def test_key_order_holds_with_concurrency_above_the_partition_count(
    kafka_bootstrap: str, kafka_topic: Any
) -> None:
    topics = {"in": kafka_topic("in", 2), "out": kafka_topic("out", 2), "dlq": kafka_topic("dlq")}
    keys = [b"device-%d" % k for k in range(16)]
    n = 480
    await produce(
        kafka_bootstrap,
        topics["in"],
        ((keys[i % len(keys)], orjson.dumps({"seq": i, "delay": random.random() / 200})) for i in range(n)),
    )
    running = peak = 0

    async def slow(event: dict[str, Any]) -> dict[str, Any]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(event["delay"])
        finally:
            running -= 1
        return {**event, "worked": True}

    async with running_pipeline(kafka_bootstrap, _workflow(slow=slow), topics, "g-key", ordering="key"):
        await wait_all_committed(kafka_bootstrap, "g-key", topics["in"])

    assert peak > 2, f"at most {peak} executions ran at once on 2 partitions"
    per_key: dict[bytes, list[int]] = {}
    for record in sorted(
        await read_all(kafka_bootstrap, topics["out"]), key=lambda r: (r.partition, r.offset)
    ):
        per_key.setdefault(record.key, []).append(orjson.loads(record.value)["seq"])
    assert sum(map(len, per_key.values())) == n
    for key, seqs in per_key.items():
        assert seqs == sorted(seqs), f"{key!r} out of order"


async def test_pausing_keeps_memory_bounded_however_large_the_backlog(
    kafka_bootstrap: str, kafka_topic: Any
) -> None:
    topics = {"in": kafka_topic("in", 2), "out": kafka_topic("out", 2), "dlq": kafka_topic("dlq")}
    padding = "x" * 2000
    backlog = 12_000  # about 25 MB waiting in the topic
    await produce(
        kafka_bootstrap,
        topics["in"],
        ((None, orjson.dumps({"seq": i, "delay": 0.005, "pad": padding})) for i in range(backlog)),
    )
    tracemalloc.start()
    try:
        async with running_pipeline(
            kafka_bootstrap,
            _workflow(),
            topics,
            "g-mem",
            ordering="partition",  # two executions at a time: the bound holds and fetching pauses
            max_in_flight=64,
            fetch_bytes=262_144,
        ) as pipeline:

            async def progressed() -> bool:
                return pipeline.stats.succeeded >= 400 and pipeline.stats.pauses >= 2

            await wait_until(progressed, "400 records processed")
            lag = backlog - sum((await committed(kafka_bootstrap, "g-mem", topics["in"])).values())
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lag > 10_000  # the backlog was still there while memory was measured
    assert pipeline.stats.in_flight_peak <= 64
    assert peak < 12_000_000, f"peak traced memory {peak / 1e6:.1f} MB with a ~25 MB backlog"


async def test_a_restart_after_sigterm_neither_loses_nor_duplicates(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topics = {"in": kafka_topic("in", 3), "out": kafka_topic("out", 3), "dlq": kafka_topic("dlq")}
    n = 600
    await produce(
        kafka_bootstrap,
        topics["in"],
        ((b"k%d" % (i % 10), orjson.dumps({"seq": i, "delay": 0.004})) for i in range(n)),
    )
    args = _run_args(kafka_bootstrap, topics, "g-term", "--ordering", "key", "--max-in-flight", "40")
    first = Worker(args, tmp_path / "first.log").start()
    try:

        async def some_out() -> bool:
            return await count(kafka_bootstrap, topics["out"]) >= 100

        await wait_until(some_out, "the first outputs")
        first.signal(signal.SIGTERM)
        assert await first.wait() == 0, first.log()
    finally:
        first.kill_if_running()
    done_first = await count(kafka_bootstrap, topics["out"])
    assert done_first < n, "the first run finished everything: the restart proves nothing"

    second = Worker(args, tmp_path / "second.log").start()
    try:
        await wait_all_committed(kafka_bootstrap, "g-term", topics["in"])
        second.signal(signal.SIGTERM)
        assert await second.wait() == 0, second.log()
    finally:
        second.kill_if_running()

    outputs = await read_all(kafka_bootstrap, topics["out"])
    assert duplicates(outputs) == 0
    assert sorted(orjson.loads(r.value)["seq"] for r in outputs) == list(range(n))


async def test_a_restart_after_sigkill_loses_nothing(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topics = {"in": kafka_topic("in", 3), "out": kafka_topic("out", 3), "dlq": kafka_topic("dlq")}
    n = 600
    await produce(
        kafka_bootstrap, topics["in"], ((None, orjson.dumps({"seq": i, "delay": 0.01})) for i in range(n))
    )
    args = _run_args(kafka_bootstrap, topics, "g-kill", "--ordering", "unordered", "--max-in-flight", "10")
    first = Worker(args, tmp_path / "first.log").start()
    try:

        async def some_out() -> bool:
            return await count(kafka_bootstrap, topics["out"]) >= 100

        await wait_until(some_out, "the first outputs")
        first.signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
    finally:
        first.kill_if_running()
    assert await count(kafka_bootstrap, topics["out"]) < n, "the first run finished everything"

    second = Worker(args, tmp_path / "second.log").start()
    try:
        await wait_all_committed(kafka_bootstrap, "g-kill", topics["in"])
        second.signal(signal.SIGTERM)
        assert await second.wait() == 0, second.log()
    finally:
        second.kill_if_running()

    outputs = await read_all(kafka_bootstrap, topics["out"])
    assert sorted(set(orjson.loads(r.value)["seq"] for r in outputs)) == list(range(n))
    print(f"SIGKILL restart: {len(outputs)} outputs for {n} records, {duplicates(outputs)} duplicates")


async def test_two_workers_split_the_partitions_and_one_takes_over(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topics = {"in": kafka_topic("in", 4), "out": kafka_topic("out", 2), "dlq": kafka_topic("dlq")}
    args = _run_args(kafka_bootstrap, topics, "g-two", "--ordering", "partition")
    a = Worker(args, tmp_path / "a.log").start()
    b = Worker(args, tmp_path / "b.log").start()
    try:

        async def split() -> bool:
            # Each worker's latest assignment holds two of the four partitions.
            return all(_latest_assignment(w.log()) == 2 for w in (a, b))

        await wait_until(split, "the group to split the partitions two and two")
        await produce(
            kafka_bootstrap,
            topics["in"],
            ((b"k%d" % i, orjson.dumps({"seq": i, "delay": 0.002})) for i in range(300)),
        )

        async def half() -> bool:
            return await count(kafka_bootstrap, topics["out"]) >= 100

        await wait_until(half, "outputs from both workers")
        a.signal(signal.SIGTERM)
        assert await a.wait() == 0, a.log()

        async def took_over() -> bool:
            return _latest_assignment(b.log()) == 4

        await wait_until(took_over, "the remaining worker to take all four partitions")
        await produce(
            kafka_bootstrap, topics["in"], ((b"k%d" % i, orjson.dumps({"seq": i})) for i in range(300, 400))
        )
        await wait_all_committed(kafka_bootstrap, "g-two", topics["in"])
        b.signal(signal.SIGTERM)
        assert await b.wait() == 0, b.log()
    finally:
        a.kill_if_running()
        b.kill_if_running()

    outputs = await read_all(kafka_bootstrap, topics["out"])
    assert sorted(set(orjson.loads(r.value)["seq"] for r in outputs)) == list(range(400))
    assert duplicates(outputs) == 0  # a graceful hand-over commits everything it delivered


async def test_processes_option_runs_a_group_of_workers(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topics = {"in": kafka_topic("in", 4), "out": kafka_topic("out", 2), "dlq": kafka_topic("dlq")}
    n = 400
    await produce(kafka_bootstrap, topics["in"], ((b"k%d" % i, orjson.dumps({"seq": i})) for i in range(n)))
    worker = Worker(
        _run_args(kafka_bootstrap, topics, "g-proc", "--processes", "2"), tmp_path / "p.log"
    ).start()
    try:
        await wait_all_committed(kafka_bootstrap, "g-proc", topics["in"])
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0, worker.log()
    finally:
        worker.kill_if_running()
    log = worker.log()
    assert "worker-0" in log and "worker-1" in log
    outputs = await read_all(kafka_bootstrap, topics["out"])
    assert len(outputs) == n and duplicates(outputs) == 0
    assert sum((await end_offsets(kafka_bootstrap, topics["out"])).values()) == n


def _latest_assignment(log: str) -> int | None:
    lines = [line for line in log.splitlines() if " assigned " in line]
    if not lines:
        return None
    return lines[-1].count("[")


async def test_exactly_once_survives_sigkill_without_duplicates(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topics = {"in": kafka_topic("in", 3), "out": kafka_topic("out", 3), "dlq": kafka_topic("dlq")}
    n = 600
    records = ((b"k%d" % (i % 7), orjson.dumps({"seq": i, "delay": 0.01})) for i in range(n))
    await produce(kafka_bootstrap, topics["in"], records)
    args = _run_args(
        kafka_bootstrap, topics, "g-eos", "--exactly-once", "--ordering", "key", "--max-in-flight", "40"
    )
    first = Worker(args, tmp_path / "first.log").start()
    try:

        async def some_committed() -> bool:
            return sum((await committed(kafka_bootstrap, "g-eos", topics["in"])).values()) >= 100

        await wait_until(some_committed, "the first transactions")
        first.signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
    finally:
        first.kill_if_running()
    done_first = sum((await committed(kafka_bootstrap, "g-eos", topics["in"])).values())
    assert done_first < n, "the first run finished everything: the restart proves nothing"
    second = Worker(args, tmp_path / "second.log").start()
    try:
        await wait_all_committed(kafka_bootstrap, "g-eos", topics["in"])
        second.signal(signal.SIGTERM)
        assert await second.wait() == 0, second.log()
    finally:
        second.kill_if_running()

    outputs = await read_all(kafka_bootstrap, topics["out"])  # read_committed
    assert duplicates(outputs) == 0
    assert sorted(orjson.loads(r.value)["seq"] for r in outputs) == list(range(n))
    everything = await read_all(kafka_bootstrap, topics["out"], isolation_level="read_uncommitted")
    print(f"exactly-once SIGKILL restart: {len(everything) - n} aborted outputs hidden from read_committed")
