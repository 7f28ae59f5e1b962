"""What goes around an execution: input checks, execution names, output headers, dead letters.

An execution's name derives from its source record's coordinates, so running a record
again (after a crash or a rebalance) gives it the same name. Names keep to AWS's
alphabet for execution names, ``[0-9A-Za-z_-]``, and to 80 characters: the topic part
is shortened, never the partition and offset, so names stay unique within a topic.

Every per-partition piece (name prefix, header values) is built once, when the partition
is assigned; per record only the offset is formatted.

A dead letter is one JSON document (see ``dead_letter``); the original value travels as
text when it is valid UTF-8 and as base64 otherwise, and ``value_encoding`` says which.
Values over ``MAX_DEAD_LETTER_VALUE`` bytes are cut to that size (``value_truncated``).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from typing import Any

import orjson

from express.runtime.context import iso_timestamp
from express.runtime.records import RecordLike

__all__ = [
    "MAX_DEAD_LETTER_VALUE",
    "MAX_INPUT_BYTES",
    "NOT_STARTED",
    "PartitionEnvelope",
    "InvalidInputError",
    "check_input",
    "dead_letter",
    "name_prefix",
]

MAX_INPUT_BYTES = 262_144  # AWS's payload quota for an execution input (256 KiB of UTF-8)
# A dead letter must fit in a Kafka record (1 MiB by default) even in base64, or the
# record that could not start would stop the stream instead; longer values are cut here
# and the document says so (the original stays in the input topic, at its coordinates).
MAX_DEAD_LETTER_VALUE = 524_288
NOT_STARTED = "NOT_STARTED"  # the status of a dead letter whose record could not start
_INVALID = "InvalidExecutionInput"  # StartExecution's error for input that is not JSON
_MAX_NAME = 80
_MAX_OFFSET_DIGITS = 19  # offsets are signed 64-bit
_NOT_NAME_CHARS = re.compile(r"[^0-9A-Za-z_-]")

HEADER_NAME = "express-execution-name"
HEADER_ARN = "express-execution-arn"
HEADER_TOPIC = "express-source-topic"
HEADER_PARTITION = "express-source-partition"
HEADER_OFFSET = "express-source-offset"


class InvalidInputError(Exception):
    """The record cannot start an execution; ``error``/``cause`` go into its dead letter."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause


def check_input(value: bytes | None) -> Any:
    """Decode a record's value into the execution input, or raise ``InvalidInputError``."""
    if value is None:
        raise InvalidInputError(_INVALID, "The record has no value (a tombstone); there is no input.")
    if len(value) > MAX_INPUT_BYTES:
        raise InvalidInputError(
            "States.DataLimitExceeded",
            f"The record value is {len(value)} bytes, over the execution input limit of "
            f"{MAX_INPUT_BYTES} bytes.",
        )
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        try:
            value.decode()
        except UnicodeDecodeError as bad:
            raise InvalidInputError(
                _INVALID,
                f"Invalid State Machine Execution Input: the record value is not valid UTF-8 "
                f"(byte {bad.start}).",
            ) from None
        raise InvalidInputError(_INVALID, f"Invalid State Machine Execution Input: {exc}.") from None


def name_prefix(topic: str, partition: int) -> str:
    """The part of an execution name shared by a partition's records: ``topic-partition-``."""
    tail = f"-{partition}-"
    room = _MAX_NAME - len(tail) - _MAX_OFFSET_DIGITS
    return _NOT_NAME_CHARS.sub("_", topic)[:room] + tail


class PartitionEnvelope:
    """Per-partition constants for naming executions and labelling their records."""

    __slots__ = ("partition_header", "prefix", "topic_header")

    def __init__(self, topic: str, partition: int) -> None:
        self.prefix = name_prefix(topic, partition)
        self.topic_header = (HEADER_TOPIC, topic.encode())
        self.partition_header = (HEADER_PARTITION, str(partition).encode())

    def headers(self, name: str, arn: str, offset: int) -> list[tuple[str, bytes]]:
        return [
            (HEADER_NAME, name.encode()),
            (HEADER_ARN, arn.encode()),
            self.topic_header,
            self.partition_header,
            (HEADER_OFFSET, str(offset).encode()),
        ]


def _text_or_base64(data: bytes | None) -> tuple[str | None, str]:
    if data is None:
        return None, "none"
    if len(data) > MAX_DEAD_LETTER_VALUE:
        data = data[:MAX_DEAD_LETTER_VALUE]
    try:
        return data.decode(), "text"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), "base64"


def dead_letter(
    record: RecordLike,
    *,
    status: str,
    error: str | None,
    cause: str | None,
    name: str,
    arn: str | None,
    now: Callable[[], float] = time.time,
) -> bytes:
    """The dead-letter document for ``record``, as JSON bytes."""
    raw = record.value
    value, value_encoding = _text_or_base64(raw)
    key, key_encoding = _text_or_base64(record.key)
    document = {
        "status": status,
        "error": error,
        "cause": cause,
        "execution_name": name,
        "execution_arn": arn,
        "source": {"topic": record.topic, "partition": record.partition, "offset": record.offset},
        "key": key,
        "key_encoding": key_encoding,
        "timestamp": record.timestamp,
        "dead_lettered_at": iso_timestamp(now()),
        "value": value,
        "value_encoding": value_encoding,
    }
    if raw is not None and len(raw) > MAX_DEAD_LETTER_VALUE:
        document["value_size"] = len(raw)
        document["value_truncated"] = True
    return orjson.dumps(document)
