"""The pipeline's counters and gauges, as plain attributes the hot path bumps for free.

Nothing here locks or allocates per record. ``express.runtime.metrics`` exposes a
``Stats`` to Prometheus by reading it at scrape time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Stats"]


@dataclass(slots=True)
class Stats:
    records: int = 0  # records fetched
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    not_started: int = 0  # records that could not start (dead-lettered before running)
    transitions: int = 0  # state transitions of finished executions
    in_flight: int = 0  # records fetched and not yet committable (the bounded buffer)
    in_flight_peak: int = 0
    running: int = 0  # executions awaiting something (each one a task)
    spawned: int = 0  # tasks created: executions that awaited (inline ones need none)
    paused: bool = False
    pauses: int = 0
    commits: int = 0
    commits_rejected: int = 0
    partitions: int = 0  # partitions currently assigned

    @property
    def dead_letters(self) -> int:
        return self.failed + self.timed_out + self.not_started

    def snapshot(self) -> dict[str, int | bool]:
        return asdict(self)
