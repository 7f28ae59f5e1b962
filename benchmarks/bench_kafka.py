"""End-to-end Kafka benchmark: the IoT router under ``express run`` beside a raw passthrough.

Every contender is a separate process reading the same kind of input topic (the bundled
IoT readings, keyed by device) in a fresh consumer group and writing to a fresh output
topic, with the same producer settings (idempotent, ``acks=all``, ``linger_ms=5``, 512 KiB
batches) and the same event loop:

``passthrough``        raw aiokafka: ``getmany`` -> ``producer.send`` per record -> commit
                       (the idiomatic consume->produce loop; the baseline)
``passthrough-batch``  raw aiokafka with ``create_batch``/``send_batch`` per partition
                       (the fastest Python client loop, for reference)
``express``            ``express run`` on the IoT router, one process
``express-2p``         ``express run --processes 2``

Two measurements per contender:

* throughput: a backlog of ``--records`` records is waiting; records/s is the number of
  records written (outputs and dead letters) in the central 80 % of the run over the
  span of their append times, as the broker stamped them (``LogAppendTime``), so
  acknowledgements are included. ``--trials`` runs go round-robin over the contenders;
  the median is reported, with the range. State transitions/s is records/s times the
  transitions per record each worker reports on exit.
* latency: with the contender idle and caught up, records arrive at ``--rate`` per
  second for ``--seconds``; latency is the output's append time minus the input's (both
  stamped by the broker), p50 and p99, at millisecond resolution.

    python -m benchmarks.bench_kafka                          # starts a local broker
    python -m benchmarks.bench_kafka --bootstrap 127.0.0.1:9092 --records 50000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from express.examples import IOT

ROOT = Path(__file__).resolve().parents[1]
PRODUCER_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "max_batch_size": 524_288,  # express run's default
}
CONTENDERS = ("passthrough", "passthrough-batch", "express", "express-2p")


# -- the raw passthroughs (run as their own process) ------------------------------------------------


async def passthrough(bootstrap: str, source: str, target: str, group: str, batched: bool) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)
    await consumer.start()
    await producer.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    partitions = sorted(await producer.partitions_for(target))
    pending: list[asyncio.Future[Any]] = []
    next_commit = time.monotonic() + 1.0
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            for records in batch.values():
                if batched:
                    pending.extend(await _send_batches(producer, target, partitions, records))
                else:
                    for record in records:
                        pending.append(await producer.send(target, record.value, key=record.key))
            if time.monotonic() >= next_commit and pending:
                await asyncio.gather(*pending)
                pending.clear()
                await consumer.commit()
                next_commit = time.monotonic() + 1.0
        await asyncio.gather(*pending)
        await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


async def _send_batches(producer: Any, topic: str, partitions: list[int], records: list[Any]) -> list[Any]:
    from aiokafka.partitioner import murmur2

    builders: dict[int, Any] = {}
    sent = []
    for record in records:
        partition = partitions[(murmur2(record.key) & 0x7FFFFFFF) % len(partitions)]
        builder = builders.get(partition)
        if builder is None:
            builder = builders[partition] = producer.create_batch()
        if builder.append(timestamp=None, key=record.key, value=record.value, headers=[]) is None:
            builder.close()
            sent.append(await producer.send_batch(builder, topic, partition=partition))
            builder = builders[partition] = producer.create_batch()
            builder.append(timestamp=None, key=record.key, value=record.value, headers=[])
    for partition, builder in builders.items():
        builder.close()
        sent.append(await producer.send_batch(builder, topic, partition=partition))
    return sent


# -- the driver ------------------------------------------------------------------------------------


@dataclass
class Topics:
    input: str
    output: str
    dlq: str
    group: str


@dataclass
class Outcome:
    contender: str
    records_per_s: float = 0.0
    transitions_per_record: float | None = None
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    trials: list[float] = field(default_factory=list)

    @property
    def transitions_per_s(self) -> float | None:
        if self.transitions_per_record is None:
            return None
        return self.records_per_s * self.transitions_per_record


def readings() -> list[tuple[bytes, bytes]]:
    """The bundled IoT stream as (key, value) pairs; lines that are not JSON keep a fixed key."""
    pairs = []
    for line in (IOT / "readings.jsonl").read_bytes().splitlines():
        try:
            key = str(orjson.loads(line).get("device_id", "none")).encode()
        except (orjson.JSONDecodeError, AttributeError):
            key = b"none"
        pairs.append((key, line))
    return pairs


def unique(value: bytes, seq: int) -> bytes:
    """Make a reading unique (so a passthrough's output maps back to its input)."""
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value + b" #%d" % seq
    if isinstance(data, dict):
        data["seq"] = seq
    return orjson.dumps(data)


async def create_topics(bootstrap: str, partitions: int) -> Topics:
    run = uuid.uuid4().hex[:8]
    topics = Topics(f"bench-{run}-in", f"bench-{run}-out", f"bench-{run}-dlq", f"bench-{run}")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        # The broker stamps every record when it appends it: one clock for every contender.
        stamped = {"message.timestamp.type": "LogAppendTime"}
        await admin.create_topics(
            [
                NewTopic(topics.input, partitions, 1, topic_configs=stamped),
                NewTopic(topics.output, partitions, 1, topic_configs=stamped),
                NewTopic(topics.dlq, 1, 1, topic_configs=stamped),
            ]
        )
    finally:
        await admin.close()
    return topics


async def produce(
    bootstrap: str, topic: str, pairs: Sequence[tuple[bytes, bytes]], rate: float | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5 if rate is None else 0)
    await producer.start()
    try:
        futures = []
        started = time.monotonic()
        for i, (key, value) in enumerate(pairs):
            if rate is not None:
                due = started + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            futures.append(await producer.send(topic, value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def end_offsets(bootstrap: str, consumer: AIOKafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    offsets: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    return offsets


async def wait_committed(bootstrap: str, topics: Topics, timeout: float) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        ends = await end_offsets(bootstrap, consumer, topics.input)
        if not ends:
            raise RuntimeError(f"{topics.input} has no partitions")
        deadline = time.monotonic() + timeout
        while True:
            try:
                offsets = await admin.list_consumer_group_offsets(topics.group)
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                offsets = {}  # the group's coordinator is still starting
            committed = {tp: meta.offset for tp, meta in offsets.items()}
            if all(committed.get(tp, 0) >= end for tp, end in ends.items()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topics.group} did not catch up within {timeout:.0f} s")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
        await consumer.stop()


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await end_offsets(bootstrap, consumer, topic)
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        records: list[Any] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for part in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


def start_contender(
    contender: str, bootstrap: str, topics: Topics, loop: str, log: Path
) -> subprocess.Popen[bytes]:
    if contender.startswith("passthrough"):
        command = [
            sys.executable, "-m", "benchmarks.bench_kafka", "--passthrough", contender,
            "--bootstrap", bootstrap, "--loop", loop, "--topics", topics.input, topics.output, topics.group,
        ]  # fmt: skip
    else:
        command = [
            sys.executable, "-m", "express.runtime.run_cli", str(IOT / "router.asl.json"),
            "--handlers", str(IOT / "handlers.py"), "--bootstrap-servers", bootstrap,
            "--input-topic", topics.input, "--output-topic", topics.output, "--dlq-topic", topics.dlq,
            "--group-id", topics.group, "--loop", loop, "--log-level", "warning",
        ]  # fmt: skip
        if contender == "express-2p":
            command += ["--processes", "2"]
    with open(log, "ab") as out:
        return subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def stop_contender(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"contender exited with {process.returncode}")


def transitions_per_record(log: Path) -> float | None:
    records = transitions = 0
    for match in re.finditer(r"express run: (\d+) records, .* (\d+) state transitions", log.read_text()):
        records += int(match.group(1))
        transitions += int(match.group(2))
    return transitions / records if records else None


async def throughput(
    bootstrap: str, contender: str, args: argparse.Namespace, work: Path, trial: int
) -> tuple[float, float | None]:
    topics = await create_topics(bootstrap, args.partitions)
    pairs = readings()
    backlog = [(key, value) for key, value in (pairs[i % len(pairs)] for i in range(args.records))]
    await produce(bootstrap, topics.input, backlog)
    log = work / f"{contender}-throughput-{trial}.log"
    process = start_contender(contender, bootstrap, topics, args.loop, log)
    try:
        await wait_committed(bootstrap, topics, timeout=600)
    finally:
        stop_contender(process)
    written = await read_topic(bootstrap, topics.output)
    if not contender.startswith("passthrough"):
        written += await read_topic(bootstrap, topics.dlq)
    # The central 80 % of the writes: the group forming and the last stragglers are not
    # the steady state being measured.
    stamps = sorted(r.timestamp for r in written)
    low, high = len(stamps) // 10, len(stamps) * 9 // 10
    return (high - low) / ((stamps[high] - stamps[low]) / 1000), transitions_per_record(log)


async def latency(
    bootstrap: str, contender: str, args: argparse.Namespace, work: Path
) -> tuple[float, float]:
    topics = await create_topics(bootstrap, args.partitions)
    pairs = readings()
    log = work / f"{contender}-latency.log"
    process = start_contender(contender, bootstrap, topics, args.loop, log)
    try:
        await produce(bootstrap, topics.input, [pairs[0]])  # warm-up: the group has formed once it is done
        await wait_committed(bootstrap, topics, timeout=120)
        count = int(args.rate * args.seconds)
        paced = [
            (key, unique(value, i))
            for i, (key, value) in enumerate(pairs[i % len(pairs)] for i in range(count))
        ]
        await produce(bootstrap, topics.input, paced, rate=args.rate)
        await wait_committed(bootstrap, topics, timeout=120)
    finally:
        stop_contender(process)
    inputs = await read_topic(bootstrap, topics.input)
    outputs = await read_topic(bootstrap, topics.output)
    if contender.startswith("passthrough"):
        sent = {r.value: r.timestamp for r in inputs}
        delays = [r.timestamp - sent[r.value] for r in outputs if r.value in sent]
    else:
        sent_at = {(r.partition, r.offset): r.timestamp for r in inputs}
        delays = []
        for r in outputs:
            headers = dict(r.headers)
            source = (int(headers["express-source-partition"]), int(headers["express-source-offset"]))
            delays.append(r.timestamp - sent_at[source])
    delays = delays[1:] if len(delays) > 1 else delays  # the warm-up record waited for the group to form
    quantiles = statistics.quantiles(delays, n=100, method="inclusive")
    return quantiles[49], quantiles[98]


def environment(bootstrap: str, kafka: str) -> str:
    import aiokafka
    import uvloop

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.platform()}; {cpu}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"aiokafka {aiokafka.__version__}; orjson {orjson.__version__}; uvloop {uvloop.__version__}; "
        f"Kafka {kafka} at {bootstrap} (same machine)"
    )


async def drive(args: argparse.Namespace, bootstrap: str, kafka: str) -> list[Outcome]:
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        rates: dict[str, list[float]] = {contender: [] for contender in args.contenders}
        per_record: dict[str, float | None] = {}
        # A fresh broker's JVM runs slowly until its hot paths are compiled: one
        # unreported run warms it up.
        await throughput(bootstrap, "passthrough-batch", args, work, -1)
        # Trials go round-robin over the contenders, so a noisy minute on a shared
        # machine hits all of them; the median trial is reported.
        for trial in range(args.trials):
            for contender in args.contenders:
                rate, per_record[contender] = await throughput(bootstrap, contender, args, work, trial)
                rates[contender].append(rate)
                print(f"  trial {trial + 1}: {contender} {rate:,.0f} records/s", file=sys.stderr, flush=True)
        for contender in args.contenders:
            outcome = Outcome(contender, statistics.median(rates[contender]), per_record[contender])
            outcome.trials = rates[contender]
            if args.rate > 0:
                outcome.p50_ms, outcome.p99_ms = await latency(bootstrap, contender, args, work)
            outcomes.append(outcome)
    return outcomes


def report(outcomes: list[Outcome], args: argparse.Namespace, env: str, command: str) -> str:
    baseline = {o.contender: o.records_per_s for o in outcomes}
    lines = [
        f"command: {command}",
        f"environment: {env}",
        f"backlog {args.records:,} records over {args.partitions} partitions; "
        f"latency at {args.rate:,.0f} records/s for {args.seconds:g} s; event loop {args.loop}",
        "",
        "| contender | records/s (median) | trials | state transitions/s | p50 latency | p99 latency "
        "| vs passthrough | vs passthrough-batch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        transitions = f"{o.transitions_per_s:,.0f}" if o.transitions_per_s is not None else "-"
        ratios = [
            f"{o.records_per_s / baseline[name]:.2f}" if name in baseline else "-"
            for name in ("passthrough", "passthrough-batch")
        ]
        cells = [
            o.contender,
            f"{o.records_per_s:,.0f}",
            f"{min(o.trials):,.0f}-{max(o.trials):,.0f}" if o.trials else "-",
            transitions,
            f"{o.p50_ms:.1f} ms",
            f"{o.p99_ms:.1f} ms",
        ]
        lines.append("| " + " | ".join([*cells, *ratios]) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--records", type=int, default=100_000, help="backlog size (default %(default)s)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--trials", type=int, default=3, help="throughput trials per contender (median)")
    parser.add_argument(
        "--rate", type=float, default=2000, help="latency phase records/s (0: skip the phase)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="latency phase length")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--work-dir", help="keep the contenders' logs here")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--passthrough", choices=["passthrough", "passthrough-batch"], help=argparse.SUPPRESS)
    parser.add_argument("--topics", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.passthrough:
        source, target, group = args.topics
        coroutine = passthrough(
            args.bootstrap, source, target, group, args.passthrough == "passthrough-batch"
        )
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(coroutine)
        else:
            asyncio.run(coroutine)
        return 0

    from express.devtools.kafka_broker import KAFKA_VERSION, start_broker

    # Kafka's default initial rebalance delay (the development broker sets 0 for fast
    # tests) lets the workers of ``--processes 2`` join one generation instead of
    # rebalancing half-way through the backlog.
    broker = None if args.bootstrap else start_broker(properties={"group.initial.rebalance.delay.ms": "3000"})
    bootstrap = args.bootstrap or broker.bootstrap  # type: ignore[union-attr]
    try:
        env = environment(bootstrap, KAFKA_VERSION if broker else "external")
        outcomes = asyncio.run(drive(args, bootstrap, KAFKA_VERSION))
    finally:
        if broker is not None:
            broker.stop()
    command = "python -m benchmarks.bench_kafka " + " ".join(argv if argv is not None else sys.argv[1:])
    print(report(outcomes, args, env, command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
