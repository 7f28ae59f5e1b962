"""Input checks, execution names, output headers and dead-letter documents."""

from __future__ import annotations

import base64

import orjson
import pytest

from express.runtime.context import iso_timestamp
from express.runtime.envelope import (
    MAX_DEAD_LETTER_VALUE,
    MAX_INPUT_BYTES,
    InvalidInputError,
    PartitionEnvelope,
    check_input,
    dead_letter,
    name_prefix,
)
from express.runtime.records import Record


def test_valid_json_of_any_type_is_an_input() -> None:
    assert check_input(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert check_input(b"3") == 3
    assert check_input(b'"text"') == "text"


@pytest.mark.parametrize(
    ("value", "error", "cause_part"),
    [
        (None, "InvalidExecutionInput", "tombstone"),
        (b"{nope", "InvalidExecutionInput", "Invalid State Machine Execution Input"),
        (b'{"a": "\xc3\x28"}', "InvalidExecutionInput", "not valid UTF-8 (byte 7)"),
        (b"", "InvalidExecutionInput", "Invalid State Machine Execution Input"),
        (b'"' + b"a" * MAX_INPUT_BYTES + b'"', "States.DataLimitExceeded", "262144 bytes"),
    ],
)
def test_records_that_cannot_start_say_why(value: bytes | None, error: str, cause_part: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_input(value)
    assert caught.value.error == error
    assert cause_part in caught.value.cause


def test_the_size_limit_is_inclusive() -> None:
    exactly = b'"' + b"a" * (MAX_INPUT_BYTES - 2) + b'"'
    assert len(exactly) == MAX_INPUT_BYTES
    assert check_input(exactly) == "a" * (MAX_INPUT_BYTES - 2)


def test_name_prefix_keeps_aws_name_alphabet_and_room_for_any_offset() -> None:
    assert name_prefix("orders", 3) == "orders-3-"
    assert name_prefix("a.b/c", 0) == "a_b_c-0-"
    long = name_prefix("t" * 249, 12345)
    assert long.endswith("-12345-")
    assert len(long + str(2**63 - 1)) == 80


def test_headers_name_the_execution_and_the_source() -> None:
    envelope = PartitionEnvelope("in", 2)
    headers = dict(envelope.headers("in-2-7", "arn:x", 7))
    assert headers == {
        "express-execution-name": b"in-2-7",
        "express-execution-arn": b"arn:x",
        "express-source-topic": b"in",
        "express-source-partition": b"2",
        "express-source-offset": b"7",
    }


def test_a_dead_letter_carries_everything_needed_to_replay_the_record() -> None:
    record = Record("in", 1, 42, b"\xff\x00", key=b"device-1", timestamp=1_700_000_000_000)
    document = orjson.loads(
        dead_letter(
            record, status="FAILED", error="E", cause="why", name="in-1-42", arn="arn:x", now=lambda: 0.0
        )
    )
    assert document == {
        "status": "FAILED",
        "error": "E",
        "cause": "why",
        "execution_name": "in-1-42",
        "execution_arn": "arn:x",
        "source": {"topic": "in", "partition": 1, "offset": 42},
        "key": "device-1",
        "key_encoding": "text",
        "timestamp": 1_700_000_000_000,
        "dead_lettered_at": "1970-01-01T00:00:00.000Z",
        "value": base64.b64encode(b"\xff\x00").decode(),
        "value_encoding": "base64",
    }


def test_a_dead_letter_keeps_text_values_as_text_and_missing_parts_as_null() -> None:
    record = Record("in", 0, 0, b"not json")
    document = orjson.loads(
        dead_letter(record, status="NOT_STARTED", error="E", cause="c", name="n", arn=None)
    )
    assert (document["value"], document["value_encoding"]) == ("not json", "text")
    assert (document["key"], document["key_encoding"]) == (None, "none")
    assert document["execution_arn"] is None


def test_a_huge_value_is_cut_so_its_dead_letter_still_fits_in_a_kafka_record() -> None:
    record = Record("in", 0, 5, b"x" * (MAX_DEAD_LETTER_VALUE + 10))
    document = orjson.loads(
        dead_letter(record, status="NOT_STARTED", error="E", cause="c", name="n", arn=None)
    )
    assert document["value"] == "x" * MAX_DEAD_LETTER_VALUE
    assert document["value_truncated"] is True and document["value_size"] == MAX_DEAD_LETTER_VALUE + 10


def test_timestamps_are_rendered_as_aws_renders_them_truncated_to_milliseconds() -> None:
    assert iso_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert iso_timestamp(1_700_000_000.9996) == "2023-11-14T22:13:20.999Z"
    assert iso_timestamp(1_700_000_000.0004) == "2023-11-14T22:13:20.000Z"
