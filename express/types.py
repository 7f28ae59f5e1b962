"""The shared vocabulary: JSON values, the clock, task handlers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeAlias

import anyio

__all__ = ["JSON", "Clock", "Handler", "SystemClock", "Getter", "Evaluator"]

# JSON values as orjson produces them. Kept as Any: the engine checks shapes where AWS does.
JSON: TypeAlias = Any

# A handler is what a Task state calls: a plain or async Python function of the payload.
Handler: TypeAlias = Callable[[JSON], Any] | Callable[[JSON], Awaitable[Any]]

# A compiled path read on one document (the state input or the context object).
Getter: TypeAlias = Callable[[JSON], JSON]


class _HasContextObject(Protocol):
    def context_object(self) -> dict[str, JSON]: ...


# A compiled expression evaluated against the state input and the running execution.
Evaluator: TypeAlias = Callable[[JSON, Any], JSON]


class Clock(Protocol):
    """Time as the engine sees it. Tests inject a clock whose sleep returns at once."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    # time.time itself, not a method calling it: read twice per execution.
    now = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
