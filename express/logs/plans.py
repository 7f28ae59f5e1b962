"""How the events of one kind become log lines: a ``%``-template per kind, built once.

``express.logs.format`` states what a line is; ``KindPlan`` holds the same bytes as a
template, built on the kind's first event (``express.runtime.context.EventKind``) and
reused by every execution: the type, the details every event of the kind has (its
state's name, its resource) in AWS's alphabetical order, the ``truncated`` flag, and
the framing of a store line when the sink wants it. An event then costs one template
fill with its time, id, previous id, the execution's ``tail`` and at most one piece of
text (``mode``): a payload's JSON text, a plain value, or the whole details object for
events that fit no template.

``PayloadTexts`` encodes payloads for one buffer of events, once per payload object
(identity). That is sound because a buffered value is never changed
(``express.runtime.context.History``) and because the buffer keeps every object alive,
so an identity is not reused while the texts are kept; a ``Snapshot`` brings its JSON
from the moment it was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from express.logs.format import PAYLOAD_LIMIT_BYTES, dumps_payload, variables_text
from express.runtime.context import EventKind, Snapshot

__all__ = [
    "BARE",
    "FILTERED",
    "WITH_DETAILS",
    "WITH_PAYLOAD",
    "WITH_PLAIN",
    "WITH_TEXT",
    "KindPlan",
    "PayloadTexts",
    "details_bytes",
    "literal",
]

_dumps = orjson.dumps

# How a detail is written: as it is, as a payload's JSON text with a ``truncated`` flag, as
# JSON text alone (TaskScheduled's parameters), as an object of texts (assigned variables),
# or never (the flags, which are derived).
_PLAIN, _PAYLOAD, _TEXT, _VARIABLES, _SKIP = range(5)
_DETAIL_KINDS = {
    "input": _PAYLOAD,
    "output": _PAYLOAD,
    "parameters": _TEXT,
    "assignedVariables": _VARIABLES,
    "inputDetails": _SKIP,
    "outputDetails": _SKIP,
    "assignedVariablesDetails": _SKIP,
}
_FLAG = {False: b'{"truncated":false}', True: b'{"truncated":true}'}

# What a kind's events bring to their line: nothing (``BARE``, unless a dict of details),
# a payload's text with its flag, a text, a plain value, their details built per event; or
# no line at all (a type the level filters out).
BARE, WITH_PAYLOAD, WITH_TEXT, WITH_PLAIN, WITH_DETAILS, FILTERED = range(6)

# A line: (time, id, [text,] previous id, time, tail). The first time frames a store
# line; an unframed line swallows it with ``%.0s``.
_FRAMED_HEAD = b'{"timestamp":%s,"message":{"id":"%d","type":'
_HEAD = b'%.0s{"id":"%d","type":'
_LINE_END = b',"previous_event_id":"%d","event_timestamp":"%s",%s'


class KindPlan:
    """How events of one kind become lines (for one logger's level, data and framing).

    ``template`` takes (time, id, [text,] previous id, time, tail), the text as ``mode``
    says; ``cut`` is the template for a payload that was cut; ``generic`` takes the
    whole details object as the text, for events that fit no template.
    """

    __slots__ = ("cut", "generic", "mode", "template")

    def __init__(self, kind: EventKind, include_data: bool, framed: bool, admitted: bool) -> None:
        head = (_FRAMED_HEAD if framed else _HEAD) + literal(_dumps(kind.type)) + b',"details":'
        end = _LINE_END + (b"}\n" if framed else b"\n")
        self.generic = self.template = self.cut = head + b"%s" + end
        key, static = kind.key, kind.static
        detail = _PLAIN if key is None else _DETAIL_KINDS.get(key, _PLAIN)
        if not admitted:
            self.mode = FILTERED
        elif any(name in _DETAIL_KINDS or name == key for name in static) or detail == _VARIABLES:
            self.mode = WITH_DETAILS  # shaped per event (none of the engine's kinds)
        elif key is None or (detail != _PLAIN and not include_data):
            self.mode = BARE
        else:
            self.mode = {_PAYLOAD: WITH_PAYLOAD, _TEXT: WITH_TEXT, _PLAIN: WITH_PLAIN}[detail]
        if self.mode in {FILTERED, WITH_DETAILS}:
            return
        parts = {
            name: literal(_head(name) + _dumps(value)) for name, value in static.items() if value is not None
        }
        if self.mode != BARE:
            assert key is not None
            parts[key] = literal(_head(key)) + b"%s"

        def details(cut: bool) -> bytes:
            pieces = []
            for name in sorted(parts):
                pieces.append(parts[name])
                if name == key and self.mode == WITH_PAYLOAD:
                    pieces.append(literal(_head(name + "Details")) + _FLAG[cut])
            return b"{" + b",".join(pieces) + b"}"

        self.template = head + details(False) + end
        self.cut = head + details(True) + end


class PayloadTexts(dict[int, tuple[bytes, bool]]):
    """Payload texts of one buffer by object identity: (JSON text as a JSON string, cut)."""

    __slots__ = ()

    def of(self, value: Any) -> tuple[bytes, bool]:
        """The text of a value not looked up yet (hot loops try ``get(id(value))`` first)."""
        if value.__class__ is Snapshot:
            raw = value.json if value.json is not None else dumps_payload(value.value)
            # Later events that show the same object show it as it was then.
            text = self[id(value)] = self[id(value.value)] = _escaped(raw)
            return text
        try:
            raw = _dumps(value)
        except TypeError:
            raw = dumps_payload(value)
        if len(raw) <= PAYLOAD_LIMIT_BYTES:
            text = self[id(value)] = (_dumps(raw.decode()), False)
        else:
            text = self[id(value)] = _escaped(raw)
        return text


def _escaped(raw: bytes) -> tuple[bytes, bool]:
    """A payload's JSON text as a JSON string, cut to the limit; and whether it was cut."""
    if len(raw) <= PAYLOAD_LIMIT_BYTES:
        return _dumps(raw.decode()), False
    return _dumps(raw[:PAYLOAD_LIMIT_BYTES].decode(errors="ignore")), True


def details_bytes(details: Mapping[str, Any], include_data: bool, texts: PayloadTexts) -> bytes:
    """Any details object, shaped as ``format.details_with_data`` (or ``_without_data``)."""
    parts = []
    for key in sorted(details):
        value = details[key]
        detail = _DETAIL_KINDS.get(key, _PLAIN)
        if detail == _PLAIN:
            if value is not None:
                parts.append(_head(key) + _dumps(value))
        elif detail == _SKIP or not include_data:
            continue
        elif detail == _PAYLOAD:
            text, cut = texts.get(id(value)) or texts.of(value)
            parts.append(_head(key) + text)
            parts.append(_head(key + "Details") + _FLAG[cut])
        elif detail == _TEXT:
            parts.append(_head(key) + (texts.get(id(value)) or texts.of(value))[0])
        else:
            names, cut = variables_text(value)
            parts.append(_head(key) + _dumps(names))
            parts.append(_head(key + "Details") + _FLAG[cut])
    return b"{" + b",".join(parts) + b"}"


_HEADS: dict[str, bytes] = {}


def _head(key: str) -> bytes:
    """``"key":``, encoded once per key."""
    head = _HEADS.get(key)
    if head is None:
        head = _HEADS[key] = _dumps(key) + b":"
    return head


def literal(text: bytes) -> bytes:
    """``text`` as a literal part of a ``%`` template."""
    return text.replace(b"%", b"%%")
