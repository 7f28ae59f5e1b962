"""Pass: InputPath -> Result | Parameters -> ResultPath -> OutputPath, or JSONata's Output.

Assign (either language) is evaluated on the values the state was entered with and
committed as it exits; a JSONPath Assign's ``$`` is the state's result (Result,
Parameters, or the input after InputPath). A Pass that only moves on costs two event ids
and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from express.asl.io import (
    ABSENT,
    MAX_PAYLOAD_BYTES,
    REENCODED_GROWTH,
    check_size,
    compile_filter_path,
    compile_result_path,
)
from express.asl.jsonata import StatesVar
from express.asl.jsonata_template import compile_value
from express.asl.node import Node, StepResult
from express.asl.states.base import StateEnv, StateEvents, enter, exit_, fail_in_state, uses_context
from express.asl.templates import compile_template, member_copy_bound
from express.asl.variables import compile_jsonata_assign, compile_jsonpath_assign
from express.errors import FieldFailure, StatesError
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["compile_pass"]

_IO_FIELDS = ("InputPath", "Parameters", "Result", "ResultPath", "OutputPath", "Assign", "Output")


def compile_pass(name: str, spec: Mapping[str, Any], env: StateEnv, nxt: Node | None) -> Any:
    if not any(f in spec for f in _IO_FIELDS) or (
        spec.get("ResultPath", None) == "$" and not any(f in spec for f in _IO_FIELDS if f != "ResultPath")
    ):
        return _trivial_pass(name, nxt)
    if env.jsonata(spec):
        return _jsonata_pass(name, spec, f"{env.pointer}/{name}", nxt)
    return _jsonpath_pass(name, spec, nxt)


def _jsonpath_pass(name: str, spec: Mapping[str, Any], nxt: Node | None) -> Any:
    input_path = compile_filter_path(spec, "InputPath")
    output_path = compile_filter_path(spec, "OutputPath")
    merge = compile_result_path(spec)
    result_const = spec.get("Result", ABSENT)  # literal: ".$" keys in Result are not evaluated
    oversized = False
    if result_const is not ABSENT:
        try:
            check_size(result_const, name)
        except StatesError:
            oversized = True
    params = compile_template(spec["Parameters"]) if "Parameters" in spec else None
    assign = compile_jsonpath_assign(spec)
    track = uses_context(spec)
    events = StateEvents("Pass", name)

    def result_of(data: JSON, ctx: ExecutionContext) -> JSON:
        effective = data if input_path is None else input_path(data, ctx)
        if result_const is not ABSENT:
            if oversized:
                check_size(result_const, name)
            return result_const
        if params is not None:
            result = params(effective, ctx)
            check_size(result, name)
            return result
        return effective

    def run_pass(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, events, data)
        if track:
            ctx.enter(name)
        try:
            # result_of, inline: this is the path every Pass without Assign takes.
            effective = data if input_path is None else input_path(data, ctx)
            if result_const is not ABSENT:
                if oversized:
                    check_size(result_const, name)
                result = result_const
            elif params is not None:
                result = params(effective, ctx)
                check_size(result, name)
            else:
                result = effective
            out = merge(data, result)
            if output_path is not None:
                out = output_path(out, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        exit_(ctx, events, out)
        return out, nxt

    if assign is None:
        if (
            params is not None
            and input_path is None
            and output_path is None
            and spec.get("ResultPath", "$") == "$"
        ):
            return _parameters_pass(
                name, params, nxt, track, events, bound=member_copy_bound(spec["Parameters"])
            )
        return run_pass
    assign_from = assign

    def run_assigning_pass(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, events, data)
        if track:
            ctx.enter(name)
        try:
            result = result_of(data, ctx)
            values = assign_from(result, ctx)
            out = merge(data, result)
            if output_path is not None:
                out = output_path(out, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        exit_(ctx, events, out, values)
        ctx.assign(values)
        return out, nxt

    return run_assigning_pass


def _jsonata_pass(name: str, spec: Mapping[str, Any], pointer: str, nxt: Node | None) -> Any:
    output = compile_value(spec["Output"], "Output", f"{pointer}/Output") if "Output" in spec else None
    assign = compile_jsonata_assign(spec, "Assign", f"{pointer}/Assign")
    track = uses_context(spec)
    events = StateEvents("Pass", name)

    def run_jsonata_pass(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, events, data)
        if track:
            ctx.enter(name)
        states = StatesVar(data, ctx)
        try:
            values = None if assign is None else assign(states)
            if output is None:
                out = data
            else:
                out = output(states)
                check_size(out, name)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        exit_(ctx, events, out, values)
        if values is not None:
            ctx.assign(values)
        return out, nxt

    return run_jsonata_pass


def _parameters_pass(
    name: str,
    params: Callable[[JSON, ExecutionContext], JSON],
    nxt: Node | None,
    track: bool,
    events: StateEvents,
    *,
    bound: tuple[int, int] | None,
) -> Any:
    """A Pass that only builds its Parameters: the reshaping step of most stream workflows.

    When the Parameters only copy members of the input (``bound``, see
    ``member_copy_bound``) and the input is the execution's, whose size is known, a
    small enough input cannot make a result over the payload limit: no need to measure it.
    """
    # The largest execution input whose copies cannot exceed the limit.
    safe_input = -1 if bound is None else (MAX_PAYLOAD_BYTES - bound[0]) // (bound[1] * REENCODED_GROWTH)

    def run_parameters_pass(data: JSON, ctx: ExecutionContext) -> StepResult:
        history = ctx.history
        recording = history.progress
        if recording:
            entered = enter(ctx, events, data)
        else:
            entered = history.last + 1
            history.last = entered
        if track:
            ctx.enter(name)
        try:
            result = params(data, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        if data is not ctx.input or (ctx.input_size or MAX_PAYLOAD_BYTES) > safe_input:
            check_size(result, name)
        if recording:
            exit_(ctx, events, result)
        else:
            history.last = entered + 1
        return result, nxt

    return run_parameters_pass


def _trivial_pass(name: str, nxt: Node | None) -> Any:
    """A Pass that only moves on: two history events and nothing else."""
    events = StateEvents("Pass", name)

    def run_trivial_pass(data: JSON, ctx: ExecutionContext) -> StepResult:
        h = ctx.history
        if not h.progress:
            h.last += 2
        else:
            enter(ctx, events, data)
            exit_(ctx, events, data)
        return data, nxt

    return run_trivial_pass
