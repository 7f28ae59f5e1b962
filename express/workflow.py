"""A compiled workflow and its executions.

``compile_workflow`` does all the static work once. ``Workflow.start`` runs one execution
inline and returns its ``ExecutionResult`` when no state had to wait; otherwise it returns
a coroutine that finishes the execution under its time limit (the machine's
TimeoutSeconds, and never more than Express's five minutes). ``execute`` and
``execute_sync`` wrap ``start`` for callers that just want the result.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from express.asl.compiler import compile_definition
from express.asl.driver import drive, drive_metered
from express.asl.io import MAX_PAYLOAD_BYTES
from express.asl.loader import load_definition
from express.asl.node import Node, Pending
from express.errors import ExecutionTimeout, StatesError
from express.handlers import HandlerRegistry
from express.runtime.context import (
    EXECUTION_FAILED,
    EXECUTION_SUCCEEDED,
    EXECUTION_TIMED_OUT,
    EventKind,
    EventRecorder,
    ExecutionContext,
    History,
    MachineInfo,
)
from express.runtime.result import FAILED, SUCCEEDED, TIMED_OUT, ExecutionResult
from express.types import JSON, Clock, Handler, SystemClock

if TYPE_CHECKING:
    from express.metrics import StateMachineMetrics

__all__ = ["EXPRESS_TIME_LIMIT", "RecorderFactory", "Workflow", "compile_workflow"]

EXPRESS_TIME_LIMIT = 300.0  # seconds: the longest an Express execution may run

# Given an execution's ARN, the recorder of its history events (None: do not record).
RecorderFactory = Callable[[str], EventRecorder | None]


def compile_workflow(
    definition: str | bytes | os.PathLike[str] | Mapping[str, Any],
    *,
    handlers: HandlerRegistry | Mapping[str, Handler] | None = None,
    clock: Clock | None = None,
    name: str = "express",
    region: str = "us-east-1",
    account: str = "111111111111",
    time_limit: float = EXPRESS_TIME_LIMIT,
    recorder_factory: RecorderFactory | None = None,
    metrics: StateMachineMetrics | None = None,
) -> Workflow:
    """Validate and compile ``definition`` (JSON text, a path, or a dict) into a Workflow.

    ``recorder_factory`` attaches execution logs (see ``express.logs``); ``metrics`` is the
    ``StateMachineMetrics`` that ``express.metrics.ExpressMetrics.bind`` returns, into which
    the engine reports transitions by state type, errors, retries and handler calls.
    """
    spec = load_definition(definition)
    registry = handlers if isinstance(handlers, HandlerRegistry) else HandlerRegistry(handlers)
    nodes: list[Node] = []
    start = compile_definition(spec, registry, region, account, metrics=metrics, all_nodes=nodes)
    if metrics is not None:
        metrics.watch_nodes(nodes)
    return Workflow(
        spec,
        start,
        clock=clock or SystemClock(),
        name=name,
        region=region,
        account=account,
        time_limit=time_limit,
        recorder_factory=recorder_factory,
        metrics=metrics,
    )


class Workflow:
    """A compiled state machine. Thread-compatible, not thread-safe; share it across tasks freely."""

    def __init__(
        self,
        definition: Mapping[str, Any],
        start: Node,
        *,
        clock: Clock,
        name: str,
        region: str,
        account: str,
        time_limit: float,
        recorder_factory: RecorderFactory | None,
        metrics: StateMachineMetrics | None = None,
    ) -> None:
        self.definition = definition
        self.name = name
        self.machine = MachineInfo(name, region, account, clock=clock)
        self.state_machine_arn = self.machine.state_machine_arn
        self._start = start
        self._clock = clock
        self._now = clock.now  # bound once: read twice per execution
        machine_timeout = definition.get("TimeoutSeconds")
        self.time_limit = min(time_limit, float(machine_timeout)) if machine_timeout else time_limit
        self._recorder_factory = recorder_factory
        self._started_event = EventKind("ExecutionStarted", {"roleArn": self.machine.role_arn}, "input")
        self.metrics = metrics
        self._drive = drive if metrics is None else drive_metered
        # Execution ids: a random UUID prefix per workflow and a counter, so ids are unique
        # without paying for uuid4 on every execution.
        self._id_prefix = str(uuid.uuid4())[:24]
        self._counter = itertools.count()

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r}>"

    def start(
        self, input: JSON, name: str | None = None, *, input_size: int | None = None
    ) -> ExecutionResult | Awaitable[ExecutionResult]:
        """Run one execution inline as far as it goes without waiting (see the module doc).

        ``input_size`` is the length in bytes of the JSON text ``input`` was parsed from,
        when the caller has it (a stream record's length): it spares measuring the input,
        and bounds what states that copy members of the input can make of it.
        """
        # %-formatting: measurably cheaper than the f-string on this per-execution path.
        execution_id = "%s%012x" % (self._id_prefix, next(self._counter) & 0xFFFFFFFFFFFF)  # noqa: UP031
        now = self._now()
        history = History()
        if input_size is None and isinstance(input, (dict, list, str)):
            input_size = len(orjson.dumps(input))
        ctx = ExecutionContext.start(
            self.machine,
            input,
            name or execution_id,
            execution_id,
            now,
            now + self.time_limit,
            history,
            input_size,
        )
        history.last = 1
        if self._recorder_factory is not None:
            recorder = self._recorder_factory(ctx.execution_arn)
            if recorder is not None:
                history.attach(recorder, self._clock)
                if history.progress:
                    history.events += (self._started_event, 1, 0, now, input)
        if input_size is not None and input_size > MAX_PAYLOAD_BYTES:
            return self._finish(
                ctx,
                StatesError(
                    "States.DataLimitExceeded",
                    f"The execution input exceeds the maximum of {MAX_PAYLOAD_BYTES} bytes.",
                ),
            )
        try:
            out = self._drive(self._start, input, ctx)
        except StatesError as error:
            return self._finish(ctx, error)
        except BaseException:
            history.close()  # what was recorded is written all the same
            raise
        if out.__class__ is Pending:  # is_pending, inline on the per-execution path
            if history.recording:
                # Written now: the rest may never run (a caller may drop the Pending).
                history.flush()
                return Pending(self._finish_recorded, out, ctx)
            return Pending(self._finish_later, out, ctx)
        history.last += 1
        stop = self._now()
        if history.recording:
            history.end(EXECUTION_SUCCEEDED, history.last, stop, out)
        return ExecutionResult(
            SUCCEEDED,
            out,
            None,
            None,
            ctx.execution_name,
            ctx.execution_arn,
            self.state_machine_arn,
            input,
            now,
            stop,
            history.transitions,
        )

    async def _finish_later(self, pending: Any, ctx: ExecutionContext) -> ExecutionResult:
        remaining = ctx.deadline - self._clock.now()
        with anyio.move_on_after(max(remaining, 0.0)) as scope:
            try:
                out = await pending
            except StatesError as error:
                return self._finish(ctx, error)
        if scope.cancelled_caught:
            return self._finish(ctx, ExecutionTimeout())
        return self._finish(ctx, None, out)

    async def _finish_recorded(self, pending: Any, ctx: ExecutionContext) -> ExecutionResult:
        try:
            return await self._finish_later(pending, ctx)
        finally:
            ctx.history.close()  # cancelled or failed on the way: what was recorded is written

    def _finish(
        self, ctx: ExecutionContext, error: StatesError | None, output: JSON = None
    ) -> ExecutionResult:
        stop = self._clock.now()
        history = ctx.history
        if error is None:
            status = SUCCEEDED
            event, value = EXECUTION_SUCCEEDED, output
        else:
            status = TIMED_OUT if isinstance(error, ExecutionTimeout) else FAILED
            if self.metrics is not None and error.error is not None:
                self.metrics.error(error.error)
            event = EXECUTION_TIMED_OUT if status == TIMED_OUT else EXECUTION_FAILED
            details = {}
            if error.error is not None:
                details["error"] = error.error
            if error.cause is not None:
                details["cause"] = error.cause
            value, output = details, None
        if history.recording:
            history.end(event, history.last + 1, stop, value)
        history.last += 1
        return ExecutionResult(
            status=status,
            output=output,
            error=None if error is None else error.error,
            cause=None if error is None else error.cause,
            name=ctx.execution_name,
            execution_arn=ctx.execution_arn,
            state_machine_arn=self.machine.state_machine_arn,
            input=ctx.input,
            start_time=ctx.start_time,
            stop_time=stop,
            transitions=history.transitions,
        )

    async def execute(self, input: JSON, name: str | None = None) -> ExecutionResult:
        result = self.start(input, name)
        if isinstance(result, ExecutionResult):
            return result
        return await result

    def execute_sync(self, input: JSON, name: str | None = None) -> ExecutionResult:
        """Run one execution to the end from synchronous code (starts an event loop if it must)."""
        result = self.start(input, name)
        if isinstance(result, ExecutionResult):
            return result

        async def finish() -> ExecutionResult:
            return await result

        return anyio.run(finish)
