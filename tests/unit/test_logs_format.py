"""Formatting of single events: payload text, truncation, detail keys, level tables."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.logsinks import MemoryLogSink
from express.logs import PAYLOAD_LIMIT_BYTES, ExecutionLogger, LoggingConfiguration, format_event
from express.logs.format import details_with_data, details_without_data, payload_text
from express.logs.layout import encode_event
from express.logs.levels import (
    ERROR_EVENT_TYPES,
    FATAL_EVENT_TYPES,
    HISTORY_EVENT_TYPES,
    LogLevel,
    admitted_event_types,
)

ARN = "arn:aws:states:us-east-1:111111111111:express:M:e:1"
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_payload_text_is_the_value_as_compact_json(value: object) -> None:
    text, truncated = payload_text(value)
    assert not truncated
    assert json.loads(text) == value


def test_payload_at_the_limit_is_kept_whole() -> None:
    value = "x" * (PAYLOAD_LIMIT_BYTES - 2)  # plus two quotes: exactly the limit
    text, truncated = payload_text(value)
    assert (len(text.encode()), truncated) == (PAYLOAD_LIMIT_BYTES, False)


def test_payload_past_the_limit_is_cut_and_flagged() -> None:
    value = {"blob": "y" * PAYLOAD_LIMIT_BYTES}
    text, truncated = payload_text(value)
    assert truncated
    assert len(text.encode()) == PAYLOAD_LIMIT_BYTES
    assert text.startswith('{"blob":"yyy')


def test_truncation_never_splits_a_character() -> None:
    value = "é" * PAYLOAD_LIMIT_BYTES  # two bytes each, and the opening quote shifts them by one
    text, truncated = payload_text(value)
    assert truncated
    assert len(text.encode()) == PAYLOAD_LIMIT_BYTES - 1
    assert text.encode().decode() == text


def test_truncated_flag_reaches_the_record() -> None:
    details = details_with_data({"name": "Big", "input": "z" * PAYLOAD_LIMIT_BYTES})
    assert details["inputDetails"] == {"truncated": True}
    assert list(details) == ["input", "inputDetails", "name"]


def test_integers_beyond_64_bits_are_still_written() -> None:
    text, truncated = payload_text({"n": 2**70})
    assert (json.loads(text), truncated) == ({"n": 2**70}, False)


def test_details_keys_are_alphabetical_with_each_details_object_after_its_payload() -> None:
    shaped = details_with_data(
        {"timeoutInSeconds": 5, "resource": "r", "input": {"a": 1}, "resourceType": "lambda", "name": None}
    )
    assert list(shaped) == ["input", "inputDetails", "resource", "resourceType", "timeoutInSeconds"]
    assert shaped["input"] == '{"a":1}'


def test_parameters_are_text_without_a_details_object() -> None:
    shaped = details_with_data({"parameters": {"Payload": [1]}, "region": "us-east-1"})
    assert shaped == {"parameters": '{"Payload":[1]}', "region": "us-east-1"}


def test_assigned_variables_are_texts_with_details() -> None:
    shaped = details_with_data({"name": "S", "output": 1, "assignedVariables": {"x": {"k": 1}, "y": "s"}})
    assert shaped == {
        "assignedVariables": {"x": '{"k":1}', "y": '"s"'},
        "assignedVariablesDetails": {"truncated": False},
        "name": "S",
        "output": "1",
        "outputDetails": {"truncated": False},
    }


def test_assigned_variables_share_one_size_limit() -> None:
    half = "v" * (PAYLOAD_LIMIT_BYTES // 2)
    shaped = details_with_data({"assignedVariables": {"a": half, "b": half, "c": 1}})
    assert list(shaped["assignedVariables"]) == ["a"]
    assert shaped["assignedVariablesDetails"] == {"truncated": True}


def test_without_data_keeps_names_errors_and_counts() -> None:
    details = {
        "name": "S",
        "input": 1,
        "output": 2,
        "parameters": {},
        "assignedVariables": {"x": 1},
        "error": "E",
        "cause": "C",
        "length": 3,
        "index": 0,
        "resource": "r",
    }
    assert details_without_data(details) == {
        "cause": "C",
        "error": "E",
        "index": 0,
        "length": 3,
        "name": "S",
        "resource": "r",
    }
    assert list(details_without_data(details)) == ["cause", "error", "index", "length", "name", "resource"]


def test_an_execution_output_of_null_is_the_text_null() -> None:
    assert details_with_data({"output": None}) == {"output": "null", "outputDetails": {"truncated": False}}


def test_format_event_matches_aws_moralesl_capture_layout() -> None:
    arn = "arn:aws:states:eu-central-1:123456789012:express:LoggingAndMaskingWorkflow:cli-test-run:4135929f"
    line = format_event(
        3,
        "PassStateExited",
        {"name": "LogInput", "output": {"name": "Jane"}},
        2,
        1713959670680,
        execution_arn=arn,
    )
    assert line == (
        b'{"id":"3","type":"PassStateExited","details":{"name":"LogInput","output":"{\\"name\\":\\"Jane\\"}",'
        b'"outputDetails":{"truncated":false}},"previous_event_id":"2","event_timestamp":"1713959670680",'
        b'"execution_arn":"' + arn.encode() + b'","redrive_count":"0"}'
    )
    record = orjson.loads(line)
    assert list(record) == [
        "id",
        "type",
        "details",
        "previous_event_id",
        "event_timestamp",
        "execution_arn",
        "redrive_count",
    ]
    assert json.loads(record["details"]["output"]) == {"name": "Jane"}


def test_event_type_enum_is_awss() -> None:
    assert len(HISTORY_EVENT_TYPES) == 62
    assert {"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"} == FATAL_EVENT_TYPES
    assert FATAL_EVENT_TYPES < ERROR_EVENT_TYPES <= HISTORY_EVENT_TYPES


@pytest.mark.parametrize(
    "event_type",
    [
        "FailStateEntered",
        "WaitStateAborted",
        "TaskFailed",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "TaskTimedOut",
        "TaskStateAborted",
        "LambdaFunctionFailed",
        "LambdaFunctionScheduleFailed",
        "LambdaFunctionStartFailed",
        "LambdaFunctionTimedOut",
        "MapStateFailed",
        "MapStateAborted",
        "MapIterationFailed",
        "MapIterationAborted",
        "ParallelStateFailed",
        "ParallelStateAborted",
    ],
)
def test_error_level_writes_failures(event_type: str) -> None:
    assert event_type in ERROR_EVENT_TYPES
    assert event_type not in FATAL_EVENT_TYPES


@pytest.mark.parametrize(
    "event_type",
    [
        "ExecutionStarted",
        "ExecutionSucceeded",
        "PassStateEntered",
        "PassStateExited",
        "ChoiceStateEntered",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskSucceeded",
        "LambdaFunctionSucceeded",
        "MapStateStarted",
        "MapIterationStarted",
        "MapIterationSucceeded",
        "ParallelStateSucceeded",
        "WaitStateExited",
        "SucceedStateEntered",
        "FailStateExited",
    ],
)
def test_error_level_leaves_out_progress(event_type: str) -> None:
    assert event_type not in ERROR_EVENT_TYPES


def test_admitted_types_per_level() -> None:
    assert admitted_event_types(LogLevel.ALL) is None
    assert admitted_event_types(LogLevel.ERROR) is ERROR_EVENT_TYPES
    assert admitted_event_types(LogLevel.FATAL) is FATAL_EVENT_TYPES
    assert admitted_event_types(LogLevel.OFF) == frozenset()


# -- events given to the recorder one by one produce the reference bytes -----------------

EVENT_TYPES = st.sampled_from(
    [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "TaskScheduled",
        "TaskFailed",
        "MapStateStarted",
    ]
)
DETAIL_KEYS = st.sampled_from(
    ["input", "output", "parameters", "name", "error", "cause", "index", "length", "resource", "roleArn"]
)
events = st.lists(
    st.tuples(EVENT_TYPES, st.dictionaries(DETAIL_KEYS, json_values, max_size=4)), min_size=1, max_size=6
)


@given(events, st.booleans())
def test_recorder_bytes_equal_the_reference_format(
    sequence: list[tuple[str, dict[str, object]]], data: bool
) -> None:
    sink = MemoryLogSink()
    recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, data), sink, "M").recorder(ARN)
    assert recorder is not None
    expected = []
    for n, (event_type, details) in enumerate(sequence, start=1):
        recorder(n, event_type, details, n - 1, 1700000000 + n / 1000)
        expected.append(
            format_event(
                n,
                event_type,
                details,
                n - 1,
                1700000000000 + n,
                execution_arn=ARN,
                include_execution_data=data,
            )
        )
    assert sink.lines == expected


class FramingSink:
    """A sink that takes framed lines, as the local store does: the logger frames them."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        raise AssertionError("a sink with write_framed_batch gets framed lines")

    def write_framed_batch(
        self, timestamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        assert lines.endswith(b"\n")
        framed = lines.splitlines(keepends=True)
        assert len(framed) == len(timestamps)
        self.lines += framed


@given(events, st.booleans())
def test_framed_lines_equal_the_reference_format_framed(
    sequence: list[tuple[str, dict[str, object]]], data: bool
) -> None:
    sink = FramingSink()
    recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, data), sink, "M").recorder(ARN)
    assert recorder is not None
    expected = []
    for n, (event_type, details) in enumerate(sequence, start=1):
        recorder(n, event_type, details, n - 1, 1700000000 + n / 1000)
        record = format_event(
            n, event_type, details, n - 1, 1700000000000 + n, execution_arn=ARN, include_execution_data=data
        )
        expected.append(encode_event(1700000000000 + n, record))
    assert sink.lines == expected


@pytest.mark.parametrize("framed", [False, True])
def test_common_shapes_with_a_key_missing_or_null_still_match(framed: bool) -> None:
    sink: FramingSink | MemoryLogSink = FramingSink() if framed else MemoryLogSink()
    recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, True), sink, "M").recorder(ARN)
    assert recorder is not None
    sequence: list[tuple[str, dict[str, object]]] = [
        ("PassStateEntered", {"input": {"a": 1}, "name": "P"}),
        ("PassStateEntered", {"input": {"a": 1}, "name": None}),
        ("PassStateEntered", {"name": "P"}),
        ("PassStateEntered", {"input": None, "name": "P"}),
        ("ExecutionFailed", {"cause": "c", "error": "E"}),
        ("ExecutionFailed", {"cause": None, "error": "E"}),
        ("ChoiceStateExited", {"name": "C"}),
        ("ChoiceStateExited", {"name": None}),
        ("LambdaFunctionStarted", {}),
        ("ExecutionSucceeded", {"output": "x" * (PAYLOAD_LIMIT_BYTES + 10)}),
    ]
    for n, (event_type, details) in enumerate(sequence, start=1):
        recorder(n, event_type, details, n - 1, 1700000000.5)
    expected = [
        format_event(n, t, d, n - 1, 1700000000500, execution_arn=ARN) for n, (t, d) in enumerate(sequence, 1)
    ]
    if framed:
        expected = [encode_event(1700000000500, record) for record in expected]
    assert sink.lines == expected


def test_events_given_one_by_one_show_each_payload_as_it_was() -> None:
    sink = MemoryLogSink()
    recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, True), sink, "M").recorder(ARN)
    assert recorder is not None
    payload = {"v": 1}
    recorder(1, "ExecutionStarted", {"input": payload, "roleArn": "r"}, 0, 1.0)
    recorder(2, "PassStateEntered", {"name": "P", "input": payload}, 0, 1.0)
    payload["v"] = 2  # changed in place between two calls: each call is written as it comes
    recorder(3, "PassStateExited", {"name": "P", "output": payload}, 2, 1.0)
    recorder(4, "ExecutionSucceeded", {"output": payload}, 3, 1.0)
    texts = [record["details"].get("input") or record["details"].get("output") for record in sink.records()]
    assert texts == ['{"v":1}', '{"v":1}', '{"v":2}', '{"v":2}']


def test_optional_keys_of_a_type_come_and_go() -> None:
    sink = MemoryLogSink()
    recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, True), sink, "M").recorder(ARN)
    assert recorder is not None
    recorder(5, "ExecutionFailed", {"error": "E"}, 4, 1.0)
    recorder(5, "ExecutionFailed", {"error": "E", "cause": "C"}, 4, 1.0)
    recorder(5, "ExecutionFailed", {}, 4, 1.0)
    assert [record["details"] for record in sink.records()] == [
        {"error": "E"},
        {"cause": "C", "error": "E"},
        {},
    ]
