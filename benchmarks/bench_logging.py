"""Execution logging cost: throughput with logging OFF, ERROR and ALL side by side, in one run.

Each workload runs with every logging configuration in alternating rounds in one process
(so a noisy machine affects all alike), and reports executions per second, log events
per second and the ratio to the OFF baseline measured in the same run. ALL includes
execution data, as the target demands (ALL costs at most 30 % of OFF's throughput).
The sink is the CloudWatch-style local store, whose writer thread competes for the GIL
like it will in production; "ALL, no I/O" isolates formatting by discarding the lines.
Lines a sink dropped are reported: throughput bought by dropping would not count.

Three levels are measured: the engine alone (``Workflow.start`` in a loop: the harshest
ratio, since an execution there takes a few microseconds), the stream pipeline over
in-memory records (decoding, envelopes, offsets and outputs included; no broker), and
``express run`` end to end over a real Kafka broker (started with the project's broker
tooling, as ``bench_kafka`` does, unless ``--bootstrap`` names one): a backlog of the
IoT readings, one worker process per setting and trial, its execution logs going to a
local store, records/s from the broker's append times of the outputs and dead letters
(the central 80 % of the run), trials round-robin over the settings, median reported.

    python -m benchmarks.bench_logging                 # a few minutes, with a broker
    python -m benchmarks.bench_logging --no-kafka      # in-process figures only
    python -m benchmarks.bench_logging --quick         # a smoke check
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import express
from connectors.logsinks import LocalLogStore
from express.examples import IOT
from express.logs import ExecutionLogger, LoggingConfiguration, LogLevel, LogSink


class NullSink:
    """Takes every line and keeps none (an execution's lines at once, as the store takes
    them): the cost of formatting alone."""

    def __init__(self) -> None:
        self.lines = 0

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        self.lines += 1

    def write_batch(
        self, timestamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        self.lines += len(timestamps)


@dataclass
class Setting:
    label: str
    config: LoggingConfiguration
    store: bool  # True: the local store; False: NullSink


SETTINGS = (
    Setting("OFF", LoggingConfiguration(LogLevel.OFF), store=False),
    Setting("ERROR", LoggingConfiguration(LogLevel.ERROR, include_execution_data=True), store=True),
    Setting("ALL + data", LoggingConfiguration(LogLevel.ALL, include_execution_data=True), store=True),
    Setting(
        "ALL + data, no I/O", LoggingConfiguration(LogLevel.ALL, include_execution_data=True), store=False
    ),
)

Workload = tuple[str, Callable[..., express.Workflow], list[Any]]


def iot_router() -> Workload:
    handlers = express.load_handlers(IOT / "handlers.py")
    readings = []
    for line in (IOT / "readings.jsonl").read_bytes().splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("site") in ("plant-a", "plant-b", "depot-c"):
            readings.append(record)

    def build(**options: Any) -> express.Workflow:
        return express.compile_workflow(
            IOT / "router.asl.json", handlers=handlers, name="iot-router", **options
        )

    return "IoT router", build, readings[:200]


def map_of_10() -> Workload:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "Scale", "States": {"Scale": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }

    def build(**options: Any) -> express.Workflow:
        return express.compile_workflow(definition, name="map-of-10", **options)

    return "Map of 10 items", build, [{"site": "plant-a", "items": list(range(i, i + 10))} for i in range(50)]


def _pipeline_rate(workflow: express.Workflow, values: list[bytes]) -> float:
    """Records per second through the stream pipeline, from memory to memory."""
    from connectors.memory import MemorySink, MemorySource
    from express.runtime.pipeline import Pipeline, PipelineSettings
    from express.runtime.records import Record

    records = [Record("readings", n % 4, n // 4, value) for n, value in enumerate(values)]
    output = MemorySink()
    pipeline = Pipeline(workflow, MemorySource(records), output, output, PipelineSettings(max_in_flight=5000))
    gc.collect()
    started = time.perf_counter()
    asyncio.run(pipeline.run())
    return len(records) / (time.perf_counter() - started)


def pipeline_section(rounds: int, count: int, root: str) -> None:
    try:
        importlib.import_module("express.runtime.pipeline")
    except ImportError:
        print("\n(stream pipeline not installed: pipeline figures skipped)")
        return
    handlers = express.load_handlers(IOT / "handlers.py")
    lines = (IOT / "readings.jsonl").read_bytes().splitlines()
    values = [lines[n % len(lines)] for n in range(count)]
    header = f"{'pipeline':<16} {'logging':<20} {'records/s':>10} {'vs OFF':>7} {'dropped':>8}"
    print(f"\n{header}\n{'-' * len(header)}")
    rates: dict[str, list[float]] = {setting.label: [] for setting in SETTINGS}
    dropped = dict.fromkeys(rates, 0)
    for round_ in range(rounds):
        for setting in SETTINGS:
            sink: LogSink = (
                LocalLogStore(root, f"pipeline/{setting.label}/{round_}") if setting.store else NullSink()
            )
            logger = ExecutionLogger(setting.config, sink, "iot-router")
            workflow = express.compile_workflow(
                IOT / "router.asl.json",
                handlers=handlers,
                name="iot-router",
                recorder_factory=logger.recorder if setting.config.enabled else None,
            )
            rates[setting.label].append(_pipeline_rate(workflow, values))
            if isinstance(sink, LocalLogStore):
                sink.close()
                dropped[setting.label] += sink.stats().dropped_total
    baseline = statistics.median(rates["OFF"])
    for setting in SETTINGS:
        rate = statistics.median(rates[setting.label])
        lost = dropped[setting.label]
        print(f"{'IoT router':<16} {setting.label:<20} {rate:>10,.0f} {rate / baseline:>7.2f} {lost:>8,}")


# -- end to end over Kafka -------------------------------------------------------------------

KAFKA_SETTINGS: dict[str, list[str]] = {
    "OFF": [],
    "ERROR": ["--execution-log-level", "ERROR", "--include-execution-data"],
    "ALL + data": ["--execution-log-level", "ALL", "--include-execution-data"],
    # Metrics on, logging off: what serving /metrics costs (port 0: any free port).
    "OFF, metrics on": ["--metrics-port", "0"],
}


def _summary_counts(log: Path) -> tuple[int, int]:
    """(events written, events dropped) from the worker's exit summary."""
    text = log.read_text()
    written = re.search(r"execution logs: (\d+) events written", text)
    dropped = re.search(r"execution logs: .* (\d+) DROPPED", text)
    return (int(written.group(1)) if written else 0), (int(dropped.group(1)) if dropped else 0)


async def _kafka_trial(
    bootstrap: str, setting: str, records: int, partitions: int, work: Path, trial: int
) -> tuple[float, int, int]:
    """One ``express run`` over a fresh backlog: (records/s, log events written, dropped)."""
    from benchmarks import bench_kafka as kafka

    topics = await kafka.create_topics(bootstrap, partitions)
    pairs = kafka.readings()
    await kafka.produce(bootstrap, topics.input, [pairs[i % len(pairs)] for i in range(records)])
    log = work / f"{setting.replace(' ', '')}-{trial}.log"
    store = work / f"logs-{setting.replace(' ', '')}-{trial}"
    command = [
        sys.executable, "-m", "express.runtime.run_cli", str(IOT / "router.asl.json"),
        "--handlers", str(IOT / "handlers.py"), "--bootstrap-servers", bootstrap,
        "--input-topic", topics.input, "--output-topic", topics.output, "--dlq-topic", topics.dlq,
        "--group-id", topics.group, "--log-level", "warning", *KAFKA_SETTINGS[setting],
    ]  # fmt: skip
    if "--execution-log-level" in KAFKA_SETTINGS[setting]:
        command += ["--log-destination", str(store)]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=kafka.ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        await kafka.wait_committed(bootstrap, topics, timeout=600)
    finally:
        kafka.stop_contender(process)
    written = await kafka.read_topic(bootstrap, topics.output) + await kafka.read_topic(bootstrap, topics.dlq)
    stamps = sorted(r.timestamp for r in written)
    low, high = len(stamps) // 10, len(stamps) * 9 // 10
    events, dropped = _summary_counts(log)
    shutil.rmtree(store, ignore_errors=True)
    return (high - low) / ((stamps[high] - stamps[low]) / 1000), events, dropped


async def _kafka_rounds(bootstrap: str, args: argparse.Namespace, work: Path) -> None:
    rates: dict[str, list[float]] = {setting: [] for setting in KAFKA_SETTINGS}
    events = dict.fromkeys(KAFKA_SETTINGS, 0)
    dropped = dict.fromkeys(KAFKA_SETTINGS, 0)
    await _kafka_trial(bootstrap, "OFF", args.records // 2, args.partitions, work, -1)  # warms the broker up
    for trial in range(args.trials):
        for setting in KAFKA_SETTINGS:
            rate, written, lost = await _kafka_trial(
                bootstrap, setting, args.records, args.partitions, work, trial
            )
            rates[setting].append(rate)
            events[setting] += written
            dropped[setting] += lost
            print(f"  trial {trial + 1}: {setting} {rate:,.0f} records/s", file=sys.stderr, flush=True)
    baseline = statistics.median(rates["OFF"])
    header = (
        f"{'express run':<16} {'logging':<20} {'records/s':>10} {'trials':>17} {'vs OFF':>7} "
        f"{'events/rec':>10} {'dropped':>8}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    for setting in KAFKA_SETTINGS:
        rate = statistics.median(rates[setting])
        spread = f"{min(rates[setting]):,.0f}-{max(rates[setting]):,.0f}"
        per_record = events[setting] / (args.records * args.trials)
        print(
            f"{'IoT router':<16} {setting:<20} {rate:>10,.0f} {spread:>17} {rate / baseline:>7.2f} "
            f"{per_record:>10.1f} {dropped[setting]:>8,}"
        )


def kafka_section(args: argparse.Namespace) -> None:
    from express.devtools.kafka_broker import KAFKA_VERSION, start_broker

    broker = None if args.bootstrap else start_broker()
    bootstrap = args.bootstrap or broker.bootstrap  # type: ignore[union-attr]
    print(
        f"\n# express run over Kafka {KAFKA_VERSION if broker else '(external)'} at {bootstrap}: "
        f"backlog of {args.records:,} readings over {args.partitions} partitions, "
        f"{args.trials} round-robin trials, median; logs to a local store"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="bench-logging-kafka-") as tmp:
            asyncio.run(_kafka_rounds(bootstrap, args, Path(tmp)))
    finally:
        if broker is not None:
            broker.stop()


def _rate(run: Callable[[Any], Any], inputs: list[Any], seconds: float) -> tuple[float, int]:
    calls = 0
    clock = time.perf_counter
    gc.collect()
    started = clock()
    deadline = started + seconds
    while clock() < deadline:
        for item in inputs:
            run(item)
        calls += len(inputs)
    return calls / (clock() - started), calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short rounds, for a smoke check")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per setting")
    parser.add_argument("--no-kafka", dest="kafka", action="store_false", help="skip the Kafka section")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--records", type=int, default=None, help="Kafka backlog per trial")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--trials", type=int, default=None, help="Kafka trials per setting (median)")
    args = parser.parse_args(argv)
    args.records = args.records or (20_000 if args.quick else 100_000)
    args.trials = args.trials or (1 if args.quick else 3)
    rounds = args.rounds or (2 if args.quick else 7)
    seconds = 0.3 if args.quick else 1.0

    print(
        f"# express logging benchmark — {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )
    given = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"# command: python -m benchmarks.bench_logging {given}")
    print(f"# {rounds} alternating rounds of {seconds:.1f} s per setting; median of the rounds\n")
    header = (
        f"{'workload':<16} {'logging':<20} {'compile ms':>10} {'exec/s':>9} {'events/s':>10} "
        f"{'vs OFF':>7} {'dropped':>8}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="express-bench-logs-") as root:
        for factory in (iot_router, map_of_10):
            name, build, inputs = factory()
            runs: list[tuple[Setting, Callable[[Any], Any], LogSink, float]] = []
            for setting in SETTINGS:
                sink: LogSink = (
                    LocalLogStore(root, f"bench/{name}/{setting.label}") if setting.store else NullSink()
                )
                logger = ExecutionLogger(setting.config, sink, "bench")
                started = time.perf_counter()
                workflow = build(recorder_factory=logger.recorder if setting.config.enabled else None)
                compile_ms = (time.perf_counter() - started) * 1e3
                result = workflow.start(inputs[0])
                assert isinstance(result, express.ExecutionResult) and result.status == "SUCCEEDED", result
                runs.append((setting, workflow.start, sink, compile_ms))
            rates: dict[str, list[float]] = {setting.label: [] for setting in SETTINGS}
            calls: dict[str, int] = dict.fromkeys(rates, 1)
            for _ in range(rounds):
                for setting, start, _, _ in runs:
                    rate, count = _rate(start, inputs, seconds)
                    rates[setting.label].append(rate)
                    calls[setting.label] += count
            baseline = statistics.median(rates["OFF"])
            for setting, _, sink, compile_ms in runs:
                dropped = 0
                lines = 0
                if isinstance(sink, LocalLogStore):
                    sink.close()
                    stats = sink.stats()
                    dropped, lines = stats.dropped_total, stats.written + stats.dropped_total
                elif isinstance(sink, NullSink):
                    lines = sink.lines
                rate = statistics.median(rates[setting.label])
                events = rate * lines / calls[setting.label]
                print(
                    f"{name:<16} {setting.label:<20} {compile_ms:>10.2f} {rate:>9,.0f} {events:>10,.0f} "
                    f"{rate / baseline:>7.2f} {dropped:>8,}"
                )
        pipeline_section(rounds, 5_000 if args.quick else 20_000, root)
    if args.kafka:
        kafka_section(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
