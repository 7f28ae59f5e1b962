"""Retry and Catch, compiled once per state.

Matching follows AWS: ``States.ALL`` matches every error but ``States.Runtime``, which is
never retried or caught; ``States.TaskFailed`` matches every error except
``States.Timeout``. Retriers are scanned in order and the first whose ErrorEquals
matches decides: it retries while it has attempts left, each retrier counting its own;
otherwise the catchers are scanned the same way.

A retry sleeps on the injected clock, within the execution's deadline, so the back-off
counts against the Express time limit as it does on AWS.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from express.asl.io import compile_result_path
from express.asl.node import Node
from express.errors import StatesError
from express.types import JSON

__all__ = ["Catcher", "ErrorPolicy", "Retrier", "compile_policy", "error_matcher"]

Matcher = Callable[[str | None], bool]


def error_matcher(error_equals: Sequence[str]) -> Matcher:
    names = frozenset(error_equals)
    match_all = "States.ALL" in names
    task_failed = "States.TaskFailed" in names

    def matches(error: str | None) -> bool:
        if error == "States.Runtime":
            return False
        if error in names or match_all:
            return True
        return task_failed and error != "States.Timeout"

    return matches


class Retrier:
    __slots__ = ("backoff", "interval", "jitter", "matches", "max_attempts", "max_delay")

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.matches = error_matcher(spec["ErrorEquals"])
        self.interval = float(spec.get("IntervalSeconds", 1))
        self.max_attempts = int(spec.get("MaxAttempts", 3))
        self.backoff = float(spec.get("BackoffRate", 2.0))
        max_delay = spec.get("MaxDelaySeconds")
        self.max_delay = float(max_delay) if max_delay is not None else None
        self.jitter = spec.get("JitterStrategy", "NONE") == "FULL"

    def delay(self, retries_done: int) -> float:
        """Seconds before retry number ``retries_done + 1``."""
        delay = self.interval * self.backoff**retries_done
        if self.max_delay is not None:
            delay = min(delay, self.max_delay)
        if self.jitter:
            delay = random.uniform(0, delay)
        return delay


class Catcher:
    __slots__ = ("matches", "merge", "next")

    def __init__(self, spec: Mapping[str, Any], nxt: Node) -> None:
        self.matches = error_matcher(spec["ErrorEquals"])
        self.merge = compile_result_path(spec)
        self.next = nxt

    def output(self, raw_input: JSON, error: StatesError) -> JSON:
        return self.merge(raw_input, {"Error": error.error, "Cause": error.cause if error.cause is not None else ""})


class ErrorPolicy:
    """A state's retriers and catchers. ``retry_delay`` and ``catch`` are the two questions asked."""

    __slots__ = ("catchers", "retriers")

    def __init__(self, retriers: tuple[Retrier, ...], catchers: tuple[Catcher, ...]) -> None:
        self.retriers = retriers
        self.catchers = catchers

    def new_counts(self) -> list[int] | None:
        return [0] * len(self.retriers) if self.retriers else None

    def retry_delay(self, error: StatesError, counts: list[int] | None) -> float | None:
        """Seconds to wait before retrying, or None when no retrier allows another attempt."""
        if counts is None:
            return None
        for i, retrier in enumerate(self.retriers):
            if retrier.matches(error.error):
                if counts[i] >= retrier.max_attempts:
                    return None
                delay = retrier.delay(counts[i])
                counts[i] += 1
                return delay
        return None

    def catch(self, error: StatesError) -> Catcher | None:
        for catcher in self.catchers:
            if catcher.matches(error.error):
                return catcher
        return None


def compile_policy(spec: Mapping[str, Any], nodes: Mapping[str, Node]) -> ErrorPolicy | None:
    retriers = tuple(Retrier(r) for r in spec.get("Retry", ()))
    catchers = tuple(Catcher(c, nodes[c["Next"]]) for c in spec.get("Catch", ()))
    if not retriers and not catchers:
        return None
    return ErrorPolicy(retriers, catchers)
