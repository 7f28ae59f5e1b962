"""The state of one running execution, as compiled closures see it.

``ExecutionContext`` is what every compiled state receives beside its input. It holds
what the context object (``$$``) is built from, the injected clock, the execution's
deadline and its ``History``. A Map iteration or a Parallel branch runs with a child
context that shares the parent's ``History`` (AWS numbers the events of one execution
in one sequence) but has its own state fields.

Invariant: ``History.last`` is the id of the last history event the execution has gone
through, counted exactly as AWS counts them, whether or not events are being recorded;
causes quote these ids ("entered at the event id #4").
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from express.types import JSON, Clock, SystemClock

__all__ = ["ExecutionContext", "History", "iso_timestamp"]

EventRecorder = Callable[[int, str, dict[str, Any], int, float], None]


class History:
    """Event ids of one execution, and the recorder that receives events (None: counting only)."""

    __slots__ = ("last", "recorder")

    def __init__(self, recorder: EventRecorder | None = None) -> None:
        self.last = 0
        self.recorder = recorder


def iso_timestamp(epoch_seconds: float) -> str:
    """AWS's rendering of a time in the context object: ``2024-01-01T00:00:00.123Z``."""
    dt = datetime.datetime.fromtimestamp(epoch_seconds, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class ExecutionContext:
    """One execution (or one branch/iteration of it) while it runs."""

    __slots__ = (
        "clock",
        "deadline",
        "execution_arn",
        "execution_name",
        "history",
        "input",
        "map_item",
        "retry_count",
        "role_arn",
        "start_time",
        "state_entered",
        "state_machine_arn",
        "state_machine_name",
        "state_name",
        "task_state",
    )

    def __init__(
        self,
        *,
        input: JSON,
        execution_arn: str = "arn:aws:states:us-east-1:123456789012:express:express:local:0",
        execution_name: str = "local",
        state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:express",
        state_machine_name: str = "express",
        role_arn: str = "arn:aws:iam::123456789012:role/express",
        clock: Clock | None = None,
        start_time: float | None = None,
        deadline: float = float("inf"),
        history: History | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.input = input
        self.execution_arn = execution_arn
        self.execution_name = execution_name
        self.state_machine_arn = state_machine_arn
        self.state_machine_name = state_machine_name
        self.role_arn = role_arn
        self.start_time = self.clock.now() if start_time is None else start_time
        self.deadline = deadline  # clock time at which the execution times out
        self.history = history or History()
        self.state_name = ""
        self.state_entered = self.start_time
        self.retry_count: int | None = None  # set by states that may retry (Task, Map, Parallel)
        self.task_state = False
        self.map_item: tuple[int, JSON] | None = None

    def child(self) -> ExecutionContext:
        """A context for a Parallel branch or Map iteration: same execution, own state fields."""
        new = ExecutionContext.__new__(ExecutionContext)
        for name in ExecutionContext.__slots__:
            setattr(new, name, getattr(self, name))
        new.retry_count = None
        new.map_item = None
        return new

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
        obj: dict[str, JSON] = {
            "Execution": {
                "Id": self.execution_arn,
                "Input": self.input,
                "Name": self.execution_name,
                "RoleArn": self.role_arn,
                "StartTime": iso_timestamp(self.start_time),
            },
            "StateMachine": {"Id": self.state_machine_arn, "Name": self.state_machine_name},
            "State": state,
        }
        if self.map_item is not None:
            index, value = self.map_item
            obj["Map"] = {"Item": {"Index": index, "Value": value}}
        return obj
