"""The recorder's lines against AWS's Express log records, field by field and byte by byte.

Each scenario is an event sequence as AWS numbers it (ids, previous ids, details), fed to
the recorder the way the engine calls it, and the records AWS writes for it at level ALL
with execution data. The other levels and ``includeExecutionData: false`` are checked
against rules stated here from AWS's documentation and captures, independently of the
code under test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.logsinks import MemoryLogSink
from express.logs import LoggingConfiguration, LogLevel, make_recorder
from express.logs.recorder import ExecutionLogger

ARN = "arn:aws:states:us-east-1:111111111111:express:Router:exec-1:4135929f-9b5e-4d5b-a4c0-6c2ad1b3f6a1"
ROLE = "arn:aws:iam::111111111111:role/service-role/StepFunctions-Router-role"
T0 = 1713959670.672
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:enrich"
READING = {"device": "sensor-1", "value": 31.5, "unit": "C", "tags": ["a", "é"]}
ENRICHED = {**READING, "region": "eu-west"}
LAMBDA_CAUSE = json.dumps({"errorMessage": "boom", "errorType": "Exception", "stackTrace": []})

# (id, type, details as the engine passes them, previous id)
Event = tuple[int, str, dict[str, Any], int]

SCENARIOS: dict[str, list[Event]] = {
    "succeeding": [
        (1, "ExecutionStarted", {"input": READING, "roleArn": ROLE}, 0),
        (2, "TaskStateEntered", {"name": "Enrich", "input": READING}, 0),
        (3, "LambdaFunctionScheduled", {"resource": LAMBDA, "input": READING, "timeoutInSeconds": 30}, 2),
        (4, "LambdaFunctionStarted", {}, 3),
        (5, "LambdaFunctionSucceeded", {"output": ENRICHED}, 4),
        (6, "TaskStateExited", {"name": "Enrich", "output": ENRICHED}, 5),
        (7, "ExecutionSucceeded", {"output": ENRICHED}, 6),
    ],
    "failing_uncaught": [
        (1, "ExecutionStarted", {"input": READING, "roleArn": ROLE}, 0),
        (2, "TaskStateEntered", {"name": "Enrich", "input": READING}, 0),
        (3, "LambdaFunctionScheduled", {"resource": LAMBDA, "input": READING}, 2),
        (4, "LambdaFunctionStarted", {}, 3),
        (5, "LambdaFunctionFailed", {"error": "Exception", "cause": LAMBDA_CAUSE}, 4),
        (6, "ExecutionFailed", {"error": "Exception", "cause": LAMBDA_CAUSE}, 5),
    ],
    "failing_caught": [
        (1, "ExecutionStarted", {"input": READING, "roleArn": ROLE}, 0),
        (2, "TaskStateEntered", {"name": "Enrich", "input": READING}, 0),
        (
            3,
            "TaskScheduled",
            {
                "resourceType": "lambda",
                "resource": "invoke",
                "region": "us-east-1",
                "parameters": {"FunctionName": LAMBDA, "Payload": READING},
            },
            2,
        ),
        (4, "TaskStarted", {"resourceType": "lambda", "resource": "invoke"}, 3),
        (
            5,
            "TaskFailed",
            {"resourceType": "lambda", "resource": "invoke", "error": "Exception", "cause": LAMBDA_CAUSE},
            4,
        ),
        (
            6,
            "TaskStateExited",
            {"name": "Enrich", "output": {"Error": "Exception", "Cause": LAMBDA_CAUSE}},
            5,
        ),
        (
            7,
            "FailStateEntered",
            {"name": "Reject", "input": {"Error": "Exception", "Cause": LAMBDA_CAUSE}},
            6,
        ),
        (8, "ExecutionFailed", {"error": "Rejected", "cause": None}, 7),
    ],
    "timed_out": [
        (1, "ExecutionStarted", {"input": {}, "roleArn": ROLE}, 0),
        (2, "WaitStateEntered", {"name": "Hold", "input": {}}, 0),
        (3, "ExecutionTimedOut", {"error": "States.Timeout"}, 2),
    ],
    "map": [
        (1, "ExecutionStarted", {"input": [1, 2], "roleArn": ROLE}, 0),
        (2, "MapStateEntered", {"name": "Each", "input": [1, 2]}, 0),
        (3, "MapStateStarted", {"length": 2}, 2),
        (4, "MapIterationStarted", {"name": "Each", "index": 0}, 3),
        (5, "PassStateEntered", {"name": "Double", "input": 1}, 4),
        (6, "PassStateExited", {"name": "Double", "output": 2}, 5),
        (7, "MapIterationSucceeded", {"name": "Each", "index": 0}, 6),
        (8, "MapIterationStarted", {"name": "Each", "index": 1}, 3),
        (9, "FailStateEntered", {"name": "Odd", "input": 2}, 8),
        (10, "MapIterationFailed", {"name": "Each", "index": 1}, 9),
        (11, "MapStateFailed", {}, 10),
        (12, "ExecutionFailed", {"error": "OddItem", "cause": "item 2"}, 11),
    ],
    "parallel": [
        (1, "ExecutionStarted", {"input": {"a": 1}, "roleArn": ROLE}, 0),
        (2, "ParallelStateEntered", {"name": "Both", "input": {"a": 1}}, 0),
        (3, "ParallelStateStarted", {}, 2),
        (4, "PassStateEntered", {"name": "Left", "input": {"a": 1}}, 3),
        (5, "PassStateExited", {"name": "Left", "output": "L"}, 4),
        (6, "PassStateEntered", {"name": "Right", "input": {"a": 1}}, 3),
        (7, "PassStateExited", {"name": "Right", "output": None}, 6),
        (8, "ParallelStateSucceeded", {}, 7),
        (9, "ParallelStateExited", {"name": "Both", "output": ["L", None]}, 8),
        (10, "ExecutionSucceeded", {"output": ["L", None]}, 9),
    ],
}

NOT_TRUNCATED = {"truncated": False}


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _record(event_id: int, event_type: str, details: dict[str, Any], previous: int) -> dict[str, Any]:
    return {
        "id": str(event_id),
        "type": event_type,
        "details": details,
        "previous_event_id": str(previous),
        "event_timestamp": str(round(T0 * 1000) + event_id),
        "execution_arn": ARN,
        "redrive_count": "0",
    }


# What AWS writes at level ALL with includeExecutionData: true, spelled out record by record.
EXPECTED_ALL: dict[str, list[dict[str, Any]]] = {
    "succeeding": [
        _record(
            1,
            "ExecutionStarted",
            {"input": _text(READING), "inputDetails": NOT_TRUNCATED, "roleArn": ROLE},
            0,
        ),
        _record(
            2,
            "TaskStateEntered",
            {"input": _text(READING), "inputDetails": NOT_TRUNCATED, "name": "Enrich"},
            0,
        ),
        _record(
            3,
            "LambdaFunctionScheduled",
            {
                "input": _text(READING),
                "inputDetails": NOT_TRUNCATED,
                "resource": LAMBDA,
                "timeoutInSeconds": 30,
            },
            2,
        ),
        _record(4, "LambdaFunctionStarted", {}, 3),
        _record(5, "LambdaFunctionSucceeded", {"output": _text(ENRICHED), "outputDetails": NOT_TRUNCATED}, 4),
        _record(
            6,
            "TaskStateExited",
            {"name": "Enrich", "output": _text(ENRICHED), "outputDetails": NOT_TRUNCATED},
            5,
        ),
        _record(7, "ExecutionSucceeded", {"output": _text(ENRICHED), "outputDetails": NOT_TRUNCATED}, 6),
    ],
    "failing_uncaught": [
        _record(
            1,
            "ExecutionStarted",
            {"input": _text(READING), "inputDetails": NOT_TRUNCATED, "roleArn": ROLE},
            0,
        ),
        _record(
            2,
            "TaskStateEntered",
            {"input": _text(READING), "inputDetails": NOT_TRUNCATED, "name": "Enrich"},
            0,
        ),
        _record(
            3,
            "LambdaFunctionScheduled",
            {"input": _text(READING), "inputDetails": NOT_TRUNCATED, "resource": LAMBDA},
            2,
        ),
        _record(4, "LambdaFunctionStarted", {}, 3),
        _record(5, "LambdaFunctionFailed", {"cause": LAMBDA_CAUSE, "error": "Exception"}, 4),
        _record(6, "ExecutionFailed", {"cause": LAMBDA_CAUSE, "error": "Exception"}, 5),
    ],
    "failing_caught": [
        _record(
            1,
            "ExecutionStarted",
            {"input": _text(READING), "inputDetails": NOT_TRUNCATED, "roleArn": ROLE},
            0,
        ),
        _record(
            2,
            "TaskStateEntered",
            {"input": _text(READING), "inputDetails": NOT_TRUNCATED, "name": "Enrich"},
            0,
        ),
        _record(
            3,
            "TaskScheduled",
            {
                "parameters": _text({"FunctionName": LAMBDA, "Payload": READING}),
                "region": "us-east-1",
                "resource": "invoke",
                "resourceType": "lambda",
            },
            2,
        ),
        _record(4, "TaskStarted", {"resource": "invoke", "resourceType": "lambda"}, 3),
        _record(
            5,
            "TaskFailed",
            {
                "cause": LAMBDA_CAUSE,
                "error": "Exception",
                "resource": "invoke",
                "resourceType": "lambda",
            },
            4,
        ),
        _record(
            6,
            "TaskStateExited",
            {
                "name": "Enrich",
                "output": _text({"Error": "Exception", "Cause": LAMBDA_CAUSE}),
                "outputDetails": NOT_TRUNCATED,
            },
            5,
        ),
        _record(
            7,
            "FailStateEntered",
            {
                "input": _text({"Error": "Exception", "Cause": LAMBDA_CAUSE}),
                "inputDetails": NOT_TRUNCATED,
                "name": "Reject",
            },
            6,
        ),
        _record(8, "ExecutionFailed", {"error": "Rejected"}, 7),
    ],
    "timed_out": [
        _record(1, "ExecutionStarted", {"input": "{}", "inputDetails": NOT_TRUNCATED, "roleArn": ROLE}, 0),
        _record(2, "WaitStateEntered", {"input": "{}", "inputDetails": NOT_TRUNCATED, "name": "Hold"}, 0),
        _record(3, "ExecutionTimedOut", {"error": "States.Timeout"}, 2),
    ],
    "map": [
        _record(1, "ExecutionStarted", {"input": "[1,2]", "inputDetails": NOT_TRUNCATED, "roleArn": ROLE}, 0),
        _record(2, "MapStateEntered", {"input": "[1,2]", "inputDetails": NOT_TRUNCATED, "name": "Each"}, 0),
        _record(3, "MapStateStarted", {"length": 2}, 2),
        _record(4, "MapIterationStarted", {"index": 0, "name": "Each"}, 3),
        _record(5, "PassStateEntered", {"input": "1", "inputDetails": NOT_TRUNCATED, "name": "Double"}, 4),
        _record(6, "PassStateExited", {"name": "Double", "output": "2", "outputDetails": NOT_TRUNCATED}, 5),
        _record(7, "MapIterationSucceeded", {"index": 0, "name": "Each"}, 6),
        _record(8, "MapIterationStarted", {"index": 1, "name": "Each"}, 3),
        _record(9, "FailStateEntered", {"input": "2", "inputDetails": NOT_TRUNCATED, "name": "Odd"}, 8),
        _record(10, "MapIterationFailed", {"index": 1, "name": "Each"}, 9),
        _record(11, "MapStateFailed", {}, 10),
        _record(12, "ExecutionFailed", {"cause": "item 2", "error": "OddItem"}, 11),
    ],
    "parallel": [
        _record(
            1, "ExecutionStarted", {"input": '{"a":1}', "inputDetails": NOT_TRUNCATED, "roleArn": ROLE}, 0
        ),
        _record(
            2, "ParallelStateEntered", {"input": '{"a":1}', "inputDetails": NOT_TRUNCATED, "name": "Both"}, 0
        ),
        _record(3, "ParallelStateStarted", {}, 2),
        _record(
            4, "PassStateEntered", {"input": '{"a":1}', "inputDetails": NOT_TRUNCATED, "name": "Left"}, 3
        ),
        _record(5, "PassStateExited", {"name": "Left", "output": '"L"', "outputDetails": NOT_TRUNCATED}, 4),
        _record(
            6, "PassStateEntered", {"input": '{"a":1}', "inputDetails": NOT_TRUNCATED, "name": "Right"}, 3
        ),
        _record(7, "PassStateExited", {"name": "Right", "output": "null", "outputDetails": NOT_TRUNCATED}, 6),
        _record(8, "ParallelStateSucceeded", {}, 7),
        _record(
            9,
            "ParallelStateExited",
            {"name": "Both", "output": '["L",null]', "outputDetails": NOT_TRUNCATED},
            8,
        ),
        _record(10, "ExecutionSucceeded", {"output": '["L",null]', "outputDetails": NOT_TRUNCATED}, 9),
    ],
}

# The AWS log-level table (cloudwatch-log-level), restated for the types these scenarios use.
LEVEL_TYPES = {
    LogLevel.ERROR: {
        "ExecutionFailed",
        "ExecutionTimedOut",
        "ExecutionAborted",
        "FailStateEntered",
        "LambdaFunctionFailed",
        "TaskFailed",
        "MapIterationFailed",
        "MapStateFailed",
        "ParallelStateFailed",
    },
    LogLevel.FATAL: {"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"},
}
EXECUTION_DATA = {"input", "inputDetails", "output", "outputDetails", "parameters"}


def _expected(scenario: str, level: LogLevel, include_data: bool) -> list[dict[str, Any]]:
    records = EXPECTED_ALL[scenario]
    if level is LogLevel.OFF:
        return []
    if level is not LogLevel.ALL:
        records = [record for record in records if record["type"] in LEVEL_TYPES[level]]
    if not include_data:
        records = [
            {**record, "details": {k: v for k, v in record["details"].items() if k not in EXECUTION_DATA}}
            for record in records
        ]
    return records


def _run(scenario: str, config: LoggingConfiguration) -> MemoryLogSink:
    sink = MemoryLogSink()
    recorder = make_recorder(config, ARN, sink, "Router")
    if recorder is not None:
        for event_id, event_type, details, previous in SCENARIOS[scenario]:
            recorder(event_id, event_type, details, previous, T0 + event_id / 1000)
    return sink


@pytest.mark.parametrize("include_data", [True, False], ids=["data", "no-data"])
@pytest.mark.parametrize("level", list(LogLevel), ids=str)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_records_match_aws_field_by_field_and_byte_by_byte(
    scenario: str, level: LogLevel, include_data: bool
) -> None:
    sink = _run(scenario, LoggingConfiguration(level, include_data))
    expected = _expected(scenario, level, include_data)
    assert sink.records() == expected
    # Same text, hence the same key order: AWS's top-level order and alphabetical details.
    assert [line.decode() for line in sink.lines] == [_text(record) for record in expected]
    assert [entry[0] for entry in sink.entries] == [int(record["event_timestamp"]) for record in expected]
    assert all(entry[2:] == ("Router", ARN) for entry in sink.entries)


def test_every_scenario_keeps_something_at_error_level_except_success() -> None:
    # Guards the table above: a scenario that fails must show up at ERROR and FATAL.
    for scenario in ("failing_uncaught", "failing_caught", "timed_out", "map"):
        assert _expected(scenario, LogLevel.FATAL, True), scenario
    assert _expected("succeeding", LogLevel.ERROR, True) == []


def test_aws_capture_fail_state_at_each_level() -> None:
    """AWS's captures of a one-Fail-state machine (test_logs raise_failure, 2024)."""
    events: list[Event] = [
        (1, "ExecutionStarted", {"input": {}, "roleArn": ROLE}, 0),
        (2, "FailStateEntered", {"name": "FailState", "input": {}}, 0),
        (
            3,
            "ExecutionFailed",
            {
                "error": "SomeFailure",
                "cause": "This state machines raises a 'SomeFailure' failure.",
            },
            2,
        ),
    ]

    def run(level: LogLevel, data: bool) -> list[tuple[str, str, dict[str, Any], str]]:
        sink = MemoryLogSink()
        recorder = make_recorder(LoggingConfiguration(level, data), ARN, sink, "M")
        assert recorder is not None
        for event in events:
            recorder(*event, T0)
        return [(r["id"], r["type"], r["details"], r["previous_event_id"]) for r in sink.records()]

    failed = {"cause": "This state machines raises a 'SomeFailure' failure.", "error": "SomeFailure"}
    assert run(LogLevel.ALL, False) == [
        ("1", "ExecutionStarted", {"roleArn": ROLE}, "0"),
        ("2", "FailStateEntered", {"name": "FailState"}, "0"),
        ("3", "ExecutionFailed", failed, "2"),
    ]
    assert run(LogLevel.ERROR, True) == [
        ("2", "FailStateEntered", {"input": "{}", "inputDetails": NOT_TRUNCATED, "name": "FailState"}, "0"),
        ("3", "ExecutionFailed", failed, "2"),
    ]
    assert run(LogLevel.ERROR, False) == [
        ("2", "FailStateEntered", {"name": "FailState"}, "0"),
        ("3", "ExecutionFailed", failed, "2"),
    ]
    assert run(LogLevel.FATAL, True) == [("3", "ExecutionFailed", failed, "2")]


def test_aws_capture_pass_state_without_data_leaves_empty_success_details() -> None:
    sink = _run("parallel", LoggingConfiguration(LogLevel.ALL, False))
    last = sink.records()[-1]
    assert last["type"] == "ExecutionSucceeded"
    assert last["details"] == {}
    assert sink.lines[-1].startswith(
        b'{"id":"10","type":"ExecutionSucceeded","details":{},"previous_event_id":"9",'
    )


def test_off_gives_no_recorder() -> None:
    assert make_recorder(LoggingConfiguration(LogLevel.OFF, True), ARN, MemoryLogSink(), "M") is None
    logger = ExecutionLogger(LoggingConfiguration(), MemoryLogSink(), "M")
    assert logger.recorder(ARN) is None


def test_one_logger_serves_many_executions() -> None:
    sink = MemoryLogSink()
    logger = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, True), sink, "Router")
    first, second = logger.recorder(ARN), logger.recorder(ARN.replace("exec-1", "exec-2"))
    assert first is not None and second is not None
    first(1, "ExecutionStarted", {"input": 1, "roleArn": ROLE}, 0, T0)
    second(1, "ExecutionStarted", {"input": 2, "roleArn": ROLE}, 0, T0)
    assert [record["execution_arn"] for record in sink.records()] == [ARN, ARN.replace("exec-1", "exec-2")]


def test_unwritable_value_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    sink = MemoryLogSink()
    recorder = make_recorder(LoggingConfiguration(LogLevel.ALL, False), ARN, sink, "M")
    assert recorder is not None
    recorder(1, "ExecutionStarted", {"roleArn": object()}, 0, T0)
    recorder(2, "PassStateEntered", {"name": "P"}, 0, T0)
    assert [record["id"] for record in sink.records()] == ["2"]
    assert "could not format history event 1 (ExecutionStarted)" in caplog.text


def test_timestamps_are_rounded_to_milliseconds() -> None:
    sink = MemoryLogSink()
    recorder = make_recorder(LoggingConfiguration(LogLevel.ALL, False), ARN, sink, "M")
    assert recorder is not None
    recorder(1, "ExecutionStarted", {"roleArn": ROLE}, 0, 1713959670.6719999)
    assert sink.records()[0]["event_timestamp"] == "1713959670672"
    assert sink.entries[0][0] == 1713959670672


def test_admits_tells_the_engine_which_events_to_build() -> None:
    def admits(level: LogLevel, event_type: str) -> bool:
        return ExecutionLogger(LoggingConfiguration(level), MemoryLogSink(), "M").admits(event_type)

    assert admits(LogLevel.ALL, "PassStateEntered")
    assert not admits(LogLevel.ERROR, "PassStateEntered")
    assert admits(LogLevel.ERROR, "TaskFailed")
    assert not admits(LogLevel.FATAL, "TaskFailed")
    assert admits(LogLevel.FATAL, "ExecutionTimedOut")
    assert not admits(LogLevel.OFF, "ExecutionFailed")
