"""In-process engine benchmark: compile time, executions/s, state transitions/s, latency.

Each workload runs beside a baseline measured in the same process, round-robin, so the
ratio survives a noisy shared machine: a hand-written Python function doing the same work
as the workflow (what a user would write without an ASL engine).

    python -m benchmarks.bench_engine            # about a minute
    python -m benchmarks.bench_engine --quick    # a few seconds, for a smoke check
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

import express
from express.examples import IOT

Workload = tuple[str, Callable[[Any], Any], Callable[[Any], Any], list[Any], int]


def pass_chain() -> Workload:
    states: dict[str, Any] = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(9)}
    states["P9"] = {"Type": "Pass", "End": True}
    workflow = express.compile_workflow({"StartAt": "P0", "States": states})

    def steps(data: Any) -> Any:
        return data

    chain = [steps] * 10

    def baseline(data: Any) -> Any:
        for step in chain:
            data = step(data)
        return data

    return "10-Pass chain", workflow.start, baseline, [{"reading": i} for i in range(100)], 10


def iot_router() -> Workload:
    handlers = express.load_handlers(IOT / "handlers.py")
    workflow = express.compile_workflow(IOT / "router.asl.json", handlers=handlers, name="iot-router")
    readings = []
    for line in (IOT / "readings.jsonl").read_bytes().splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if record.get("site") in ("plant-a", "plant-b", "depot-c") and record["type"] != "co2":
            readings.append(record)
    enrich = handlers["enrich_reading"]

    def baseline(r: Any) -> Any:
        # The same routing written by hand, with the same copy of the event the engine makes.
        kind, value, battery = r.get("type"), r.get("value"), r.get("battery")
        if kind == "temperature" and isinstance(value, (int, float)) and value > 30:
            out = {
                "device": r["device_id"],
                "site": r["site"],
                "metric": kind,
                "value": value,
                "unit": r["unit"],
                "at": r["ts"],
                "route": "alerts",
                "severity": "high",
            }
        elif battery is not None and battery < 10:
            out = {
                "device": r["device_id"],
                "site": r["site"],
                "battery": battery,
                "at": r["ts"],
                "route": "maintenance",
                "severity": "low",
            }
        elif kind in ("temperature", "humidity") or (isinstance(kind, str) and kind.startswith("pressure")):
            out = {
                "device": r["device_id"],
                "site": r["site"],
                "metric": kind,
                "value": value,
                "unit": r["unit"],
                "at": r["ts"],
                "route": "timeseries",
            }
        else:
            raise ValueError("unknown reading")
        return enrich(orjson.loads(orjson.dumps(out)))

    return "IoT router", workflow.start, baseline, readings, 3


def map_of_10() -> Workload:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"value.$": "$$.Map.Item.Value", "site.$": "$.site"},
                "ItemProcessor": {
                    "StartAt": "Scale",
                    "States": {"Scale": {"Type": "Task", "Resource": _fn("scale"), "End": True}},
                },
                "End": True,
            }
        },
    }

    def scale(event: Any) -> Any:
        return {"site": event["site"], "value": event["value"] * 2}

    workflow = express.compile_workflow(definition, handlers={"scale": scale})

    def baseline(data: Any) -> Any:
        return [scale({"value": v, "site": data["site"]}) for v in data["items"]]

    inputs = [{"site": "plant-a", "items": list(range(i, i + 10))} for i in range(50)]
    return "Map of 10 items", workflow.start, baseline, inputs, 1 + 10


def parallel_of_2() -> Workload:
    def branch(name: str, resource: str) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Task", "Resource": resource, "End": True}}}

    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [branch("Stats", _fn("stats")), branch("Tag", _fn("tag"))],
                "ResultSelector": {"stats.$": "$[0]", "tag.$": "$[1]"},
                "End": True,
            }
        },
    }

    def stats(event: Any) -> Any:
        values = event["values"]
        return {"min": min(values), "max": max(values)}

    def tag(event: Any) -> Any:
        return {"device": event["device"], "tagged": True}

    workflow = express.compile_workflow(definition, handlers={"stats": stats, "tag": tag})

    def baseline(data: Any) -> Any:
        return {"stats": stats(data), "tag": tag(data)}

    inputs = [{"device": f"d{i}", "values": [i, i + 3, i - 2]} for i in range(50)]
    return "Parallel of 2 branches", workflow.start, baseline, inputs, 3


def intrinsics_pass() -> Workload:
    definition = {
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "Parameters": {
                    "label.$": "States.Format('{} at {}', $.device, $.site)",
                    "parts.$": "States.StringSplit($.path, '/')",
                    "count.$": "States.ArrayLength($.values)",
                    "next.$": "States.MathAdd($.seq, 1)",
                    "digest.$": "States.Hash($.device, 'SHA-256')",
                },
                "End": True,
            }
        },
    }
    workflow = express.compile_workflow(definition)
    import hashlib

    def baseline(d: Any) -> Any:
        return {
            "label": f"{d['device']} at {d['site']}",
            "parts": [p for p in d["path"].split("/") if p],
            "count": len(d["values"]),
            "next": d["seq"] + 1,
            "digest": hashlib.sha256(d["device"].encode()).hexdigest(),
        }

    inputs = [
        {"device": f"sensor-{i}", "site": "plant-a", "path": "a/b/c", "values": [1, 2, 3], "seq": i}
        for i in range(50)
    ]
    return "Pass with 5 intrinsics", workflow.start, baseline, inputs, 1


def _fn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:111111111111:function:{name}"


def _rate(run: Callable[[Any], Any], inputs: list[Any], seconds: float) -> tuple[float, list[float]]:
    """Calls per second over ``seconds``, and a sample of per-call latencies (µs)."""
    n = len(inputs)
    calls = 0
    latencies: list[float] = []
    clock = time.perf_counter
    deadline = clock() + seconds
    gc.collect()
    started = clock()
    while clock() < deadline:
        for i in range(n):
            run(inputs[i])
        calls += n
    elapsed = clock() - started
    for item in inputs[:200]:
        t0 = clock()
        run(item)
        latencies.append((clock() - t0) * 1e6)
    return calls / elapsed, latencies


def _compile_time(factory: Callable[[], Workload], repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        factory()
    return (time.perf_counter() - started) / repeats * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short rounds, for a smoke check")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per workload")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 5)
    seconds = 0.3 if args.quick else 1.0

    print(
        f"# express engine benchmark — {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )
    command = ["python", "-m", "benchmarks.bench_engine", *(argv if argv is not None else sys.argv[1:])]
    print(f"# command: {' '.join(command)}")
    print(f"# {rounds} alternating rounds of {seconds:.1f} s per side; median of the rounds\n")
    header = (
        f"{'workload':<24} {'compile ms':>10} {'exec/s':>11} {'transitions/s':>14} "
        f"{'baseline/s':>11} {'ratio':>6} {'p50 µs':>7} {'p99 µs':>7}"
    )
    print(header)
    print("-" * len(header))
    for factory in (pass_chain, iot_router, map_of_10, parallel_of_2, intrinsics_pass):
        compile_ms = _compile_time(factory, 3 if args.quick else 10)
        name, engine, baseline, inputs, transitions = factory()
        result = engine(inputs[0])
        assert isinstance(result, express.ExecutionResult) and result.status == "SUCCEEDED", (name, result)
        engine_rates, base_rates, latencies = [], [], []
        for _ in range(rounds):
            rate, lat = _rate(engine, inputs, seconds)
            engine_rates.append(rate)
            latencies.extend(lat)
            base_rates.append(_rate(baseline, inputs, seconds)[0])
        rate = statistics.median(engine_rates)
        base = statistics.median(base_rates)
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[int(len(latencies) * 0.99)]
        print(
            f"{name:<24} {compile_ms:>10.2f} {rate:>11,.0f} {rate * transitions:>14,.0f} "
            f"{base:>11,.0f} {rate / base:>6.2f} {p50:>7.1f} {p99:>7.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
