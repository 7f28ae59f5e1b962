"""What every state compiler shares: the compile-time environment and history events.

``StateEnv`` carries what compilation needs (the nodes to link to, the handler registry,
account and region for ARNs, the machine's query language). ``enter``/``exit_``/``record``
are how a state moves the history along: they advance ``History.last`` exactly as AWS
numbers events, and only when a recorder is attached do they build the event's details.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from express.asl.driver import Driver
from express.asl.driver import drive as drive_unmetered
from express.asl.jsonata import QueryFailure, is_expression, references_context
from express.asl.node import Node
from express.errors import FieldFailure, StatesError, runtime_cause
from express.handlers import HandlerRegistry
from express.runtime.context import ExecutionContext
from express.types import JSON

if TYPE_CHECKING:
    from express.metrics import StateMachineMetrics

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
    query_language: str = "JSONPath"  # the machine's; a state may say otherwise
    metrics: StateMachineMetrics | None = None  # errors, retries and handler calls go here
    drive: Driver = field(default=drive_unmetered, repr=False)  # how branches and iterations run

    def jsonata(self, spec: Mapping[str, Any]) -> bool:
        """Whether a state uses JSONata: any QueryLanguage but exactly "JSONPath" means JSONata."""
        return bool(spec.get("QueryLanguage", self.query_language) != "JSONPath")


def uses_context(spec: Any) -> bool:
    """Whether a state reads the context object anywhere (then it records its entry time)."""
    if isinstance(spec, str):
        if is_expression(spec):
            return references_context(spec)
        return "$$" in spec
    if isinstance(spec, dict):
        return any(
            uses_context(v) for k, v in spec.items() if k not in ("Branches", "ItemProcessor", "Iterator")
        )
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
        h.recorder(
            entered,
            type_ + "StateEntered",
            {"name": name, "input": data},
            prev if prev > 1 else 0,
            ctx.clock.now(),
        )
    return entered


def exit_(
    ctx: ExecutionContext, type_: str, name: str, output: JSON, assigned: dict[str, JSON] | None = None
) -> None:
    """Record ``<Type>StateExited``; ``assigned`` is what the state's Assign set, if it has one."""
    h = ctx.history
    prev = h.last
    h.last = prev + 1
    if h.recorder is not None:
        details: dict[str, Any] = {"name": name, "output": output}
        if assigned is not None:
            details["assignedVariables"] = assigned
        h.recorder(prev + 1, type_ + "StateExited", details, prev, ctx.clock.now())


def record(ctx: ExecutionContext, type_: str, details: dict[str, Any]) -> int:
    """Any other event (TaskScheduled, MapIterationStarted, ...); returns its id."""
    h = ctx.history
    prev = h.last
    h.last = prev + 1
    if h.recorder is not None:
        h.recorder(prev + 1, type_, details, prev, ctx.clock.now())
    return prev + 1


def fail_in_state(ctx: ExecutionContext, name: str, entered: int, failure: FieldFailure) -> StatesError:
    """The state's error for a helper's failure; a JSONata one first records EvaluationFailed."""
    cause = runtime_cause(name, entered, failure.detail)
    if isinstance(failure, QueryFailure):
        h = ctx.history
        if h.recorder is None:
            h.last += 1
        else:
            details = {"error": failure.error, "cause": cause, "location": failure.location, "state": name}
            record(ctx, "EvaluationFailed", details)
    return StatesError(failure.error, cause)
