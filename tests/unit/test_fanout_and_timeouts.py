"""Parallel and Map really run concurrently; timeouts cut off what hangs. Real time, bounded."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from express import compile_workflow
from express.asl.states.map_state import INLINE_MAP_CONCURRENCY

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


class Gauge:
    """An async handler that sleeps and records how many calls overlap."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running = 0
        self.peak = 0
        self.calls = 0

    async def __call__(self, event: Any) -> Any:
        self.calls += 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await anyio.sleep(self.seconds)
        finally:
            self.running -= 1
        return {"item": event}


def map_machine(**fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Work",
                    "States": {"Work": {"Type": "Task", "Resource": LAMBDA + "work", "End": True}},
                },
                "End": True,
                **fields,
            }
        },
    }


@pytest.mark.anyio
async def test_map_of_50_slow_items_runs_concurrently() -> None:
    gauge = Gauge(0.1)
    workflow = compile_workflow(map_machine(MaxConcurrency=0), handlers={"work": gauge})
    started = time.monotonic()
    result = await workflow.execute({"items": list(range(50))})
    elapsed = time.monotonic() - started
    assert result.status == "SUCCEEDED"
    assert result.output == [{"item": i} for i in range(50)]
    assert elapsed < 1.5  # sequentially it would take 5 s
    assert gauge.peak == INLINE_MAP_CONCURRENCY  # bounded: never one task per item at once


@pytest.mark.anyio
async def test_map_honours_max_concurrency() -> None:
    gauge = Gauge(0.02)
    workflow = compile_workflow(map_machine(MaxConcurrency=2), handlers={"work": gauge})
    result = await workflow.execute({"items": list(range(10))})
    assert result.status == "SUCCEEDED"
    assert gauge.peak == 2
    assert gauge.calls == 10


@pytest.mark.anyio
async def test_map_item_selector_sees_index_and_value() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "tag.$": "$.tag"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    result = await compile_workflow(definition).execute({"items": ["a", "b"], "tag": "t"})
    assert result.output == [{"i": 0, "v": "a", "tag": "t"}, {"i": 1, "v": "b", "tag": "t"}]


@pytest.mark.anyio
async def test_map_over_a_non_array_fails_like_aws() -> None:
    result = await compile_workflow(map_machine(), handlers={"work": Gauge(0)}).execute({"items": 1})
    assert result.error == "States.Runtime"
    assert result.cause is not None and result.cause.endswith("Map state input must be an array but was: 1")


def parallel_machine(*branches: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "Par",
        "States": {"Par": {"Type": "Parallel", "Branches": list(branches), "End": True, **fields}},
    }


def branch(name: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": name, "States": {name: {**state, "End": True} if state["Type"] != "Fail" else state}}


@pytest.mark.anyio
async def test_parallel_branches_run_concurrently_and_keep_order() -> None:
    slow, fast = Gauge(0.3), Gauge(0.01)
    definition = parallel_machine(
        branch("Slow", {"Type": "Task", "Resource": LAMBDA + "slow"}),
        branch("Fast", {"Type": "Task", "Resource": LAMBDA + "fast"}),
        branch("Inline", {"Type": "Pass", "Result": "inline"}),
    )
    workflow = compile_workflow(definition, handlers={"slow": slow, "fast": fast})
    started = time.monotonic()
    result = await workflow.execute({"x": 1})
    assert time.monotonic() - started < 0.55
    assert result.output == [{"item": {"x": 1}}, {"item": {"x": 1}}, "inline"]


@pytest.mark.anyio
async def test_failing_branch_cancels_the_others_and_is_caught() -> None:
    slow = Gauge(30)
    definition = parallel_machine(
        branch("Slow", {"Type": "Task", "Resource": LAMBDA + "slow"}),
        {
            "StartAt": "Wait",
            "States": {
                "Wait": {"Type": "Wait", "Seconds": 0, "Next": "Boom"},
                "Boom": {"Type": "Fail", "Error": "Boom", "Cause": "branch failed"},
            },
        },
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
    )
    definition["States"]["Par"].pop("End")
    definition["States"]["Par"]["Next"] = "Done"
    definition["States"]["Handled"] = {"Type": "Pass", "End": True}
    definition["States"]["Done"] = {"Type": "Pass", "End": True}
    with anyio.fail_after(5):
        result = await compile_workflow(definition, handlers={"slow": slow}).execute({})
    assert result.output == {"Error": "Boom", "Cause": "branch failed"}
    assert slow.running == 0  # cancelled, not left behind


@pytest.mark.anyio
async def test_hung_async_handler_is_cut_off_by_timeout_seconds() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "hang",
                "TimeoutSeconds": 1,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}],
                "End": True,
            },
            "Late": {"Type": "Pass", "End": True},
        },
    }
    hang = Gauge(3600)
    started = time.monotonic()
    result = await compile_workflow(definition, handlers={"hang": hang}).execute({})
    assert time.monotonic() - started < 3
    assert result.output == {"Error": "States.Timeout", "Cause": ""}
    assert hang.running == 0


@pytest.mark.anyio
async def test_hung_blocking_handler_is_abandoned_after_timeout() -> None:
    release = threading.Event()

    def block(event: Any) -> Any:
        release.wait(30)
        return event

    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": LAMBDA + "block", "TimeoutSeconds": 1, "End": True}},
    }
    try:
        started = time.monotonic()
        result = await compile_workflow(definition, handlers={"block": block}).execute({})
        assert time.monotonic() - started < 3
        assert (result.status, result.error, result.cause) == ("FAILED", "States.Timeout", None)
    finally:
        release.set()


@pytest.mark.anyio
async def test_execution_time_limit_gives_timed_out() -> None:
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA + "hang", "End": True}}}
    workflow = compile_workflow(definition, handlers={"hang": Gauge(3600)}, time_limit=0.3)
    started = time.monotonic()
    result = await workflow.execute({})
    assert time.monotonic() - started < 2
    assert result.status == "TIMED_OUT"
    assert result.error == "States.Timeout"


@pytest.mark.anyio
async def test_machine_timeout_seconds_is_the_limit_when_shorter() -> None:
    definition = {
        "StartAt": "W",
        "TimeoutSeconds": 1,
        "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}},
    }
    started = time.monotonic()
    result = await compile_workflow(definition).execute({})
    assert result.status == "TIMED_OUT"
    assert time.monotonic() - started < 3
