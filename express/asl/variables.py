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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from express.asl.jsonata import StatesVar
from express.asl.jsonata_template import compile_value
from express.asl.paths import compile_variable_reference
from express.asl.templates import compile_template
from express.types import JSON

__all__ = [
    "Assigned",
    "JsonataAssign",
    "JsonPathAssign",
    "compile_jsonata_assign",
    "compile_jsonpath_assign",
    "resolve_variable",
]

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
    return build


def compile_jsonata_assign(
    spec: Mapping[str, Any], field: str, pointer: str, *, error_output: bool = False
) -> JsonataAssign | None:
    """``(StatesVar) -> {name: value}`` for a JSONata ``Assign``; None when absent.

    ``field`` and ``pointer`` name the Assign object itself (``Choices[0]/Assign``).
    """
    if "Assign" not in spec:
        return None
    build: JsonataAssign = compile_value(spec["Assign"], field, pointer, error_output=error_output)
    return build
