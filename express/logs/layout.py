"""The on-disk layout of a CloudWatch-style local log store, shared by its writer and readers.

::

    <root>/
      <log group, percent-encoded>/          one folder per log group
        log_stream_created_by_aws_to_validate_log_delivery_subscriptions
        states/<state machine>/<YYYY-MM-DD-HH-MM>/<8-digit sequence>

Below its group folder, a stream's path *is* its name, and the name is the one AWS gives
Express log streams: ``states/<StateMachineName>/<UTC minute of its first event>/<seq>``.
A stream holds the events whose timestamps fall in its time bucket; the sequence number
starts at ``00000000`` in each bucket and grows when a stream reaches its size limit (or
another writer already holds that number). As with AWS, one execution may span several
streams: readers group events by ``execution_arn`` and order them by integer ``id``.

Each line of a stream is one log event: ``{"timestamp": <ms>, "message": <the AWS record>}``,
the fields of a CloudWatch ``InputLogEvent``. The record is embedded as it is rather than
as an escaped string (as ``GetLogEvents`` would return it): the line is then the record's
bytes with a short prefix, with no second escaping pass, and ``jq .message`` yields the
record. Readers accept both forms.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import orjson

__all__ = [
    "DEFAULT_LOG_STORE",
    "STREAM_PREFIX",
    "VALIDATION_STREAM",
    "bucket_label",
    "bucket_start_ms",
    "decode_event",
    "encode_event",
    "group_dir",
    "group_name",
    "label_start_ms",
    "machine_dir",
    "stream_name",
]

# The store ``express run`` writes and ``express logs`` reads unless told otherwise.
DEFAULT_LOG_STORE = "express-logs"
STREAM_PREFIX = "states"
VALIDATION_STREAM = "log_stream_created_by_aws_to_validate_log_delivery_subscriptions"
_LABEL_FORMAT = "%Y-%m-%d-%H-%M"


def group_dir(root: Path, group: str) -> Path:
    """The folder of a log group. Group names hold ``/``; encoding keeps one folder per group."""
    return root / quote(group, safe="")


def group_name(folder: Path) -> str:
    return unquote(folder.name)


def machine_dir(state_machine_name: str) -> str:
    """A state machine name as one safe path component (AWS's names need no encoding)."""
    encoded = quote(state_machine_name, safe="-_.")
    return encoded.replace(".", "%2E") if encoded.strip(".") == "" else encoded


def bucket_start_ms(timestamp_ms: int, width_ms: int) -> int:
    return timestamp_ms - timestamp_ms % width_ms


def bucket_label(start_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(start_ms / 1000, tz=datetime.UTC)
    return moment.strftime(_LABEL_FORMAT)


def label_start_ms(label: str) -> int | None:
    """The start of a bucket from its label; None when the label is not one."""
    try:
        moment = datetime.datetime.strptime(label, _LABEL_FORMAT).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None
    return int(moment.timestamp()) * 1000


def stream_name(state_machine_name: str, start_ms: int, sequence: int) -> str:
    return f"{STREAM_PREFIX}/{machine_dir(state_machine_name)}/{bucket_label(start_ms)}/{sequence:08d}"


def encode_event(timestamp_ms: int, message: bytes) -> bytes:
    """One stream line (with its newline) holding one log event; ``message`` is a JSON object."""
    return b'{"timestamp":%d,"message":%s}\n' % (timestamp_ms, message)


def decode_event(line: bytes) -> tuple[int, dict[str, Any]]:
    """``(timestamp_ms, record)`` of one stream line; raises ValueError on a damaged line."""
    try:
        event = orjson.loads(line)
        message = event["message"]
        record = orjson.loads(message) if isinstance(message, str) else message
        if not isinstance(record, dict):
            raise TypeError("message is not an object")
        return int(event["timestamp"]), record
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a log event line: {line[:80]!r}") from exc
