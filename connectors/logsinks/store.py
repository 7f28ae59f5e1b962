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

``write`` and ``write_framed_batch`` only copy the lines, framed as stream lines, into a
chunk (a buffer of up to 1 MiB for one stream, reused); files are written by the writer
thread (see ``BatchWriter``), a chunk at a time, when it is full, when the next lines
belong to another stream, or when it has waited ``linger`` seconds. Copying costs the
executions less than handing the writer each execution's lines: those bytes would be
freed by the other thread, away from the allocator's caches of the thread that made
them (measured: 3 us an execution, against under 1 us for the copy), and the writer
thread, which competes with the executions for the GIL, has a few entries to handle
instead of one per execution.
"""

from __future__ import annotations

import os
import shutil
import threading
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

# (machine, bucket start in ms, framed lines, line count, the chunk's buffer to reuse or None)
_Entry = tuple[str, int, "bytes | memoryview", int, "bytearray | None"]
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
_StreamKey = tuple[str, int]  # (state machine, bucket start in ms)


_IOV_MAX = 1024  # buffers per writev, the least POSIX allows
_CHUNK_BYTES = 1 << 20  # the most lines gathered for one system call, in bytes
_SPARE_CHUNKS = 8  # buffers kept for reuse
_DROP_BEHIND_BYTES = 4 << 20
_FADVISE = getattr(os, "posix_fadvise", None)  # not on macOS


class _Chunk:
    """Lines of one stream gathered in a buffer the store owns, waiting to be handed over."""

    __slots__ = ("buffer", "lines", "machine", "since", "size", "start")

    def __init__(self, buffer: bytearray, machine: str, start: int) -> None:
        self.buffer = buffer
        self.machine = machine
        self.start = start  # the stream's bucket, in epoch ms
        self.size = 0
        self.lines = 0
        self.since = time.monotonic()


class _OpenStream:
    """A stream file open for appending, unbuffered: few system calls per batch and stream.

    The entries go to the kernel as they are (``writev``): nothing is joined, so the
    writer thread copies nothing while it holds the GIL, and it makes one system call per
    ``_IOV_MAX`` entries. Few calls matter as much: after each one the thread waits for
    the GIL, up to the interpreter's switch interval while executions run.

    Drop-behind: every ``_DROP_BEHIND_BYTES`` the stream asks the kernel to write its
    pages out and to drop those already written (``POSIX_FADV_DONTNEED``). A store takes
    hundreds of MB a minute that are rarely read again; left in the page cache they push
    out what the host needs, and every write lands on a page the kernel must find anew.
    Measured on a 2-vCPU VM: the kernel's time per GB written fell from 2.3-2.5 s to
    0.3-0.5 s.
    """

    __slots__ = ("advised", "fd", "size")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = 0
        self.advised = 0  # the size at the last drop-behind

    def write(self, chunks: list[bytes | memoryview], size: int) -> None:
        for start in range(0, len(chunks), _IOV_MAX):
            group = chunks[start : start + _IOV_MAX]
            written = os.writev(self.fd, group)
            if written < sum(map(len, group)):  # cut short (a signal, a full disk): the rest, plainly
                view = memoryview(b"".join(group))[written:]
                while view:
                    view = view[os.write(self.fd, view) :]
        self.size += size
        if self.size - self.advised >= _DROP_BEHIND_BYTES:
            self.advised = self.size
            _drop_behind(self.fd)

    def close(self) -> None:
        _drop_behind(self.fd)
        os.close(self.fd)


def _drop_behind(fd: int) -> None:
    """Start writing the file's dirty pages out and drop its clean ones from the page cache."""
    if _FADVISE is not None:
        _FADVISE(fd, 0, 0, os.POSIX_FADV_DONTNEED)


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
        self._linger = linger
        self._chunk_bytes = min(_CHUNK_BYTES, max_stream_bytes)
        self._chunk: _Chunk | None = None
        self._spare: list[bytearray] = []  # buffers the writer thread has written out
        self._lock = threading.Lock()  # guards ``_chunk``: the writer thread takes a stale one
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
            on_wake=self._take_stale_chunk,
            lines_of=_line_count,
        )
        self._queue = self._writer.queue
        self._admit = self._queue.admit

    def write(
        self, event_timestamp_ms: int, line: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        """Queue one AWS record (``LogSink.write``); it is framed here."""
        start = event_timestamp_ms - event_timestamp_ms % self._width_ms
        self._add(start, encode_event(event_timestamp_ms, line), state_machine_name, 1)

    def write_framed_batch(
        self, timestamps: list[int], lines: bytes, state_machine_name: str, execution_arn: str
    ) -> None:
        """Queue framed stream lines of one execution, one per timestamp (``sink.WriteLines``)."""
        width = self._width_ms
        low, high = min(timestamps), max(timestamps)
        start = low - low % width
        if start == high - high % width:
            self._add(start, lines, state_machine_name, len(timestamps))
            return
        # Across a bucket boundary: each bucket's lines go to its own stream.
        runs: dict[int, list[bytes]] = {}
        for stamp, line in zip(timestamps, lines.splitlines(keepends=True), strict=True):
            runs.setdefault(stamp - stamp % width, []).append(line)
        for bucket, run in runs.items():
            self._add(bucket, b"".join(run), state_machine_name, len(run))

    def _add(self, start: int, data: bytes, machine: str, lines: int) -> None:
        """Copy framed lines of one stream into the current chunk (or count them dropped)."""
        if not self._admit(lines):
            return
        size = len(data)
        with self._lock:
            chunk = self._chunk
            if (
                chunk is None
                or chunk.start != start
                or chunk.machine != machine
                or (chunk.size + size > self._chunk_bytes)
            ):
                if chunk is not None:
                    self._hand_over(chunk)
                if size > self._chunk_bytes:  # larger than any chunk: an entry of its own
                    self._chunk = None
                    self._queue.put((machine, start, data, lines, None))
                    return
                buffer = self._spare.pop() if self._spare else bytearray(self._chunk_bytes)
                chunk = self._chunk = _Chunk(buffer, machine, start)
            end = chunk.size + size
            chunk.buffer[chunk.size : end] = data
            chunk.size = end
            chunk.lines += lines

    def _hand_over(self, chunk: _Chunk) -> None:
        """Queue a chunk for the writer thread (the lock is held)."""
        self._chunk = None
        if chunk.size * 4 < len(chunk.buffer):
            # Little in it: a copy goes, and the buffer stays for the next chunk.
            data = bytes(memoryview(chunk.buffer)[: chunk.size])
            self._spare.append(chunk.buffer)
            self._queue.put((chunk.machine, chunk.start, data, chunk.lines, None))
        else:
            view = memoryview(chunk.buffer)[: chunk.size]
            self._queue.put((chunk.machine, chunk.start, view, chunk.lines, chunk.buffer))

    def _take_stale_chunk(self) -> None:
        """In the writer thread: hand over the current chunk once it has waited ``linger``
        seconds (or the store is closing), so that lines reach the file without more writes."""
        chunk = self._chunk
        if chunk is None or (time.monotonic() - chunk.since < self._linger and not self._queue.closing):
            return
        with self._lock:
            if self._chunk is chunk:
                self._hand_over(chunk)

    def stats(self) -> SinkStats:
        return self._writer.stats()

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._chunk is not None:
                self._hand_over(self._chunk)
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
        key: _StreamKey | None = None
        chunks: list[bytes | memoryview] = []
        try:
            for machine, start, data, _, _ in batch:
                if key is None or machine != key[0] or start != key[1]:
                    # Entries come in time order, so runs for one stream are long.
                    if chunks and key is not None:
                        self._append(key, chunks)
                    key, chunks = (machine, start), []
                chunks.append(data)
            if chunks and key is not None:
                self._append(key, chunks)
        finally:
            # Written, or counted lost by the queue when this raises: the buffers are free.
            spare = self._spare
            for entry in batch:
                if entry[4] is not None and len(spare) < _SPARE_CHUNKS:
                    spare.append(entry[4])
        # Keep the current and the previous bucket open: events near a boundary may arrive late.
        for stale in [key for key in self._open if key[1] < self._newest_ms - width]:
            self._open.pop(stale).close()

    def _append(self, key: _StreamKey, chunks: list[bytes | memoryview]) -> None:
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
