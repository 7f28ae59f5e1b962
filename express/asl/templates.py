"""Payload templates (Parameters, ResultSelector, ItemSelector), compiled into builders.

A template is walked once at compile time. Keys ending in ``.$`` become evaluators (a
path getter, a workflow-variable reference such as ``$name.a`` or an intrinsic call);
everything else is a constant. A builder copies a prebuilt dict of the constant members
and fills in only the dynamic ones, so a template with no ``.$`` key at all compiles to a
function returning its constant.

Invariant: builders never mutate their input and never hand out the template's own
containers for later mutation by the engine (the engine copies before it writes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from express.asl.intrinsics import compile_intrinsic, looks_like_intrinsic
from express.asl.paths import (
    PathMissing,
    compile_getter,
    compile_reference,
    compile_variable_reference,
    is_variable_reference,
    top_level_key,
)
from express.errors import FieldFailure
from express.types import JSON, Getter

__all__ = ["Builder", "compile_template", "member_copy_bound", "template_is_constant"]

Builder = Callable[[JSON, Any], JSON]


def compile_template(template: JSON) -> Builder:
    """A builder ``(state_input, ctx) -> payload`` for a Parameters-like template."""
    built = _compile(template)
    if isinstance(built, _Const):
        value = built.value

        def constant(data: JSON, ctx: Any) -> JSON:
            return value

        return constant
    return built


def template_is_constant(template: JSON) -> bool:
    return isinstance(_compile(template), _Const)


class _Const:
    __slots__ = ("value",)

    def __init__(self, value: JSON) -> None:
        self.value = value


def _compile(template: JSON) -> _Const | Builder:
    if isinstance(template, dict):
        return _compile_object(template)
    if isinstance(template, list):
        parts = [_compile(item) for item in template]
        if all(isinstance(p, _Const) for p in parts):
            return _Const([p.value for p in parts])  # type: ignore[union-attr]
        makers = [_as_builder(p) for p in parts]

        def build_list(data: JSON, ctx: Any) -> JSON:
            return [make(data, ctx) for make in makers]

        return build_list
    return _Const(template)


def _as_builder(part: _Const | Builder) -> Builder:
    if isinstance(part, _Const):
        value = part.value
        return lambda data, ctx: value
    return part


def _compile_object(template: dict[str, JSON]) -> _Const | Builder:
    constants: dict[str, JSON] = {}
    reads: list[tuple[str, str, Getter]] = []  # (key, path, getter) reading the state input
    dynamic: list[tuple[str, Builder]] = []  # everything else that is evaluated
    for key, value in template.items():
        if key.endswith(".$"):
            if (
                isinstance(value, str)
                and value.startswith("$")
                and not value.startswith("$$")
                and not is_variable_reference(value)
            ):
                reads.append((key[:-2], value, compile_getter(value)))
            else:
                dynamic.append((key[:-2], _compile_expression(key, value)))
            continue
        part = _compile(value)
        if isinstance(part, _Const):
            constants[key] = part.value
        else:
            dynamic.append((key, part))
    if not dynamic and not reads:
        return _Const(constants)
    read_entries = tuple((key, get) for key, _, get in reads)
    fields = {key: (path, key + ".$") for key, path, _ in reads}
    entries = tuple(dynamic)

    def build_object(data: JSON, ctx: Any) -> JSON:
        out = constants.copy()
        key = ""
        try:
            for key, get in read_entries:
                out[key] = get(data)
        except PathMissing:
            path, field = fields[key]
            raise _not_found(path, field, data) from None
        for key, make in entries:
            out[key] = make(data, ctx)
        return out

    members = tuple((key, top_level_key(path)) for key, path, _ in reads)
    if entries or not all(member is not None for _, member in members):
        return build_object
    # Every field copies one member of the input object (``"id.$": "$.device_id"``), the
    # reshaping most stream workflows do: plain dictionary reads, and the general
    # builder only to report a member that is missing.
    copies: tuple[tuple[str, str], ...] = members  # type: ignore[assignment]

    def copy_members(data: JSON, ctx: Any) -> JSON:
        if type(data) is dict:
            out = constants.copy()
            try:
                for key, member in copies:
                    out[key] = data[member]
            except KeyError:
                pass
            else:
                return out
        return build_object(data, ctx)

    return copy_members


def member_copy_bound(template: JSON) -> tuple[int, int] | None:
    """``(fixed, copies)`` for a template of constants and top-level member copies.

    Such a template (mostly the one ``copy_members`` builds) makes an object whose JSON
    takes at most ``fixed`` bytes of keys, constants and punctuation plus ``copies``
    values that are each the input or one of its members, so no larger than the input.
    None for any other template.
    """
    if not isinstance(template, dict):
        return None
    skeleton: dict[str, JSON] = {}
    copies = 0
    for key, value in template.items():
        if key.endswith(".$"):
            if not isinstance(value, str) or value.startswith("$$") or is_variable_reference(value):
                return None
            if value != "$" and not top_level_key(value):
                return None
            skeleton[key[:-2]] = None
            copies += 1
        elif isinstance(_compile(value), _Const):
            skeleton[key] = value
        else:
            return None  # a nested template: its reads are not bounded here
    if not copies:
        return None
    return len(orjson.dumps(skeleton)), copies


def _not_found(path: str, field: str, source: JSON) -> FieldFailure:
    return FieldFailure(
        f"The JSONPath '{path}' specified for the field '{field}' "
        f"could not be found in the input '{orjson.dumps(source).decode()}'"
    )


def _compile_expression(field: str, expression: JSON) -> Builder:
    """A ``key.$`` value: an intrinsic call or a reference path (validated beforehand)."""
    if not isinstance(expression, str):
        raise TypeError(f"the value of {field!r} must be a string")
    if looks_like_intrinsic(expression):
        return compile_intrinsic(expression, variables=compile_variable_reference)
    read = compile_reference(expression)
    if is_variable_reference(expression):

        def evaluate_variable(data: JSON, ctx: Any) -> JSON:
            try:
                return read(data, ctx)
            except PathMissing as missing:
                raise FieldFailure(
                    f"The JSONPath '{expression}' specified for the field '{field}' could not be found: "
                    f"{missing.jayway}"
                ) from None

        return evaluate_variable

    def evaluate(data: JSON, ctx: Any) -> JSON:
        try:
            return read(data, ctx)
        except PathMissing:
            source = ctx.context_object() if expression.startswith("$$") else data
            raise _not_found(expression, field, source) from None

    return evaluate
