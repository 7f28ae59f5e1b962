"""What every state compiler shares: the compile-time environment and history events.

``StateEnv`` carries what compilation needs (the nodes to link to, the handler registry,
account and region for ARNs). ``Events`` is how a state moves the history along: it
advances ``History.last`` exactly as AWS numbers events, and only when a recorder is
attached does it build the event's details.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from express.asl.node import Node
from express.errors import FieldFailure, StatesError, runtime_cause
from express.handlers import HandlerRegistry
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["StateEnv", "enter", "exit_", "fail_in_state", "record", "uses_context"]


@dataclass
class StateEnv:
    """Compile-time context for one state machine (or one branch/iterator of it)."""

    nodes: dict[str, Node]
    handlers: HandlerRegistry
    region: str
    account: str
    compile_branch: Callable[[Mapping[str, Any], str], Node] = field(repr=False)
    pointer: str = ""  # JSON Pointer of the States object this state belongs to


def uses_context(spec: Any) -> bool:
    """Whether a state reads the context object anywhere (then it records its entry time)."""
    if isinstance(spec, str):
        return "$$" in spec
    if isinstance(spec, dict):
        return any(uses_context(v) for k, v in spec.items() if k not in ("Branches", "ItemProcessor", "Iterator"))
    if isinstance(spec, list):
        return any(uses_context(v) for v in spec)
    return False


def enter(ctx: ExecutionContext, type_: str, name: str, data: JSON) -> int:
    """Record ``<Type>StateEntered``; return its event id."""
    h = ctx.history
    prev = h.last
    entered = prev + 1
    h.last = entered
    if h.recorder is not None:
        # AWS gives the first state entered a previous_event_id of 0, not ExecutionStarted's 1.
        h.recorder(entered, type_ + "StateEntered", {"name": name, "input": data}, prev if prev > 1 else 0, ctx.clock.now())
    return entered


def exit_(ctx: ExecutionContext, type_: str, name: str, output: JSON) -> None:
    h = ctx.history
    prev = h.last
    h.last = prev + 1
    if h.recorder is not None:
        h.recorder(prev + 1, type_ + "StateExited", {"name": name, "output": output}, prev, ctx.clock.now())


def record(ctx: ExecutionContext, type_: str, details: dict[str, Any]) -> int:
    """Any other event (TaskScheduled, MapIterationStarted, ...); returns its id."""
    h = ctx.history
    prev = h.last
    h.last = prev + 1
    if h.recorder is not None:
        h.recorder(prev + 1, type_, details, prev, ctx.clock.now())
    return prev + 1


def fail_in_state(name: str, entered: int, failure: FieldFailure) -> StatesError:
    return StatesError(failure.error, runtime_cause(name, entered, failure.detail))
