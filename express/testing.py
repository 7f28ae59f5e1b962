"""Helpers for testing workflows: a clock that never really sleeps."""

from __future__ import annotations

import anyio

__all__ = ["ManualClock"]


class ManualClock:
    """Virtual time: ``sleep`` advances the clock at once and records how long it asked for."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        await anyio.lowlevel.checkpoint()
