"""What a pipeline reports through ``express.metrics`` when metrics are on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from connectors.memory import MemorySink, MemorySource
from express.metrics import ExpressMetrics
from express.runtime.metrics import RuntimeMeter
from express.runtime.pipeline import Pipeline, PipelineSettings
from express.runtime.records import Record
from express.runtime.result import ExecutionResult
from express.runtime.stats import Stats

pytestmark = pytest.mark.anyio


class Echo:
    def start(self, input: object, name: str, *, input_size: int | None = None) -> ExecutionResult:
        if input == "fail":
            return ExecutionResult("FAILED", None, "Boom", "c", name, "arn", "", input, 1.0, 1.5, 1)
        return ExecutionResult("SUCCEEDED", input, None, None, name, "arn", "", input, 1.0, 1.002, 1)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_the_pipeline_reports_records_executions_commits_and_its_buffer() -> None:
    stats = Stats()
    meter = RuntimeMeter(
        ExpressMetrics(CollectorRegistry()),
        state_machine="router",
        outputs="out",
        dead_letters="dlq",
        stats=stats,
        max_in_flight=50,
    )
    values = [b"1", b"2", b'"fail"', b"nope"]
    source = MemorySource([Record("in", 0, i, v) for i, v in enumerate(values)])
    sink = MemorySink()
    pipeline = Pipeline(
        Echo(), source, sink, sink, PipelineSettings(max_in_flight=50, stats=stats), meter=meter
    )
    await pipeline.run()
    assert len(sink.records) == 4
    assert orjson.loads(sink.records[2].value)["error"] == "Boom"

    samples = _samples(meter.registry)
    assert samples[("express_records_consumed_total", (("topic", "in"),))] == 4
    assert samples[("express_records_produced_total", (("topic", "out"),))] == 2
    assert samples[("express_records_dead_lettered_total", (("reason", "Boom"), ("topic", "dlq")))] == 1
    reason = (("reason", "InvalidExecutionInput"), ("topic", "dlq"))
    assert samples[("express_records_dead_lettered_total", reason)] == 1
    assert samples[("express_executions_started_total", (("state_machine", "router"),))] == 3
    completed = {
        status: samples[
            ("express_executions_completed_total", (("state_machine", "router"), ("status", status)))
        ]
        for status in ("succeeded", "failed")
    }
    assert completed == {"succeeded": 2, "failed": 1}
    assert samples[("express_execution_duration_seconds_count", (("state_machine", "router"),))] == 3
    assert samples[("express_buffer_capacity", (("buffer", "in_flight"),))] == 50
    assert samples[("express_buffer_usage", (("buffer", "in_flight"),))] == 0
    assert samples[("express_commit_duration_seconds_count", ())] >= 1


class Probe:
    """A consumer's bookkeeping as the tests set it: end offsets, broker fetch ages, generation."""

    def __init__(self) -> None:
        self.ends: dict[tuple[str, int], int] = {}
        self.ages: dict[tuple[str, int], float | None] = {}
        self.joined = 1

    def end_offset(self, partition: tuple[str, int]) -> int | None:
        return self.ends.get(partition)

    def fetch_age(self, partition: tuple[str, int]) -> float | None:
        return self.ages.get(partition)

    def generation(self) -> int | None:
        return self.joined


def _meter(stats: Stats, **options: object) -> RuntimeMeter:
    return RuntimeMeter(
        ExpressMetrics(CollectorRegistry()),
        state_machine="router",
        outputs="out",
        dead_letters="dlq",
        stats=stats,
        max_in_flight=50,
        **options,  # type: ignore[arg-type]
    )


def test_liveness_is_the_staler_of_the_loop_and_the_brokers_answers() -> None:
    now = [100.0]
    meter = _meter(Stats(), clock=lambda: now[0])
    probe = Probe()
    meter.watch(probe)
    meter.assigned([("in", 0), ("in", 1), ("in", 2)])
    meter.fetched()
    now[0] += 2.0
    probe.ages = {("in", 0): 0.5, ("in", 1): 45.0, ("in", 2): None}  # 2 is paused: no fetch due
    assert meter.fetch_ages() == {("in", 0): 2.0, ("in", 1): 45.0, ("in", 2): 2.0}
    now[0] += 100.0  # the loop stopped fetching altogether
    assert min(meter.fetch_ages().values()) == 102.0
    meter.revoked([("in", 1)])
    meter.assigned([("in", 0), ("in", 2)])
    assert sorted(meter.fetch_ages()) == [("in", 0), ("in", 2)]


def test_lag_and_generation_come_from_the_probe_on_refresh() -> None:
    meter = _meter(Stats())
    probe = Probe()
    meter.watch(probe)
    probe.joined = 7
    meter.assigned([("in", 0), ("in", 1), ("in", 2)])
    probe.ends = {("in", 0): 120, ("in", 1): 40}
    meter.refresh({("in", 0): 100, ("in", 1): None, ("in", 2): 5})
    samples = _samples(meter.registry)
    lag = "express_consumer_lag_records"
    assert samples[(lag, (("partition", "0"), ("topic", "in")))] == 20
    assert samples[(lag, (("partition", "1"), ("topic", "in")))] == 0  # fetched nothing: at the end
    assert (lag, (("partition", "2"), ("topic", "in"))) not in samples  # end not known yet
    assert samples[("express_consumer_group_generation", ())] == 7


class Gated:
    """Executions that wait on a future the test never completes."""

    def __init__(self) -> None:
        self.running = 0

    def start(self, input: object, name: str, *, input_size: int | None = None) -> object:
        return self._never(name)

    async def _never(self, name: str) -> ExecutionResult:
        self.running += 1
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self.running -= 1
        raise AssertionError("unreachable")


async def _until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0)


async def test_executions_abandoned_on_revocation_count_as_aborted_and_leave_flight() -> None:
    stats = Stats()
    meter = _meter(stats)
    workflow = Gated()
    source = MemorySource([Record("in", 0, i, b"{}") for i in range(2)], finite=False)
    sink = MemorySink()
    settings = PipelineSettings(ordering="unordered", drain_timeout=0.01, stats=stats)
    pipeline = Pipeline(workflow, source, sink, sink, settings, meter=meter)
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: workflow.running == 2, "two waiting executions")
    assert meter.machine.in_flight == 2
    await pipeline.on_revoked([("in", 0)])
    await _until(lambda: workflow.running == 0, "the abandoned executions to be cancelled")
    samples = _samples(meter.registry)
    labels = (("state_machine", "router"), ("status", "aborted"))
    assert samples[("express_executions_completed_total", labels)] == 2
    assert samples[("express_executions_in_flight", (("state_machine", "router"),))] == 0
    pipeline.stop()
    await asyncio.wait_for(task, 10)


async def test_a_commit_that_raises_counts_as_a_failure() -> None:
    class Broken(MemorySource):
        async def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
            raise ConnectionError("the coordinator went away")

    stats = Stats()
    meter = _meter(stats)
    sink = MemorySink()
    pipeline = Pipeline(
        Echo(), Broken([Record("in", 0, 0, b"1")]), sink, sink, PipelineSettings(stats=stats), meter=meter
    )
    with pytest.raises(ConnectionError):
        await pipeline.run()
    assert _samples(meter.registry)[("express_commit_failures_total", ())] == 1
