"""Task: InputPath -> Parameters -> handler -> ResultSelector -> ResultPath -> OutputPath.

A plain-function handler without a timeout runs inline. An async handler is awaited; a
plain function with TimeoutSeconds runs in a worker thread so that the timeout can cut it
off (it is abandoned, not killed: Python cannot stop a thread, so it holds nothing of the
execution once abandoned).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from express.asl.invoke import Invocation, handler_error, normalise_result
from express.asl.io import compile_filter_path, compile_result_path
from express.asl.node import Node, Pending
from express.asl.paths import PathMissing, compile_reference
from express.asl.states.base import StateEnv, fail_in_state, record, uses_context
from express.asl.states.guard import guarded_state
from express.asl.states.policy import compile_policy
from express.asl.templates import compile_template
from express.errors import DefinitionError, Diagnostic, FieldFailure, StatesError
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["compile_task"]

_CONTAINERS = (dict, list)


def compile_task(name: str, spec: Mapping[str, Any], env: StateEnv, nxt: Node | None) -> Any:
    pointer = f"{env.pointer}/{name}"
    params_spec = spec.get("Parameters")
    invocation = Invocation(
        spec["Resource"],
        params_spec if isinstance(params_spec, Mapping) else None,
        env.handlers,
        env.region,
        env.account,
    )
    if invocation.handler is None and not invocation.dynamic_function:
        raise DefinitionError(
            [Diagnostic("INVALID_RESOURCE", invocation.missing_handler_message(), f"{pointer}/Resource")]
        )
    input_path = compile_filter_path(spec, "InputPath")
    output_path = compile_filter_path(spec, "OutputPath")
    merge = compile_result_path(spec)
    params = compile_template(params_spec) if "Parameters" in spec else None
    selector = compile_template(spec["ResultSelector"]) if "ResultSelector" in spec else None
    timeout_of = _compile_timeout(spec)
    events = invocation.events
    lambda_style = events == "LambdaFunction"
    label = invocation.label
    shape = invocation.shape_result
    static_sync = (
        invocation.handler is not None and not invocation.handler_is_async and timeout_of is None
    )

    def finish(data: JSON, ctx: ExecutionContext, entered: int, payload: JSON, value: Any) -> JSON:
        try:
            result = shape(payload, normalise_result(value, label))
        except StatesError as error:
            _failed(ctx, error)
            raise
        _succeeded(ctx, result)
        try:
            if selector is not None:
                result = selector(result, ctx)
            out = merge(data, result)
            if output_path is not None:
                out = output_path(out, ctx)
        except FieldFailure as failure:
            raise fail_in_state(name, entered, failure) from None
        return out

    def attempt(data: JSON, ctx: ExecutionContext, entered: int) -> Any:
        try:
            effective = data if input_path is None else input_path(data, ctx)
            payload = effective if params is None else params(effective, ctx)
            timeout = None if timeout_of is None else timeout_of(effective, ctx)
        except FieldFailure as failure:
            raise fail_in_state(name, entered, failure) from None
        _scheduled(ctx, payload, timeout)
        try:
            handler, event = invocation.resolve(payload)
        except StatesError as error:
            _failed(ctx, error)
            raise
        _started(ctx)
        if type(event) in _CONTAINERS:
            # A handler gets its own copy, as a Lambda function gets a deserialised event:
            # whatever it does to it cannot reach the state input or the definition.
            event = orjson.loads(orjson.dumps(event))
        if static_sync:
            try:
                value = handler(event)
            except Exception as exc:
                error = handler_error(exc)
                _failed(ctx, error)
                raise error from None
            return finish(data, ctx, entered, payload, value)
        return Pending(_attempt_async, data, ctx, entered, payload, handler, event, timeout)

    async def _attempt_async(
        data: JSON,
        ctx: ExecutionContext,
        entered: int,
        payload: JSON,
        handler: Any,
        event: JSON,
        timeout: float | None,
    ) -> JSON:
        try:
            value = await invocation.call_async(handler, event, timeout)
        except StatesError as error:
            _failed(ctx, error, timed_out=error.error == "States.Timeout")
            raise
        except Exception as exc:
            error = handler_error(exc)
            _failed(ctx, error)
            raise error from None
        return finish(data, ctx, entered, payload, value)

    # History events, named as AWS names them for this kind of resource.
    resource_details = {"resourceType": invocation.resource_type, "resource": invocation.resource_name}

    def _scheduled(ctx: ExecutionContext, payload: JSON, timeout: float | None) -> None:
        if ctx.history.recorder is None:
            ctx.history.last += 1
            return
        if lambda_style:
            details: dict[str, Any] = {"resource": invocation.resource, "input": payload}
        else:
            details = {**resource_details, "region": env.region, "parameters": payload}
        if timeout is not None:
            details["timeoutInSeconds"] = int(timeout)
        record(ctx, events + "Scheduled", details)

    def _started(ctx: ExecutionContext) -> None:
        if ctx.history.recorder is None:
            ctx.history.last += 1
            return
        record(ctx, events + "Started", {} if lambda_style else dict(resource_details))

    def _succeeded(ctx: ExecutionContext, result: JSON) -> None:
        if ctx.history.recorder is None:
            ctx.history.last += 1
            return
        details = {"output": result} if lambda_style else {**resource_details, "output": result}
        record(ctx, events + "Succeeded", details)

    def _failed(ctx: ExecutionContext, error: StatesError, timed_out: bool = False) -> None:
        if ctx.history.recorder is None:
            ctx.history.last += 1
            return
        details: dict[str, Any] = {} if lambda_style else dict(resource_details)
        if error.error is not None:
            details["error"] = error.error
        if error.cause is not None:
            details["cause"] = error.cause
        record(ctx, events + ("TimedOut" if timed_out else "Failed"), details)

    policy = compile_policy(spec, env.nodes)
    return guarded_state(name, "Task", attempt, policy, nxt, uses_context(spec))


def _compile_timeout(spec: Mapping[str, Any]) -> Callable[[JSON, ExecutionContext], float] | None:
    if "TimeoutSeconds" in spec:
        seconds = float(spec["TimeoutSeconds"])
        return lambda data, ctx: seconds
    if "TimeoutSecondsPath" not in spec:
        return None
    path = spec["TimeoutSecondsPath"]
    read = compile_reference(path)

    def timeout_from_path(data: JSON, ctx: ExecutionContext) -> float:
        try:
            value = read(data, ctx)
        except PathMissing:
            raise FieldFailure(
                f"The TimeoutSecondsPath parameter does not reference an input value: {path}"
            ) from None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise FieldFailure(
                f"The TimeoutSecondsPath parameter must reference a positive integer: {path} == {value}"
            )
        return float(value)

    return timeout_from_path
