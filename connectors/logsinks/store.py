"""A CloudWatch-style log store on the local file system: a sink for one log group.

Layout and line format are those of ``express.logs.layout``: the group is a folder, each
log stream a file whose path below the folder is the stream's AWS name
(``states/<StateMachineName>/<YYYY-MM-DD-HH-MM>/<8-digit seq>``), each line one
``{"timestamp", "message"}`` event. Streams rotate by time (the bucket of an event's
timestamp, one minute by default, as AWS names them) and by size (``max_stream_bytes``).
Streams are created exclusively, so two writers sharing a store never append to the
same stream. With ``retention_days`` set, streams whose whole time bucket is older than
the retention period are deleted, as CloudWatch expires events of a group: at start-up,
then every ``sweep_interval`` seconds, by the writer thread.

``write`` and ``write_framed_batch`` only queue (see ``BatchWriter``); files are written
by the writer thread. Queued lines are already framed as stream lines, and an
execution's lines that fall in one time bucket (all of them, but for an execution that
spans a minute boundary) are one queue entry: the writer thread, which competes with the
executions for the GIL, does one join per batch and one system call per stream.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from connectors.logsinks.writer import BatchWriter
from express.logs.layout import (
    STREAM_PREFIX,
    VALIDATION_STREAM,
    bucket_label,
    encode_event,
    group_dir,
    label_start_ms,
    machine_dir,
)
from express.logs.sink import DropReporter, SinkStats

__all__ = ["LocalLogStore"]

_Entry = tuple[int, bytes, str, int]  # (a timestamp in the lines' bucket, lines, machine, line count)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
_StreamKey = tuple[str, int]  # (state machine, bucket start in ms)


_IOV_MAX = 1024  # buffers per writev, the least POSIX allows


class _OpenStream:
    """A stream file open for appending, unbuffered: few system calls per batch and stream.

    The entries go to the kernel as they are (``writev``): nothing is joined, so the
    writer thread copies nothing while it holds the GIL, and it makes one system call per
    ``_IOV_MAX`` entries. Few calls matter as much: after each one the thread waits for
    the GIL, up to the interpreter's switch interval while executions run.
    """

    __slots__ = ("fd", "size")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = 0

    def write(self, chunks: list[bytes], size: int) -> None:
        for start in range(0, len(chunks), _IOV_MAX):
            group = chunks[start : start + _IOV_MAX]
            written = os.writev(self.fd, group)
            if written < sum(map(len, group)):  # cut short (a signal, a full disk): the rest, plainly
                view = memoryview(b"".join(group))[written:]
                while view:
                    view = view[os.write(self.fd, view) :]
        self.size += size

    def close(self) -> None:
        os.close(self.fd)


class LocalLogStore:
    """Log sink writing one log group of a local CloudWatch-style store."""

    def __init__(
        self,
        root: Path | str,
        log_group: str,
        *,
        bucket_minutes: int = 1,
        max_stream_bytes: int = 64 * 1024 * 1024,
        retention_days: float | None = None,
        capacity: int = 65_536,  # lines: about 32 MB of framed lines at most
        batch_size: int = 32_768,
        wake_at: int = 4096,
        linger: float = 0.2,
        on_drop: DropReporter | None = None,
        clock: Callable[[], float] = time.time,
        sweep_interval: float = 60.0,
    ) -> None:
        if bucket_minutes < 1 or max_stream_bytes < 1:
            raise ValueError("bucket_minutes and max_stream_bytes must be positive")
        self.root = Path(root)
        self.log_group = log_group
        self.folder = group_dir(self.root, log_group)
        self._width_ms = bucket_minutes * 60_000
        self._max_bytes = max_stream_bytes
        self._retention_ms = None if retention_days is None else int(retention_days * 86_400_000)
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._open: dict[_StreamKey, _OpenStream] = {}
        self._next_sequence: dict[_StreamKey, int] = {}
        self._newest_ms = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        # AWS writes this empty stream when logging is configured for a group.
        (self.folder / VALIDATION_STREAM).touch(exist_ok=True)
        # Expire what earlier runs left, before the writer thread exists to race with.
        self._last_sweep = clock()
        self._sweep(self._last_sweep)
        self._writer: BatchWriter[_Entry] = BatchWriter(
            f"store:{log_group}",
            self._deliver,
            capacity=capacity,
            batch_size=batch_size,
            wake_at=wake_at,
            linger=linger,
            on_drop=on_drop,
            on_idle=self._maybe_sweep,
            lines_of=_line_count,
        )
        self._offer = self._writer.queue.offer

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        """Queue one AWS record (``LogSink.write``); it is framed here."""
        self._offer((event_timestamp_ms, encode_event(event_timestamp_ms, line), state_machine_name, 1))

    def write_framed_batch(
        self, timestamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        """Queue framed stream lines of one execution, one per timestamp (``sink.WriteLines``)."""
        width = self._width_ms
        low, high = min(timestamps), max(timestamps)
        if low - low % width == high - high % width:
            self._offer((low, lines, state_machine_name, len(timestamps)), len(timestamps))
            return
        # Across a bucket boundary: each bucket's lines are an entry of their own.
        runs: dict[int, list[bytes]] = {}
        for stamp, line in zip(timestamps, lines.splitlines(keepends=True), strict=True):
            runs.setdefault(stamp - stamp % width, []).append(line)
        for start, run in runs.items():
            self._offer((start, b"".join(run), state_machine_name, len(run)), len(run))

    def stats(self) -> SinkStats:
        return self._writer.stats()

    def close(self, timeout: float = 5.0) -> None:
        self._writer.close(timeout)
        for stream in self._open.values():
            stream.close()
        self._open.clear()

    def __enter__(self) -> LocalLogStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _sweep(self, now: float) -> int:
        """Delete the streams retention has expired; returns how many."""
        if self._retention_ms is None:
            return 0
        cutoff_ms = int(now * 1000) - self._retention_ms
        deleted = 0
        machines = self.folder / STREAM_PREFIX
        if not machines.is_dir():
            return 0
        for machine in machines.iterdir():
            for bucket in machine.iterdir() if machine.is_dir() else ():
                start = label_start_ms(bucket.name)
                if start is None or start + self._width_ms > cutoff_ms:
                    continue
                for key in [key for key in self._open if key[1] == start]:
                    self._open.pop(key).close()
                deleted += sum(1 for path in bucket.iterdir() if path.is_file())
                shutil.rmtree(bucket, ignore_errors=True)
            if machine.is_dir() and not any(machine.iterdir()):
                machine.rmdir()
        return deleted

    def _maybe_sweep(self) -> None:
        now = self._clock()
        if now - self._last_sweep >= self._sweep_interval:
            self._last_sweep = now
            self._sweep(now)

    def _deliver(self, batch: list[_Entry]) -> None:
        width = self._width_ms
        machine: str | None = None
        start = end = 0
        chunks: list[bytes] = []
        for timestamp_ms, lines, entry_machine, _ in batch:
            if entry_machine is not machine or not start <= timestamp_ms < end:
                # Entries come in time order, so runs for one stream are long.
                if chunks and machine is not None:
                    self._append((machine, start), chunks)
                machine, start = entry_machine, timestamp_ms - timestamp_ms % width
                end, chunks = start + width, []
            chunks.append(lines)
        if chunks and machine is not None:
            self._append((machine, start), chunks)
        # Keep the current and the previous bucket open: events near a boundary may arrive late.
        for stale in [key for key in self._open if key[1] < self._newest_ms - width]:
            self._open.pop(stale).close()

    def _append(self, key: _StreamKey, chunks: list[bytes]) -> None:
        size = sum(map(len, chunks))
        stream = self._open.get(key)
        if stream is not None and stream.size and stream.size + size > self._max_bytes:
            stream.close()
            del self._open[key]
            stream = None
        if stream is None:
            stream = self._open[key] = _OpenStream(self._create_stream(key))
        stream.write(chunks, size)
        self._newest_ms = max(self._newest_ms, key[1])

    def _create_stream(self, key: _StreamKey) -> int:
        machine, start_ms = key
        folder = self.folder / STREAM_PREFIX / machine_dir(machine) / bucket_label(start_ms)
        folder.mkdir(parents=True, exist_ok=True)
        sequence = self._next_sequence.get(key, 0)
        while True:
            try:
                fd = os.open(folder / f"{sequence:08d}", _CREATE, 0o644)
            except FileExistsError:
                sequence += 1
                continue
            self._next_sequence[key] = sequence + 1
            return fd


def _line_count(entry: _Entry) -> int:
    return entry[3]
