"""Log lines gathered in reused buffers before a writer thread writes them: ``LineChunks``.

A sink's ``write`` runs on the executions' thread; its lines are written by a
``BatchWriter`` thread. Handing that thread each execution's ``bytes`` costs the
executions about 3 µs each (measured at log level ALL: the objects are freed by the other
thread, away from the allocator's caches of the thread that made them, and the thread
takes a queue entry per execution while it competes for the GIL). ``LineChunks`` copies
the lines instead (0.9 µs for an execution's 6 KB) into a buffer of ``chunk_bytes`` for
one stream (``key``), and queues a chunk as one entry when it is full, when the next
lines belong to another stream, or when it has waited ``linger`` seconds (the writer
thread asks, ``take_stale``). Buffers come back after they are written (``recycle``).
A ``BatchWriter`` made with ``chunk_bytes`` owns one and does all of that itself; the sink
only calls ``add``.

Entries are ``(key, data, lines, buffer)``: ``buffer`` is the chunk's buffer to recycle
once ``data`` (a view of it) is written, or None when ``data`` is a copy (a chunk little
filled, or lines larger than a chunk). Capacity and drops count lines, admitted when they
are copied (``BoundedQueue.admit``), so ``queued`` includes lines still in a chunk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.logsinks.writer import BoundedQueue

__all__ = ["Chunk", "LineChunks", "chunk_lines"]

Chunk = tuple[Hashable, "bytes | memoryview", int, "bytearray | None"]
_SPARE = 8  # buffers kept for reuse


class _Open:
    """The chunk being filled."""

    __slots__ = ("buffer", "key", "lines", "since", "size")

    def __init__(self, buffer: bytearray, key: Hashable) -> None:
        self.buffer = buffer
        self.key = key
        self.size = 0
        self.lines = 0
        self.since = time.monotonic()


class LineChunks:
    def __init__(self, queue: BoundedQueue[Chunk], chunk_bytes: int, linger: float) -> None:
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be at least 1")
        self._queue = queue
        self._admit = queue.admit
        self._chunk_bytes = chunk_bytes
        self._linger = linger
        self._open: _Open | None = None
        self._spare: list[bytearray] = []
        self._lock = threading.Lock()  # guards ``_open``: the writer thread takes a stale one

    def add(self, key: Hashable, data: bytes, lines: int) -> None:
        """Copy ``lines`` framed lines of stream ``key`` into its chunk (or count them dropped)."""
        if not self._admit(lines):
            return
        size = len(data)
        with self._lock:
            chunk = self._open
            if chunk is None or chunk.key != key or chunk.size + size > self._chunk_bytes:
                if chunk is not None:
                    self._hand_over(chunk)
                if size > self._chunk_bytes:  # larger than any chunk: an entry of its own
                    self._queue.put((key, data, lines, None))
                    return
                buffer = self._spare.pop() if self._spare else bytearray(self._chunk_bytes)
                chunk = self._open = _Open(buffer, key)
            end = chunk.size + size
            chunk.buffer[chunk.size : end] = data
            chunk.size = end
            chunk.lines += lines

    def take_stale(self) -> None:
        """For the writer thread: queue the open chunk once it has waited ``linger`` seconds
        (or the queue is closing), so that lines are written without more writes."""
        chunk = self._open
        if chunk is None or (time.monotonic() - chunk.since < self._linger and not self._queue.closing):
            return
        with self._lock:
            if self._open is chunk:
                self._hand_over(chunk)

    def flush(self) -> None:
        """Queue the open chunk, whatever its age (before closing)."""
        with self._lock:
            if self._open is not None:
                self._hand_over(self._open)

    def recycle(self, batch: list[Chunk]) -> None:
        """For the writer thread: the buffers of ``batch``, written (or given up), are free."""
        spare = self._spare
        for entry in batch:
            buffer = entry[3]
            if buffer is not None and len(spare) < _SPARE:
                spare.append(buffer)

    def _hand_over(self, chunk: _Open) -> None:
        """Queue a chunk (the lock is held)."""
        self._open = None
        if chunk.size * 4 < len(chunk.buffer):
            # Little in it: a copy goes, and the buffer stays for the next chunk.
            data = bytes(memoryview(chunk.buffer)[: chunk.size])
            self._spare.append(chunk.buffer)
            self._queue.put((chunk.key, data, chunk.lines, None))
        else:
            view = memoryview(chunk.buffer)[: chunk.size]
            self._queue.put((chunk.key, view, chunk.lines, chunk.buffer))


def chunk_lines(entry: Chunk) -> int:
    """The lines an entry holds (``BoundedQueue``'s ``lines_of``)."""
    return entry[2]
