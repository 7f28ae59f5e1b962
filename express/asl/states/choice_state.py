"""Choice: the first rule that holds picks the next state; otherwise Default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from express.asl.choice import compile_choice_rule
from express.asl.io import compile_filter_path
from express.asl.node import Node, StepResult
from express.asl.states.base import StateEnv, enter, exit_, fail_in_state, uses_context
from express.errors import FieldFailure, StatesError, runtime_cause
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["compile_choice"]


def compile_choice(name: str, spec: Mapping[str, Any], env: StateEnv) -> Any:
    input_path = compile_filter_path(spec, "InputPath")
    output_path = compile_filter_path(spec, "OutputPath")
    base = f"{env.pointer}/{name}/Choices"
    rules = tuple(
        (compile_choice_rule(rule, f"{base}/{i}"), env.nodes[rule["Next"]])
        for i, rule in enumerate(spec["Choices"])
    )
    default: Node | None = env.nodes[spec["Default"]] if "Default" in spec else None
    track = uses_context(spec)

    def run_choice(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, "Choice", name, data)
        if track:
            ctx.enter(name)
        try:
            effective = data if input_path is None else input_path(data, ctx)
            target = default
            for holds, nxt in rules:
                if holds(effective, ctx):
                    target = nxt
                    break
            if target is None:
                raise StatesError(
                    "States.NoChoiceMatched",
                    runtime_cause(name, entered, "No Choice rule matched and there is no Default."),
                )
            out = effective if output_path is None else output_path(effective, ctx)
        except FieldFailure as failure:
            raise fail_in_state(name, entered, failure) from None
        exit_(ctx, "Choice", name, out)
        return out, target

    return run_choice
