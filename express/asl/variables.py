"""Workflow variables: ``Assign`` in both query languages, and how a state commits it.

``Assign`` is compiled once per state (and per Choice rule and Catch):

* JSONPath: a payload template (``"x.$": "$.a"``, intrinsics, ``$$``, ``$other``
  variables; other keys are literal, ``{% %}`` strings included). Its ``$`` is the state's
  result: a Task's after ResultSelector, a Pass state's Result or Parameters, a Choice's or
  Wait's input after InputPath, a Catch's error output;
* JSONata: a template of ``{% %}`` expressions over ``$states`` and the variables.

AWS evaluates every expression of a state against the variables as they were when the
state was entered, Assign and Output alike, and the new values become visible to the
states that follow. A state therefore computes its assignments, then its output, and only
then commits: ``ctx.assign`` writes the state's own scope (an iteration or branch writes
its own, never the enclosing one, except the Map or Parallel state's own Catch, which runs
in the enclosing scope). ``Assigned`` carries output and assignments from a state's work
to the frame that records ``assignedVariables`` in the StateExited event and commits.

Size limits, AWS's for workflow variables: a variable's value at most 256 KiB, the values
of one Assign field together at most 256 KiB, every variable an execution holds at most
10 MiB, each measured as UTF-8 JSON. An Assign that would exceed one fails its state with
``States.DataLimitExceeded`` before anything is committed. The checks sit on the hot
path, so the compiled Assign first tries bounds that cost almost nothing: one
``orjson.dumps`` of the assigned values (a few tens of nanoseconds when they are small,
less than walking them in Python), whose length bounds both of the Assign's limits; and,
for the execution's limit, the number of variables held: at most 39 of them, each within
256 KiB, cannot reach 10 MiB with one more Assign. Only past a bound does ``check_limits``
measure exactly. The total counts the variables this state can see (its own scope and
the enclosing ones), not those of concurrent branches or iterations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from express.asl.jsonata import StatesVar
from express.asl.jsonata_template import compile_value
from express.asl.paths import compile_variable_reference
from express.asl.templates import compile_template
from express.errors import FieldFailure
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = [
    "DATA_LIMIT_EXCEEDED",
    "MAX_ASSIGN_BYTES",
    "MAX_EXECUTION_VARIABLES_BYTES",
    "MAX_VARIABLE_BYTES",
    "Assigned",
    "JsonataAssign",
    "JsonPathAssign",
    "check_limits",
    "compile_jsonata_assign",
    "compile_jsonpath_assign",
    "resolve_variable",
]

DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
MAX_VARIABLE_BYTES = 262_144
MAX_ASSIGN_BYTES = 262_144
MAX_EXECUTION_VARIABLES_BYTES = 10_485_760
# An Assign whose JSON (names included) is within this is within both of its limits.
_WITHIN = min(MAX_VARIABLE_BYTES, MAX_ASSIGN_BYTES)
# Stored variables that, each within its limit, cannot reach the execution's limit with
# one more Assign (itself within 256 KiB): 39 * 256 KiB + 256 KiB = 10 MiB.
_UNMEASURED = (MAX_EXECUTION_VARIABLES_BYTES - MAX_ASSIGN_BYTES) // MAX_VARIABLE_BYTES

# Compiles ``$name`` / ``$name.a[0]`` into an evaluator; what Choice rules and intrinsic
# functions are given to read variables in JSONPath states.
resolve_variable = compile_variable_reference

JsonPathAssign = Callable[[JSON, Any], dict[str, JSON]]
JsonataAssign = Callable[[StatesVar], dict[str, JSON]]


class Assigned:
    """A state's output with the variables it assigns, committed when the state exits."""

    __slots__ = ("output", "values")

    def __init__(self, output: JSON, values: dict[str, JSON]) -> None:
        self.output = output
        self.values = values


def compile_jsonpath_assign(spec: Mapping[str, Any]) -> JsonPathAssign | None:
    """``(result, ctx) -> {name: value}`` for a JSONPath ``Assign``; None when absent."""
    if "Assign" not in spec:
        return None
    build: JsonPathAssign = compile_template(spec["Assign"])

    def assign(result: JSON, ctx: Any) -> dict[str, JSON]:
        values = build(result, ctx)
        _enforce_limits(values, ctx)
        return values

    return assign


def compile_jsonata_assign(
    spec: Mapping[str, Any], field: str, pointer: str, *, error_output: bool = False
) -> JsonataAssign | None:
    """``(StatesVar) -> {name: value}`` for a JSONata ``Assign``; None when absent.

    ``field`` and ``pointer`` name the Assign object itself (``Choices[0]/Assign``).
    """
    if "Assign" not in spec:
        return None
    build: JsonataAssign = compile_value(spec["Assign"], field, pointer, error_output=error_output)

    def assign(sv: StatesVar) -> dict[str, JSON]:
        values = build(sv)
        _enforce_limits(values, sv.ctx)
        return values

    return assign


# ----------------------------------------------------------------------------- size limits
def _enforce_limits(values: dict[str, JSON], ctx: ExecutionContext) -> None:
    """The cheap bounds of the module docstring; ``check_limits`` only past one of them."""
    try:
        within = len(orjson.dumps(values)) <= _WITHIN
    except TypeError:  # an integer beyond 64 bits
        within = False
    scope = ctx.variables
    if not within or (scope is not None and (scope.parent is not None or len(scope.values) > _UNMEASURED)):
        check_limits(values, ctx, within)


def check_limits(values: dict[str, JSON], ctx: ExecutionContext, assign_within: bool = False) -> None:
    """Fail (``States.DataLimitExceeded``) when assigning ``values`` in ``ctx`` exceeds a limit.

    Off the hot path: a compiled Assign calls it only when its cheap bounds cannot rule a
    limit out. ``assign_within``: the Assign's own limits are already known to hold.
    """
    if not assign_within:
        sizes = {name: _size(value) for name, value in values.items()}
        for name, size in sizes.items():
            if size > MAX_VARIABLE_BYTES:
                raise FieldFailure(
                    f"The value assigned to the variable '{name}' has a size of {size} bytes, exceeding "
                    f"the maximum number of bytes service limit of {MAX_VARIABLE_BYTES} for a variable.",
                    DATA_LIMIT_EXCEEDED,
                )
        assigned = sum(sizes.values())
        if assigned > MAX_ASSIGN_BYTES:
            raise FieldFailure(
                f"The variables of the Assign field have a combined size of {assigned} bytes, exceeding "
                f"the maximum number of bytes service limit of {MAX_ASSIGN_BYTES} for an Assign field.",
                DATA_LIMIT_EXCEEDED,
            )
    scopes = []
    scope = ctx.variables
    while scope is not None:
        scopes.append(scope.values)
        scope = scope.parent
    if sum(map(len, scopes)) <= _UNMEASURED:
        return
    # A dict's JSON holds its values' JSON: the bound is exact enough unless near the limit.
    if _size(values) + sum(map(_size, scopes)) <= MAX_EXECUTION_VARIABLES_BYTES:
        return
    own = scopes[0]  # the scope the values go to, where they replace their namesakes
    kept = [value for name, value in own.items() if name not in values]
    total = sum(map(_size, values.values())) + sum(map(_size, kept))
    total += sum(_size(value) for outer in scopes[1:] for value in outer.values())
    if total > MAX_EXECUTION_VARIABLES_BYTES:
        raise FieldFailure(
            f"Assigning these variables would bring the variables of the execution to a size of {total} "
            f"bytes, exceeding the maximum number of bytes service limit of {MAX_EXECUTION_VARIABLES_BYTES} "
            "for an execution.",
            DATA_LIMIT_EXCEEDED,
        )


def _size(value: JSON) -> int:
    """Bytes of ``value`` as UTF-8 JSON."""
    try:
        return len(orjson.dumps(value))
    except TypeError:  # an integer beyond 64 bits
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
