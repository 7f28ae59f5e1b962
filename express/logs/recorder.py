"""The recorder an execution's ``History`` calls for every event: filter, format, hand to a sink.

Build an ``ExecutionLogger`` once per state machine (at compile time); it fixes the level
filter and the payload shaping, and keeps the per-event-type encoding plans
(``express.logs.encoder``) that all its executions share. ``recorder(execution_arn)``
then returns the per-execution callable. Per event it does a set lookup (levels other
than ``ALL``), a plan lookup, the payload encodings, one template fill and
``sink.write``; at ERROR and FATAL, where most executions write nothing, an execution's
set-up waits for its first event that passes the filter. ``admits(event_type)`` lets the
engine skip building the details of events the level does not write.

The engine calls the recorder with AWS's event ids, ``previous_event_id`` as AWS sets it
and the time in epoch seconds; ``details`` carries raw JSON values under AWS's camelCase
keys. See ``express.logs.format`` for what the line looks like.

Invariants: level ``OFF`` yields no recorder at all (the engine then only counts ids);
filtering by level never changes ids; the recorder does not raise into the execution.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from express.logs.config import LoggingConfiguration
from express.logs.encoder import Memo, Plan, encode_tail, plan_for
from express.logs.levels import admitted_event_types
from express.logs.sink import LogSink, WriteLine

__all__ = ["ExecutionLogger", "Recorder", "make_recorder"]

# The shape ``express.runtime.context.History`` calls:
# (event_id, event_type, details, previous_event_id, timestamp_seconds) -> None.
Recorder = Callable[[int, str, dict[str, Any], int, float], None]

_log = logging.getLogger("express.logs")


class ExecutionLogger:
    """Everything about logging that is fixed for a state machine, prepared once."""

    __slots__ = ("_admitted", "_framed", "_plans", "_write", "config", "sink", "state_machine_name")

    def __init__(self, config: LoggingConfiguration, sink: LogSink, state_machine_name: str) -> None:
        self.config = config
        self.sink = sink
        self.state_machine_name = state_machine_name
        self._admitted = admitted_event_types(config.level)
        self._plans: dict[str, Plan] = {}
        # A sink that stores framed lines takes them framed: one template fill makes both.
        framed_write = getattr(sink, "write_framed", None)
        self._framed = framed_write is not None
        self._write: WriteLine = framed_write if framed_write is not None else sink.write

    def admits(self, event_type: str) -> bool:
        """Whether the level writes events of this type (the engine may skip the others)."""
        return self.config.enabled and (self._admitted is None or event_type in self._admitted)

    def recorder(self, execution_arn: str) -> Recorder | None:
        """The recorder for one execution, or None when the level is OFF."""
        if not self.config.enabled:
            return None
        admitted = self._admitted
        if admitted is not None:
            return self._filtering(execution_arn, admitted)
        return self._recorder(execution_arn)

    def _filtering(self, execution_arn: str, admitted: frozenset[str]) -> Recorder:
        # Most executions write nothing at ERROR or FATAL: the per-execution set-up waits
        # until an event passes the filter.
        write: list[Recorder] = []

        def record(
            event_id: int, event_type: str, details: dict[str, Any], previous_event_id: int, timestamp: float
        ) -> None:
            if event_type in admitted:
                if not write:
                    write.append(self._recorder(execution_arn))
                write[0](event_id, event_type, details, previous_event_id, timestamp)

        return record

    def _recorder(self, execution_arn: str) -> Recorder:
        plans = self._plans
        include_data = self.config.include_execution_data
        framed = self._framed
        write = self._write
        machine = self.state_machine_name
        memo = Memo(encode_tail(execution_arn) + (b"}\n" if framed else b""))

        def record(
            event_id: int, event_type: str, details: dict[str, Any], previous_event_id: int, timestamp: float
        ) -> None:
            try:
                plan = plans.get(event_type)
                if plan is None or not details.keys() <= plan.keys:
                    plan = plan_for(plans, event_type, details, include_data, framed)
                timestamp_ms = round(timestamp * 1000)
                line = plan.line(event_id, details, previous_event_id, timestamp_ms, memo)
            except Exception:
                # A value the engine passed cannot be written as JSON: a defect, reported
                # loudly, but never a reason to fail the execution itself.
                memo.value = Memo().value  # forget a handover that may be half done
                _log.exception(
                    "could not format history event %s (%s) of %s", event_id, event_type, execution_arn
                )
                return
            write(timestamp_ms, line, machine, execution_arn)

        return record


def make_recorder(
    config: LoggingConfiguration, execution_arn: str, sink: LogSink, state_machine_name: str
) -> Recorder | None:
    """The recorder for one execution (None when the level is OFF).

    Convenient for one-off executions; code that runs many executions of one state machine
    builds an ``ExecutionLogger`` once and calls its ``recorder`` per execution.
    """
    if not config.enabled:
        return None
    return ExecutionLogger(config, sink, state_machine_name).recorder(execution_arn)
