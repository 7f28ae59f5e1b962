"""What a pipeline reports through ``express.metrics`` when metrics are on."""

from __future__ import annotations

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
