"""The recorder an execution's ``History`` writes to: filter, format, hand to a sink.

Build an ``ExecutionLogger`` once per state machine (at compile time); it fixes the level
filter and the payload shaping, and keeps the per-kind line templates
(``express.logs.lines``) that all its executions share. ``recorder(execution_arn)`` then
returns the per-execution recorder: cheap to make, since at ERROR and FATAL most
executions write nothing.

The engine buffers an execution's events (``express.runtime.context.History``) and hands
the buffer over when the execution ends (or first waits, sleeps, or has buffered many):
``record_events`` formats it in one pass and gives the sink all its lines in one call.
The recorder tells the history what its level writes (``progress``: every event, at
ALL; otherwise only the ``admitted`` failure types), so that nothing else is buffered,
and whether payloads are logged. Called as a function, the recorder takes one event
and writes it at once, for callers that are not the engine.

Events carry AWS's event ids, ``previous_event_id`` as AWS sets it and the time in
epoch seconds; details are raw JSON values under AWS's camelCase keys. See
``express.logs.format`` for what a line looks like.

Invariants: level ``OFF`` yields no recorder at all (the engine then only counts ids);
filtering by level never changes ids; the recorder does not raise into the execution.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from express.logs.config import LoggingConfiguration
from express.logs.levels import admitted_event_types
from express.logs.lines import LineFormatter, encode_tail
from express.logs.sink import LogSink, WriteLines
from express.runtime.context import EventKind

__all__ = ["ExecutionLogger", "Recorder", "make_recorder"]

# A recorder of single events (``express.runtime.context.EventRecorder``):
# (event_id, event_type, details, previous_event_id, timestamp_seconds) -> None.
Recorder = Callable[[int, str, dict[str, Any], int, float], None]

_log = logging.getLogger("express.logs")


class ExecutionLogger:
    """Everything about logging that is fixed for a state machine, prepared once."""

    __slots__ = (
        "_kinds",
        "admitted",
        "config",
        "formatter",
        "payloads",
        "progress",
        "sink",
        "state_machine_name",
        "write_lines",
    )

    def __init__(self, config: LoggingConfiguration, sink: LogSink, state_machine_name: str) -> None:
        self.config = config
        self.sink = sink
        self.state_machine_name = state_machine_name
        admitted = admitted_event_types(config.level)
        self.progress = admitted is None
        self.admitted = admitted or frozenset()
        self.payloads = config.include_execution_data
        # A sink that stores framed lines takes them framed: one template fill makes both.
        framed: WriteLines | None = getattr(sink, "write_framed_batch", None)
        batch: WriteLines | None = framed or getattr(sink, "write_batch", None)
        self.write_lines: WriteLines = batch or self._one_by_one
        self.formatter = LineFormatter(config.include_execution_data, framed is not None, admitted)
        self._kinds: dict[str, EventKind] = {}  # for events given one by one

    def admits(self, event_type: str) -> bool:
        """Whether the level writes events of this type."""
        return self.config.enabled and (self.progress or event_type in self.admitted)

    def recorder(self, execution_arn: str) -> ExecutionRecorder | None:
        """The recorder for one execution, or None when the level is OFF."""
        if not self.config.enabled:
            return None
        return ExecutionRecorder(self, execution_arn)

    def kind(self, event_type: str) -> EventKind:
        """A kind for events given one by one, whose value is their details."""
        kind = self._kinds.get(event_type)
        if kind is None:
            kind = self._kinds[event_type] = EventKind(event_type)
        return kind

    def _one_by_one(
        self, stamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        write = self.sink.write
        for stamp, line in zip(stamps, lines.splitlines(), strict=True):
            write(stamp, line, state_machine_name, execution_arn)


class ExecutionRecorder:
    """One execution's recorder: ``record_events`` for its history's buffer (an
    ``express.runtime.context.EventLog``), or a call per event."""

    __slots__ = ("admitted", "execution_arn", "logger", "payloads", "progress")

    def __init__(self, logger: ExecutionLogger, execution_arn: str) -> None:
        self.logger = logger
        self.execution_arn = execution_arn
        self.progress = logger.progress
        self.admitted = logger.admitted
        self.payloads = logger.payloads

    def record_events(self, events: list[Any]) -> None:
        logger = self.logger
        arn = self.execution_arn
        tail = encode_tail(arn)
        try:
            lines, stamps = logger.formatter.lines(events, tail)
        except Exception:
            lines, stamps = logger.formatter.lines_one_by_one(events, tail, arn)
        if stamps:
            logger.write_lines(stamps, lines, logger.state_machine_name, arn)

    def __call__(
        self,
        event_id: int,
        event_type: str,
        details: dict[str, Any],
        previous_event_id: int,
        timestamp: float,
    ) -> None:
        self.record_events([self.logger.kind(event_type), event_id, previous_event_id, timestamp, details])


def make_recorder(
    config: LoggingConfiguration, execution_arn: str, sink: LogSink, state_machine_name: str
) -> ExecutionRecorder | None:
    """The recorder for one execution (None when the level is OFF).

    Convenient for one-off executions; code that runs many executions of one state machine
    builds an ``ExecutionLogger`` once and calls its ``recorder`` per execution.
    """
    if not config.enabled:
        return None
    return ExecutionLogger(config, sink, state_machine_name).recorder(execution_arn)
