"""The stream loop over in-memory connectors: delivery, ordering, back-pressure, rebalances.

Most tests drive the pipeline with ``StandIn``, a workflow whose executions finish inline
or wait on gates the test opens, so every interleaving is chosen by the test. The last
tests run the real engine on the bundled IoT example.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.memory import MemorySink, MemorySource
from express.runtime.envelope import MAX_INPUT_BYTES
from express.runtime.offsets import DeliveryError
from express.runtime.pipeline import Pipeline, PipelineSettings
from express.runtime.records import Record
from express.runtime.result import ExecutionResult

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "express" / "examples" / "iot"
DEADLINE = 10.0


def _result(name: str, output: Any, status: str = "SUCCEEDED", error: str | None = None) -> ExecutionResult:
    arn = f"arn:aws:states:us-east-1:111111111111:express:test:{name}:x"
    return ExecutionResult(
        status, output, error, "cause" if error else None, name, arn, "", None, 0.0, 0.0, 2
    )


class StandIn:
    """A workflow: ``{"wait": "g"}`` waits for gate g; ``{"fail": true}`` fails; else echoes inline."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.running = 0
        self.peak = 0
        self.started: list[str] = []

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    def start(self, input: Any, name: str, *, input_size: int | None = None) -> Any:
        self.started.append(name)
        if isinstance(input, dict) and input.get("fail"):
            return _result(name, None, "FAILED", "Boom")
        if isinstance(input, dict) and "wait" in input:
            return self._later(input, name)
        return _result(name, {"echo": input})

    async def _later(self, input: dict[str, Any], name: str) -> ExecutionResult:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.gate(input["wait"]).wait()
        finally:
            self.running -= 1
        return _result(name, {"echo": input})


def _records(
    topic: str, partition: int, values: list[Any], keys: list[bytes | None] | None = None
) -> list[Record]:
    return [
        Record(
            topic,
            partition,
            offset,
            v if isinstance(v, bytes) else orjson.dumps(v),
            (keys or [None] * len(values))[i],
        )
        for i, (offset, v) in enumerate(enumerate(values))
    ]


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait on a condition with a deadline, yielding to the loop between checks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0)


def _pipeline(
    workflow: Any, source: MemorySource, output: MemorySink, dead: MemorySink | None = None, **settings: Any
) -> Pipeline:
    return Pipeline(workflow, source, output, dead or output, PipelineSettings(**settings))


async def _run(pipeline: Pipeline) -> None:
    await asyncio.wait_for(pipeline.run(), DEADLINE)


# -- inline executions ---------------------------------------------------------------------------


async def test_each_record_becomes_one_output_with_its_key_headers_and_name() -> None:
    source = MemorySource(_records("in", 0, [{"n": i} for i in range(5)], [b"k%d" % i for i in range(5)]))
    output, dead = MemorySink(), MemorySink()
    pipeline = _pipeline(StandIn(), source, output, dead)
    await _run(pipeline)
    assert [orjson.loads(r.value) for r in output.records] == [{"echo": {"n": i}} for i in range(5)]
    assert [r.key for r in output.records] == [b"k%d" % i for i in range(5)]
    headers = output.records[3].headers
    assert headers["express-execution-name"] == b"in-0-3"
    assert headers["express-execution-arn"].startswith(b"arn:aws:states:")
    assert (headers["express-source-topic"], headers["express-source-partition"]) == (b"in", b"0")
    assert headers["express-source-offset"] == b"3"
    assert dead.records == []
    assert source.committed == {("in", 0): 5}
    assert pipeline.stats.succeeded == 5 and pipeline.stats.transitions == 10


async def test_executions_that_finish_inline_need_no_task() -> None:
    source = MemorySource(_records("in", 0, list(range(50))) + _records("in", 1, list(range(50))))
    pipeline = _pipeline(StandIn(), source, MemorySink())
    await _run(pipeline)
    assert pipeline.stats.succeeded == 100
    assert pipeline.stats.spawned == 0


async def test_names_are_the_source_coordinates_so_a_rerun_has_the_same_name() -> None:
    workflow = StandIn()
    topic = "orders.v1." + "x" * 200
    records = [Record(topic, 7, 123456789, b"{}")]
    await _run(_pipeline(workflow, MemorySource(records), MemorySink()))
    await _run(_pipeline(workflow, MemorySource(records), MemorySink()))
    first, second = workflow.started
    assert first == second
    assert first.endswith("-7-123456789") and first.startswith("orders_v1_xxx")
    assert len(first) <= 80


# -- dead letters --------------------------------------------------------------------------------


async def test_bad_records_become_dead_letters_with_reasons_while_good_ones_flow() -> None:
    values: list[bytes | None] = [
        b'{"ok": 1}',
        b"not json",
        b'{"ok": 2}',
        b"\xff\xfe{}",
        b'"' + b"a" * MAX_INPUT_BYTES + b'"',
        None,
        b'{"fail": true}',
        b'{"ok": 3}',
    ]
    records = [Record("in", 0, i, v, key=b"key-%d" % i) for i, v in enumerate(values)]
    source, output, dead = MemorySource(records), MemorySink(), MemorySink()
    pipeline = _pipeline(StandIn(), source, output, dead)
    await _run(pipeline)

    assert [orjson.loads(r.value)["echo"]["ok"] for r in output.records] == [1, 2, 3]
    letters = {doc["source"]["offset"]: doc for doc in (orjson.loads(r.value) for r in dead.records)}
    assert sorted(letters) == [1, 3, 4, 5, 6]
    assert letters[1]["status"] == "NOT_STARTED"
    assert letters[1]["error"] == "InvalidExecutionInput"
    assert (letters[1]["value"], letters[1]["value_encoding"]) == ("not json", "text")
    assert "UTF-8" in letters[3]["cause"]
    assert base64.b64decode(letters[3]["value"]) == b"\xff\xfe{}"
    assert letters[3]["value_encoding"] == "base64"
    assert letters[4]["error"] == "States.DataLimitExceeded"
    assert str(MAX_INPUT_BYTES) in letters[4]["cause"]
    assert letters[5]["value_encoding"] == "none" and "tombstone" in letters[5]["cause"]
    assert (letters[6]["status"], letters[6]["error"]) == ("FAILED", "Boom")
    assert letters[6]["execution_arn"].startswith("arn:aws:states:")
    for offset, doc in letters.items():
        assert doc["execution_name"] == f"in-0-{offset}"
        assert doc["source"] == {"topic": "in", "partition": 0, "offset": offset}
        assert doc["key"] == f"key-{offset}"
    assert [r.key for r in dead.records] == [b"key-%d" % i for i in sorted(letters)]
    assert source.committed == {("in", 0): 8}
    stats = pipeline.stats
    assert (stats.succeeded, stats.failed, stats.not_started, stats.dead_letters) == (3, 1, 4, 5)


async def test_an_engine_that_raises_does_not_stop_the_stream() -> None:
    class Broken(StandIn):
        def start(self, input: Any, name: str, *, input_size: int | None = None) -> Any:
            if input == 1:
                raise RuntimeError("engine bug")
            return super().start(input, name)

    source, output, dead = MemorySource(_records("in", 0, [0, 1, 2])), MemorySink(), MemorySink()
    await _run(_pipeline(Broken(), source, output, dead))
    assert len(output.records) == 2
    (letter,) = [orjson.loads(r.value) for r in dead.records]
    assert letter["error"] == "Express.InternalError" and "engine bug" in letter["cause"]
    assert source.committed == {("in", 0): 3}


# -- ordering ------------------------------------------------------------------------------------


async def test_partition_ordering_runs_a_partitions_records_one_at_a_time_in_order() -> None:
    workflow = StandIn()
    values = [{"wait": "b", "i": 0}, {"i": 1}, {"wait": "a", "i": 2}, {"i": 3}]
    source = MemorySource(_records("in", 0, values) + _records("in", 1, [{"i": 10}]))
    output = MemorySink()
    pipeline = _pipeline(workflow, source, output, ordering="partition")
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: len(output.records) == 1, "partition 1's record")
    assert workflow.started == ["in-0-0", "in-1-0"]  # in-0-1 waits behind in-0-0
    workflow.gate("a").set()
    workflow.gate("b").set()
    await asyncio.wait_for(task, DEADLINE)
    order = [orjson.loads(r.value)["echo"]["i"] for r in output.records]
    assert order == [10, 0, 1, 2, 3]
    assert workflow.peak == 1


async def test_key_ordering_keeps_each_keys_order_and_runs_keys_concurrently() -> None:
    workflow = StandIn()
    keys = [b"a", b"b", b"a", b"c", b"b", b"a"]
    values = [{"wait": k.decode() + str(i), "i": i} for i, k in enumerate(keys)]
    source, output = MemorySource(_records("in", 0, values, keys)), MemorySink()
    task = asyncio.ensure_future(_pipeline(workflow, source, output, ordering="key").run())
    await _until(lambda: workflow.running == 3, "one execution per key")
    assert workflow.peak == 3  # three keys, one partition
    for i in reversed(range(len(keys))):  # release the latest first: order must still hold
        workflow.gate(keys[i].decode() + str(i)).set()
    await asyncio.wait_for(task, DEADLINE)
    seen: dict[bytes | None, list[int]] = {}
    for r in output.records:
        seen.setdefault(r.key, []).append(orjson.loads(r.value)["echo"]["i"])
    assert seen == {b"a": [0, 2, 5], b"b": [1, 4], b"c": [3]}
    assert source.committed == {("in", 0): 6}


async def test_unordered_runs_everything_at_once_up_to_the_in_flight_bound() -> None:
    workflow = StandIn()
    source, output = MemorySource(_records("in", 0, [{"wait": "go"}] * 20)), MemorySink()
    task = asyncio.ensure_future(
        _pipeline(workflow, source, output, ordering="unordered", max_in_flight=8).run()
    )
    await _until(lambda: workflow.running == 8, "eight executions")
    await asyncio.sleep(0)
    assert workflow.running == 8
    workflow.gate("go").set()
    await asyncio.wait_for(task, DEADLINE)
    assert len(output.records) == 20 and workflow.peak == 8


# -- delivery and commits ------------------------------------------------------------------------


async def test_commits_never_pass_a_record_whose_output_is_not_acknowledged() -> None:
    source = MemorySource(_records("in", 0, list(range(10))), finite=False)
    output = MemorySink(manual=True)
    pipeline = _pipeline(StandIn(), source, output, commit_interval=0.001)
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: output.unacknowledged == 10, "ten sends")
    output.acknowledge(4)
    await _until(lambda: source.committed.get(("in", 0)) == 4, "commit of the acknowledged prefix")
    assert all(offsets[("in", 0)] <= 4 for offsets in source.commits)
    output.acknowledge()
    await _until(lambda: source.committed.get(("in", 0)) == 10, "the final commit")
    pipeline.stop()
    await asyncio.wait_for(task, DEADLINE)


async def test_a_failed_delivery_stops_the_pipeline_without_committing_past_it() -> None:
    source = MemorySource(_records("in", 0, list(range(6))), finite=False)
    output = MemorySink(manual=True)
    pipeline = _pipeline(StandIn(), source, output, commit_interval=0.001)
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: output.unacknowledged == 6, "six sends")
    output.acknowledge(2)
    output.fail(OSError("broker gone"))
    output.acknowledge()
    with pytest.raises(DeliveryError, match=r"in\[0\]@2"):
        await asyncio.wait_for(task, DEADLINE)
    assert source.committed.get(("in", 0), 0) <= 2
    assert source.stopped


async def test_a_rejected_commit_is_not_fatal() -> None:
    source = MemorySource(_records("in", 0, [1, 2]))
    source.reject_commits = True
    pipeline = _pipeline(StandIn(), source, MemorySink())
    await _run(pipeline)
    assert pipeline.stats.commits_rejected >= 1 and source.committed == {}


# -- back-pressure -------------------------------------------------------------------------------


async def test_fetching_pauses_at_the_in_flight_bound_and_resumes_when_it_halves() -> None:
    source = MemorySource(_records("in", 0, list(range(100))) + _records("in", 1, list(range(100))))
    output = MemorySink(manual=True)
    pipeline = _pipeline(StandIn(), source, output, max_in_flight=10, fetch_max_records=4)
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: pipeline.stats.paused, "a pause")
    assert source.paused == {("in", 0), ("in", 1)}
    assert pipeline.stats.in_flight == 10
    output.acknowledge(4)
    await asyncio.sleep(0.01)  # give the loop turns: it must stay paused above half
    assert pipeline.stats.paused and output.unacknowledged == 6
    while not task.done():
        output.acknowledge()
        await asyncio.sleep(0)
    await asyncio.wait_for(task, DEADLINE)
    assert len(output.records) == 200
    assert pipeline.stats.in_flight_peak == 10
    assert pipeline.stats.pauses >= 1
    assert source.paused == set()


async def test_at_the_bound_the_loop_takes_records_again_once_a_fetch_fits() -> None:
    source = MemorySource(_records("in", 0, list(range(40))))
    output = MemorySink(manual=True)
    pipeline = _pipeline(StandIn(), source, output, max_in_flight=10, fetch_max_records=2, pause_after=5.0)
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: output.unacknowledged == 10, "the bound")
    output.acknowledge(2)  # far from half done, but a fetch of 2 fits
    await _until(lambda: output.unacknowledged == 10 and len(output.records) == 12, "a refill")
    while not task.done():
        output.acknowledge()
        await asyncio.sleep(0)
    await asyncio.wait_for(task, DEADLINE)
    assert len(output.records) == 40 and pipeline.stats.pauses == 0


async def test_a_bound_reached_only_briefly_does_not_pause() -> None:
    source = MemorySource(_records("in", 0, list(range(40))))
    output = MemorySink(manual=True)
    pipeline = _pipeline(StandIn(), source, output, max_in_flight=10, pause_after=5.0)
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: output.unacknowledged == 10, "the bound")
    assert not source.paused  # the loop stopped taking records without pausing
    while not task.done():
        output.acknowledge()
        await asyncio.sleep(0)
    await asyncio.wait_for(task, DEADLINE)
    assert len(output.records) == 40 and pipeline.stats.pauses == 0
    assert pipeline.stats.in_flight_peak == 10


# -- rebalances and shutdown ---------------------------------------------------------------------


async def test_revocation_finishes_running_work_abandons_queued_work_and_commits_below_it() -> None:
    workflow = StandIn()
    values = [{"i": 0}, {"wait": "slow", "i": 1}, {"i": 2}, {"i": 3}]
    source = MemorySource(_records("in", 0, values) + _records("in", 1, [{"i": 9}]), finite=False)
    output = MemorySink()
    pipeline = _pipeline(workflow, source, output, ordering="partition")
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: workflow.running == 1 and len(output.records) == 2, "the waiting execution")
    revoking = asyncio.ensure_future(pipeline.on_revoked([("in", 0)]))
    await asyncio.sleep(0)
    assert not revoking.done()  # the running execution is being finished
    workflow.gate("slow").set()
    await asyncio.wait_for(revoking, DEADLINE)
    # Record 1 finished and was delivered; 2 and 3 queued behind it and were abandoned.
    assert sorted(orjson.loads(r.value)["echo"]["i"] for r in output.records) == [0, 1, 9]
    assert source.committed[("in", 0)] == 2
    assert pipeline.stats.partitions == 1 and pipeline.stats.in_flight == 0
    pipeline.stop()
    await asyncio.wait_for(task, DEADLINE)
    assert workflow.started.count("in-0-2") == 0


async def test_revocation_abandons_executions_that_outlast_the_drain_timeout() -> None:
    workflow = StandIn()
    source = MemorySource(_records("in", 0, [{"i": 0}, {"wait": "never"}]), finite=False)
    output = MemorySink()
    pipeline = _pipeline(workflow, source, output, drain_timeout=0.05)
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: workflow.running == 1, "the stuck execution")
    await asyncio.wait_for(pipeline.on_revoked([("in", 0)]), DEADLINE)
    assert source.committed[("in", 0)] == 1
    await _until(lambda: workflow.running == 0, "cancellation of the stuck execution")
    pipeline.stop()
    await asyncio.wait_for(task, DEADLINE)


async def test_assignment_rebuilds_the_bookkeeping() -> None:
    source = MemorySource(finite=False)
    source.add_partition(("in", 0))
    output = MemorySink()
    pipeline = _pipeline(StandIn(), source, output, commit_interval=0.001)
    task = asyncio.ensure_future(pipeline.run())
    for record in _records("in", 0, [0, 1, 2]):
        source.push(record)
    await _until(lambda: source.committed.get(("in", 0)) == 3, "the first commit")
    await pipeline.on_revoked([("in", 0)])
    await pipeline.on_assigned([("in", 0)])
    # The new owner starts again from offset 1 (a rewind): the commit follows the records.
    source.push(Record("in", 0, 1, b"1"))
    await _until(lambda: len(output.records) == 4, "the rewound record")
    await _until(lambda: source.commits[-1] == {("in", 0): 2}, "a commit from the new bookkeeping")
    pipeline.stop()
    await asyncio.wait_for(task, DEADLINE)


async def test_stop_finishes_in_flight_executions_then_commits() -> None:
    workflow = StandIn()
    source = MemorySource(_records("in", 0, [{"wait": "g", "i": i} for i in range(3)]), finite=False)
    output = MemorySink()
    pipeline = _pipeline(workflow, source, output, ordering="unordered")
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: workflow.running == 3, "three executions")
    pipeline.stop()
    await asyncio.sleep(0)
    assert not task.done()
    workflow.gate("g").set()
    await asyncio.wait_for(task, DEADLINE)
    assert len(output.records) == 3
    assert source.committed == {("in", 0): 3} and source.stopped


# -- the real engine -----------------------------------------------------------------------------


def _iot_workflow() -> Any:
    import express

    handlers = express.load_handlers(EXAMPLE / "handlers.py")
    return express.compile_workflow(
        (EXAMPLE / "router.asl.json").read_bytes(), handlers=handlers, name="router"
    )


async def test_the_iot_router_over_memory_connectors_matches_direct_executions() -> None:
    workflow = _iot_workflow()
    lines = (EXAMPLE / "readings.jsonl").read_bytes().splitlines()[:400]
    records = [Record("readings", i % 3, i // 3, line, key=b"k") for i, line in enumerate(lines)]
    source, output, dead = MemorySource(records), MemorySink(), MemorySink()
    pipeline = _pipeline(workflow, source, output, dead, ordering="key")
    await _run(pipeline)

    expected_ok = 0
    for line in lines:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        expected_ok += workflow.execute_sync(data).status == "SUCCEEDED"
    assert len(output.records) == expected_ok
    assert len(output.records) + len(dead.records) == len(lines)
    assert pipeline.stats.spawned == 0  # the router never waits
    assert pipeline.stats.transitions >= 3 * expected_ok
    first = orjson.loads(output.records[0].value)
    assert first["route"] in {"alerts", "maintenance", "timeseries", "quarantine"}
    assert source.committed == {
        ("readings", p): len([r for r in records if r.partition == p]) for p in range(3)
    }


async def test_a_waiting_workflow_runs_as_tasks_and_keeps_per_key_order() -> None:
    import express

    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:work",
                "End": True,
            }
        },
    }

    async def work(event: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.001 * (event["i"] % 3))
        return event

    workflow = express.compile_workflow(definition, handlers={"work": work})
    keys = [b"k%d" % (i % 4) for i in range(40)]
    source, output = MemorySource(_records("in", 0, [{"i": i} for i in range(40)], keys)), MemorySink()
    pipeline = _pipeline(workflow, source, output, ordering="key")
    await _run(pipeline)
    per_key: dict[bytes | None, list[int]] = {}
    for r in output.records:
        per_key.setdefault(r.key, []).append(orjson.loads(r.value)["i"])
    assert per_key == {b"k%d" % k: list(range(k, 40, 4)) for k in range(4)}
    assert pipeline.stats.spawned > 0


# -- exactly-once --------------------------------------------------------------------------------


async def test_a_transaction_commits_offsets_only_once_every_record_is_done() -> None:
    from connectors.memory import MemoryTransactions

    workflow = StandIn()
    transactions = MemoryTransactions()
    source = MemorySource(_records("in", 0, [{"i": 0}, {"wait": "g", "i": 1}, {"i": 2}]), finite=False)
    output = MemorySink()
    pipeline = Pipeline(
        workflow,
        source,
        output,
        output,
        PipelineSettings(ordering="unordered", commit_interval=0.001),
        transactions=transactions,
    )
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: workflow.running == 1 and len(output.records) == 2, "two done, one waiting")
    await asyncio.sleep(0.01)
    assert transactions.calls == [("begin",)]  # the commit waits for the waiting record
    workflow.gate("g").set()
    await _until(lambda: len(transactions.calls) >= 3, "the commit")
    assert transactions.calls[1:3] == [("commit", {("in", 0): 3}), ("begin",)]
    assert source.commits == []  # offsets go through the transaction only
    pipeline.stop()
    await asyncio.wait_for(task, DEADLINE)
    assert not transactions.open


async def test_a_transactional_revocation_finishes_queued_records_instead_of_dropping_them() -> None:
    from connectors.memory import MemoryTransactions

    workflow = StandIn()
    transactions = MemoryTransactions()
    values = [{"wait": "g", "i": 0}, {"i": 1}, {"i": 2}]
    source = MemorySource(_records("in", 0, values, [b"k", b"k", b"other"]), finite=False)
    output = MemorySink()
    pipeline = Pipeline(
        workflow, source, output, output, PipelineSettings(ordering="key"), transactions=transactions
    )
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: workflow.running == 1 and len(output.records) == 1, "record 2 done, 0 waiting")
    revoking = asyncio.ensure_future(pipeline.on_revoked([("in", 0)]))
    await asyncio.sleep(0)
    workflow.gate("g").set()
    await asyncio.wait_for(revoking, DEADLINE)
    assert sorted(orjson.loads(r.value)["echo"]["i"] for r in output.records) == [0, 1, 2]
    assert ("commit", {("in", 0): 3}) in transactions.calls
    pipeline.stop()
    await asyncio.wait_for(task, DEADLINE)


async def test_a_failed_delivery_aborts_the_transaction() -> None:
    from connectors.memory import MemoryTransactions

    transactions = MemoryTransactions()
    source = MemorySource(_records("in", 0, [1, 2]), finite=False)
    output = MemorySink(manual=True)
    pipeline = Pipeline(
        StandIn(), source, output, output, PipelineSettings(commit_interval=0.001), transactions=transactions
    )
    task = asyncio.ensure_future(pipeline.run())
    await _until(lambda: output.unacknowledged == 2, "two sends")
    output.fail(OSError("gone"))
    with pytest.raises(DeliveryError):
        await asyncio.wait_for(task, DEADLINE)
    assert transactions.calls[-1] == ("abort",)
    assert not any(call[0] == "commit" for call in transactions.calls)
