"""Retry and Catch, compiled once per state.

Matching follows AWS: ``States.ALL`` matches every error but ``States.Runtime``, which is
never retried or caught; ``States.TaskFailed`` matches every error except
``States.Timeout``. Retriers are scanned in order and the first whose ErrorEquals
matches decides: it retries while it has attempts left, each retrier counting its own;
otherwise the catchers are scanned the same way.

A retry sleeps on the injected clock, within the execution's deadline, so the back-off
counts against the Express time limit as it does on AWS.

A catcher shapes the error output ``{"Error", "Cause"}`` into the state output: with
ResultPath (and a JSONPath Assign whose ``$`` is the error output) in a JSONPath state,
with Output and Assign over ``$states.errorOutput`` and ``$states.input`` in a JSONata
state (the output defaults to the error output).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from express.asl.io import compile_result_path
from express.asl.jsonata import StatesVar
from express.asl.jsonata_template import compile_value
from express.asl.node import Node
from express.asl.variables import Assigned, compile_jsonata_assign, compile_jsonpath_assign
from express.errors import StatesError
from express.runtime.context import ExecutionContext
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


# (raw state input, ctx, error output) -> the state output, or Assigned with its variables
CatchOutput = Callable[[JSON, ExecutionContext, dict[str, JSON]], Any]


class Catcher:
    __slots__ = ("matches", "next", "shape")

    def __init__(self, spec: Mapping[str, Any], nxt: Node, shape: CatchOutput) -> None:
        self.matches = error_matcher(spec["ErrorEquals"])
        self.shape = shape
        self.next = nxt

    def output(self, raw_input: JSON, ctx: ExecutionContext, error: StatesError) -> Any:
        """The state output for a caught error (``Assigned`` when the catcher assigns)."""
        error_output = {"Error": error.error, "Cause": error.cause if error.cause is not None else ""}
        return self.shape(raw_input, ctx, error_output)


def _jsonpath_catch(spec: Mapping[str, Any]) -> CatchOutput:
    merge = compile_result_path(spec)
    assign = compile_jsonpath_assign(spec)

    def shape(raw_input: JSON, ctx: ExecutionContext, error_output: dict[str, JSON]) -> Any:
        if assign is None:
            return merge(raw_input, error_output)
        values = assign(error_output, ctx)
        return Assigned(merge(raw_input, error_output), values)

    return shape


def _jsonata_catch(spec: Mapping[str, Any], field: str, pointer: str) -> CatchOutput:
    output = (
        compile_value(spec["Output"], f"{field}/Output", f"{pointer}/Output", error_output=True)
        if "Output" in spec
        else None
    )
    assign = compile_jsonata_assign(spec, f"{field}/Assign", f"{pointer}/Assign", error_output=True)

    def shape(raw_input: JSON, ctx: ExecutionContext, error_output: dict[str, JSON]) -> Any:
        states = StatesVar(raw_input, ctx, error_output=error_output)
        values = None if assign is None else assign(states)
        out = error_output if output is None else output(states)
        return out if values is None else Assigned(out, values)

    return shape


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


def compile_policy(
    spec: Mapping[str, Any], nodes: Mapping[str, Node], *, jsonata: bool = False, pointer: str = ""
) -> ErrorPolicy | None:
    """A state's Retry and Catch; ``pointer`` is the state's JSON Pointer."""
    retriers = tuple(Retrier(r) for r in spec.get("Retry", ()))
    catchers = tuple(
        Catcher(
            c,
            nodes[c["Next"]],
            _jsonata_catch(c, f"Catch[{i}]", f"{pointer}/Catch/{i}") if jsonata else _jsonpath_catch(c),
        )
        for i, c in enumerate(spec.get("Catch", ()))
    )
    if not retriers and not catchers:
        return None
    return ErrorPolicy(retriers, catchers)
