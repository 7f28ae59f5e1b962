"""What a Map state iterates over, how concurrently, and what each iteration receives.

JSONPath: InputPath -> ItemsPath (an array) -> ItemSelector (or the deprecated
Parameters) per item, with ``$$.Map.Item`` set; MaxConcurrency or MaxConcurrencyPath.
JSONata: Items (an array, possibly holding expressions, or one expression giving an
array; the state input when absent) -> ItemSelector per item with
``$states.context.Map.Item`` set; MaxConcurrency and the ToleratedFailure fields as
numbers or expressions.

``compile_map_input`` returns ``prepare(raw_input, ctx) -> (items, limit, inputs)``,
raising ``FieldFailure`` for the state to word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from express.asl.io import compile_filter_path
from express.asl.jsonata import (
    QueryFailure,
    StatesVar,
    expression_body,
    is_expression,
    render,
    unexpected_type,
)
from express.asl.jsonata_template import compile_integer, compile_number, compile_value
from express.asl.paths import PathMissing, compile_reference
from express.asl.templates import compile_template
from express.errors import FieldFailure
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["Prepare", "compile_map_input"]

Prepare = Callable[[JSON, ExecutionContext], tuple[list[JSON], int, list[JSON]]]

_JAVA_INT = re.compile(r"[+-]?\d{1,10}")


def compile_map_input(spec: Mapping[str, Any], pointer: str, jsonata: bool) -> Prepare:
    """``pointer`` is the state's JSON Pointer."""
    return _jsonata_input(spec, pointer) if jsonata else _jsonpath_input(spec)


def _not_an_array(items: JSON) -> str:
    return f"Map state input must be an array but was: {render(items)}"


# ----------------------------------------------------------------------------- JSONPath
def _jsonpath_input(spec: Mapping[str, Any]) -> Prepare:
    input_path = compile_filter_path(spec, "InputPath")
    items_path = spec.get("ItemsPath", "$")
    read_items = None if items_path == "$" else compile_reference(items_path)
    selector_spec = spec.get("ItemSelector", spec.get("Parameters"))
    item_selector = compile_template(selector_spec) if selector_spec is not None else None
    concurrency_of = _jsonpath_concurrency(spec)

    def prepare(data: JSON, ctx: ExecutionContext) -> tuple[list[JSON], int, list[JSON]]:
        effective = data if input_path is None else input_path(data, ctx)
        try:
            items = effective if read_items is None else read_items(effective, ctx)
        except PathMissing as missing:
            raise FieldFailure(f"Invalid path '{items_path}' : {missing.jayway}") from None
        if type(items) is not list:
            raise FieldFailure(_not_an_array(items))
        limit = concurrency_of(effective, ctx)
        if item_selector is None:
            return items, limit, items
        inputs = []
        try:
            for entry in enumerate(items):
                ctx.map_item = entry
                inputs.append(item_selector(effective, ctx))
        finally:
            ctx.map_item = None
        return items, limit, inputs

    return prepare


def _jsonpath_concurrency(spec: Mapping[str, Any]) -> Callable[[JSON, ExecutionContext], int]:
    if "MaxConcurrencyPath" not in spec:
        limit = int(spec.get("MaxConcurrency", 0))
        return lambda data, ctx: limit
    path = spec["MaxConcurrencyPath"]
    read = compile_reference(path)

    def concurrency_from_path(data: JSON, ctx: ExecutionContext) -> int:
        try:
            value = read(data, ctx)
        except PathMissing as missing:
            raise FieldFailure(f"Invalid path '{path}' : {missing.jayway}") from None
        if type(value) is str and _JAVA_INT.fullmatch(value):
            value = int(value)  # AWS reads a numeric string as the number
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            shown = value if isinstance(value, str) else render(value)
            raise FieldFailure(
                f'The MaxConcurrencyPath field refers to value "{shown}" which is not a valid integer: {path}'
            )
        return value

    return concurrency_from_path


# ----------------------------------------------------------------------------- JSONata
def _jsonata_input(spec: Mapping[str, Any], pointer: str) -> Prepare:
    items_of = _jsonata_items(spec, pointer)
    selector = (
        compile_value(spec["ItemSelector"], "ItemSelector", f"{pointer}/ItemSelector")
        if "ItemSelector" in spec
        else None
    )
    limit_of = compile_integer(
        spec.get("MaxConcurrency", 0), "MaxConcurrency", f"{pointer}/MaxConcurrency", minimum=0
    )
    # Iterations do not fail without failing the state here, so the tolerances only need checking.
    checks: list[Callable[[StatesVar], Any]] = []
    if "ToleratedFailureCount" in spec:
        at = f"{pointer}/ToleratedFailureCount"
        checks.append(compile_integer(spec["ToleratedFailureCount"], "ToleratedFailureCount", at, minimum=0))
    if "ToleratedFailurePercentage" in spec:
        at = f"{pointer}/ToleratedFailurePercentage"
        checks.append(
            compile_number(
                spec["ToleratedFailurePercentage"], "ToleratedFailurePercentage", at, minimum=0, maximum=100
            )
        )

    def prepare(data: JSON, ctx: ExecutionContext) -> tuple[list[JSON], int, list[JSON]]:
        states = StatesVar(data, ctx)
        items = items_of(states)
        limit = limit_of(states)
        for check in checks:
            check(states)
        if selector is None:
            return items, limit, items
        inputs = []
        try:
            for entry in enumerate(items):
                ctx.map_item = entry
                inputs.append(selector(StatesVar(data, ctx)))  # a context object per item
        finally:
            ctx.map_item = None
        return items, limit, inputs

    return prepare


def _jsonata_items(spec: Mapping[str, Any], pointer: str) -> Callable[[StatesVar], list[JSON]]:
    if "Items" not in spec:

        def input_items(states: StatesVar) -> list[JSON]:
            items = states.input
            if type(items) is not list:
                raise QueryFailure(_not_an_array(items), "Items")
            return items

        return input_items
    value = spec["Items"]
    make = compile_value(value, "Items", f"{pointer}/Items")
    if not is_expression(value):
        return make  # an array literal, checked by validation
    body = expression_body(value)

    def evaluated_items(states: StatesVar) -> list[JSON]:
        items = make(states)
        if type(items) is not list:
            raise unexpected_type(body, "Items", "array", items)
        return items

    return evaluated_items
