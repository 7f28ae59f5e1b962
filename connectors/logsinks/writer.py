"""Bounded, non-blocking buffering for log sinks, with loss accounting, and a thread to drain it.

``BoundedQueue.offer`` is what a sink's ``write`` calls on the execution's hot path: it
appends to a deque bounded in log lines, or counts the lines as dropped when they do not
fit. It never waits and never raises. An entry may hold several lines (an execution's
whole log, as ``write_batch`` hands it over); the queue is told how many when it is
offered, so capacity, ``written`` and drops count lines, never entries. The drain side
(``take``) belongs to one consumer: the ``BatchWriter`` thread for file and terminal
sinks, an async task for the Kafka sink.

Losses are never silent: the drain side calls ``report`` after every cycle, which passes
newly dropped counts to ``on_drop`` (a metric) and logs a warning at most once per
``report_interval``.

A ``BatchWriter`` thread releases the GIL for every write and must take it back from the
executions, which run Python without pause under load. At the interpreter's default
switch interval (5 ms) it waited 10 to 35 ms each time and fell behind an in-process
pipeline logging ALL with execution data (a quarter of the lines dropped); at 1 ms it
keeps up, and the executions' throughput did not change measurably. So a writer lowers
the process's switch interval to 1 ms when it starts (it never raises it).

Invariants: at most ``capacity`` lines wait; every offered line ends up either
``written`` or counted in ``dropped`` under exactly one reason (``express.logs.sink``).
The line counters are each written by one side only (offered and dropped-on-offer by the
producer, taken and delivered by the consumer), so neither side needs a lock.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from connectors.logsinks.chunks import Chunk, LineChunks, chunk_lines
from express.logs.sink import DROP_REASONS, DropReporter, SinkStats

__all__ = ["BatchWriter", "BoundedQueue"]

T = TypeVar("T")
_log = logging.getLogger("express.logs")
_SWITCH_INTERVAL = 0.001  # seconds; see the module docstring


class BoundedQueue(Generic[T]):
    def __init__(
        self,
        name: str,
        *,
        capacity: int = 10_000,
        on_drop: DropReporter | None = None,
        report_interval: float = 10.0,
        on_batch: Callable[[], None] | None = None,
        batch_size: int = 512,
        wake_at: int | None = None,
        lines_of: Callable[[T], int] | None = None,
    ) -> None:
        if capacity < 1 or batch_size < 1:
            raise ValueError("capacity and batch_size must be at least 1")
        self.name = name
        self.capacity = capacity  # the most lines waiting
        self.batch_size = batch_size  # the most entries handed to one delivery
        self.wake_at = wake_at or batch_size  # queued lines that call ``on_batch``
        self.closing = False
        self.written = 0
        self.items: deque[T] = deque()
        self.on_batch = on_batch
        self._lines_of = lines_of  # None: every entry is one line
        self._on_drop = on_drop
        self._report_interval = report_interval
        # Bumped on the hot path without a lock: only the producing thread writes them.
        self._offered = 0  # lines accepted
        self._dropped_full = 0
        self._dropped_late = 0
        # Owned by the drain side.
        self._taken = 0  # lines taken out
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self._reported = dict.fromkeys(DROP_REASONS, 0)
        self._warned = dict.fromkeys(DROP_REASONS, 0)
        self._last_warning = float("-inf")

    def __len__(self) -> int:
        return len(self.items)

    @property
    def queued(self) -> int:
        """Lines waiting."""
        return self._offered - self._taken

    def offer(self, entry: T, lines: int = 1) -> None:
        """Queue ``entry``, which holds ``lines`` log lines, or count them as dropped."""
        queued = self._offered - self._taken
        if queued + lines > self.capacity:
            self._dropped_full += lines
            return
        if self.closing:
            self._dropped_late += lines
            return
        self.items.append(entry)
        self._offered += lines
        if queued < self.wake_at <= queued + lines and self.on_batch is not None:
            self.on_batch()

    def admit(self, lines: int) -> bool:
        """Make room for ``lines`` that the producer will ``put`` later (in an entry that
        gathers several writes), or count them as dropped and return False."""
        queued = self._offered - self._taken
        if queued + lines > self.capacity:
            self._dropped_full += lines
            return False
        if self.closing:
            self._dropped_late += lines
            return False
        self._offered += lines
        return True

    def put(self, entry: T) -> None:
        """Queue an entry whose lines were admitted, and wake the drain side."""
        self.items.append(entry)
        if self.on_batch is not None:
            self.on_batch()

    def take(self, limit: int) -> list[T]:
        """Up to ``limit`` entries, oldest first."""
        return self.take_counted(limit)[0]

    def take_counted(self, limit: int) -> tuple[list[T], int]:
        """Up to ``limit`` entries, oldest first, and how many lines they hold."""
        items = self.items
        batch = [items.popleft() for _ in range(min(limit, len(items)))]
        lines = len(batch) if self._lines_of is None else sum(map(self._lines_of, batch))
        self._taken += lines
        return batch, lines

    def delivered(self, count: int) -> None:
        self.written += count

    def failed(self, count: int, exc: BaseException) -> None:
        self._dropped["failed"] += count
        now = time.monotonic()
        if now - self._last_warning >= self._report_interval:
            self._last_warning = now
            _log.warning("log sink %r failed to deliver: %s: %s", self.name, type(exc).__name__, exc)

    def abandon(self) -> None:
        """Count what is still queued as lost at shutdown."""
        _, lines = self.take_counted(len(self.items))
        self._dropped["closed"] += lines

    def stats(self) -> SinkStats:
        dropped = dict(self._dropped)
        dropped["full"] += self._dropped_full
        dropped["closed"] += self._dropped_late
        return SinkStats(written=self.written, queued=self.queued, capacity=self.capacity, dropped=dropped)

    def report(self, final: bool = False) -> None:
        dropped = self.stats().dropped
        if self._on_drop is not None:
            for reason, count in dropped.items():
                new = count - self._reported[reason]
                if new:
                    self._reported[reason] = count
                    try:
                        self._on_drop(reason, new)
                    except Exception:
                        _log.exception("log sink %r: drop reporter failed", self.name)
        now = time.monotonic()
        if not final and now - self._last_warning < self._report_interval:
            return
        unwarned = {reason: count - self._warned[reason] for reason, count in dropped.items()}
        if any(unwarned.values()):
            self._last_warning = now
            self._warned = dropped
            _log.warning(
                "log sink %r dropped %s log events (%s); execution histories in it are incomplete. "
                "Raise the sink's buffer capacity, lower the log level, or fix the destination.",
                self.name,
                sum(unwarned.values()),
                ", ".join(f"{reason}: {count}" for reason, count in unwarned.items() if count),
            )


class BatchWriter(Generic[T]):
    """A ``BoundedQueue`` drained by a daemon thread that hands batches to ``deliver``.

    The thread wakes when ``wake_at`` lines are waiting, an entry is ``put``, or after
    ``linger`` seconds, and hands over up to ``batch_size`` entries per delivery. Made with
    ``chunk_bytes``, the writer gathers lines in ``chunks`` (``LineChunks``): producers
    call ``chunks.add``, entries are ``Chunk``s, and the thread queues a chunk that has
    waited ``linger`` seconds and reuses the buffers it has delivered. Delivery runs in that
    thread, so file and terminal I/O never stall the event loop. ``close`` delivers what
    is queued, waiting at most its timeout, and counts the rest as lost.

    A large ``batch_size`` matters under load: the thread competes with the event loop
    for the GIL and gets it back only some milliseconds after each system call, so it
    must make every turn count.
    """

    def __init__(
        self,
        name: str,
        deliver: Callable[[list[T]], None],
        *,
        capacity: int = 10_000,
        batch_size: int = 512,
        wake_at: int | None = None,
        linger: float = 0.2,
        on_drop: DropReporter | None = None,
        report_interval: float = 10.0,
        on_idle: Callable[[], None] | None = None,
        lines_of: Callable[[T], int] | None = None,
        chunk_bytes: int | None = None,
    ) -> None:
        self._wake = threading.Event()
        self.queue: BoundedQueue[T] = BoundedQueue(
            name,
            capacity=capacity,
            batch_size=batch_size,
            wake_at=wake_at,
            on_drop=on_drop,
            report_interval=report_interval,
            on_batch=self._wake.set,
            lines_of=cast("Callable[[T], int]", chunk_lines) if chunk_bytes is not None else lines_of,
        )
        self.chunks: LineChunks | None = None
        if chunk_bytes is not None:
            self.chunks = LineChunks(cast("BoundedQueue[Chunk]", self.queue), chunk_bytes, linger)
        self._deliver = deliver
        self._linger = linger
        self._on_idle = on_idle
        self._closed = False
        if sys.getswitchinterval() > _SWITCH_INTERVAL:
            sys.setswitchinterval(_SWITCH_INTERVAL)
        self._thread = threading.Thread(target=self._run, name=f"log-sink-{name}", daemon=True)
        self._thread.start()

    def offer(self, entry: T, lines: int = 1) -> None:
        self.queue.offer(entry, lines)

    def stats(self) -> SinkStats:
        return self.queue.stats()

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        if self.chunks is not None:
            self.chunks.flush()
        self.queue.closing = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            # Delivery is stuck: what is still queued is lost, and says so.
            self.queue.abandon()
        self.queue.report(final=True)

    def _run(self) -> None:
        queue = self.queue
        chunks = self.chunks
        while True:
            self._wake.wait(self._linger)
            self._wake.clear()
            if chunks is not None:
                chunks.take_stale()
            while len(queue):
                batch, lines = queue.take_counted(queue.batch_size)
                try:
                    self._deliver(batch)
                except Exception as exc:
                    queue.failed(lines, exc)
                else:
                    queue.delivered(lines)
                if chunks is not None:
                    chunks.recycle(cast("list[Chunk]", batch))  # written, or counted lost
            if self._on_idle is not None:
                try:
                    self._on_idle()
                except Exception:
                    _log.exception("log sink %r: housekeeping failed", queue.name)
            queue.report()
            if queue.closing and not len(queue):
                return
