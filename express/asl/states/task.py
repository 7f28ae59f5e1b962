"""Task: InputPath -> Parameters -> handler -> ResultSelector -> ResultPath -> OutputPath,
or, in JSONata, Arguments -> handler -> Output (and Assign in both languages).

The payload and timeout come from ``task_input``; the output from ``dataflow``.

A plain-function handler without a timeout runs inline. An async handler is awaited; a
plain function with TimeoutSeconds runs in a worker thread so that the timeout can cut it
off (it is abandoned, not killed: Python cannot stop a thread, so it holds nothing of the
execution once abandoned).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from express.asl.invoke import (
    Invocation,
    copy_event,
    direct_result,
    handler_error,
    normalise_encoded,
)
from express.asl.node import Node, Pending
from express.asl.states.base import StateEnv, fail_in_state, record, uses_context
from express.asl.states.dataflow import compile_completion
from express.asl.states.guard import guarded_state
from express.asl.states.policy import compile_policy
from express.asl.states.task_input import compile_task_input, static_arguments
from express.errors import DefinitionError, Diagnostic, FieldFailure, StatesError
from express.runtime.context import EventKind, ExecutionContext, Snapshot
from express.types import JSON

__all__ = ["compile_task"]


def compile_task(name: str, spec: Mapping[str, Any], env: StateEnv, nxt: Node | None) -> Any:
    pointer = f"{env.pointer}/{name}"
    jsonata = env.jsonata(spec)
    invocation = Invocation(
        spec["Resource"], static_arguments(spec, jsonata), env.handlers, env.region, env.account
    )
    if invocation.handler is None and not invocation.dynamic_function:
        raise DefinitionError(
            [Diagnostic("INVALID_RESOURCE", invocation.missing_handler_message(), f"{pointer}/Resource")]
        )
    payload_of, timeout_of = compile_task_input(spec, pointer, jsonata)
    complete = compile_completion(spec, pointer, jsonata)
    events = invocation.events
    lambda_style = events == "LambdaFunction"
    label = invocation.label
    shape = invocation.shape_result
    static_sync = invocation.handler is not None and not invocation.handler_is_async and timeout_of is None

    def finish(data: JSON, ctx: ExecutionContext, entered: int, payload: JSON, value: Any) -> Any:
        history = ctx.history
        try:
            if not history.progress:
                result = shape(payload, normalise_encoded(value, label)[0])
                history.last += 1  # Succeeded
            else:
                result, raw = normalise_encoded(value, label)
                # The result is a copy the engine owns; its JSON, made to check its size,
                # is what the log shows (once, for every event that shows the result).
                if shape is direct_result and history.payloads:
                    record(ctx, succeeded, Snapshot(result, raw))
                else:
                    result = shape(payload, result)
                    record(ctx, succeeded, result)
        except StatesError as error:
            _failed(ctx, error)
            raise
        if complete is None:
            return result
        try:
            return complete(data, ctx, result)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None

    # The common case, a plain function named by a Lambda ARN with no history recorder,
    # takes a path of its own: three history ids, one call, no event details built.
    metered = env.metrics is not None
    direct_handler = (
        invocation.handler if static_sync and not invocation.split_payload and not metered else None
    )
    # Handler calls are counted and timed per resource (Lambda*/ServiceIntegration* metrics).
    task_metrics = (
        env.metrics.task(invocation.resource, "lambda" if invocation.resource_type == "lambda" else "service")
        if env.metrics is not None
        else None
    )

    def attempt(data: JSON, ctx: ExecutionContext, entered: int) -> Any:
        try:
            payload = data if payload_of is None else payload_of(data, ctx)
            timeout = None if timeout_of is None else timeout_of(data, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        history = ctx.history
        if direct_handler is not None and history.progress and timeout is None:
            # The same call, recorded: Scheduled and Started, then ``finish``.
            last = history.last
            now = history.now
            history.events += (
                scheduled,
                last + 1,
                last,
                now(),
                payload,
                started,
                last + 2,
                last + 1,
                now(),
                None,
            )
            history.last = last + 2
            try:
                value = direct_handler(copy_event(payload))
            except Exception as exc:
                failed = handler_error(exc)
                _failed(ctx, failed)
                raise failed from None
            return finish(data, ctx, entered, payload, value)
        if direct_handler is not None and not history.progress:
            history.last += 3  # Scheduled, Started, then Succeeded or Failed
            event = copy_event(payload)
            try:
                result = normalise_encoded(direct_handler(event), label)[0]
            except StatesError as error:
                history.last -= 1  # the failure event is counted again, and recorded, by _failed
                _failed(ctx, error)
                raise
            except Exception as exc:
                failed = handler_error(exc)
                history.last -= 1
                _failed(ctx, failed)
                raise failed from None
            if complete is None:
                return result
            try:
                return complete(data, ctx, result)
            except FieldFailure as failure:
                raise fail_in_state(ctx, name, entered, failure) from None
        _scheduled(ctx, payload, timeout)
        try:
            handler, event = invocation.resolve(payload)
        except StatesError as error:
            _failed(ctx, error)
            raise
        _started(ctx)
        # A handler gets its own copy, as a Lambda function gets a deserialised event:
        # whatever it does to it cannot reach the state input or the definition.
        event = copy_event(event)
        if static_sync:
            if task_metrics is not None:
                task_metrics.started()
                began = time.perf_counter()
            try:
                value = handler(event)
            except Exception as exc:
                if task_metrics is not None:
                    task_metrics.failed(time.perf_counter() - began)
                failed = handler_error(exc)
                _failed(ctx, failed)
                raise failed from None
            if task_metrics is not None:
                task_metrics.succeeded(time.perf_counter() - began)
            return finish(data, ctx, entered, payload, value)
        return Pending(_attempt_async, data, ctx, entered, payload, handler, event, timeout)

    async def _attempt_async(  # noqa: PLR0917 - Pending passes its arguments positionally
        data: JSON,
        ctx: ExecutionContext,
        entered: int,
        payload: JSON,
        handler: Any,
        event: JSON,
        timeout: float | None,
    ) -> Any:
        if task_metrics is not None:
            task_metrics.started()
        started = time.perf_counter()
        try:
            value = await invocation.call_async(handler, event, timeout)
        except StatesError as error:
            timed_out = error.error == "States.Timeout"
            if task_metrics is not None:
                seconds = time.perf_counter() - started
                (task_metrics.timed_out if timed_out else task_metrics.failed)(seconds)
            _failed(ctx, error, timed_out=timed_out)
            raise
        except Exception as exc:
            if task_metrics is not None:
                task_metrics.failed(time.perf_counter() - started)
            failed = handler_error(exc)
            _failed(ctx, failed)
            raise failed from None
        if task_metrics is not None:
            task_metrics.succeeded(time.perf_counter() - started)
        return finish(data, ctx, entered, payload, value)

    # History events, named as AWS names them for this kind of resource.
    resource_details = {"resourceType": invocation.resource_type, "resource": invocation.resource_name}
    common = {} if lambda_style else resource_details
    if lambda_style:
        scheduled_details, payload_key = {"resource": invocation.resource}, "input"
    else:
        scheduled_details, payload_key = {**resource_details, "region": env.region}, "parameters"
    scheduled = EventKind(events + "Scheduled", scheduled_details, payload_key)
    scheduled_with_timeout = EventKind(events + "Scheduled", scheduled_details)  # value: payload, timeout
    started = EventKind(events + "Started", common)
    succeeded = EventKind(events + "Succeeded", common, "output")
    failed_event = EventKind(events + "Failed", common)  # value: error and cause
    timed_out_event = EventKind(events + "TimedOut", common)

    def _scheduled(ctx: ExecutionContext, payload: JSON, timeout: float | None) -> None:
        if not ctx.history.progress:
            ctx.history.last += 1
        elif timeout is None:
            record(ctx, scheduled, payload)
        else:
            record(ctx, scheduled_with_timeout, {payload_key: payload, "timeoutInSeconds": int(timeout)})

    def _started(ctx: ExecutionContext) -> None:
        if not ctx.history.progress:
            ctx.history.last += 1
        else:
            record(ctx, started)

    def _failed(ctx: ExecutionContext, error: StatesError, timed_out: bool = False) -> None:
        if not ctx.history.recording:
            ctx.history.last += 1
            return
        details: dict[str, Any] = {}
        if error.error is not None:
            details["error"] = error.error
        if error.cause is not None:
            details["cause"] = error.cause
        record(ctx, timed_out_event if timed_out else failed_event, details)

    policy = compile_policy(spec, env.nodes, jsonata=jsonata, pointer=pointer)
    return guarded_state(
        name,
        "Task",
        attempt,
        policy,
        nxt,
        track_context=uses_context(spec),
        assigns="Assign" in spec,
        metrics=env.metrics,
    )
