"""Pass: InputPath -> Result | Parameters -> ResultPath -> OutputPath."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from express.asl.io import ABSENT, check_size, compile_filter_path, compile_result_path
from express.asl.node import Node, StepResult
from express.asl.states.base import StateEnv, enter, exit_, fail_in_state, uses_context
from express.asl.templates import compile_template
from express.errors import FieldFailure
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["compile_pass"]

_IO_FIELDS = ("InputPath", "Parameters", "Result", "ResultPath", "OutputPath", "Assign")


def compile_pass(name: str, spec: Mapping[str, Any], env: StateEnv, nxt: Node | None) -> Any:
    if not any(f in spec for f in _IO_FIELDS) or (
        "ResultPath" in spec and spec["ResultPath"] == "$" and not any(
            f in spec for f in ("InputPath", "Parameters", "Result", "OutputPath")
        )
    ):
        return _trivial_pass(name, nxt)

    input_path = compile_filter_path(spec, "InputPath")
    output_path = compile_filter_path(spec, "OutputPath")
    merge = compile_result_path(spec)
    result_const = spec.get("Result", ABSENT)  # literal: ".$" keys in Result are not evaluated
    if result_const is not ABSENT:
        oversized = False
        try:
            check_size(result_const, name)
        except Exception:
            oversized = True
    params = compile_template(spec["Parameters"]) if "Parameters" in spec else None
    track = uses_context(spec)

    def run_pass(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, "Pass", name, data)
        if track:
            ctx.enter(name)
        try:
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
            raise fail_in_state(name, entered, failure) from None
        exit_(ctx, "Pass", name, out)
        return out, nxt

    return run_pass


def _trivial_pass(name: str, nxt: Node | None) -> Any:
    """A Pass that only moves on: two history events and nothing else."""

    def run_trivial_pass(data: JSON, ctx: ExecutionContext) -> StepResult:
        h = ctx.history
        if h.recorder is None:
            h.last += 2
        else:
            enter(ctx, "Pass", name, data)
            exit_(ctx, "Pass", name, data)
        return data, nxt

    return run_trivial_pass
