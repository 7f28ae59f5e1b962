"""A log sink that prints each AWS log record as one line on standard output.

Meant for containers, where the platform's log collector reads stdout and a forwarder
parses the records (they are exactly AWS's, so tools built for Step Functions logs work).
Writing happens in a ``BatchWriter`` thread, lines gathered in chunks
(``chunks.LineChunks``): a slow terminal or a full pipe costs dropped lines, counted and
reported, never a stalled execution.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import BinaryIO

from connectors.logsinks.chunks import Chunk
from connectors.logsinks.writer import BatchWriter
from express.logs.sink import DropReporter, SinkStats

__all__ = ["StdoutLogSink"]

_CHUNK_BYTES = 256 * 1024  # the most lines gathered for one write


class StdoutLogSink:
    def __init__(
        self,
        stream: BinaryIO | None = None,
        *,
        capacity: int = 32_768,
        batch_size: int = 32_768,
        wake_at: int = 4096,
        linger: float = 0.2,
        on_drop: DropReporter | None = None,
    ) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._writer: BatchWriter[Chunk] = BatchWriter(
            "stdout",
            self._deliver,
            capacity=capacity,
            batch_size=batch_size,
            wake_at=wake_at,
            linger=linger,
            on_drop=on_drop,
            chunk_bytes=_CHUNK_BYTES,
        )
        chunks = self._writer.chunks
        assert chunks is not None
        self._add = chunks.add

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        self._add(None, line + b"\n", 1)

    def write_batch(
        self, timestamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        """Queue one execution's lines (``sink.WriteLines``)."""
        self._add(None, lines, len(timestamps))

    def stats(self) -> SinkStats:
        return self._writer.stats()

    def close(self, timeout: float = 5.0) -> None:
        self._writer.close(timeout)

    def __enter__(self) -> StdoutLogSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _deliver(self, batch: list[Chunk]) -> None:
        for _, data, _, _ in batch:
            self._stream.write(data)
        self._stream.flush()
