"""Execution logging cost: throughput with logging OFF, ERROR and ALL side by side, in one run.

Each workload runs with every logging configuration in alternating rounds in one process
(so a noisy machine affects all alike), and reports executions per second, log events
per second and the ratio to the OFF baseline measured in the same run. ALL includes
execution data, as the target demands (ALL costs at most 30 % of OFF's throughput).
The sink is the CloudWatch-style local store, whose writer thread competes for the GIL
like it will in production; "ALL, no I/O" isolates formatting by discarding the lines.
Lines a sink dropped are reported: throughput bought by dropping would not count.

Two levels are measured: the engine alone (``Workflow.start`` in a loop: the harshest
ratio, since an execution there takes about ten microseconds) and the stream pipeline
over in-memory records (decoding, envelopes, offsets and outputs included; no broker).

    python -m benchmarks.bench_logging            # about a minute
    python -m benchmarks.bench_logging --quick    # a few seconds, for a smoke check
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

import express
from connectors.logsinks import LocalLogStore
from express.examples import IOT
from express.logs import ExecutionLogger, LoggingConfiguration, LogLevel, LogSink


class NullSink:
    """Takes every line and keeps none: the cost of formatting alone."""

    def __init__(self) -> None:
        self.lines = 0

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        self.lines += 1


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
    args = parser.parse_args(argv)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
