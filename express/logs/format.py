"""One history event to one log line, byte for byte as AWS writes Express execution logs.

A line is one JSON object with AWS's keys in AWS's order::

    {"id":"3","type":"PassStateExited","details":{...},"previous_event_id":"2",
     "event_timestamp":"1713959670680","execution_arn":"arn:...","redrive_count":"0"}

``id``, ``previous_event_id``, ``event_timestamp`` (epoch milliseconds) and
``redrive_count`` are strings, as AWS writes them. Inside ``details`` the keys are in
alphabetical order (AWS's captures: ``cause`` before ``error``, ``input`` and
``inputDetails`` before ``name``), and execution data is JSON *text*:

- ``input`` / ``output``: the payload as compact JSON text, followed by
  ``inputDetails`` / ``outputDetails`` = ``{"truncated": bool}``;
- ``parameters`` (TaskScheduled): JSON text, with no details object (AWS has none);
- ``assignedVariables`` (``*StateExited`` of a state with ``Assign``): an object of
  variable name to JSON text, followed by ``assignedVariablesDetails``.

Without ``includeExecutionData`` those keys and their details objects are left out;
names, errors, causes, resources and counts stay (AWS does not count a cause as data).

Invariant: a payload text never exceeds ``PAYLOAD_LIMIT_BYTES`` of UTF-8. A longer one is
cut at that size (on a character boundary) and flagged ``truncated: true``, the way AWS
keeps each log event inside CloudWatch Logs' 256 KB event limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from express.types import JSON

__all__ = [
    "PAYLOAD_LIMIT_BYTES",
    "DetailsShaper",
    "details_with_data",
    "details_without_data",
    "dumps_payload",
    "format_event",
    "payload_text",
    "variables_text",
]

PAYLOAD_LIMIT_BYTES = 248 * 1024

DetailsShaper = Callable[[Mapping[str, Any]], dict[str, Any]]

_NOT_TRUNCATED: dict[str, bool] = {"truncated": False}
_TRUNCATED: dict[str, bool] = {"truncated": True}
_DETAILS_KEY = {"input": "inputDetails", "output": "outputDetails"}
_DETAIL_KEYS = frozenset({"inputDetails", "outputDetails", "assignedVariablesDetails"})
_DATA_KEYS = frozenset(
    {
        "input",
        "inputDetails",
        "output",
        "outputDetails",
        "parameters",
        "assignedVariables",
        "assignedVariablesDetails",
    }
)


def dumps_payload(value: JSON) -> bytes:
    """Compact JSON text of a payload, whatever keys and numbers it holds."""
    try:
        # Payloads parsed from JSON have string keys only; orjson is twice as fast without
        # the option that allows others, and writes the same bytes.
        return orjson.dumps(value)
    except TypeError:
        pass
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        # orjson refuses integers beyond 64 bits; a log line must still be written.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def payload_text(value: JSON) -> tuple[str, bool]:
    """``value`` as compact JSON text, cut to ``PAYLOAD_LIMIT_BYTES``; and whether it was cut."""
    raw = dumps_payload(value)
    if len(raw) <= PAYLOAD_LIMIT_BYTES:
        return raw.decode(), False
    return raw[:PAYLOAD_LIMIT_BYTES].decode(errors="ignore"), True


def variables_text(variables: Mapping[str, JSON]) -> tuple[dict[str, str], bool]:
    # The limit applies to all of a state's assignments together, as AWS's quota does.
    out: dict[str, str] = {}
    budget = PAYLOAD_LIMIT_BYTES
    for name, value in variables.items():
        raw = dumps_payload(value)
        if len(raw) > budget:
            return out, True
        out[name] = raw.decode()
        budget -= len(raw)
    return out, False


def details_with_data(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` shaped as AWS logs them with ``includeExecutionData: true``."""
    out: dict[str, Any] = {}
    for key in sorted(details):
        value = details[key]
        if key in _DETAILS_KEY:
            text, cut = payload_text(value)
            out[key] = text
            out[_DETAILS_KEY[key]] = _TRUNCATED if cut else _NOT_TRUNCATED
        elif key == "parameters":
            out[key] = payload_text(value)[0]
        elif key == "assignedVariables":
            texts, cut = variables_text(value)
            out[key] = texts
            out["assignedVariablesDetails"] = _TRUNCATED if cut else _NOT_TRUNCATED
        elif value is not None and key not in _DETAIL_KEYS:
            out[key] = value
    return out


def details_without_data(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` shaped as AWS logs them with ``includeExecutionData: false``."""
    return {
        key: details[key] for key in sorted(details) if key not in _DATA_KEYS and details[key] is not None
    }


def format_event(
    event_id: int,
    event_type: str,
    details: Mapping[str, Any],
    previous_event_id: int,
    timestamp_ms: int,
    *,
    execution_arn: str,
    include_execution_data: bool = True,
) -> bytes:
    """One log line (without its newline): the reference ``express.logs.lines`` must match."""
    shape = details_with_data if include_execution_data else details_without_data
    return orjson.dumps(
        {
            "id": str(event_id),
            "type": event_type,
            "details": shape(details),
            "previous_event_id": str(previous_event_id),
            "event_timestamp": str(timestamp_ms),
            "execution_arn": execution_arn,
            "redrive_count": "0",
        }
    )
