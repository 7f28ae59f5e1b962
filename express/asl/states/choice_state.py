"""Choice: the first rule that holds picks the next state; otherwise Default.

JSONPath rules test ``Variable`` paths (``express.asl.choice``, which also reads
workflow variables such as ``$guess``); JSONata rules hold a ``Condition`` that must give
true or false. A rule may carry its own Assign (and, in JSONata, Output). As AWS
documents, the state's Assign applies whichever way the state goes and a matched rule's
Assign is added to it (the rule's value wins for a name both set); the output is the
matched rule's Output, else the state's Output, else the input (JSONPath: the input after
InputPath, then OutputPath). Every expression reads the values the state was entered with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from express.asl.choice import compile_choice_rule
from express.asl.io import compile_filter_path
from express.asl.jsonata import StatesVar
from express.asl.jsonata_template import Builder, compile_boolean, compile_value
from express.asl.node import Node, StepResult
from express.asl.states.base import StateEnv, StateEvents, enter, exit_, fail_in_state, uses_context
from express.asl.variables import compile_jsonata_assign, compile_jsonpath_assign, resolve_variable
from express.errors import FieldFailure, StatesError, runtime_cause
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["compile_choice"]

Assign = Callable[..., dict[str, JSON]]


def compile_choice(name: str, spec: Mapping[str, Any], env: StateEnv) -> Any:
    default: Node | None = env.nodes[spec["Default"]] if "Default" in spec else None
    if env.jsonata(spec):
        return _jsonata_choice(name, spec, env, default)
    return _jsonpath_choice(name, spec, env, default)


def _merged(
    state_values: dict[str, JSON] | None, rule_values: dict[str, JSON] | None
) -> dict[str, JSON] | None:
    if rule_values is None:
        return state_values
    if state_values is None:
        return rule_values
    return {**state_values, **rule_values}


def _no_match(name: str, entered: int) -> StatesError:
    return StatesError(
        "States.NoChoiceMatched",
        runtime_cause(name, entered, "No Choice rule matched and there is no Default."),
    )


def _jsonpath_choice(name: str, spec: Mapping[str, Any], env: StateEnv, default: Node | None) -> Any:
    input_path = compile_filter_path(spec, "InputPath")
    output_path = compile_filter_path(spec, "OutputPath")
    base = f"{env.pointer}/{name}/Choices"
    rules = tuple(
        (
            compile_choice_rule(rule, f"{base}/{i}", variables=resolve_variable),
            env.nodes[rule["Next"]],
            compile_jsonpath_assign(rule),
        )
        for i, rule in enumerate(spec["Choices"])
    )
    state_assign = compile_jsonpath_assign(spec)
    track = uses_context(spec)
    if state_assign is None and all(assign is None for _, _, assign in rules):
        return _plain_choice(
            name,
            input_path=input_path,
            output_path=output_path,
            rules=tuple((h, n) for h, n, _ in rules),
            default=default,
            track=track,
        )

    events = StateEvents("Choice", name)

    def run_choice(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, events, data)
        if track:
            ctx.enter(name)
        try:
            effective = data if input_path is None else input_path(data, ctx)
            target = default
            rule_assign = None
            for holds, nxt, assign in rules:
                if holds(effective, ctx):
                    target, rule_assign = nxt, assign
                    break
            if target is None:
                raise _no_match(name, entered)
            values = None if state_assign is None else state_assign(effective, ctx)
            if rule_assign is not None:
                values = _merged(values, rule_assign(effective, ctx))
            out = effective if output_path is None else output_path(effective, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        exit_(ctx, events, out, values)
        if values is not None:
            ctx.assign(values)
        return out, target

    return run_choice


def _plain_choice(
    name: str,
    *,
    input_path: Callable[[JSON, Any], JSON] | None,
    output_path: Callable[[JSON, Any], JSON] | None,
    rules: tuple[tuple[Callable[[JSON, ExecutionContext], bool], Node], ...],
    default: Node | None,
    track: bool,
) -> Any:
    """A JSONPath Choice that assigns nothing: only the rules' predicates run."""
    events = StateEvents("Choice", name)

    def run_plain_choice(data: JSON, ctx: ExecutionContext) -> StepResult:
        history = ctx.history
        recording = history.progress
        if recording:
            entered = enter(ctx, events, data)
        else:
            entered = history.last = history.last + 1
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
                raise _no_match(name, entered)
            out = effective if output_path is None else output_path(effective, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        if recording:
            exit_(ctx, events, out)
        else:
            history.last += 1
        return out, target

    return run_plain_choice


def _jsonata_choice(name: str, spec: Mapping[str, Any], env: StateEnv, default: Node | None) -> Any:
    pointer = f"{env.pointer}/{name}"
    rules = []
    for i, rule in enumerate(spec["Choices"]):
        field, at = f"Choices[{i}]", f"{pointer}/Choices/{i}"
        output = (
            compile_value(rule["Output"], f"{field}/Output", f"{at}/Output") if "Output" in rule else None
        )
        rules.append(
            (
                compile_boolean(rule["Condition"], f"{field}/Condition", f"{at}/Condition"),
                env.nodes[rule["Next"]],
                compile_jsonata_assign(rule, f"{field}/Assign", f"{at}/Assign"),
                output,
            )
        )
    matches = tuple(rules)
    state_output = compile_value(spec["Output"], "Output", f"{pointer}/Output") if "Output" in spec else None
    state_assign = compile_jsonata_assign(spec, "Assign", f"{pointer}/Assign")
    track = uses_context(spec)
    events = StateEvents("Choice", name)

    def run_jsonata_choice(data: JSON, ctx: ExecutionContext) -> StepResult:
        entered = enter(ctx, events, data)
        if track:
            ctx.enter(name)
        states = StatesVar(data, ctx)
        try:
            target = default
            rule_assign: Callable[[StatesVar], dict[str, JSON]] | None = None
            rule_output: Builder | None = None
            for holds, nxt, assign, output in matches:
                if holds(states):
                    target, rule_assign, rule_output = nxt, assign, output
                    break
            if target is None:
                raise _no_match(name, entered)
            values = None if state_assign is None else state_assign(states)
            if rule_assign is not None:
                values = _merged(values, rule_assign(states))
            output = rule_output or state_output
            out = data if output is None else output(states)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        exit_(ctx, events, out, values)
        if values is not None:
            ctx.assign(values)
        return out, target

    return run_jsonata_choice
