"""Real executions' logs, written at the end, against each event as it was when it happened.

The engine buffers an execution's events and the logger formats them when the execution
ends; that is only right if no buffered payload changes in between. Here every history
buffer is a ``Recording``: as the engine appends an event, it writes down the reference
line (``format_event`` of the event's details) right then. The logger's lines must be
exactly those, for workflows that exercise every way a payload moves through the engine
(Pass Result and Parameters, ResultSelector/ResultPath/OutputPath, Assign, JSONata, Map,
Parallel, Catch, Retry, Wait, async handlers, handlers that change their event or keep
and change what they returned) at every level, with and without data, framed or not.

Then the ways an execution ends: cut off by its time limit, cancelled, failing inside
the engine, a Pending never awaited, a long execution flushing as it goes, a Wait
writing what came before it before it sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import orjson
import pytest

from express import compile_workflow
from express.examples import IOT
from express.handlers import load_handlers
from express.logs import ExecutionLogger, LoggingConfiguration, LogLevel, format_event
from express.logs.layout import encode_event
from express.runtime.context import EventRecorder, History
from express.runtime.result import ExecutionResult
from express.testing import ManualClock
from express.types import JSON


class Recording(list[Any]):
    """A history buffer that writes down each event's reference line as it is appended."""

    def __init__(self, expected: list[bytes], execution_arn: str, include_data: bool) -> None:
        super().__init__()
        self.expected = expected
        self.execution_arn = execution_arn
        self.include_data = include_data

    def __iadd__(self, entries: Any) -> Recording:  # type: ignore[override,misc]
        assert len(entries) % 5 == 0, entries  # whole events, one or more at once
        for start in range(0, len(entries), 5):
            kind, event_id, previous, at, value = entries[start : start + 5]
            details = orjson.loads(orjson.dumps(kind.details(value)))  # a copy, as it is now
            self.expected.append(
                format_event(
                    event_id,
                    kind.type,
                    details,
                    previous,
                    round(at * 1000),
                    execution_arn=self.execution_arn,
                    include_execution_data=self.include_data,
                )
            )
        super().__iadd__(entries)
        return self

    def fresh(self) -> Recording:
        return Recording(self.expected, self.execution_arn, self.include_data)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every history records into a ``Recording``; yields the reference lines, in order."""
    expected: list[bytes] = []
    attach, flush = History.attach, History.flush

    def recording_attach(self: History, recorder: EventRecorder, clock: Any) -> None:
        attach(self, recorder, clock)
        arn = recorder.execution_arn  # type: ignore[attr-defined]
        self.events = Recording(expected, arn, recorder.payloads)  # type: ignore[attr-defined]

    def recording_flush(self: History) -> None:
        events = self.events if self.recording else None
        flush(self)
        if isinstance(events, Recording) and self.recording and not isinstance(self.events, Recording):
            self.events = events.fresh()

    monkeypatch.setattr(History, "attach", recording_attach)
    monkeypatch.setattr(History, "flush", recording_flush)
    yield expected


class Sink:
    """Keeps lines as the logger hands them over, framed (as the store) or not (as stdout)."""

    def __init__(self, framed: bool) -> None:
        self.lines: list[bytes] = []
        self.calls = 0
        if framed:
            self.write_framed_batch = self._take
        else:
            self.write_batch = self._take

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        raise AssertionError("the logger hands over whole buffers")

    def _take(self, timestamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str) -> None:
        self.calls += 1
        self.lines += lines.splitlines(keepends=True)

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.lines:
            record = orjson.loads(line)
            out.append(record.get("message", record))
        return out


# -- the workflows -------------------------------------------------------------------------

SHARED: dict[str, int] = {"calls": 0}


def count_calls(event: dict[str, Any]) -> dict[str, int]:
    """Keeps its result and changes it on the next call, as no Lambda function can."""
    SHARED["calls"] += 1
    return SHARED


def scribble(event: dict[str, Any]) -> dict[str, Any]:
    """Changes its own event in place and returns it."""
    event["seen"] = True
    event.setdefault("tags", []).append("scribbled")
    return event


def flaky_factory() -> Callable[[dict[str, Any]], dict[str, Any]]:
    attempts = {"n": 0}

    def flaky(event: dict[str, Any]) -> dict[str, Any]:
        attempts["n"] += 1
        if attempts["n"] % 2:
            raise TimeoutError("try again")
        return {"attempt": attempts["n"], "got": event}

    return flaky


async def slow_echo(event: JSON) -> JSON:
    await anyio.sleep(0)
    return {"echo": event}


def fail_always(event: JSON) -> JSON:
    raise ValueError("no")


LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
HANDLERS = {
    "count_calls": count_calls,
    "scribble": scribble,
    "flaky": flaky_factory(),
    "slow_echo": slow_echo,
    "fail_always": fail_always,
}


def task(function: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA + function, **fields}


DEFINITIONS: dict[str, dict[str, Any]] = {
    "dataflow": {
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "Parameters": {"reading.$": "$", "static": {"k": [1, 2]}, "name.$": "$$.Execution.Name"},
                "Next": "Scribble",
            },
            "Scribble": task(
                "scribble",
                Parameters={"inner.$": "$.reading", "static.$": "$.static"},
                ResultSelector={"seen.$": "$.seen", "tags.$": "$.tags", "inner.$": "$.inner"},
                ResultPath="$.result",
                OutputPath="$.result",
                Next="Constant",
            ),
            "Constant": {
                "Type": "Pass",
                "Result": {"same": "object"},
                "ResultPath": "$.constant",
                "Next": "Keep",
            },
            "Keep": {"Type": "Pass", "Assign": {"kept.$": "$.constant", "all.$": "$"}, "Next": "Choose"},
            "Choose": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.seen", "BooleanEquals": True, "Assign": {"x.$": "$kept"}, "Next": "Done"}
                ],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    },
    "jsonata": {
        "QueryLanguage": "JSONata",
        "StartAt": "Assign",
        "States": {
            "Assign": {
                "Type": "Pass",
                "Assign": {"total": "{% $sum($states.input.values) %}", "input": "{% $states.input %}"},
                "Output": {
                    "values": "{% $states.input.values %}",
                    "double": "{% $states.input.values.($ * 2) %}",
                },
                "Next": "Decide",
            },
            "Decide": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $total > 3 %}",
                        "Assign": {"big": True},
                        "Output": {"t": "{% $total %}"},
                        "Next": "Echo",
                    }
                ],
                "Default": "Echo",
            },
            "Echo": task(
                "slow_echo", Arguments="{% $states.input %}", Output="{% $states.result %}", Next="Broken"
            ),
            "Broken": {"Type": "Pass", "Output": "{% $number('not a number') %}", "End": True},
        },
    },
    "map": {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "StartAt": "Count",
                    "States": {
                        "Count": task("count_calls", Next="Scribble"),
                        "Scribble": task("scribble", End=True),
                    },
                },
                "Next": "Both",
            },
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Echo", "States": {"Echo": task("slow_echo", End=True)}},
                    {"StartAt": "Same", "States": {"Same": {"Type": "Pass", "End": True}}},
                ],
                "End": True,
            },
        },
    },
    "retry_wait_catch": {
        "StartAt": "Nap",
        "States": {
            "Nap": {"Type": "Wait", "Seconds": 2, "Next": "Flaky"},
            "Flaky": task(
                "flaky",
                Retry=[{"ErrorEquals": ["TimeoutError"], "IntervalSeconds": 1, "MaxAttempts": 3}],
                Next="Doomed",
            ),
            "Doomed": task(
                "fail_always",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Stop"}],
                End=True,
            ),
            "Stop": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        },
    },
    "timed_out": {
        "TimeoutSeconds": 3,
        "StartAt": "Long",
        "States": {"Long": {"Type": "Wait", "Seconds": 10, "End": True}},
    },
}
INPUTS: dict[str, list[JSON]] = {
    "dataflow": [{"a": 1, "tags": ["x"]}, {"é": "ü", "tags": []}],
    "jsonata": [{"values": [1, 2, 3]}, {"values": [0]}],
    "map": [{"items": [{"n": 1}, {"n": 2}, {"n": 3}]}, {"items": []}],
    "retry_wait_catch": [{"x": 1}],
    "timed_out": [{}],
}
LEVELS = [
    (LogLevel.ALL, True),
    (LogLevel.ALL, False),
    (LogLevel.ERROR, True),
    (LogLevel.ERROR, False),
    (LogLevel.FATAL, True),
]


def _run(workflow: Any, value: JSON) -> ExecutionResult:
    result = workflow.start(value)
    if isinstance(result, ExecutionResult):
        return result

    async def finish() -> ExecutionResult:
        return await result  # type: ignore[no-any-return]

    return anyio.run(finish)


def _expected_lines(expected: list[bytes], framed: bool) -> list[bytes]:
    if framed:
        return [encode_event(int(orjson.loads(record)["event_timestamp"]), record) for record in expected]
    return [record + b"\n" for record in expected]


@pytest.mark.parametrize("framed", [False, True], ids=["lines", "framed"])
@pytest.mark.parametrize(("level", "data"), LEVELS, ids=str)
@pytest.mark.parametrize("name", [*DEFINITIONS, "iot_router"])
def test_every_line_is_the_event_as_it_was_when_it_happened(
    recorded: list[bytes], name: str, level: LogLevel, data: bool, framed: bool
) -> None:
    sink = Sink(framed)
    logger = ExecutionLogger(LoggingConfiguration(level, data), sink, "M")
    if name == "iot_router":
        workflow = compile_workflow(
            IOT / "router.asl.json",
            handlers=load_handlers(IOT / "handlers.py"),
            recorder_factory=logger.recorder,
        )
        inputs = [orjson.loads(line) for line in (IOT / "readings.jsonl").read_bytes().splitlines()[:300]]
    else:
        workflow = compile_workflow(
            DEFINITIONS[name], handlers=HANDLERS, clock=ManualClock(), recorder_factory=logger.recorder
        )
        inputs = INPUTS[name]
    for value in inputs:
        _run(workflow, value)
    assert sink.lines == _expected_lines(recorded, framed)
    if level is LogLevel.ALL:
        assert len(sink.lines) > len(inputs)


@pytest.mark.parametrize("name", [*DEFINITIONS, "iot_router"])
def test_error_and_fatal_keep_exactly_alls_failure_events(name: str) -> None:
    """The states take logging-off fast paths at ERROR and FATAL; ids and events must not change."""

    def records(level: LogLevel) -> list[tuple[bytes, ...]]:
        sink = Sink(framed=False)
        logger = ExecutionLogger(LoggingConfiguration(level, True), sink, "M")
        if name == "iot_router":
            workflow = compile_workflow(
                IOT / "router.asl.json",
                handlers=load_handlers(IOT / "handlers.py"),
                clock=ManualClock(),
                recorder_factory=logger.recorder,
            )
            inputs = [orjson.loads(line) for line in (IOT / "readings.jsonl").read_bytes().splitlines()[:300]]
        else:
            handlers = {**HANDLERS, "flaky": flaky_factory()}
            workflow = compile_workflow(
                DEFINITIONS[name], handlers=handlers, clock=ManualClock(), recorder_factory=logger.recorder
            )
            inputs = INPUTS[name]
        SHARED["calls"] = 0
        for value in inputs:
            _run(workflow, value)
        keys = ("id", "type", "details", "previous_event_id", "event_timestamp")
        return [tuple(_without_request_id(record[key]) for key in keys) for record in sink.records()]

    everything = records(LogLevel.ALL)
    error_types = {
        "ExecutionFailed",
        "ExecutionTimedOut",
        "FailStateEntered",
        "LambdaFunctionFailed",
        "TaskFailed",
    }
    error_types |= {"EvaluationFailed", "MapIterationFailed", "MapStateFailed", "ParallelStateFailed"}
    assert records(LogLevel.ERROR) == [
        record for record in everything if orjson.loads(record[1]) in error_types
    ]
    fatal = {"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
    assert records(LogLevel.FATAL) == [record for record in everything if orjson.loads(record[1]) in fatal]


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _without_request_id(value: Any) -> bytes:
    """The value's JSON with Lambda's random request ids (in causes and error outputs) left out."""
    return _UUID.sub(b"<uuid>", orjson.dumps(value))


def test_a_kept_result_embedded_in_a_later_document_is_logged_as_it_was(recorded: list[bytes]) -> None:
    sink = Sink(framed=False)
    logger = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, True), sink, "M")
    definition = {
        "StartAt": "First",
        "States": {
            "First": task("count_calls", ResultPath="$.first", Next="Second"),
            "Second": task("count_calls", ResultPath="$.second", End=True),
        },
    }
    workflow = compile_workflow(definition, handlers=HANDLERS, recorder_factory=logger.recorder)
    _run(workflow, {})
    assert sink.lines == _expected_lines(recorded, framed=False)


# -- the ways an execution ends --------------------------------------------------------------


def _logger(sink: Sink) -> ExecutionLogger:
    return ExecutionLogger(LoggingConfiguration(LogLevel.ALL, True), sink, "M")


def test_a_cancelled_execution_writes_what_it_recorded() -> None:
    blocked = anyio.Event()

    async def wait_forever(event: JSON) -> JSON:
        blocked.set()
        await anyio.sleep_forever()

    definition = {
        "StartAt": "Nap",
        "States": {
            "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Block"},
            "Block": task("wait_forever", End=True),
        },
    }
    sink = Sink(framed=False)
    workflow = compile_workflow(
        definition,
        handlers={"wait_forever": wait_forever},
        clock=ManualClock(),
        recorder_factory=_logger(sink).recorder,
    )

    async def main() -> None:
        pending = workflow.start({"x": 1})
        assert not isinstance(pending, ExecutionResult)
        assert [record["type"] for record in sink.records()] == ["ExecutionStarted"]  # written as it waits
        async with anyio.create_task_group() as group:

            async def run() -> None:
                await pending

            group.start_soon(run)
            await blocked.wait()
            group.cancel_scope.cancel()

    anyio.run(main)
    assert [record["type"] for record in sink.records()] == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
    ]


def test_a_pending_never_awaited_still_leaves_what_ran_inline() -> None:
    definition = {
        "StartAt": "Shape",
        "States": {
            "Shape": {"Type": "Pass", "Result": 1, "Next": "Echo"},
            "Echo": task("slow_echo", End=True),
        },
    }
    sink = Sink(framed=True)
    workflow = compile_workflow(definition, handlers=HANDLERS, recorder_factory=_logger(sink).recorder)
    pending = workflow.start({})
    assert not isinstance(pending, ExecutionResult)
    del pending
    assert [record["type"] for record in sink.records()] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
    ]


class Crash(BaseException):
    """Not an error a state handles: it goes straight through the engine."""


def test_an_exception_through_the_engine_still_writes_the_log() -> None:
    def crash(event: JSON) -> JSON:
        raise Crash

    sink = Sink(framed=False)
    definition = {"StartAt": "Go", "States": {"Go": task("crash", End=True)}}
    workflow = compile_workflow(
        definition, handlers={"crash": crash}, recorder_factory=_logger(sink).recorder
    )
    with pytest.raises(Crash):
        workflow.start({"a": 1})
    assert [record["type"] for record in sink.records()] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
    ]


def test_a_timed_out_execution_ends_its_log_with_the_time_out() -> None:
    sink = Sink(framed=False)
    workflow = compile_workflow(
        DEFINITIONS["timed_out"], clock=ManualClock(), recorder_factory=_logger(sink).recorder
    )
    result = _run(workflow, {})
    assert result.status == "TIMED_OUT"
    assert [record["type"] for record in sink.records()] == [
        "ExecutionStarted",
        "WaitStateEntered",
        "ExecutionTimedOut",
    ]


def test_a_wait_writes_what_came_before_it_before_it_sleeps() -> None:
    sink = Sink(framed=False)
    seen_while_sleeping: list[list[str]] = []

    class Clock(ManualClock):
        async def sleep(self, seconds: float) -> None:
            seen_while_sleeping.append([record["type"] for record in sink.records()])
            await super().sleep(seconds)

    definition = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 5, "End": True}}}
    workflow = compile_workflow(definition, clock=Clock(), recorder_factory=_logger(sink).recorder)
    _run(workflow, {})
    assert seen_while_sleeping == [["ExecutionStarted", "WaitStateEntered"]]
    assert [record["type"] for record in sink.records()][-2:] == ["WaitStateExited", "ExecutionSucceeded"]


def test_a_long_execution_writes_its_log_as_it_goes(recorded: list[bytes]) -> None:
    sink = Sink(framed=True)
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    workflow = compile_workflow(definition, recorder_factory=_logger(sink).recorder)
    _run(workflow, list(range(400)))
    assert len(sink.lines) == 6 + 4 * 400
    assert sink.calls > 1  # not one buffer of 1,605 events
    assert sink.lines == _expected_lines(recorded, framed=True)


def test_a_recorder_of_single_events_gets_every_event_with_its_details() -> None:
    events: list[tuple[int, str, dict[str, Any], int]] = []
    workflow = compile_workflow(
        DEFINITIONS["dataflow"],
        handlers=HANDLERS,
        clock=ManualClock(),
        recorder_factory=lambda arn: (
            lambda event_id, kind, details, previous, at: events.append((event_id, kind, details, previous))
        ),
    )
    _run(workflow, {"a": 1})
    assert [event[0] for event in events] == list(range(1, len(events) + 1))
    assert events[0][1:] == ("ExecutionStarted", {"roleArn": workflow.machine.role_arn, "input": {"a": 1}}, 0)
    assert events[1][1:] == ("PassStateEntered", {"name": "Shape", "input": {"a": 1}}, 0)
    scheduled = next(event for event in events if event[1] == "LambdaFunctionScheduled")
    assert scheduled[2] == {
        "resource": LAMBDA + "scribble",
        "input": {"inner": {"a": 1}, "static": {"k": [1, 2]}},
    }
    assert events[-1][1] == "ExecutionSucceeded"
