"""Metric families, bound objects, the /metrics and /healthz endpoint, and stall detection."""

from __future__ import annotations

import inspect
import math
import re
from functools import partial

import anyio
import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from connectors.logsinks import MemoryLogSink
from express.health import DEFAULT_METRICS_HOST, ConsumerHealth, serve_http
from express.metrics import EXECUTION_BUCKETS, FAMILIES, MAX_DYNAMIC_LABELS, STATE_TYPES, ExpressMetrics

DEADLINE = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return samples(registry)[(name, tuple(sorted(labels.items())))]


def test_names_follow_prometheus_conventions() -> None:
    for name, (kind, documentation, labels) in FAMILIES.items():
        assert re.fullmatch(r"express_[a-z][a-z0-9_]*[a-z0-9]", name), name
        assert not name.endswith("_total"), name  # the client adds it to counters
        assert documentation.endswith("."), name
        assert kind in {"counter", "gauge", "histogram"}
        if kind == "histogram" or re.search(r"_(duration|age)_", name):
            assert name.endswith("_seconds"), name
        assert all(re.fullmatch(r"[a-z_]+", label) for label in labels), name


def test_families_are_defined_once_per_registry() -> None:
    registry = CollectorRegistry()
    ExpressMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        ExpressMetrics(registry)


def test_execution_metrics() -> None:
    registry = CollectorRegistry()
    metrics = ExpressMetrics(registry)
    sm = metrics.bind("iot")
    assert metrics.bind("iot") is sm
    for _ in range(3):
        sm.execution_started()
    sm.execution_finished("SUCCEEDED", 0.004)
    sm.execution_finished("FAILED", 0.01)
    for state_type in ("Choice", "Pass", "Task", "Task"):
        sm.transition(state_type)
    sm.error("States.TaskFailed")
    sm.retry("Enrich")
    assert value(registry, "express_executions_started_total", state_machine="iot") == 3
    assert value(registry, "express_executions_completed_total", state_machine="iot", status="succeeded") == 1
    assert value(registry, "express_executions_completed_total", state_machine="iot", status="failed") == 1
    assert value(registry, "express_executions_completed_total", state_machine="iot", status="timed_out") == 0
    assert value(registry, "express_executions_in_flight", state_machine="iot") == 1
    assert value(registry, "express_execution_duration_seconds_count", state_machine="iot") == 2
    assert value(registry, "express_execution_duration_seconds_sum", state_machine="iot") == pytest.approx(
        0.014
    )
    assert value(registry, "express_execution_duration_seconds_bucket", state_machine="iot", le="0.005") == 1
    assert value(registry, "express_execution_duration_seconds_bucket", state_machine="iot", le="0.01") == 2
    assert value(registry, "express_execution_duration_seconds_bucket", state_machine="iot", le="+Inf") == 2
    assert value(registry, "express_state_transitions_total", state_machine="iot", state_type="Task") == 2
    assert value(registry, "express_state_transitions_total", state_machine="iot", state_type="Map") == 0
    assert value(registry, "express_errors_total", state_machine="iot", error="States.TaskFailed") == 1
    assert value(registry, "express_retries_total", state_machine="iot", state="Enrich") == 1


def test_every_state_type_and_status_is_prebound() -> None:
    registry = CollectorRegistry()
    ExpressMetrics(registry).bind("m")
    found = samples(registry)
    for state_type in STATE_TYPES:
        assert (
            found[("express_state_transitions_total", (("state_machine", "m"), ("state_type", state_type)))]
            == 0
        )
    for status in ("succeeded", "failed", "timed_out", "aborted"):
        assert (
            found[("express_executions_completed_total", (("state_machine", "m"), ("status", status)))] == 0
        )


def test_task_metrics() -> None:
    registry = CollectorRegistry()
    sm = ExpressMetrics(registry).bind("iot")
    task = sm.task("enrich_reading")
    assert sm.task("enrich_reading") is task
    task.started()
    task.succeeded(0.002)
    task.started()
    task.failed(0.5)
    sm.task("arn:aws:states:::http:invoke", "service").timed_out(60)
    labels = {"state_machine": "iot", "kind": "lambda", "resource": "enrich_reading"}
    assert value(registry, "express_tasks_started_total", **labels) == 2
    assert value(registry, "express_tasks_completed_total", **labels, outcome="succeeded") == 1
    assert value(registry, "express_tasks_completed_total", **labels, outcome="failed") == 1
    assert value(registry, "express_task_duration_seconds_count", **labels) == 2
    service = {"state_machine": "iot", "kind": "service", "resource": "arn:aws:states:::http:invoke"}
    assert value(registry, "express_tasks_completed_total", **service, outcome="timed_out") == 1


def test_run_time_label_values_are_capped() -> None:
    registry = CollectorRegistry()
    metrics = ExpressMetrics(registry)
    sm = metrics.bind("iot")
    topic = metrics.topic("dlq")
    for n in range(MAX_DYNAMIC_LABELS + 50):
        sm.error(f"Custom{n}")
        sm.task(f"fn-{n}").started()
        topic.dead_lettered(f"reason-{n}")
    sm.error("Custom0")
    found = samples(registry)
    errors = {labels: v for (name, labels), v in found.items() if name == "express_errors_total"}
    assert len(errors) == MAX_DYNAMIC_LABELS + 1
    assert errors[(("error", "other"), ("state_machine", "iot"))] == 50
    assert errors[(("error", "Custom0"), ("state_machine", "iot"))] == 2
    tasks = [labels for (name, labels) in found if name == "express_tasks_started_total"]
    assert len(tasks) == MAX_DYNAMIC_LABELS + 1
    reasons = [labels for (name, labels) in found if name == "express_records_dead_lettered_total"]
    assert len(reasons) == MAX_DYNAMIC_LABELS + 1


def test_runtime_metrics() -> None:
    registry = CollectorRegistry()
    metrics = ExpressMetrics(registry)
    readings = metrics.topic("readings")
    readings.consumed(500)
    readings.consumed()
    metrics.topic("routed").produced(480)
    metrics.topic("dead-letters").dead_lettered("FAILED", 21)
    metrics.partition("readings", 0).lag = 42
    metrics.partition("readings", 1).lag = 7
    metrics.forget_partition("readings", 1)
    metrics.consumer.commit_succeeded(0.003)
    metrics.consumer.commit_failed(1.5)
    metrics.consumer.generation = 4
    queue: list[int] = [1, 2, 3]
    metrics.watch_buffer("in_flight", 1000, lambda: len(queue))
    metrics.watch_consumer(lambda: {("readings", 0): 0.25, ("readings", 1): 3.0})
    assert value(registry, "express_records_consumed_total", topic="readings") == 501
    assert value(registry, "express_records_produced_total", topic="routed") == 480
    assert value(registry, "express_records_dead_lettered_total", topic="dead-letters", reason="FAILED") == 21
    assert value(registry, "express_consumer_lag_records", topic="readings", partition="0") == 42
    assert ("express_consumer_lag_records", (("partition", "1"), ("topic", "readings"))) not in samples(
        registry
    )
    assert value(registry, "express_commit_duration_seconds_count") == 2
    assert value(registry, "express_commit_failures_total") == 1
    assert value(registry, "express_consumer_group_generation") == 4
    assert value(registry, "express_buffer_usage", buffer="in_flight") == 3
    assert value(registry, "express_buffer_capacity", buffer="in_flight") == 1000
    assert value(registry, "express_consumer_last_fetch_age_seconds", topic="readings", partition="1") == 3.0
    assert value(registry, "express_consumer_assigned_partitions") == 2


def test_log_sink_metrics_are_read_at_scrape_time() -> None:
    registry = CollectorRegistry()
    metrics = ExpressMetrics(registry)
    sink = MemoryLogSink(capacity=2)
    metrics.watch_log_sink("memory", sink.stats)
    for n in range(5):
        sink.write(n, b"{}", "m", "arn")
    assert value(registry, "express_log_events_written_total", sink="memory") == 2
    assert value(registry, "express_log_events_dropped_total", sink="memory", reason="full") == 3
    assert value(registry, "express_log_events_dropped_total", sink="memory", reason="failed") == 0
    assert value(registry, "express_log_sink_queue_capacity", sink="memory") == 2


def test_histogram_bucket_edges_are_inclusive() -> None:
    registry = CollectorRegistry()
    sm = ExpressMetrics(registry).bind("m")
    for bound in EXECUTION_BUCKETS:
        sm.execution_finished("SUCCEEDED", bound)
    sm.execution_finished("SUCCEEDED", 301)
    for index, bound in enumerate(EXECUTION_BUCKETS):
        le = repr(float(bound))
        assert (
            value(registry, "express_execution_duration_seconds_bucket", state_machine="m", le=le)
            == index + 1
        )
    assert (
        value(registry, "express_execution_duration_seconds_bucket", state_machine="m", le="+Inf")
        == len(EXECUTION_BUCKETS) + 1
    )


# -- health --------------------------------------------------------------------------


def test_health_passes_while_partitions_are_fetched() -> None:
    report = ConsumerHealth(lambda: {("in", 0): 0.5, ("in", 1): 2.0}, stall_after=30).check()
    assert report.healthy
    assert report.partitions == {"in/0": 0.5, "in/1": 2.0}


def test_health_fails_on_a_stalled_partition_and_names_it() -> None:
    report = ConsumerHealth(
        lambda: {("in", 0): 0.5, ("in", 1): 45.0, ("in", 2): 31.0}, stall_after=30
    ).check()
    assert not report.healthy
    assert report.reason == "partition in/1 not fetched for 45.0s (limit 30s); 2 of 3 partitions stalled"
    assert report.to_json()["status"] == "stalled"


def test_health_without_partitions_is_alive_and_a_broken_probe_is_not() -> None:
    assert ConsumerHealth(dict).check().healthy

    def broken() -> dict[tuple[str, int], float]:
        raise RuntimeError("consumer closed")

    report = ConsumerHealth(broken).check()
    assert not report.healthy
    assert "RuntimeError: consumer closed" in report.reason
    assert not ConsumerHealth(lambda: {("in", 0): math.nan}).check().healthy
    with pytest.raises(ValueError, match="positive"):
        ConsumerHealth(dict, stall_after=0)


# -- the HTTP endpoint ---------------------------------------------------------------


async def http(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(request)
        response = b""
        try:
            while True:
                response += await stream.receive()
        except anyio.EndOfStream:
            pass
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def get(path: str, accept: str = "*/*") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\n\r\n".encode()


def test_endpoint_binds_to_loopback_by_default() -> None:
    assert DEFAULT_METRICS_HOST == "127.0.0.1"
    assert inspect.signature(serve_http).parameters["host"].default == "127.0.0.1"


@pytest.mark.anyio
async def test_endpoint_serves_metrics_and_health() -> None:
    registry = CollectorRegistry()
    metrics = ExpressMetrics(registry)
    metrics.bind("iot").execution_started()
    ages = {("readings", 0): 1.0}
    health = ConsumerHealth(lambda: ages, stall_after=30)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            port = await group.start(partial(serve_http, registry, health, port=0))

            status, headers, body = await http(port, get("/metrics"))
            assert status == 200
            assert headers["content-type"].startswith("text/plain; version=0.0.4")
            assert int(headers["content-length"]) == len(body)
            assert b'express_executions_started_total{state_machine="iot"} 1.0' in body

            status, headers, body = await http(port, get("/metrics", "application/openmetrics-text"))
            assert headers["content-type"].startswith("application/openmetrics-text")
            assert body.endswith(b"# EOF\n")

            status, _, body = await http(port, get("/healthz"))
            assert (status, orjson.loads(body)["status"]) == (200, "ok")
            ages[("readings", 0)] = 90.0
            status, _, body = await http(port, get("/healthz"))
            assert (status, orjson.loads(body)["partitions"]) == (503, {"readings/0": 90.0})

            assert (await http(port, get("/nowhere")))[0] == 404
            assert (await http(port, b"POST /metrics HTTP/1.1\r\n\r\n"))[0] == 405
            assert (await http(port, b"nonsense\r\n\r\n"))[0] == 400
            assert (await http(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000))[0] == 431
            status, headers, body = await http(port, b"HEAD /metrics HTTP/1.1\r\n\r\n")
            assert (status, body) == (200, b"")
            assert int(headers["content-length"]) > 0
            group.cancel_scope.cancel()


@pytest.mark.anyio
async def test_endpoint_survives_clients_that_hang_up() -> None:
    registry = CollectorRegistry()
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            port = await group.start(partial(serve_http, registry, port=0))
            stream = await anyio.connect_tcp("127.0.0.1", port)
            await stream.send(b"GET /met")
            await stream.aclose()
            status, _, body = await http(port, get("/healthz"))
            assert (status, orjson.loads(body)["status"]) == (200, "ok")
            group.cancel_scope.cancel()
