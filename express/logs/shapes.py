"""Whole-execution templates: a buffer whose sequence of events was seen before, in one fill.

The executions of a state machine follow a handful of paths, so their buffers repeat
the same sequence of event kinds, ids and previous ids. A ``Shape`` is built from the
first buffer of a sequence: its events' templates (``plans.KindPlan``) joined into one
``%``-template with the ids in it, and the order in which that template takes the
time, the execution's tail and the events' texts. A later buffer of the sequence is
then formatted by one fill, when it fits: the same ids, every event in the same
millisecond (nearly every execution, which takes microseconds), no payload cut, and
every value of the form the shape expects. Otherwise ``Shape.lines`` returns None and
the formatter goes event by event; the bytes are the same either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import orjson

from express.logs.plans import BARE, WITH_PAYLOAD, WITH_PLAIN, WITH_TEXT, KindPlan, PayloadTexts, literal

__all__ = ["Shape"]

_dumps = orjson.dumps

# Stand-ins for the time, an event's text and the tail while a shape's template is built:
# JSON text never holds a raw control character, so they cannot clash with the lines.
_TIME, _TEXT, _TAIL = b"\x00S", b"\x00X", b"\x00T"
_STAND_IN = re.compile(b"(\x00[SXT])")
_ROLES = {_TIME: 0, _TAIL: 1, _TEXT: -1}  # a text's place is the event's own
_NOTHING: Any = object()  # no payload seen yet


class Shape:
    """One sequence of events (kinds, ids, previous ids) as a single template."""

    __slots__ = ("_bare", "_ids", "_order", "_payloads", "_plain", "_previous", "_template", "count")

    def __init__(self, events: list[Any], plans: Sequence[KindPlan]) -> None:
        """A shape for ``events``, whose kinds' ``plans`` all have templates (no filtered
        kind, no details built per event)."""
        self.count = len(plans)
        self._ids = events[1::5]
        self._previous = events[2::5]
        # The template takes [time, tail, payload texts..., plain values...] in this order.
        texts = [5 * i + 4 for i, plan in enumerate(plans) if plan.mode in {WITH_PAYLOAD, WITH_TEXT}]
        plain = [5 * i + 4 for i, plan in enumerate(plans) if plan.mode == WITH_PLAIN]
        slot = {at: 2 + n for n, at in enumerate(texts + plain)}
        pieces: list[bytes] = []
        order: list[int] = []
        bare: list[int] = []
        for index, plan in enumerate(plans):
            event_id, previous, value_at = events[5 * index + 1], events[5 * index + 2], 5 * index + 4
            if plan.mode == BARE:
                line = plan.template % (_TIME, event_id, previous, _TIME, _TAIL)
                if events[5 * index].key is None:
                    bare.append(value_at)  # its value must be empty: no details of its own
            else:
                assert value_at in slot
                line = plan.template % (_TIME, event_id, _TEXT, previous, _TIME, _TAIL)
            for part in _STAND_IN.split(literal(line)):
                if part in _ROLES:
                    order.append(_ROLES[part] if part != _TEXT else slot[value_at])
                    pieces.append(b"%s")
                else:
                    pieces.append(part)
        self._template = b"".join(pieces)
        self._order = itemgetter(*order)
        self._payloads = _getter(texts)
        self._plain = _getter(plain) if plain else None
        self._bare = _getter(bare) if bare else None

    def lines(self, events: list[Any], tail: bytes, texts: PayloadTexts) -> tuple[bytes, int] | None:
        """The buffer's lines in one fill and their time in milliseconds, or None when it
        does not fit the shape."""
        if events[1::5] != self._ids or events[2::5] != self._previous:
            return None
        times = events[3::5]
        ms = round(min(times) * 1000)
        if round(max(times) * 1000) != ms:
            return None
        if self._bare is not None and any(self._bare(events)):
            return None
        args = [b"%d" % ms, tail]
        append = args.append
        last: Any = _NOTHING
        escaped = b""
        for value in self._payloads(events):
            # A state's output is usually the next event's value: no lookup for a repeat.
            if value is not last:
                last = value
                text = texts.get(id(value)) or texts.of(value)
                if text[1]:
                    return None  # cut: its flag differs from the template's
                escaped = text[0]
            append(escaped)
        if self._plain is not None:
            plain = self._plain(events)
            if None in plain:
                return None
            args += map(_dumps, plain)
        return self._template % self._order(args), ms


def _getter(indices: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """``itemgetter``, always returning a tuple."""
    if len(indices) == 1:
        (index,) = indices
        return lambda items: (items[index],)
    if not indices:
        return lambda items: ()
    return itemgetter(*indices)
