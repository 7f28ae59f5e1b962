"""An in-memory log sink for tests and benchmarks: it keeps every line, in order.

It does no I/O, so it is synchronous; it is still bounded (``capacity``) and counts what
it cannot keep, like every sink.
"""

from __future__ import annotations

from typing import Any

import orjson

from express.logs.sink import DROP_REASONS, SinkStats

__all__ = ["MemoryLogSink"]


class MemoryLogSink:
    def __init__(self, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self.entries: list[tuple[int, bytes, str, str]] = []
        self._dropped = 0

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        if len(self.entries) >= self.capacity:
            self._dropped += 1
            return
        self.entries.append((event_timestamp_ms, line, state_machine_name, execution_arn))

    def write_batch(
        self, timestamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        """Keep one execution's lines (``express.logs.sink.WriteLines``), each as an entry."""
        for stamp, line in zip(timestamps, lines.splitlines(), strict=True):
            self.write(stamp, line, state_machine_name, execution_arn)

    @property
    def lines(self) -> list[bytes]:
        return [entry[1] for entry in self.entries]

    def records(self) -> list[dict[str, Any]]:
        """The lines parsed back into objects (key order preserved)."""
        return [orjson.loads(entry[1]) for entry in self.entries]

    def stats(self) -> SinkStats:
        dropped = dict.fromkeys(DROP_REASONS, 0)
        dropped["full"] = self._dropped
        return SinkStats(written=len(self.entries), queued=0, capacity=self.capacity, dropped=dropped)

    def clear(self) -> None:
        self.entries.clear()
