"""The recorder's compiled fast path: one history event to one log line, as cheaply as Python allows.

``express.logs.format`` states what a line is; this module produces the same bytes
faster, because it runs once per history event on the execution's hot path:

- a ``Plan`` per event type is built on the type's first event and reused: the line's
  ``%``-template with the type, the detail keys in AWS's (alphabetical) order and the
  ``truncated`` flags already in it, so an event of the common shapes costs one template
  fill and no intermediate bytes (the others build their details first);
- for a sink that stores framed lines (``write_framed``), the same fill frames the line,
  so the sink's writer thread, which competes for the GIL, does no work per line;
- a payload is encoded once to JSON text and once more to the escaped string the line
  holds; the execution ARN and ``redrive_count`` are encoded once per execution
  (``tail``);
- a payload handed over unchanged from one event to the next (``ExecutionStarted`` or a
  ``*StateExited`` to the following event: no code runs in between that could change it)
  is recognised by identity and not encoded again (``Memo``).

Invariant: for any event, ``Plan.line`` returns exactly ``format.format_event``'s bytes,
framed by ``layout.encode_event`` when asked (checked by property tests).
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
    """One execution's encoding state: the end of its lines, the payload last handed over
    and that payload's encoding."""

    __slots__ = ("encoded", "tail", "value")

    def __init__(self, tail: bytes = b"") -> None:
        self.tail = tail
        self.value: Any = _MISSING
        self.encoded: tuple[bytes, bool] = (b"", False)


class Plan:
    """How to encode one event type (for one setting of ``includeExecutionData`` and framing).

    ``line(event_id, details, previous_event_id, timestamp_ms, memo)`` returns the whole
    line (``memo.tail`` ends it). For the shapes most events have, every key present,
    that is one fill of a template holding the details' keys and flags, so no
    intermediate details bytes are built; other events go through ``details`` and the
    generic ``template``. With ``framed``, the line is the record wrapped as a store line
    (``layout.encode_event``, newline included; the tail then ends with ``}\\n``).
    """

    __slots__ = ("details", "keys", "line", "template")

    def __init__(
        self, event_type: str, keys: frozenset[str], include_data: bool, framed: bool = False
    ) -> None:
        self.keys = keys
        head = b'{"id":"%d","type":' + _literal(_dumps(event_type)) + b',"details":'
        if framed:
            head = _FRAME + head
        self.template = head + _LINE_END
        handover = event_type == "ExecutionStarted" or event_type.endswith("StateExited")
        steps = []
        for key in sorted(keys):
            kind = _KINDS.get(key, _PLAIN)
            if kind == _SKIP or (kind != _PLAIN and not include_data):
                continue
            steps.append((key, kind, _dumps(key) + b":", _dumps(key + "Details") + b":"))
        self.details: DetailsEncoder = _specialise(tuple(steps), handover)
        self.line: LineEncoder = _line_encoder(tuple(steps), handover, head, self.details, framed=framed)


DetailsEncoder = Callable[[Mapping[str, Any], Memo], bytes]
# (event_id, details, previous_event_id, timestamp_ms, memo) -> the line
LineEncoder = Callable[[int, Mapping[str, Any], int, int, Memo], bytes]
_Step = tuple[str, int, bytes, bytes]
_FLAG = {False: b'{"truncated":false}', True: b'{"truncated":true}'}
_FRAME = b'{"timestamp":%d,"message":'
_LINE_END = b'%s,"previous_event_id":"%d","event_timestamp":"%d",%s'


def _literal(text: bytes) -> bytes:
    """``text`` as a literal part of a ``%`` template."""
    return text.replace(b"%", b"%%")


def _line_encoder(
    steps: tuple[_Step, ...], handover: bool, head: bytes, details: DetailsEncoder, *, framed: bool
) -> LineEncoder:
    """One template fill for the common shapes with every key present; ``details`` otherwise."""
    kinds = tuple(kind for _, kind, _, _ in steps)
    template = head + _LINE_END

    def generic(
        event_id: int, values: Mapping[str, Any], previous: int, timestamp_ms: int, memo: Memo
    ) -> bytes:
        encoded = details(values, memo)
        if framed:
            return template % (timestamp_ms, event_id, encoded, previous, timestamp_ms, memo.tail)
        return template % (event_id, encoded, previous, timestamp_ms, memo.tail)

    if not steps:
        empty = head + b"{}" + _LINE_END.removeprefix(b"%s")

        def no_details(
            event_id: int, values: Mapping[str, Any], previous: int, timestamp_ms: int, memo: Memo
        ) -> bytes:
            memo.value = _MISSING
            if framed:
                return empty % (timestamp_ms, event_id, previous, timestamp_ms, memo.tail)
            return empty % (event_id, previous, timestamp_ms, memo.tail)

        return no_details
    if kinds in {(_PLAIN,), (_PLAIN, _PLAIN)}:
        return _plain_line(steps, head, generic, framed=framed)
    if kinds in {(_PAYLOAD,), (_PAYLOAD, _PLAIN), (_PLAIN, _PAYLOAD)}:
        return _payload_line(steps, handover, head, generic, framed=framed)
    return generic


def _plain_line(steps: tuple[_Step, ...], head: bytes, generic: LineEncoder, *, framed: bool) -> LineEncoder:
    # ChoiceStateExited {name} without data, ExecutionFailed {cause, error}, ...
    keys = tuple(key for key, _, _, _ in steps)
    body = b"{" + b",".join(_literal(key_head) + b"%s" for _, _, key_head, _ in steps) + b"}"
    template = head + body + _LINE_END.removeprefix(b"%s")
    if len(keys) == 1:
        (key,) = keys

        def one(
            event_id: int, values: Mapping[str, Any], previous: int, timestamp_ms: int, memo: Memo
        ) -> bytes:
            value = values.get(key)
            if value is None:
                return generic(event_id, values, previous, timestamp_ms, memo)
            memo.value = _MISSING
            if framed:
                return template % (timestamp_ms, event_id, _dumps(value), previous, timestamp_ms, memo.tail)
            return template % (event_id, _dumps(value), previous, timestamp_ms, memo.tail)

        return one
    first_key, second_key = keys

    def two(event_id: int, values: Mapping[str, Any], previous: int, timestamp_ms: int, memo: Memo) -> bytes:
        first, second = values.get(first_key), values.get(second_key)
        if first is None or second is None:
            return generic(event_id, values, previous, timestamp_ms, memo)
        memo.value = _MISSING
        if framed:
            return template % (
                timestamp_ms, event_id, _dumps(first), _dumps(second), previous, timestamp_ms, memo.tail
            )  # fmt: skip
        return template % (event_id, _dumps(first), _dumps(second), previous, timestamp_ms, memo.tail)

    return two


def _payload_line(
    steps: tuple[_Step, ...], handover: bool, head: bytes, generic: LineEncoder, *, framed: bool
) -> LineEncoder:
    # StateEntered {input, name}, StateExited {name, output}, ExecutionStarted {input,
    # roleArn}, ExecutionSucceeded and LambdaFunctionSucceeded {output}: most events.
    def template(cut: bool) -> bytes:
        parts = []
        for _, kind, key_head, flag_head in steps:
            part = _literal(key_head) + b"%s"
            if kind == _PAYLOAD:
                part += b"," + _literal(flag_head + _FLAG[cut])
            parts.append(part)
        return head + b"{" + b",".join(parts) + b"}" + _LINE_END.removeprefix(b"%s")

    # The flag is part of the template: one template per value of ``truncated``.
    flagged = {cut: template(cut) for cut in (False, True)}
    payload_at = next(i for i, (_, kind, _, _) in enumerate(steps) if kind == _PAYLOAD)
    payload_key = steps[payload_at][0]
    plain_key = steps[1 - payload_at][0] if len(steps) == 2 else None
    payload_first = payload_at == 0

    def encode(
        event_id: int, values: Mapping[str, Any], previous: int, timestamp_ms: int, memo: Memo
    ) -> bytes:
        value = values.get(payload_key, _MISSING)
        plain = values.get(plain_key) if plain_key is not None else None
        if value is _MISSING or (plain is None and plain_key is not None):
            return generic(event_id, values, previous, timestamp_ms, memo)
        encoded = memo.encoded if value is memo.value else _escaped_payload(value)
        if handover:
            memo.value, memo.encoded = value, encoded
        else:
            memo.value = _MISSING
        text, cut = encoded
        chosen = flagged[cut]
        if plain_key is None:
            args: tuple[Any, ...] = (event_id, text, previous, timestamp_ms, memo.tail)
        elif payload_first:
            args = (event_id, text, _dumps(plain), previous, timestamp_ms, memo.tail)
        else:
            args = (event_id, _dumps(plain), text, previous, timestamp_ms, memo.tail)
        if framed:
            return chosen % (timestamp_ms, *args)
        return chosen % args

    return encode


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


def plan_for(
    plans: dict[str, Plan],
    event_type: str,
    details: Mapping[str, Any],
    include_data: bool,
    framed: bool = False,
) -> Plan:
    """The plan for ``event_type`` covering every key of ``details``; extended when a key is new."""
    plan = plans.get(event_type)
    if plan is None or not details.keys() <= plan.keys:
        known = plan.keys if plan is not None else frozenset()
        plan = plans[event_type] = Plan(event_type, known | details.keys(), include_data, framed)
    return plan


def encode_tail(execution_arn: str) -> bytes:
    """The end of every line of one execution."""
    return b'"execution_arn":' + _dumps(execution_arn) + b',"redrive_count":"0"}'
