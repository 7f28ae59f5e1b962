"""The recorder's compiled fast path: one history event to one log line, as cheaply as Python allows.

``express.logs.format`` states what a line is; this module produces the same bytes
faster, because it runs once per history event on the execution's hot path:

- a ``Plan`` per event type is built on the type's first event and reused: the line's
  ``%``-template with the type already in it, and the detail keys in AWS's (alphabetical)
  order with their JSON-encoded names, so an event costs one template fill;
- a payload is encoded once to JSON text and once more to the escaped string the line
  holds; the execution ARN and ``redrive_count`` are encoded once per execution
  (``tail``);
- a payload handed over unchanged from one event to the next (``ExecutionStarted`` or a
  ``*StateExited`` to the following event: no code runs in between that could change it)
  is recognised by identity and not encoded again (``Memo``).

Invariant: for any event, ``encode`` returns exactly ``format.format_event``'s bytes
(checked by a property test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from express.logs.format import PAYLOAD_LIMIT_BYTES, dumps_payload, variables_text

__all__ = ["Memo", "Plan", "encode_tail", "plan_for"]

_PLAIN, _PAYLOAD, _TEXT, _VARIABLES, _SKIP = range(5)
_KINDS = {
    "input": _PAYLOAD,
    "output": _PAYLOAD,
    "parameters": _TEXT,
    "assignedVariables": _VARIABLES,
    "inputDetails": _SKIP,
    "outputDetails": _SKIP,
    "assignedVariablesDetails": _SKIP,
}
_MISSING: Any = object()
_dumps = orjson.dumps


class Memo:
    """The payload last handed over, and its encoding. One per execution."""

    __slots__ = ("encoded", "value")

    def __init__(self) -> None:
        self.value: Any = _MISSING
        self.encoded: tuple[bytes, bool] = (b"", False)


class Plan:
    """How to encode one event type (for one setting of ``includeExecutionData``)."""

    __slots__ = ("details", "keys", "template")

    def __init__(self, event_type: str, keys: frozenset[str], include_data: bool) -> None:
        self.keys = keys
        self.template = (
            b'{"id":"%d","type":'
            + _dumps(event_type)
            + b',"details":%s,"previous_event_id":"%d","event_timestamp":"%d",%s'
        )
        handover = event_type == "ExecutionStarted" or event_type.endswith("StateExited")
        steps = []
        for key in sorted(keys):
            kind = _KINDS.get(key, _PLAIN)
            if kind == _SKIP or (kind != _PLAIN and not include_data):
                continue
            steps.append((key, kind, _dumps(key) + b":", _dumps(key + "Details") + b":"))
        self.details: DetailsEncoder = _specialise(tuple(steps), handover)


DetailsEncoder = Callable[[Mapping[str, Any], Memo], bytes]
_Step = tuple[str, int, bytes, bytes]
_FLAG = {False: b'{"truncated":false}', True: b'{"truncated":true}'}


def _specialise(steps: tuple[_Step, ...], handover: bool) -> DetailsEncoder:
    """An encoder for these steps; the common shapes get a closure without a loop."""
    kinds = tuple(kind for _, kind, _, _ in steps)
    if not steps:

        def empty(details: Mapping[str, Any], memo: Memo) -> bytes:
            memo.value = _MISSING
            return b"{}"

        return empty
    if kinds == (_PLAIN,):
        key, _, head, _ = steps[0]

        def plain(details: Mapping[str, Any], memo: Memo) -> bytes:
            memo.value = _MISSING
            value = details.get(key)
            return b"{}" if value is None else b"{" + head + _dumps(value) + b"}"

        return plain
    if kinds in {(_PAYLOAD,), (_PAYLOAD, _PLAIN), (_PLAIN, _PAYLOAD)}:
        return _payload_and_plain(steps, handover)
    return _general(steps, handover)


def _payload_and_plain(steps: tuple[_Step, ...], handover: bool) -> DetailsEncoder:
    # StateEntered {input, name}, StateExited {name, output}, ExecutionStarted {input,
    # roleArn}, ExecutionSucceeded and LambdaFunctionSucceeded {output}: most events.
    payload_first = steps[0][1] == _PAYLOAD
    payload_key, _, payload_head, flag_head = steps[0 if payload_first else 1]
    plain_step = steps[1 if payload_first else 0] if len(steps) == 2 else None
    plain_key = plain_step[0] if plain_step is not None else None
    plain_head = plain_step[2] if plain_step is not None else b""
    prefix = b"{" + payload_head

    def encode(details: Mapping[str, Any], memo: Memo) -> bytes:
        value = details.get(payload_key, _MISSING)
        plain = details.get(plain_key) if plain_key is not None else None
        if value is _MISSING:
            memo.value = _MISSING
            return b"{}" if plain is None else b"{" + plain_head + _dumps(plain) + b"}"
        encoded = memo.encoded if value is memo.value else _escaped_payload(value)
        if handover:
            memo.value, memo.encoded = value, encoded
        else:
            memo.value = _MISSING
        text, cut = encoded
        if plain is None:
            return prefix + text + b"," + flag_head + _FLAG[cut] + b"}"
        if payload_first:
            return prefix + text + b"," + flag_head + _FLAG[cut] + b"," + plain_head + _dumps(plain) + b"}"
        return (
            b"{"
            + plain_head
            + _dumps(plain)
            + b","
            + payload_head
            + text
            + b","
            + flag_head
            + _FLAG[cut]
            + b"}"
        )

    return encode


def _general(steps: tuple[_Step, ...], handover: bool) -> DetailsEncoder:
    def encode(details: Mapping[str, Any], memo: Memo) -> bytes:
        parts = []
        handed: Any = _MISSING
        encoded: tuple[bytes, bool] = (b"", False)
        for key, kind, head, flag_head in steps:
            value = details.get(key, _MISSING)
            if value is _MISSING:
                continue
            if kind == _PLAIN:
                if value is not None:
                    parts.append(head + _dumps(value))
            elif kind == _PAYLOAD:
                encoded = memo.encoded if value is memo.value else _escaped_payload(value)
                parts.append(head + encoded[0])
                parts.append(flag_head + _FLAG[encoded[1]])
                if handover:
                    handed = value
            elif kind == _TEXT:
                parts.append(head + _escaped_payload(value)[0])
            else:
                texts, cut = variables_text(value)
                parts.append(head + _dumps(texts))
                parts.append(flag_head + _FLAG[cut])
        memo.value = handed
        if handed is not _MISSING:
            memo.encoded = encoded
        return b"{" + b",".join(parts) + b"}"

    return encode


def _escaped_payload(value: Any) -> tuple[bytes, bool]:
    raw = dumps_payload(value)
    if len(raw) <= PAYLOAD_LIMIT_BYTES:
        return _dumps(raw.decode()), False
    return _dumps(raw[:PAYLOAD_LIMIT_BYTES].decode(errors="ignore")), True


def plan_for(plans: dict[str, Plan], event_type: str, details: Mapping[str, Any], include_data: bool) -> Plan:
    """The plan for ``event_type`` covering every key of ``details``; extended when a key is new."""
    plan = plans.get(event_type)
    if plan is None or not details.keys() <= plan.keys:
        known = plan.keys if plan is not None else frozenset()
        plan = plans[event_type] = Plan(event_type, known | details.keys(), include_data)
    return plan


def encode_tail(execution_arn: str) -> bytes:
    """The end of every line of one execution."""
    return b'"execution_arn":' + _dumps(execution_arn) + b',"redrive_count":"0"}'
