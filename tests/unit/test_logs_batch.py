"""Buffers of events, as the engine fills them, against the reference format byte for byte.

A buffer holds five entries per event (its ``EventKind``, id, previous id, time, value).
The logger formats it in one pass: in one fill when the sequence was seen before and
every event falls in one millisecond (``express.logs.shapes``), event by event
otherwise. Both must write exactly what ``format_event`` writes for the event's
details (``EventKind.details``), framed by ``encode_event`` for a framing sink, at
every level, with and without execution data, and with payloads that are shared
between events, snapshotted, non-ASCII, or cut at the 248 KiB limit.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from express.logs import PAYLOAD_LIMIT_BYTES, ExecutionLogger, LoggingConfiguration, LogLevel, format_event
from express.logs.layout import encode_event
from express.logs.levels import admitted_event_types
from express.runtime.context import EventKind, Snapshot

ARN = "arn:aws:states:us-east-1:111111111111:express:M:e-%1:0001"  # a % in it, as a name may have
ROLE = "arn:aws:iam::111111111111:role/service-role/express-M"
T = 1713959670.672

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Around the limit: whole, cut, and cut inside a two-byte character ("é") or an escape.
near_limit = st.builds(
    lambda count, filler, end: filler * count + end,
    st.integers(PAYLOAD_LIMIT_BYTES // 2 - 4, PAYLOAD_LIMIT_BYTES // 2 + 4),
    st.sampled_from(["é", "ab", 'a"', "\n\\"]),
    st.text(max_size=3),
)
payloads = json_values | near_limit.map(lambda text: {"blob": text})

# The kinds the engine makes, by what their value is.
PAYLOAD_KINDS = [
    EventKind("ExecutionStarted", {"roleArn": ROLE}, "input"),
    EventKind("PassStateEntered", {"name": "P%s"}, "input"),
    EventKind("PassStateExited", {"name": "P%s"}, "output"),
    EventKind("FailStateEntered", {"name": "F"}, "input"),
    EventKind("TaskScheduled", {"resourceType": "lambda", "resource": "invoke", "region": "r"}, "parameters"),
    EventKind("LambdaFunctionScheduled", {"resource": "arn:aws:lambda:r:1:function:f"}, "input"),
    EventKind("ExecutionSucceeded", key="output"),
]
SNAPSHOT_KINDS = [
    EventKind("LambdaFunctionSucceeded", key="output"),
    EventKind("TaskSucceeded", {}, "output"),
]
PLAIN_KINDS = [
    EventKind("MapIterationStarted", {"name": "M"}, "index"),
    EventKind("MapStateStarted", key="length"),
]
BARE_KINDS = [
    EventKind("LambdaFunctionStarted"),
    EventKind("ParallelStateStarted"),
    EventKind("MapStateFailed"),
]
DETAILS_KINDS = [
    EventKind("ExecutionFailed"),
    EventKind("TaskFailed", {"resourceType": "lambda", "resource": "invoke"}),
    EventKind("EvaluationFailed"),
]
ASSIGNED_KIND = EventKind("PassStateExited", {"name": "P%s"})  # output and assignedVariables
TIMED_SCHEDULE = EventKind("LambdaFunctionScheduled", {"resource": "arn:aws:lambda:r:1:function:f"})


@st.composite
def buffers(draw: st.DrawFn) -> list[tuple[EventKind, Any]]:
    """(kind, value) pairs; payloads come from a small pool, so objects recur by identity."""
    pool = draw(st.lists(payloads, min_size=1, max_size=3))
    shared = st.sampled_from(pool)
    failure = st.none() | st.fixed_dictionaries({}, optional={"error": st.text(), "cause": st.text()})
    event = st.one_of(
        st.tuples(st.sampled_from(PAYLOAD_KINDS), shared),
        st.tuples(st.sampled_from(SNAPSHOT_KINDS), shared.map(Snapshot) | shared),
        st.tuples(st.sampled_from(PLAIN_KINDS), st.integers(0, 10**6) | st.none()),
        st.tuples(st.sampled_from(BARE_KINDS), st.none()),
        st.tuples(st.sampled_from(DETAILS_KINDS), failure),
        st.tuples(
            st.just(ASSIGNED_KIND),
            st.fixed_dictionaries(
                {
                    "output": shared,
                    "assignedVariables": st.dictionaries(st.text(max_size=4), shared, max_size=2),
                }
            ),
        ),
        st.tuples(
            st.just(TIMED_SCHEDULE),
            st.fixed_dictionaries({"input": shared, "timeoutInSeconds": st.integers(1, 300)}),
        ),
    )
    return draw(st.lists(event, min_size=1, max_size=12))


def _buffer(events: list[tuple[EventKind, Any]], first_id: int, spread: float) -> list[Any]:
    buffer: list[Any] = []
    for n, (kind, value) in enumerate(events):
        buffer += (kind, first_id + n, first_id + n - 1, T + n * spread, value)
    return buffer


def _expected(buffer: list[Any], config: LoggingConfiguration, framed: bool) -> list[bytes]:
    admitted = admitted_event_types(config.level)
    lines = []
    for start in range(0, len(buffer), 5):
        kind, event_id, previous, at, value = buffer[start : start + 5]
        if admitted is not None and kind.type not in admitted:
            continue
        ms = round(at * 1000)
        record = format_event(
            event_id,
            kind.type,
            kind.details(value),
            previous,
            ms,
            execution_arn=ARN,
            include_execution_data=config.include_execution_data,
        )
        lines.append(encode_event(ms, record) if framed else record + b"\n")
    return lines


class FramingSink:
    """Takes an execution's lines framed, as the local store does."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.stamps: list[int] = []

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        raise AssertionError("a sink with write_framed_batch gets framed lines")

    def write_framed_batch(
        self, timestamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        assert (state_machine_name, execution_arn) == ("M", ARN)
        framed = lines.splitlines(keepends=True)
        assert len(framed) == len(timestamps) and lines.endswith(b"\n")
        self.lines += framed
        self.stamps += timestamps


class LineSink:
    """Takes an execution's records without framing (``write_batch``), as stdout does."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.stamps: list[int] = []

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        raise AssertionError("a sink with write_batch gets the lines together")

    def write_batch(
        self, timestamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        records = lines.splitlines(keepends=True)
        assert len(records) == len(timestamps) and lines.endswith(b"\n")
        self.lines += records
        self.stamps += timestamps


LEVELS = st.sampled_from([LogLevel.ALL, LogLevel.ALL, LogLevel.ERROR, LogLevel.FATAL])


@settings(max_examples=300, deadline=None)
@given(buffers(), LEVELS, st.booleans(), st.booleans(), st.sampled_from([0.0, 0.00003, 0.0007, 0.003]))
def test_a_buffer_is_written_as_the_reference_writes_each_event(
    events: list[tuple[EventKind, Any]], level: LogLevel, data: bool, framed: bool, spread: float
) -> None:
    config = LoggingConfiguration(level, data)
    sink: FramingSink | LineSink = FramingSink() if framed else LineSink()
    recorder = ExecutionLogger(config, sink, "M").recorder(ARN)
    assert recorder is not None
    # Twice with the same ids (the second fill reuses the shape), then with other ids.
    buffers = [_buffer(events, 1, spread), _buffer(events, 1, spread), _buffer(events, 7, spread)]
    expected = []
    for buffer in buffers:
        recorder.record_events(buffer)
        expected += _expected(buffer, config, framed)
    assert sink.lines == expected
    if framed:
        assert sink.stamps == [orjson.loads(line)["timestamp"] for line in expected]
    else:
        assert sink.stamps == [int(orjson.loads(line)["event_timestamp"]) for line in expected]


class PlainSink:
    """A sink with ``write`` alone."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, bytes]] = []

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        self.entries.append((event_timestamp_ms, line))


def test_a_sink_without_batches_gets_one_line_per_call() -> None:
    sink = PlainSink()
    recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, True), sink, "M").recorder(ARN)
    assert recorder is not None
    payload = {"reading": "é"}
    events = [(PAYLOAD_KINDS[0], payload), (BARE_KINDS[0], None), (PAYLOAD_KINDS[-1], payload)]
    buffer = _buffer(events, 1, 0.001)
    recorder.record_events(buffer)
    config = LoggingConfiguration(LogLevel.ALL, True)
    assert [line + b"\n" for _, line in sink.entries] == _expected(buffer, config, framed=False)
    assert [stamp for stamp, _ in sink.entries] == [round((T + n * 0.001) * 1000) for n in range(3)]


def test_a_snapshot_is_logged_as_it_was_taken_by_every_event_showing_its_object() -> None:
    sink = LineSink()
    recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, True), sink, "M").recorder(ARN)
    assert recorder is not None
    result = {"n": 1}
    snapshot = Snapshot(result)
    result["n"] = 2  # the handler changed it after returning it
    recorder.record_events(_buffer([(SNAPSHOT_KINDS[0], snapshot), (PAYLOAD_KINDS[2], result)], 5, 0.0))
    assert [orjson.loads(line)["details"]["output"] for line in sink.lines] == ['{"n":1}', '{"n":1}']


@pytest.mark.parametrize("spread", [0.0, 0.002])
def test_a_value_that_cannot_be_written_loses_only_its_own_event(
    spread: float, caplog: pytest.LogCaptureFixture
) -> None:
    sink = LineSink()
    recorder = ExecutionLogger(LoggingConfiguration(LogLevel.ALL, True), sink, "M").recorder(ARN)
    assert recorder is not None
    events = [(PAYLOAD_KINDS[1], {"ok": 1}), (PAYLOAD_KINDS[2], {"bad": "\ud800"}), (BARE_KINDS[0], None)]
    recorder.record_events(_buffer(events, 2, spread))
    assert [orjson.loads(line)["id"] for line in sink.lines] == ["2", "4"]
    assert "could not format history event 3 (PassStateExited)" in caplog.text


def test_an_event_filtered_by_the_level_writes_nothing() -> None:
    sink = LineSink()
    recorder = ExecutionLogger(LoggingConfiguration(LogLevel.FATAL, True), sink, "M").recorder(ARN)
    assert recorder is not None
    recorder.record_events(_buffer([(PAYLOAD_KINDS[1], 1), (DETAILS_KINDS[1], {"error": "E"})], 2, 0.0))
    assert sink.lines == []
    recorder.record_events(_buffer([(DETAILS_KINDS[0], {"error": "E", "cause": "C"})], 4, 0.0))
    assert [orjson.loads(line)["type"] for line in sink.lines] == ["ExecutionFailed"]
