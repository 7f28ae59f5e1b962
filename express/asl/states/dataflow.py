"""A state's data flow around its work, in either query language (Task, Map, Parallel).

Arguments (Parallel): InputPath -> Parameters in JSONPath, Arguments (the input when
absent) in JSONata. ``compile_arguments`` returns ``arguments(raw_input, ctx)``.

JSONPath: ResultSelector -> Assign (whose ``$`` is the selected result) -> ResultPath
(merged into the raw state input) -> OutputPath. JSONata: Assign and Output over
``$states.input`` and ``$states.result``; the output defaults to the result.

``compile_completion`` returns ``complete(raw_input, ctx, result)`` (None when the
output is the result itself, so that the common case costs no call), which returns the
output, or ``Assigned`` when the state assigns variables (the guard commits them as the
state exits). It raises ``FieldFailure`` for the caller to word with its state's prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from express.asl.io import compile_filter_path, compile_result_path
from express.asl.jsonata import StatesVar
from express.asl.jsonata_template import compile_value
from express.asl.templates import compile_template
from express.asl.variables import Assigned, compile_jsonata_assign, compile_jsonpath_assign
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["Arguments", "Complete", "compile_arguments", "compile_completion"]

Arguments = Callable[[JSON, ExecutionContext], JSON]
Complete = Callable[[JSON, ExecutionContext, JSON], Any]

_JSONPATH_FIELDS = ("ResultPath", "ResultSelector", "Assign", "OutputPath")


def compile_arguments(spec: Mapping[str, Any], pointer: str, jsonata: bool) -> Arguments | None:
    """What the work receives; None when it is the state input itself."""
    if jsonata:
        if "Arguments" not in spec:
            return None
        make = compile_value(spec["Arguments"], "Arguments", f"{pointer}/Arguments")
        return lambda data, ctx: make(StatesVar(data, ctx))
    input_path = compile_filter_path(spec, "InputPath")
    params = compile_template(spec["Parameters"]) if "Parameters" in spec else None
    if params is None:
        return input_path
    if input_path is None:
        return params

    def select_then_build(data: JSON, ctx: ExecutionContext) -> JSON:
        return params(input_path(data, ctx), ctx)

    return select_then_build


def compile_completion(spec: Mapping[str, Any], pointer: str, jsonata: bool) -> Complete | None:
    """None when the output is the result as it is; ``pointer`` is the state's JSON Pointer."""
    if jsonata:
        return _jsonata_completion(spec, pointer)
    return _jsonpath_completion(spec)


def _jsonata_completion(spec: Mapping[str, Any], pointer: str) -> Complete | None:
    output = compile_value(spec["Output"], "Output", f"{pointer}/Output") if "Output" in spec else None
    assign = compile_jsonata_assign(spec, "Assign", f"{pointer}/Assign")
    if output is None and assign is None:
        return None

    def complete(data: JSON, ctx: ExecutionContext, result: JSON) -> Any:
        states = StatesVar(data, ctx, result)
        values = None if assign is None else assign(states)
        out = result if output is None else output(states)
        return out if values is None else Assigned(out, values)

    return complete


def _jsonpath_completion(spec: Mapping[str, Any]) -> Complete | None:
    if not any(field in spec for field in _JSONPATH_FIELDS) or (
        spec.get("ResultPath") == "$" and not any(field in spec for field in _JSONPATH_FIELDS[1:])
    ):
        return None
    selector = compile_template(spec["ResultSelector"]) if "ResultSelector" in spec else None
    assign = compile_jsonpath_assign(spec)
    merge = compile_result_path(spec)
    output_path = compile_filter_path(spec, "OutputPath")

    def complete(data: JSON, ctx: ExecutionContext, result: JSON) -> Any:
        if selector is not None:
            result = selector(result, ctx)
        values = None if assign is None else assign(result, ctx)
        out = merge(data, result)
        if output_path is not None:
            out = output_path(out, ctx)
        return out if values is None else Assigned(out, values)

    return complete
