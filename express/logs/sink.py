"""The contract between the execution logger and whatever stores its lines.

``LogSink.write`` is called on the execution's hot path, once per logged event. It must
not block and must not raise: a sink puts the line into a bounded buffer and returns; a
writer of its own delivers buffered lines in batches. When the buffer is full, or
delivery fails, the sink counts the lost lines by reason and reports them (a metric and
a warning), so a loss is never silent. AWS's contract for Express logs is the same:
delivery is best effort and never slows an execution.

A sink that stores each record framed as a CloudWatch log event line
(``{"timestamp": ..., "message": <record>}`` and a newline, ``layout.encode_event``) may
also offer ``write_framed``, taking the line already framed: the execution logger then
frames it in the same template fill that formats the record, and the sink's writer only
concatenates lines.

Reasons a sink reports: ``full`` (buffer at capacity), ``failed`` (delivery raised),
``closed`` (written after close, or still queued when closing gave up waiting).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DROP_REASONS", "DropReporter", "LogSink", "SinkStats", "WriteLine"]

DROP_REASONS = ("full", "failed", "closed")

# Called by a sink's writer (never on the hot path) with a reason and how many lines it lost.
DropReporter = Callable[[str, int], None]

# (event_timestamp_ms, line, state_machine_name, execution_arn) -> None: ``LogSink.write``,
# or a sink's ``write_framed``.
WriteLine = Callable[[int, bytes, str, str], None]


class LogSink(Protocol):
    """Where log lines go. ``line`` is one AWS log record without its newline."""

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        """Queue one line; never blocks, never raises."""
        ...


@dataclass(frozen=True, slots=True)
class SinkStats:
    """A snapshot of a sink's counters."""

    written: int  # lines delivered
    queued: int  # lines waiting in the buffer
    capacity: int  # the buffer's bound
    dropped: dict[str, int]  # lines lost, by reason

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())
