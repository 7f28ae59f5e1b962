"""The state of one running execution, as compiled closures see it.

``ExecutionContext`` is what every compiled state receives beside its input. It holds
what the context object (``$$``) is built from, the injected clock, the execution's
deadline and its ``History``. A Map iteration or a Parallel branch runs with a child
context that shares the parent's ``History`` (AWS numbers the events of one execution
in one sequence) but has its own state fields.

Workflow variables (``Assign``) live in ``Variables`` scopes: the execution's own, created
by the first assignment, and one per Parallel branch or Map iteration, whose reads fall
through to the enclosing scopes and whose writes stay its own (AWS's scoping: an inner
scope reads outer variables but never assigns them).

``History`` numbers the execution's events and, when a recorder is attached, buffers
them: an event is five flat entries appended to ``History.events`` (its ``EventKind``,
id, previous id, time, value), with no details dict built and nothing formatted. The
recorder gets the buffer in one call (``flush``) when the execution ends, when it first
waits, before it sleeps and when the buffer grows long, so a log formats a whole
execution in one pass. The recorder's level decides what is buffered: with ``progress``
(level ALL) every event, otherwise only events of its ``admitted`` types (failures), and
the states then take the same fast paths as with logging off.

Invariants: ``History.last`` is the id of the last history event the execution has gone
through, counted exactly as AWS counts them, whether or not events are being recorded;
causes quote these ids ("entered at the event id #4"). A buffered value is never changed
afterwards: the engine builds new documents rather than change one in place, and a
handler's result is a copy the engine owns (buffered as a ``Snapshot`` with the JSON
that checking its size made). An execution that assigns no variable never creates a scope, and a child
context of such an execution has none either.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

import orjson

from express.types import JSON, Clock, SystemClock

__all__ = [
    "EXECUTION_FAILED",
    "EXECUTION_SUCCEEDED",
    "EXECUTION_TIMED_OUT",
    "EventKind",
    "EventLog",
    "EventRecorder",
    "ExecutionContext",
    "History",
    "MachineInfo",
    "Snapshot",
    "Variables",
    "iso_timestamp",
]

# A recorder of single events: (event_id, event_type, details, previous_event_id, epoch seconds).
# A recorder that also has ``record_events(buffer)`` (``express.logs.ExecutionLogger``'s) gets
# the buffer itself; any other gets each buffered event in order, its details rebuilt.
EventRecorder = Callable[[int, str, dict[str, Any], int, float], None]


class EventLog(Protocol):
    """A recorder that takes an execution's buffer at once (``express.logs`` provides one)."""

    progress: bool  # every event is buffered (level ALL); otherwise only ``admitted`` types
    admitted: frozenset[str]
    payloads: bool  # payloads are logged

    def record_events(self, events: list[Any]) -> None:
        """Write buffered events: five entries each (kind, id, previous id, time, value)."""
        ...


class EventKind:
    """One kind of history event as one state (or the execution) emits it, made at compile time.

    ``static`` holds the details every event of the kind has (a state's name, a Task's
    resource). ``key`` names the one detail an event brings (``input``, ``output``,
    ``index``, ...) and the event's value is that detail; with ``key`` None the value is a
    dict of further details, or None.
    """

    __slots__ = ("key", "static", "type")

    def __init__(self, type_: str, static: Mapping[str, JSON] | None = None, key: str | None = None) -> None:
        self.type = type_
        self.static: dict[str, JSON] = dict(static or {})
        self.key = key

    def __repr__(self) -> str:
        return f"<EventKind {self.type} {self.static} {self.key}>"

    def details(self, value: Any) -> dict[str, Any]:
        """The event's details dict, as a recorder of single events takes them."""
        if value.__class__ is Snapshot:
            value = value.value if value.json is None else orjson.loads(value.json)
        if self.key is not None:
            return {**self.static, self.key: value}
        return {**self.static, **value} if value else dict(self.static)


class Snapshot:
    """A buffered value with its JSON text, made when it was recorded: a handler's result,
    whose JSON the engine makes anyway (to check its size), so the log need not encode it again.

    ``json`` is None in the rare case orjson cannot encode the value alone; it is then
    encoded when the log is written.
    """

    __slots__ = ("json", "value")

    def __init__(self, value: JSON, json: bytes | None = None) -> None:
        self.value = value
        if json is None:
            try:
                json = orjson.dumps(value)
            except TypeError:
                json = None
        self.json = json


EXECUTION_SUCCEEDED = EventKind("ExecutionSucceeded", key="output")
EXECUTION_FAILED = EventKind("ExecutionFailed")  # value: {"error": ..., "cause": ...}
EXECUTION_TIMED_OUT = EventKind("ExecutionTimedOut")


class History:
    """Event ids of one execution and, while it is recorded, its buffered events.

    ``events``, ``now``, ``log``, ``admitted`` and ``payloads`` exist only while
    ``recording``; the engine reads them only behind ``progress`` (every event is
    buffered) or ``recording`` (then events of the ``admitted`` types are).
    """

    __slots__ = (
        "admitted",
        "events",
        "last",
        "log",
        "now",
        "payloads",
        "progress",
        "recording",
        "transitions",
    )

    LIMIT: ClassVar[int] = 5 * 256  # buffered entries (five per event) at which a state flushes
    events: list[Any]
    log: Callable[[list[Any]], None]
    now: Callable[[], float]
    admitted: frozenset[str]  # the types buffered when ``progress`` is off
    payloads: bool  # whether payloads are logged: only then does a handler's result keep its JSON

    def __init__(self) -> None:
        self.last = 0
        self.transitions = 0  # state transitions taken, retries included
        self.progress = False
        self.recording = False

    def attach(self, recorder: EventRecorder, clock: Clock) -> None:
        """Record this execution's events for ``recorder``, stamped by ``clock``."""
        if hasattr(recorder, "record_events"):
            # The recorder says what its level writes, so that nothing else is buffered.
            log: EventLog = recorder  # type: ignore[assignment]
            self.log, self.progress, self.payloads = log.record_events, log.progress, log.payloads
            self.admitted = log.admitted
        else:
            self.log, self.progress, self.payloads = _replaying(recorder), True, True
            self.admitted = frozenset()
        self.events = []
        # The system clock's reading is time.time itself: no Python call per event.
        self.now = time.time if clock.__class__ is SystemClock else clock.now
        self.recording = True

    def flush(self) -> None:
        """Hand what is buffered to the recorder."""
        if self.recording and self.events:
            events, self.events = self.events, []
            self.log(events)

    def end(self, kind: EventKind, event_id: int, at: float, value: Any) -> None:
        """Buffer the execution's last event, write the buffer and stop recording."""
        events = self.events
        if self.progress or kind.type in self.admitted:
            events += (kind, event_id, event_id - 1, at, value)
        self.recording = self.progress = False
        if events:
            self.log(events)

    def close(self) -> None:
        """Write what is buffered and stop recording: later events are only counted."""
        if self.recording:
            events = self.events
            self.recording = self.progress = False
            if events:
                self.log(events)


def _replaying(recorder: EventRecorder) -> Callable[[list[Any]], None]:
    def record_events(events: list[Any]) -> None:
        entries = iter(events)
        for kind, event_id, previous, at, value in zip(
            entries, entries, entries, entries, entries, strict=True
        ):
            recorder(event_id, kind.type, kind.details(value), previous, at)

    return record_events


def iso_timestamp(epoch_seconds: float) -> str:
    """AWS's rendering of a time in the context object: ``2024-01-01T00:00:00.123Z``."""
    # isoformat truncates to milliseconds as AWS does, and costs half of strftime.
    return (
        datetime.datetime.fromtimestamp(epoch_seconds, tz=datetime.UTC).isoformat(timespec="milliseconds")[
            :-6
        ]
        + "Z"
    )


class MachineInfo:
    """What every execution of one state machine shares: names, ARNs, role, clock."""

    __slots__ = ("clock", "execution_prefix", "role_arn", "state_machine_arn", "state_machine_name")

    def __init__(
        self,
        state_machine_name: str = "express",
        region: str = "us-east-1",
        account: str = "111111111111",
        role_arn: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.state_machine_name = state_machine_name
        self.state_machine_arn = f"arn:aws:states:{region}:{account}:stateMachine:{state_machine_name}"
        self.execution_prefix = f"arn:aws:states:{region}:{account}:express:{state_machine_name}:"
        self.role_arn = role_arn or f"arn:aws:iam::{account}:role/service-role/express-{state_machine_name}"
        self.clock: Clock = clock or SystemClock()


_DEFAULT_MACHINE = MachineInfo()


class Variables:
    """One scope of workflow variables; ``parent`` is the enclosing scope, read but never written."""

    __slots__ = ("parent", "values")

    def __init__(self, values: dict[str, JSON], parent: Variables | None = None) -> None:
        self.values = values
        self.parent = parent


class ExecutionContext:
    """One execution (or one branch/iteration of it) while it runs."""

    __slots__ = (
        "clock",
        "deadline",
        "execution_id",
        "execution_name",
        "history",
        "input",
        "input_size",
        "machine",
        "map_item",
        "retry_count",
        "start_time",
        "state_entered",
        "state_name",
        "variables",
    )

    def __init__(
        self,
        *,
        input: JSON,
        execution_name: str = "local",
        execution_id: str = "00000000-0000-4000-8000-000000000000",
        machine: MachineInfo | None = None,
        clock: Clock | None = None,
        start_time: float | None = None,
        deadline: float = float("inf"),
        history: History | None = None,
    ) -> None:
        self.machine = machine or _DEFAULT_MACHINE
        self.clock: Clock = clock or self.machine.clock
        self.input = input
        self.input_size: int | None = None  # bytes of the JSON text ``input`` was parsed from, if known
        self.execution_name = execution_name
        self.execution_id = execution_id
        self.start_time = self.clock.now() if start_time is None else start_time
        self.deadline = deadline  # clock time at which the execution times out
        self.history = history or History()
        self.state_name = ""
        self.state_entered = self.start_time
        self.retry_count: int | None = None  # set by states that may retry (Task, Map, Parallel)
        self.map_item: tuple[int, JSON] | None = None
        self.variables: Variables | None = None

    @classmethod
    def start(  # noqa: PLR0917 - positional on purpose: called once per execution
        cls,
        machine: MachineInfo,
        input: JSON,
        execution_name: str,
        execution_id: str,
        start_time: float,
        deadline: float,
        history: History,
        input_size: int | None,
    ) -> ExecutionContext:
        """The per-execution constructor on the hot path: no keyword handling, no defaults."""
        ctx = cls.__new__(cls)
        ctx.machine = machine
        ctx.clock = machine.clock
        ctx.input = input
        ctx.input_size = input_size
        ctx.execution_name = execution_name
        ctx.execution_id = execution_id
        ctx.start_time = start_time
        ctx.deadline = deadline
        ctx.history = history
        ctx.state_name = ""
        ctx.state_entered = start_time
        ctx.retry_count = None
        ctx.map_item = None
        ctx.variables = None
        return ctx

    @property
    def execution_arn(self) -> str:
        return f"{self.machine.execution_prefix}{self.execution_name}:{self.execution_id}"

    def child(self) -> ExecutionContext:
        """A context for a Parallel branch or Map iteration: same execution, own state fields."""
        new = ExecutionContext.__new__(ExecutionContext)
        for name in ExecutionContext.__slots__:
            setattr(new, name, getattr(self, name))
        new.retry_count = None
        new.map_item = None
        if self.variables is not None:
            new.variables = Variables({}, self.variables)
        return new

    def variable(self, name: str) -> JSON:
        """The value of workflow variable ``name``, from the innermost scope that has it.

        Raises ``KeyError`` when no scope has it.
        """
        scope = self.variables
        while scope is not None:
            values = scope.values
            if name in values:
                return values[name]
            scope = scope.parent
        raise KeyError(name)

    def variable_or(self, name: str, default: JSON) -> JSON:
        """The value of workflow variable ``name``, or ``default`` when no scope has it."""
        scope = self.variables
        while scope is not None:
            values = scope.values
            if name in values:
                return values[name]
            scope = scope.parent
        return default

    def assign(self, values: dict[str, JSON]) -> None:
        """Set variables in this context's own scope (the values are copied into it)."""
        scope = self.variables
        if scope is None:
            self.variables = Variables(dict(values))
        else:
            scope.values.update(values)

    def enter(self, state_name: str) -> None:
        """Record the state being entered, for ``$$.State``. Only states that read ``$$`` call it."""
        self.state_name = state_name
        self.state_entered = self.clock.now()

    def context_object(self) -> dict[str, JSON]:
        """The ``$$`` document, built on demand: only states that read it pay for it."""
        state: dict[str, JSON] = {
            "EnteredTime": iso_timestamp(self.state_entered),
            "Name": self.state_name,
        }
        if self.retry_count is not None:
            state["RetryCount"] = self.retry_count
        machine = self.machine
        obj: dict[str, JSON] = {
            "Execution": {
                "Id": self.execution_arn,
                "Input": self.input,
                "Name": self.execution_name,
                "RoleArn": machine.role_arn,
                "StartTime": iso_timestamp(self.start_time),
            },
            "StateMachine": {"Id": machine.state_machine_arn, "Name": machine.state_machine_name},
            "State": state,
        }
        if self.map_item is not None:
            index, value = self.map_item
            obj["Map"] = {"Item": {"Index": index, "Value": value}}
        return obj
