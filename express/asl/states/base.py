"""What every state compiler shares: the compile-time environment and history events.

``StateEnv`` carries what compilation needs (the nodes to link to, the handler registry,
account and region for ARNs, the machine's query language). ``enter``/``exit_``/``record``
are how a state moves the history along: they advance ``History.last`` exactly as AWS
numbers events and, when the level writes the event, append it to the history's buffer
as its ``EventKind`` (made when the state is compiled: ``StateEvents``) and its value.
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
from express.runtime.context import EventKind, ExecutionContext, History
from express.types import JSON

if TYPE_CHECKING:
    from express.metrics import StateMachineMetrics

__all__ = [
    "StateEnv",
    "StateEvents",
    "enter",
    "enter_fail",
    "exit_",
    "fail_in_state",
    "record",
    "uses_context",
]


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


class StateEvents:
    """The kinds of a state's entered and exited events, made once when it is compiled."""

    __slots__ = ("assigned", "entered", "exited")

    def __init__(self, type_: str, name: str) -> None:
        static = {"name": name}
        self.entered = EventKind(type_ + "StateEntered", static, "input")
        self.exited = EventKind(type_ + "StateExited", static, "output")
        self.assigned = EventKind(type_ + "StateExited", static)  # value: output and assignedVariables


_LIMIT = History.LIMIT
_EVALUATION_FAILED = EventKind("EvaluationFailed")  # value: error, cause, location and state


def enter(ctx: ExecutionContext, events: StateEvents, data: JSON) -> int:
    """Record ``<Type>StateEntered``; return its event id."""
    h = ctx.history
    prev = h.last
    entered = prev + 1
    h.last = entered
    if h.progress:
        buffered = h.events
        # AWS gives the first state entered a previous_event_id of 0, not ExecutionStarted's 1.
        buffered += (events.entered, entered, prev if prev > 1 else 0, h.now(), data)
        if len(buffered) >= _LIMIT:
            h.flush()  # a long execution's log is written as it goes
    return entered


def enter_fail(ctx: ExecutionContext, events: StateEvents, data: JSON) -> int:
    """``enter`` for a Fail state, whose entry level ERROR writes too."""
    h = ctx.history
    if h.progress:
        return enter(ctx, events, data)
    prev = h.last
    entered = prev + 1
    h.last = entered
    if h.recording and events.entered.type in h.admitted:
        h.events += (events.entered, entered, prev if prev > 1 else 0, h.now(), data)
    return entered


def exit_(
    ctx: ExecutionContext, events: StateEvents, output: JSON, assigned: dict[str, JSON] | None = None
) -> None:
    """Record ``<Type>StateExited``; ``assigned`` is what the state's Assign set, if it has one."""
    h = ctx.history
    prev = h.last
    h.last = prev + 1
    if h.progress:
        buffered = h.events
        if assigned is None:
            buffered += (events.exited, prev + 1, prev, h.now(), output)
        else:
            value = {"output": output, "assignedVariables": assigned}
            buffered += (events.assigned, prev + 1, prev, h.now(), value)


def record(ctx: ExecutionContext, kind: EventKind, value: Any = None) -> int:
    """Any other event (TaskScheduled, MapIterationStarted, ...); returns its id.

    ``value`` is the detail ``kind.key`` names, or a dict of details when it names none.
    """
    h = ctx.history
    prev = h.last
    h.last = prev + 1
    if h.progress or (h.recording and kind.type in h.admitted):
        buffered = h.events
        buffered += (kind, prev + 1, prev, h.now(), value)
    return prev + 1


def fail_in_state(ctx: ExecutionContext, name: str, entered: int, failure: FieldFailure) -> StatesError:
    """The state's error for a helper's failure; a JSONata one first records EvaluationFailed."""
    cause = runtime_cause(name, entered, failure.detail)
    if isinstance(failure, QueryFailure):
        h = ctx.history
        if h.recording:
            details = {"error": failure.error, "cause": cause, "location": failure.location, "state": name}
            record(ctx, _EVALUATION_FAILED, details)
        else:
            h.last += 1
    return StatesError(failure.error, cause)
