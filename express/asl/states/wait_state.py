"""Wait: Seconds, SecondsPath, Timestamp, TimestampPath, on the injected clock.

In JSONata, Seconds and Timestamp may be expressions, and Output shapes the output.
Assign (either language) is evaluated after the wait, on the values the state was
entered with (no other state of this scope runs meanwhile).

A wait that would outlast the execution's deadline sleeps until the deadline and ends the
execution as TIMED_OUT, as AWS does when a workflow outruns its time limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from express.asl.io import compile_filter_path
from express.asl.jsonata import QueryFailure, StatesVar, render
from express.asl.jsonata_template import compile_string, compile_value
from express.asl.node import Node, Pending, StepResult
from express.asl.paths import PathMissing, compile_reference
from express.asl.states.base import StateEnv, StateEvents, enter, exit_, fail_in_state, uses_context
from express.asl.timestamps import parse_timestamp
from express.asl.variables import compile_jsonata_assign, compile_jsonpath_assign
from express.errors import ExecutionTimeout, FieldFailure
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["compile_wait", "sleep_within_deadline"]


def compile_wait(name: str, spec: Mapping[str, Any], env: StateEnv, nxt: Node | None) -> Any:
    if env.jsonata(spec):
        return _jsonata_wait(name, spec, f"{env.pointer}/{name}", nxt)
    input_path = compile_filter_path(spec, "InputPath")
    output_path = compile_filter_path(spec, "OutputPath")
    delay = _compile_delay(spec)
    assign = compile_jsonpath_assign(spec)
    track = uses_context(spec)
    events = StateEvents("Wait", name)

    def run_wait(data: JSON, ctx: ExecutionContext) -> Pending:
        return Pending(wait, data, ctx)

    async def wait(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, events, data)
        if track:
            ctx.enter(name)
        try:
            effective = data if input_path is None else input_path(data, ctx)
            seconds = delay(effective, ctx)
            await sleep_within_deadline(ctx, seconds)
            values = None if assign is None else assign(effective, ctx)
            out = effective if output_path is None else output_path(effective, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        exit_(ctx, events, out, values)
        if values is not None:
            ctx.assign(values)
        return out, nxt

    return run_wait


def _jsonata_wait(name: str, spec: Mapping[str, Any], pointer: str, nxt: Node | None) -> Any:
    delay = _jsonata_delay(spec, pointer)
    output = compile_value(spec["Output"], "Output", f"{pointer}/Output") if "Output" in spec else None
    assign = compile_jsonata_assign(spec, "Assign", f"{pointer}/Assign")
    track = uses_context(spec)
    events = StateEvents("Wait", name)

    def run_wait(data: JSON, ctx: ExecutionContext) -> Pending:
        return Pending(wait, data, ctx)

    async def wait(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, events, data)
        if track:
            ctx.enter(name)
        states = StatesVar(data, ctx)
        try:
            seconds = delay(states)
            await sleep_within_deadline(ctx, seconds)
            values = None if assign is None else assign(states)
            out = data if output is None else output(states)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        exit_(ctx, events, out, values)
        if values is not None:
            ctx.assign(values)
        return out, nxt

    return run_wait


def _jsonata_delay(spec: Mapping[str, Any], pointer: str) -> Callable[[StatesVar], float]:
    if "Seconds" in spec:
        # Worded as AWS words the Timestamp field's failure, after SecondsPath's.
        seconds = compile_value(spec["Seconds"], "Seconds", f"{pointer}/Seconds")

        def seconds_of(states: StatesVar) -> float:
            value = seconds(states)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
                raise QueryFailure(
                    f"The Seconds field cannot be parsed as a long value: {_text(value)}", "Seconds"
                )
            if value < 0:
                raise QueryFailure(
                    f"The Seconds field references a negative value: {_text(value)}", "Seconds"
                )
            return float(value)

        return seconds_of
    text = compile_string(spec["Timestamp"], "Timestamp", f"{pointer}/Timestamp")

    def until(states: StatesVar) -> float:
        value = text(states)
        moment = parse_timestamp(value)
        if moment is None:
            shown = value if isinstance(value, str) else render(value)
            raise QueryFailure(
                "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format "
                f"string: {shown}",
                "Timestamp",
            )
        return moment - states.ctx.clock.now()

    return until


async def sleep_within_deadline(ctx: ExecutionContext, seconds: float) -> None:
    if seconds <= 0:
        return
    # What the execution recorded so far is written now, not when it wakes up.
    ctx.history.flush()
    now = ctx.clock.now()
    if now + seconds > ctx.deadline:
        await ctx.clock.sleep(max(0.0, ctx.deadline - now))
        raise ExecutionTimeout()
    await ctx.clock.sleep(seconds)


def _compile_delay(spec: Mapping[str, Any]) -> Callable[[JSON, ExecutionContext], float]:
    if "Seconds" in spec:
        seconds = float(spec["Seconds"])
        return lambda data, ctx: seconds
    if "Timestamp" in spec:
        text = spec["Timestamp"]
        moment = parse_timestamp(text)

        def until_literal(data: JSON, ctx: ExecutionContext) -> float:
            if moment is None:
                raise FieldFailure(
                    f"The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time "
                    f"format string: {text}"
                )
            return moment - ctx.clock.now()

        return until_literal
    if "SecondsPath" in spec:
        path = spec["SecondsPath"]
        read = compile_reference(path)

        def seconds_from_path(data: JSON, ctx: ExecutionContext) -> float:
            try:
                value = read(data, ctx)
            except PathMissing:
                raise FieldFailure(
                    f"The SecondsPath parameter does not reference an input value: {path}"
                ) from None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
                raise FieldFailure(
                    f"The SecondsPath parameter cannot be parsed as a long value: {path} == {_text(value)}"
                )
            if value < 0:
                raise FieldFailure(
                    f"The SecondsPath parameter references a negative value: {path} == {_text(value)}"
                )
            return float(value)

        return seconds_from_path
    path = spec["TimestampPath"]
    read = compile_reference(path)

    def until_from_path(data: JSON, ctx: ExecutionContext) -> float:
        try:
            value = read(data, ctx)
        except PathMissing:
            raise FieldFailure(
                f"The TimestampPath parameter does not reference an input value: {path}"
            ) from None
        moment = parse_timestamp(value)
        if moment is None:
            raise FieldFailure(
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
                f"date-time format string: {path} == {_text(value)}"
            )
        return moment - ctx.clock.now()

    return until_from_path


def _text(value: JSON) -> str:
    return value if isinstance(value, str) else render(value)
