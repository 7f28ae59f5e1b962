"""``express run`` observed from outside against a real broker: /metrics, /healthz, execution logs.

Each test runs the command in a subprocess, feeds it records through Kafka, and looks at
what an operator would: the Prometheus endpoint over loopback while the worker runs, the
health endpoint, the execution log store through ``express logs``, the log topic.
"""

from __future__ import annotations

import asyncio
import io
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka_streams import HERE, Worker, produce, read_all, wait_all_committed, wait_until
from prometheus_client.parser import text_string_to_metric_families

from express.logs.query import LogStoreReader, summarize
from express.logs_cli import add_logs_arguments, logs_command

pytestmark = [pytest.mark.kafka, pytest.mark.anyio]

DEFINITION = HERE / "workflows" / "observed.asl.json"
HANDLERS = HERE / "workflows" / "observed_handlers.py"
WORK = "arn:aws:lambda:us-east-1:111111111111:function:work"
GOOD = 20

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _records() -> list[tuple[bytes, bytes]]:
    """Good records, one whose task fails once and is retried, one that fails, one that is not JSON."""
    records = [(b"k%d" % (i % 5), orjson.dumps({"seq": i, "flaky": False})) for i in range(GOOD)]
    records.insert(7, (b"flaky", orjson.dumps({"seq": 100, "flaky": True})))
    records.insert(12, (b"fails", orjson.dumps({"seq": 101, "flaky": False, "fail": 1})))
    records.insert(3, (b"bad", b"{oops"))
    return records


def _args(bootstrap: str, topics: dict[str, str], group: str, *extra: str) -> list[str]:
    return [
        str(DEFINITION),
        "--handlers", str(HANDLERS),
        "--state-machine-name", "observed",
        "--bootstrap-servers", bootstrap,
        "--input-topic", topics["in"],
        "--output-topic", topics["out"],
        "--dlq-topic", topics["dlq"],
        "--group-id", group,
        "--commit-interval", "0.2",
        "--session-timeout-ms", "6000",
        "--heartbeat-interval-ms", "500",
        "--log-level", "info",
        "--loop", "asyncio",
        *extra,
    ]  # fmt: skip


async def _http_get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def _scrape(port: int) -> Samples:
    status, body = await _http_get(port, "/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def _metrics_port(worker: Worker) -> int:
    """The port the worker bound (it was given port 0, so no two tests can race for one)."""
    found: list[int] = []

    async def announced() -> bool:
        match = re.search(r"serving /metrics and /healthz on http://127\.0\.0\.1:(\d+)", worker.log())
        if match:
            found.append(int(match.group(1)))
        assert worker.process is not None and worker.process.poll() is None, worker.log()[-3000:]
        return bool(found)

    await wait_until(announced, "the worker to serve /metrics")
    return found[0]


async def _scrape_until(port: int, ready: Callable[[Samples], bool], what: str) -> Samples:
    latest: list[Samples] = []

    async def condition() -> bool:
        latest[:] = [await _scrape(port)]
        return ready(latest[0])

    await wait_until(condition, what)
    return latest[0]


async def test_metrics_and_health_during_a_run(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topics = {"in": kafka_topic("in", 3), "out": kafka_topic("out"), "dlq": kafka_topic("dlq")}
    worker = Worker(
        _args(kafka_bootstrap, topics, "g-metrics", "--metrics-port", "0"), tmp_path / "worker.log"
    ).start()
    try:
        port = await _metrics_port(worker)
        m = "observed"

        # Assigned and alive before any record arrives.
        samples = await _scrape_until(
            port, lambda s: _value(s, "express_consumer_assigned_partitions") == 3, "three partitions"
        )
        assert (_value(samples, "express_consumer_group_generation") or 0) >= 1
        status, body = await _http_get(port, "/healthz")
        report = orjson.loads(body)
        assert status == 200, report
        assert report["status"] == "ok"
        assert sorted(report["partitions"]) == [f"{topics['in']}/{p}" for p in range(3)]

        records = _records()
        await produce(kafka_bootstrap, topics["in"], records)
        started = GOOD + 2  # every record but the one that is not JSON

        def settled(s: Samples) -> bool:
            done = sum(
                _value(s, "express_executions_completed_total", state_machine=m, status=status) or 0
                for status in ("succeeded", "failed", "timed_out", "aborted")
            )
            lags = [v for (name, _), v in s.items() if name == "express_consumer_lag_records"]
            return done == started and len(lags) == 3 and not any(lags)

        samples = await _scrape_until(port, settled, "every execution to finish and the lag to reach 0")

        # Executions, by status; the histogram saw each one.
        assert _value(samples, "express_executions_started_total", state_machine=m) == started
        completed = {
            status: _value(samples, "express_executions_completed_total", state_machine=m, status=status)
            for status in ("succeeded", "failed", "timed_out", "aborted")
        }
        assert completed == {"succeeded": GOOD + 1, "failed": 1, "timed_out": 0, "aborted": 0}
        assert _value(samples, "express_executions_in_flight", state_machine=m) == 0
        assert _value(samples, "express_execution_duration_seconds_count", state_machine=m) == started
        # The retried execution waited a second: it alone lies past the 0.5 s bucket.
        fast = _value(samples, "express_execution_duration_seconds_bucket", state_machine=m, le="0.5")
        assert fast == started - 1

        # The engine's side: transitions by state type (a retry is one), errors, retries, handlers.
        transitions = {
            t: _value(samples, "express_state_transitions_total", state_machine=m, state_type=t)
            for t in ("Choice", "Pass", "Task", "Fail", "Map")
        }
        assert transitions == {"Choice": started, "Pass": GOOD + 1, "Task": GOOD + 2, "Fail": 1, "Map": 0}
        assert _value(samples, "express_errors_total", state_machine=m, error="Flaky") == 1
        assert _value(samples, "express_errors_total", state_machine=m, error="Rejected") == 1
        assert _value(samples, "express_retries_total", state_machine=m, state="Work") == 1
        task = {"state_machine": m, "kind": "lambda", "resource": WORK}
        assert _value(samples, "express_tasks_started_total", **task) == GOOD + 2
        assert _value(samples, "express_tasks_completed_total", **task, outcome="succeeded") == GOOD + 1
        assert _value(samples, "express_tasks_completed_total", **task, outcome="failed") == 1
        assert _value(samples, "express_task_duration_seconds_count", **task) == GOOD + 2

        # The stream: records in, outputs out, dead letters by reason.
        assert _value(samples, "express_records_consumed_total", topic=topics["in"]) == len(records)
        assert _value(samples, "express_records_produced_total", topic=topics["out"]) == GOOD + 1
        dead = "express_records_dead_lettered_total"
        assert _value(samples, dead, topic=topics["dlq"], reason="Rejected") == 1
        assert _value(samples, dead, topic=topics["dlq"], reason="InvalidExecutionInput") == 1

        # The consumer: commits, lag, liveness, generation, the in-flight buffer.
        assert (_value(samples, "express_commit_duration_seconds_count") or 0) >= 1
        assert _value(samples, "express_commit_failures_total") == 0
        for partition in range(3):
            labels = {"topic": topics["in"], "partition": str(partition)}
            assert _value(samples, "express_consumer_lag_records", **labels) == 0
            age = _value(samples, "express_consumer_last_fetch_age_seconds", **labels)
            assert age is not None and 0 <= age < 5
        assert (_value(samples, "express_consumer_group_generation") or 0) >= 1
        assert _value(samples, "express_buffer_usage", buffer="in_flight") == 0
        assert _value(samples, "express_buffer_capacity", buffer="in_flight") == 20_000
        assert (await _http_get(port, "/healthz"))[0] == 200

        await wait_all_committed(kafka_bootstrap, "g-metrics", topics["in"])
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0, worker.log()[-3000:]
    finally:
        worker.kill_if_running()
    assert len(await read_all(kafka_bootstrap, topics["out"])) == GOOD + 1
    assert f"{len(records)} records, {GOOD + 1} succeeded, 2 dead letters" in worker.log()


def _logs(*argv: str) -> tuple[int, str]:
    import argparse

    parser = argparse.ArgumentParser()
    add_logs_arguments(parser)
    out = io.StringIO()
    code = logs_command(parser.parse_args(argv), out=out)
    return code, out.getvalue()


async def test_execution_logs_land_in_a_store_that_express_logs_reads(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topics = {"in": kafka_topic("in", 2), "out": kafka_topic("out"), "dlq": kafka_topic("dlq")}
    store = tmp_path / "logs"
    records = _records()
    await produce(kafka_bootstrap, topics["in"], records)
    logging = ["--execution-log-level", "ALL", "--include-execution-data", "--log-destination", str(store),
               "--log-group", "/aws/vendedlogs/states/observed-Logs"]  # fmt: skip
    worker = Worker(_args(kafka_bootstrap, topics, "g-logs", *logging), tmp_path / "worker.log").start()
    try:
        await wait_all_committed(kafka_bootstrap, "g-logs", topics["in"])
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0, worker.log()[-3000:]
    finally:
        worker.kill_if_running()
    log = worker.log()
    match = re.search(r"execution logs: (\d+) events written to file:\S+, none dropped", log)
    assert match, log[-3000:]

    # What the store holds: one AWS record per event, every execution complete.
    reader = LogStoreReader(store, "/aws/vendedlogs/states/observed-Logs")
    events = list(reader.events())
    assert reader.skipped == 0
    assert len(events) == int(match.group(1))
    executions = summarize(events)
    statuses = sorted(e.status for e in executions)
    assert statuses == ["FAILED"] + ["SUCCEEDED"] * (GOOD + 1)  # the bad record never started
    stream = next(store.rglob("00000000"))
    assert re.fullmatch(r"states/observed/\d{4}-\d\d-\d\d-\d\d-\d\d", stream.parent.relative_to(
        stream.parents[3]).as_posix())  # fmt: skip
    line = orjson.loads(stream.read_bytes().splitlines()[0])
    record = line["message"]
    assert list(record) == [
        "id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count"
    ]  # fmt: skip
    assert all(isinstance(record[key], str) for key in ("id", "previous_event_id", "event_timestamp"))
    assert record["redrive_count"] == "0"
    assert line["timestamp"] == int(record["event_timestamp"])
    assert ":express:observed:" in record["execution_arn"]

    # The retried execution, as the console shows it: the failed attempt, the wait, the retry.
    retried = next(e for e in executions if e.events > 12)
    code, shown = _logs("--store", str(store), retried.name)
    assert code == 0
    types = [row.split()[1] for row in shown.splitlines()[1:] if row.strip() and row.split()[0].isdigit()]
    assert types == [
        "ExecutionStarted",
        "ChoiceStateEntered", "ChoiceStateExited",
        "PassStateEntered", "PassStateExited",
        "TaskStateEntered",
        "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed",
        "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]  # fmt: skip
    code, listed = _logs("--store", str(store), "--status", "FAILED", "--json")
    assert code == 0
    (failed,) = orjson.loads(listed)
    assert (failed["status"], failed["error"]) == ("FAILED", "Rejected")
    details = orjson.loads(_logs("--store", str(store), failed["name"], "--json")[1])
    last = details["events"][-1]
    assert last["type"] == "ExecutionFailed"
    assert last["details"] == {"cause": "The record asked to fail.", "error": "Rejected"}
    started = details["events"][0]
    assert orjson.loads(started["details"]["input"]) == {"seq": 101, "flaky": False, "fail": 1}
    assert started["details"]["inputDetails"] == {"truncated": False}


async def test_execution_logs_to_a_kafka_topic_at_error_level(
    kafka_bootstrap: str, kafka_topic: Any, tmp_path: Path
) -> None:
    topics = {
        "in": kafka_topic("in"),
        "out": kafka_topic("out"),
        "dlq": kafka_topic("dlq"),
        "logs": kafka_topic("logs"),
    }
    await produce(kafka_bootstrap, topics["in"], _records())
    logging = ["--execution-log-level", "ERROR", "--log-destination", f"kafka:{topics['logs']}"]
    worker = Worker(_args(kafka_bootstrap, topics, "g-klogs", *logging), tmp_path / "worker.log").start()
    try:
        await wait_all_committed(kafka_bootstrap, "g-klogs", topics["in"])
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0, worker.log()[-3000:]
    finally:
        worker.kill_if_running()
    assert f"events written to kafka:{topics['logs']}, none dropped" in worker.log()
    logged = await read_all(kafka_bootstrap, topics["logs"])
    # ERROR writes failures only: the retried handler's failure, the Fail state, the execution's failure.
    by_type = sorted(orjson.loads(r.value)["type"] for r in logged)
    assert by_type == ["ExecutionFailed", "FailStateEntered", "LambdaFunctionFailed"]
    for r in logged:
        record = orjson.loads(r.value)
        assert r.key == record["execution_arn"].encode()
        assert r.timestamp == int(record["event_timestamp"])
        assert "input" not in record["details"]  # no execution data unless asked for
