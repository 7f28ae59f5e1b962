"""Succeed and Fail: the states that end an execution (or a branch) by themselves.

JSONPath: InputPath/OutputPath; Error/ErrorPath and Cause/CausePath (paths, variables or
intrinsic functions giving strings). JSONata: Output; Error and Cause as strings or
expressions giving strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from express.asl.intrinsics import compile_intrinsic, looks_like_intrinsic
from express.asl.io import compile_filter_path
from express.asl.jsonata import StatesVar
from express.asl.jsonata_template import compile_string, compile_value
from express.asl.node import StepResult
from express.asl.paths import PathMissing, compile_reference, compile_variable_reference
from express.asl.states.base import (
    StateEnv,
    StateEvents,
    enter,
    enter_fail,
    exit_,
    fail_in_state,
    uses_context,
)
from express.errors import FieldFailure, StatesError
from express.runtime.context import ExecutionContext
from express.types import JSON, Evaluator

__all__ = ["compile_fail", "compile_succeed"]


def compile_succeed(name: str, spec: Mapping[str, Any], env: StateEnv) -> Any:
    track = uses_context(spec)
    events = StateEvents("Succeed", name)
    if env.jsonata(spec):
        pointer = f"{env.pointer}/{name}"
        output = compile_value(spec["Output"], "Output", f"{pointer}/Output") if "Output" in spec else None

        def run_jsonata_succeed(data: JSON, ctx: ExecutionContext) -> StepResult:
            entered = enter(ctx, events, data)
            if track:
                ctx.enter(name)
            try:
                out = data if output is None else output(StatesVar(data, ctx))
            except FieldFailure as failure:
                raise fail_in_state(ctx, name, entered, failure) from None
            exit_(ctx, events, out)
            return out, None

        return run_jsonata_succeed
    input_path = compile_filter_path(spec, "InputPath")
    output_path = compile_filter_path(spec, "OutputPath")

    def run_succeed(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, events, data)
        if track:
            ctx.enter(name)
        try:
            out = data if input_path is None else input_path(data, ctx)
            if output_path is not None:
                out = output_path(out, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        exit_(ctx, events, out)
        return out, None

    return run_succeed


def compile_fail(name: str, spec: Mapping[str, Any], env: StateEnv) -> Any:
    if env.jsonata(spec):
        pointer = f"{env.pointer}/{name}"
        error = _jsonata_field(spec, "Error", pointer)
        cause = _jsonata_field(spec, "Cause", pointer)
    else:
        error = _field(spec, "Error", "ErrorPath")
        cause = _field(spec, "Cause", "CausePath")
    track = uses_context(spec)
    events = StateEvents("Fail", name)

    def run_fail(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter_fail(ctx, events, data)
        if track:
            ctx.enter(name)
        try:
            err = error(data, ctx)
            why = cause(data, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        raise StatesError(err, why)

    return run_fail


def _jsonata_field(spec: Mapping[str, Any], field: str, pointer: str) -> Evaluator:
    if field not in spec:
        return lambda data, ctx: None
    value = compile_string(spec[field], field, f"{pointer}/{field}")
    return lambda data, ctx: value(StatesVar(data, ctx))


def _field(spec: Mapping[str, Any], literal: str, path_field: str) -> Evaluator:
    if literal in spec:
        value = spec[literal]
        return lambda data, ctx: value
    if path_field not in spec:
        return lambda data, ctx: None
    text = spec[path_field]
    if looks_like_intrinsic(text):
        call = compile_intrinsic(text, variables=compile_variable_reference)

        def evaluate_call(data: JSON, ctx: Any) -> JSON:
            return _as_string(path_field, text, call(data, ctx))

        return evaluate_call
    read = compile_reference(text)

    def evaluate_path(data: JSON, ctx: Any) -> JSON:
        try:
            value = read(data, ctx)
        except PathMissing as missing:
            raise FieldFailure(f"Invalid path '{text}' : {missing.jayway}") from None
        return _as_string(path_field, text, value)

    return evaluate_path


def _as_string(field: str, text: str, value: JSON) -> str:
    if not isinstance(value, str):
        raise FieldFailure(f"The {field} '{text}' must resolve to a string, but was: {value!r}")
    return value
