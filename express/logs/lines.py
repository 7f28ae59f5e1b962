"""An execution's buffered history events to its log lines, in one pass.

The engine buffers an execution's events (``express.runtime.context.History``: five
entries per event, its ``EventKind``, id, previous id, time and value) and the logger
hands the buffer here. ``LineFormatter.lines`` produces the lines ``express.logs.format``
defines, faster:

- a buffer whose sequence of events was seen before is filled into one template
  (``shapes.Shape``): nearly every execution of a state machine that runs its usual
  paths;
- otherwise event by event, one template fill each (``plans.KindPlan``), with a line's
  time formatted once for a run of events in the same millisecond;
- either way a payload is encoded once per buffer, however many events show it (a
  state's output is the next state's input, the same object): ``plans.PayloadTexts``.

Invariant: every line is exactly ``format.format_event``'s bytes followed by a newline,
or framed by ``layout.encode_event`` when asked (checked by property tests).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from express.logs.plans import (
    BARE,
    FILTERED,
    WITH_DETAILS,
    WITH_PAYLOAD,
    WITH_PLAIN,
    WITH_TEXT,
    KindPlan,
    PayloadTexts,
    details_bytes,
)
from express.logs.shapes import Shape
from express.runtime.context import EventKind

__all__ = ["LineFormatter", "encode_tail"]

_log = logging.getLogger("express.logs")
_dumps = orjson.dumps
_MAX_SHAPES = 1024  # sequences remembered per logger; later ones go event by event
_MAX_SHAPE_EVENTS = 128  # a longer buffer (a large Map) goes event by event


class LineFormatter:
    """One logger's plans and shapes, and the loop that turns a buffer into lines."""

    __slots__ = ("_admitted", "_framed", "_include_data", "_plans", "_shapes")

    def __init__(self, include_data: bool, framed: bool, admitted: frozenset[str] | None) -> None:
        self._include_data = include_data
        self._framed = framed
        self._admitted = admitted  # None: every type
        self._plans: dict[EventKind, KindPlan] = {}
        # None for a sequence no shape can hold, or at a level that filters (rarely a line).
        self._shapes: dict[tuple[EventKind, ...], Shape | None] | None = {} if admitted is None else None

    def lines(self, events: list[Any], tail: bytes) -> tuple[bytes, list[int]]:
        """The buffer's lines, each ending with a newline, and their times in milliseconds.

        ``tail`` is the end of every record of the execution (``encode_tail``). Raises
        when a value cannot be written as JSON; ``lines_one_by_one`` then skips just it.
        """
        texts = PayloadTexts()
        shapes = self._shapes
        if shapes is not None:
            key = tuple(events[0::5])
            shape = shapes.get(key, _UNSEEN)
            if shape is _UNSEEN:
                shape = self._shape(key, events)
            if shape is not None:
                filled = shape.lines(events, tail, texts)
                if filled is not None:
                    lines, ms = filled
                    return lines, [ms] * shape.count
        return self._each(events, tail, texts)

    def _each(self, events: list[Any], tail: bytes, texts: PayloadTexts) -> tuple[bytes, list[int]]:
        plans = self._plans
        parts: list[bytes] = []
        stamps: list[int] = []
        last_ms = -1
        stamp = b""
        entries = iter(events)
        for kind, event_id, previous, at, value in zip(
            entries, entries, entries, entries, entries, strict=True
        ):
            plan = plans.get(kind)
            if plan is None:
                plan = self._plan(kind)
            mode = plan.mode
            if mode == FILTERED:
                continue
            ms = round(at * 1000)
            if ms != last_ms:
                last_ms, stamp = ms, b"%d" % ms
            stamps.append(ms)
            if mode == WITH_PAYLOAD:
                text = texts.get(id(value)) or texts.of(value)
                template = plan.cut if text[1] else plan.template
                parts.append(template % (stamp, event_id, text[0], previous, stamp, tail))
            elif mode == BARE and not (value and kind.key is None):
                parts.append(plan.template % (stamp, event_id, previous, stamp, tail))
            elif mode == WITH_TEXT:
                text = texts.get(id(value)) or texts.of(value)
                parts.append(plan.template % (stamp, event_id, text[0], previous, stamp, tail))
            elif mode == WITH_PLAIN and value is not None:
                parts.append(plan.template % (stamp, event_id, _dumps(value), previous, stamp, tail))
            else:
                details = details_bytes(kind.details(value), self._include_data, texts)
                parts.append(plan.generic % (stamp, event_id, details, previous, stamp, tail))
        return b"".join(parts), stamps

    def lines_one_by_one(self, events: list[Any], tail: bytes, execution_arn: str) -> tuple[bytes, list[int]]:
        """``lines``, leaving out (and reporting) each event that cannot be written."""
        parts: list[bytes] = []
        stamps: list[int] = []
        for start in range(0, len(events), 5):
            try:
                line, stamp = self._each(events[start : start + 5], tail, PayloadTexts())
            except Exception:
                # A value the engine passed cannot be written as JSON: a defect, reported
                # loudly, but never a reason to lose the other events or fail the execution.
                kind, event_id = events[start], events[start + 1]
                _log.exception(
                    "could not format history event %s (%s) of %s", event_id, kind.type, execution_arn
                )
                continue
            parts.append(line)
            stamps += stamp
        return b"".join(parts), stamps

    def _plan(self, kind: EventKind) -> KindPlan:
        admitted = self._admitted is None or kind.type in self._admitted
        plan = self._plans[kind] = KindPlan(kind, self._include_data, self._framed, admitted)
        return plan

    def _shape(self, key: tuple[EventKind, ...], events: list[Any]) -> Shape | None:
        """The shape of a sequence seen for the first time (None: it has none)."""
        shapes = self._shapes
        assert shapes is not None
        if len(shapes) >= _MAX_SHAPES:
            return None
        plans = [self._plans.get(kind) or self._plan(kind) for kind in key]
        fits = len(key) <= _MAX_SHAPE_EVENTS and all(
            plan.mode not in {FILTERED, WITH_DETAILS} for plan in plans
        )
        shape = shapes[key] = Shape(events, plans) if fits else None
        return shape


_UNSEEN: Any = object()


def encode_tail(execution_arn: str) -> bytes:
    """The end of every record of one execution."""
    return b'"execution_arn":' + _dumps(execution_arn) + b',"redrive_count":"0"}'
