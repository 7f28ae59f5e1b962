"""Logs of real executions against AWS's captured records (LocalStack test_logs, recorded on AWS).

The state machines are AWS's capture templates: one Pass state with a Result, one Fail
state, one Wait state whose SecondsPath is missing. Everything AWS wrote is compared
except what AWS's recorder masked: the role ARN, timestamps and execution ARN, which are
checked for shape instead.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from connectors.logsinks import MemoryLogSink
from express import compile_workflow
from express.logs import ExecutionLogger, LoggingConfiguration, LogLevel
from express.testing import ManualClock

PASS_RESULT = {
    "StartAt": "State_1",
    "States": {"State_1": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": True}},
}
RAISE_FAILURE = {
    "StartAt": "FailState",
    "States": {
        "FailState": {
            "Type": "Fail",
            "Error": "SomeFailure",
            "Cause": "This state machines raises a 'SomeFailure' failure.",
        }
    },
}
WAIT_SECONDS_PATH = {
    "StartAt": "WaitState",
    "States": {"WaitState": {"Type": "Wait", "SecondsPath": "$.input.waitSeconds", "End": True}},
}
FAILURE = {"cause": "This state machines raises a 'SomeFailure' failure.", "error": "SomeFailure"}
WAIT_FAILURE = {
    "cause": "An error occurred while executing the state 'WaitState' (entered at the event id #2). "
    "The SecondsPath parameter does not reference an input value: $.input.waitSeconds",
    "error": "States.Runtime",
}
DATA = {"truncated": False}
ROLE = "<role>"

# AWS's logged events: (id, type, details, previous_event_id), roleArn masked as ROLE.
CAPTURES: dict[tuple[str, LogLevel, bool], list[tuple[str, str, dict[str, Any], str]]] = {
    ("pass_result", LogLevel.ALL, False): [
        ("1", "ExecutionStarted", {"roleArn": ROLE}, "0"),
        ("2", "PassStateEntered", {"name": "State_1"}, "0"),
        ("3", "PassStateExited", {"name": "State_1"}, "2"),
        ("4", "ExecutionSucceeded", {}, "3"),
    ],
    ("pass_result", LogLevel.ALL, True): [
        ("1", "ExecutionStarted", {"input": "{}", "inputDetails": DATA, "roleArn": ROLE}, "0"),
        ("2", "PassStateEntered", {"input": "{}", "inputDetails": DATA, "name": "State_1"}, "0"),
        (
            "3",
            "PassStateExited",
            {"name": "State_1", "output": '{"Arg1":"argument1"}', "outputDetails": DATA},
            "2",
        ),
        ("4", "ExecutionSucceeded", {"output": '{"Arg1":"argument1"}', "outputDetails": DATA}, "3"),
    ],
    ("pass_result", LogLevel.ERROR, True): [],
    ("pass_result", LogLevel.FATAL, False): [],
    ("raise_failure", LogLevel.ALL, False): [
        ("1", "ExecutionStarted", {"roleArn": ROLE}, "0"),
        ("2", "FailStateEntered", {"name": "FailState"}, "0"),
        ("3", "ExecutionFailed", FAILURE, "2"),
    ],
    ("raise_failure", LogLevel.ALL, True): [
        ("1", "ExecutionStarted", {"input": "{}", "inputDetails": DATA, "roleArn": ROLE}, "0"),
        ("2", "FailStateEntered", {"input": "{}", "inputDetails": DATA, "name": "FailState"}, "0"),
        ("3", "ExecutionFailed", FAILURE, "2"),
    ],
    ("raise_failure", LogLevel.ERROR, False): [
        ("2", "FailStateEntered", {"name": "FailState"}, "0"),
        ("3", "ExecutionFailed", FAILURE, "2"),
    ],
    ("raise_failure", LogLevel.ERROR, True): [
        ("2", "FailStateEntered", {"input": "{}", "inputDetails": DATA, "name": "FailState"}, "0"),
        ("3", "ExecutionFailed", FAILURE, "2"),
    ],
    ("raise_failure", LogLevel.FATAL, False): [("3", "ExecutionFailed", FAILURE, "2")],
    ("raise_failure", LogLevel.FATAL, True): [("3", "ExecutionFailed", FAILURE, "2")],
    ("wait_seconds_path", LogLevel.ALL, False): [
        ("1", "ExecutionStarted", {"roleArn": ROLE}, "0"),
        ("2", "WaitStateEntered", {"name": "WaitState"}, "0"),
        ("3", "ExecutionFailed", WAIT_FAILURE, "2"),
    ],
    ("wait_seconds_path", LogLevel.ALL, True): [
        ("1", "ExecutionStarted", {"input": "{}", "inputDetails": DATA, "roleArn": ROLE}, "0"),
        ("2", "WaitStateEntered", {"input": "{}", "inputDetails": DATA, "name": "WaitState"}, "0"),
        ("3", "ExecutionFailed", WAIT_FAILURE, "2"),
    ],
    ("wait_seconds_path", LogLevel.ERROR, False): [("3", "ExecutionFailed", WAIT_FAILURE, "2")],
    ("wait_seconds_path", LogLevel.FATAL, True): [("3", "ExecutionFailed", WAIT_FAILURE, "2")],
}
DEFINITIONS = {
    "pass_result": PASS_RESULT,
    "raise_failure": RAISE_FAILURE,
    "wait_seconds_path": WAIT_SECONDS_PATH,
}
EXPRESS_ARN = re.compile(r"arn:aws:states:us-east-1:111111111111:express:Capture:[^:]+:[^:]+")


@pytest.mark.parametrize(("template", "level", "include_data"), list(CAPTURES), ids=str)
def test_execution_logs_match_awss_capture(template: str, level: LogLevel, include_data: bool) -> None:
    clock = ManualClock(1713959670.672)
    sink = MemoryLogSink()
    logger = ExecutionLogger(LoggingConfiguration(level, include_data), sink, "Capture")
    workflow = compile_workflow(
        DEFINITIONS[template], clock=clock, name="Capture", recorder_factory=logger.recorder
    )
    result = workflow.execute_sync({})
    records = sink.records()
    for record in records:
        assert list(record) == [
            "id",
            "type",
            "details",
            "previous_event_id",
            "event_timestamp",
            "execution_arn",
            "redrive_count",
        ]
        assert EXPRESS_ARN.fullmatch(record["execution_arn"]), record["execution_arn"]
        assert record["execution_arn"] == result.execution_arn
        assert record["event_timestamp"] == "1713959670672"
        assert record["redrive_count"] == "0"
        if "roleArn" in record["details"]:
            assert record["details"]["roleArn"].startswith("arn:aws:iam::111111111111:role/")
            record["details"]["roleArn"] = ROLE
    found = [(r["id"], r["type"], r["details"], r["previous_event_id"]) for r in records]
    assert found == CAPTURES[template, level, include_data]


def test_off_records_nothing_and_keeps_counting() -> None:
    sink = MemoryLogSink()
    logger = ExecutionLogger(LoggingConfiguration(LogLevel.OFF, True), sink, "Capture")
    workflow = compile_workflow(WAIT_SECONDS_PATH, name="Capture", recorder_factory=logger.recorder)
    result = workflow.execute_sync({})
    assert sink.lines == []
    assert result.cause == WAIT_FAILURE["cause"]  # "entered at the event id #2" all the same
