"""The frame shared by Task, Parallel and Map: enter, attempt, retry, catch, exit.

``attempt(data, ctx, entered)`` does the state's work once and returns its output, or a
``Pending`` when it has to wait. The guard runs it inline; only a coroutine or a retry's
back-off makes the state asynchronous, so a state whose work never waits and never fails
costs one plain call.

An attempt that assigns variables returns ``Assigned``; the guard records the assignments
in the StateExited event and commits them as the state exits. A Catch's Output and Assign
are evaluated in this state's scope, so a Map or Parallel state's Catch assigns the
enclosing scope's variables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from express.asl.node import Node, Pending, StepResult, is_pending
from express.asl.states.base import StateEvents, enter, exit_, fail_in_state
from express.asl.states.policy import ErrorPolicy
from express.asl.states.wait_state import sleep_within_deadline
from express.asl.variables import Assigned
from express.errors import ExecutionTimeout, FieldFailure, StatesError
from express.runtime.context import ExecutionContext
from express.types import JSON

if TYPE_CHECKING:
    from express.metrics import StateMachineMetrics

__all__ = ["Attempt", "guarded_state"]

Attempt = Callable[[JSON, ExecutionContext, int], Any]


def guarded_state(
    name: str,
    type_: str,
    attempt: Attempt,
    policy: ErrorPolicy | None,
    nxt: Node | None,
    *,
    track_context: bool,
    retries_visible: bool = True,
    assigns: bool = False,
    metrics: StateMachineMetrics | None = None,
) -> Callable[[JSON, ExecutionContext], Any]:
    """``assigns``: whether an attempt may return ``Assigned`` (the state has an Assign)."""
    events = StateEvents(type_, name)

    def run_guarded(data: JSON, ctx: ExecutionContext) -> Any:
        history = ctx.history
        recording = history.progress
        if recording:
            entered = enter(ctx, events, data)
        else:
            entered = history.last = history.last + 1
        if track_context:
            ctx.enter(name)
        if retries_visible:
            ctx.retry_count = 0
        try:
            out = attempt(data, ctx, entered)
        except StatesError as error:
            if policy is None or isinstance(error, ExecutionTimeout):
                raise
            return _recover(error, data, ctx, entered, policy.new_counts())
        if out.__class__ is Pending:  # is_pending, inline: every Task runs this
            return Pending(_settle, out, data, ctx, entered, policy.new_counts() if policy else None)
        if assigns and out.__class__ is Assigned:
            return _leave_assigned(ctx, out, nxt)
        if recording:
            exit_(ctx, events, out)
        else:
            history.last += 1
        return out, nxt

    def _leave_assigned(ctx: ExecutionContext, out: Assigned, target: Node | None) -> StepResult:
        exit_(ctx, events, out.output, out.values)
        ctx.assign(out.values)
        return out.output, target

    def _leave(ctx: ExecutionContext, out: Any, target: Node | None) -> StepResult:
        if out.__class__ is Assigned:
            return _leave_assigned(ctx, out, target)
        exit_(ctx, events, out)
        return out, target

    def _recover(
        error: StatesError, data: JSON, ctx: ExecutionContext, entered: int, counts: list[int] | None
    ) -> Any:
        """A failed attempt: retry (which waits, so asynchronously), catch, or re-raise."""
        assert policy is not None
        delay = policy.retry_delay(error, counts)
        if delay is not None:
            if metrics is not None:
                metrics.error(error.error or "")
                metrics.retry(name)
                metrics.transition(type_)  # a retry is a transition; first entries are counted as visits
            return Pending(_retry_after, delay, data, ctx, entered, counts)
        catcher = policy.catch(error)
        if catcher is None:
            raise error  # counted where it ends: a catcher further out, or the execution's failure
        if metrics is not None:
            metrics.error(error.error or "")
        try:
            out = catcher.output(data, ctx, error)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        return _leave(ctx, out, catcher.next)

    async def _retry_after(
        delay: float, data: JSON, ctx: ExecutionContext, entered: int, counts: list[int] | None
    ) -> StepResult:
        await sleep_within_deadline(ctx, delay)
        _count_retry(ctx)
        try:
            out = attempt(data, ctx, entered)
        except StatesError as error:
            if isinstance(error, ExecutionTimeout):
                raise
            return await _as_coroutine(_recover(error, data, ctx, entered, counts))
        if is_pending(out):
            return await _settle(out, data, ctx, entered, counts)
        return _leave(ctx, out, nxt)

    async def _settle(
        pending: Pending,
        data: JSON,
        ctx: ExecutionContext,
        entered: int,
        counts: list[int] | None,
    ) -> StepResult:
        try:
            out = await pending
        except StatesError as error:
            if policy is None or isinstance(error, ExecutionTimeout):
                raise
            return await _as_coroutine(_recover(error, data, ctx, entered, counts))
        return _leave(ctx, out, nxt)

    return run_guarded


def _count_retry(ctx: ExecutionContext) -> None:
    ctx.retry_count = (ctx.retry_count or 0) + 1
    ctx.history.transitions += 1  # AWS bills each retry as a state transition


async def _as_coroutine(step: Any) -> StepResult:
    if is_pending(step):
        result: StepResult = await step
        return result
    return step  # type: ignore[no-any-return]
