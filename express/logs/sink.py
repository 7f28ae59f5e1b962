"""The contract between the execution logger and whatever stores its lines.

``LogSink.write`` takes one line. It must not block and must not raise: a sink puts the
line into a bounded buffer and returns; a writer of its own delivers buffered lines in
batches. When the buffer is full, or delivery fails, the sink counts the lost lines by
reason and reports them (a metric and a warning), so a loss is never silent. AWS's
contract for Express logs is the same: delivery is best effort and never slows an
execution.

The execution logger formats an execution's events together, and a sink may take them
together too, with the same rules (``WriteLines``):

- ``write_batch(timestamps_ms, lines, state_machine_name, execution_arn)``: several
  AWS records of one execution, each followed by a newline, one per timestamp;
- ``write_framed_batch(...)``, the same for a sink that stores each record framed as a
  CloudWatch log event line (``{"timestamp": ..., "message": <record>}`` and a newline,
  ``layout.encode_event``): the logger frames the lines in the template fill that
  formats them, and the sink queues the whole execution as one entry, so that its
  writer only concatenates entries.

The logger calls ``write`` once per line for a sink that has neither.

Reasons a sink reports: ``full`` (buffer at capacity), ``failed`` (delivery raised),
``closed`` (written after close, or still queued when closing gave up waiting).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DROP_REASONS", "DropReporter", "LogSink", "SinkStats", "WriteLine", "WriteLines"]

DROP_REASONS = ("full", "failed", "closed")

# Called by a sink's writer (never on the hot path) with a reason and how many lines it lost.
DropReporter = Callable[[str, int], None]

# (event_timestamp_ms, line, state_machine_name, execution_arn) -> None: ``LogSink.write``.
WriteLine = Callable[[int, bytes, str, str], None]

# (timestamps_ms, lines, state_machine_name, execution_arn) -> None: a sink's ``write_batch``
# or ``write_framed_batch``; ``lines`` holds one newline-terminated line per timestamp.
WriteLines = Callable[[list[int], bytes, str, str], None]


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
