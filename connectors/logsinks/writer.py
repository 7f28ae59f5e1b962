"""Bounded, non-blocking buffering for log sinks, with loss accounting, and a thread to drain it.

``BoundedQueue.offer`` is what a sink's ``write`` calls on the execution's hot path: it
appends to a bounded deque, or counts the entry as dropped when the deque is full. It
never waits and never raises. The drain side (``take``) belongs to one consumer: the
``BatchWriter`` thread for file and terminal sinks, an async task for the Kafka sink.

Losses are never silent: the drain side calls ``report`` after every cycle, which passes
newly dropped counts to ``on_drop`` (a metric) and logs a warning at most once per
``report_interval``.

Invariants: at most ``capacity`` entries wait; every offered entry ends up either
``written`` or counted in ``dropped`` under exactly one reason (``express.logs.sink``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from express.logs.sink import DROP_REASONS, DropReporter, SinkStats

__all__ = ["BatchWriter", "BoundedQueue"]

T = TypeVar("T")
_log = logging.getLogger("express.logs")


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
    ) -> None:
        if capacity < 1 or batch_size < 1:
            raise ValueError("capacity and batch_size must be at least 1")
        self.name = name
        self.capacity = capacity
        self.batch_size = batch_size  # the most entries handed to one delivery
        self.wake_at = wake_at or batch_size  # queued entries that call ``on_batch``
        self.closing = False
        self.written = 0
        self.items: deque[T] = deque()  # sinks may append directly after the checks ``offer`` makes
        self.on_batch = on_batch
        self._on_drop = on_drop
        self._report_interval = report_interval
        # Bumped on the hot path without a lock: only the producing thread writes them.
        self._dropped_full = 0
        self._dropped_late = 0
        # Owned by the drain side.
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self._reported = dict.fromkeys(DROP_REASONS, 0)
        self._warned = dict.fromkeys(DROP_REASONS, 0)
        self._last_warning = float("-inf")

    def __len__(self) -> int:
        return len(self.items)

    def offer(self, entry: T) -> None:
        items = self.items
        if len(items) >= self.capacity:
            self._dropped_full += 1
            return
        if self.closing:
            self._dropped_late += 1
            return
        items.append(entry)
        if len(items) == self.wake_at and self.on_batch is not None:
            self.on_batch()

    def take(self, limit: int) -> list[T]:
        items = self.items
        return [items.popleft() for _ in range(min(limit, len(items)))]

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
        self._dropped["closed"] += len(self.items)
        self.items.clear()

    def stats(self) -> SinkStats:
        dropped = dict(self._dropped)
        dropped["full"] += self._dropped_full
        dropped["closed"] += self._dropped_late
        return SinkStats(
            written=self.written, queued=len(self.items), capacity=self.capacity, dropped=dropped
        )

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

    The thread wakes when ``wake_at`` entries are waiting or after ``linger`` seconds,
    and hands over up to ``batch_size`` entries per delivery. Delivery runs in that
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
        )
        self._deliver = deliver
        self._linger = linger
        self._on_idle = on_idle
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"log-sink-{name}", daemon=True)
        self._thread.start()

    def offer(self, entry: T) -> None:
        self.queue.offer(entry)

    def stats(self) -> SinkStats:
        return self.queue.stats()

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        self.queue.closing = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            # Delivery is stuck: what is still queued is lost, and says so.
            self.queue.abandon()
        self.queue.report(final=True)

    def _run(self) -> None:
        queue = self.queue
        while True:
            self._wake.wait(self._linger)
            self._wake.clear()
            while len(queue):
                batch = queue.take(queue.batch_size)
                try:
                    self._deliver(batch)
                except Exception as exc:
                    queue.failed(len(batch), exc)
                else:
                    queue.delivered(len(batch))
            if self._on_idle is not None:
                try:
                    self._on_idle()
                except Exception:
                    _log.exception("log sink %r: housekeeping failed", queue.name)
            queue.report()
            if queue.closing and not len(queue):
                return
