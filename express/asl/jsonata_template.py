"""Field values of JSONata states, compiled into builders ``(StatesVar) -> value``.

Two kinds of field:

* templates (Arguments, Output, Assign, ItemSelector, an Items array, a Choice rule's or
  a Catch's Output): any JSON value whose strings may be ``{% ... %}`` expressions at any
  depth. The value is walked once; each expression is compiled and named by its path
  (``Output/a/b[0]``, as AWS names it in causes); a value without expressions compiles
  to a builder that returns it as is, and an object copies a prebuilt dict of its
  constant members and fills in only the evaluated ones;
* typed fields (Seconds, TimeoutSeconds, HeartbeatSeconds, MaxConcurrency,
  ToleratedFailure*, Condition, Error, Cause, Items): a literal, or one expression whose
  result must have the field's type, checked when the state runs.

Every problem in a value is reported together in one ``DefinitionError``.

Invariant: builders never mutate the definition's values nor their inputs; an expression
result that is undefined fails the field (``States.QueryEvaluationError``) rather than
dropping it, as on AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from express.asl.jsonata import (
    QueryFailure,
    StatesVar,
    compile_expression,
    expression_body,
    is_expression,
    render,
    unexpected_type,
)
from express.errors import DefinitionError, Diagnostic
from express.types import JSON

__all__ = [
    "Builder",
    "compile_boolean",
    "compile_integer",
    "compile_number",
    "compile_string",
    "compile_value",
    "has_expression",
]

Builder = Callable[[StatesVar], Any]


def has_expression(value: JSON) -> bool:
    """Whether a value holds a ``{% %}`` expression at any depth."""
    if type(value) is str:
        return is_expression(value)
    if type(value) is dict:
        return any(has_expression(v) for v in value.values())
    if type(value) is list:
        return any(has_expression(v) for v in value)
    return False


def compile_value(value: JSON, field: str, pointer: str, *, error_output: bool = False) -> Builder:
    """A builder for a template field; ``field`` and ``pointer`` name the value itself."""
    problems: list[Diagnostic] = []
    built = _compile(value, field, pointer, error_output, problems)
    if problems:
        raise DefinitionError(problems)
    if isinstance(built, _Const):
        constant = built.value

        def constant_value(sv: StatesVar) -> JSON:
            return constant

        return constant_value
    return built


class _Const:
    __slots__ = ("value",)

    def __init__(self, value: JSON) -> None:
        self.value = value


def _compile(
    value: JSON, field: str, pointer: str, error_output: bool, problems: list[Diagnostic]
) -> _Const | Builder:
    if type(value) is str:
        if not is_expression(value):
            return _Const(value)
        try:
            return compile_expression(value, field, pointer, error_output=error_output)
        except DefinitionError as error:
            problems.extend(error.diagnostics)
            return _Const(None)
    if type(value) is dict:
        return _compile_object(value, field, pointer, error_output, problems)
    if type(value) is list:
        parts = [
            _compile(item, f"{field}[{i}]", f"{pointer}/{i}", error_output, problems)
            for i, item in enumerate(value)
        ]
        if all(isinstance(p, _Const) for p in parts):
            return _Const(value)
        makers = [_as_builder(p) for p in parts]

        def build_list(sv: StatesVar) -> JSON:
            return [make(sv) for make in makers]

        return build_list
    return _Const(value)


def _compile_object(
    value: dict[str, JSON], field: str, pointer: str, error_output: bool, problems: list[Diagnostic]
) -> _Const | Builder:
    constants: dict[str, JSON] = {}
    dynamic: list[tuple[str, Builder]] = []
    for key, item in value.items():
        escaped = key.replace("~", "~0").replace("/", "~1")
        part = _compile(item, f"{field}/{key}", f"{pointer}/{escaped}", error_output, problems)
        if isinstance(part, _Const):
            constants[key] = part.value
        else:
            dynamic.append((key, part))
    if not dynamic:
        return _Const(value)
    entries = tuple(dynamic)
    if len(constants) == 0 and len(entries) == 1:
        ((only_key, only),) = entries

        def build_one(sv: StatesVar) -> JSON:
            return {only_key: only(sv)}

        return build_one

    def build_object(sv: StatesVar) -> JSON:
        out = constants.copy()
        for key, make in entries:
            out[key] = make(sv)
        return out

    return build_object


def _as_builder(part: _Const | Builder) -> Builder:
    if isinstance(part, _Const):
        value = part.value
        return lambda sv: value
    return part


# ----------------------------------------------------------------------------- typed fields
Check = Callable[[JSON], str | None]  # why a result is unacceptable, or None


def _typed(value: JSON, field: str, pointer: str, expected: str, check: Check) -> Builder:
    """A literal (already validated) or one expression whose result ``check`` accepts."""
    if not is_expression(value):
        return lambda sv: value
    evaluate = compile_expression(value, field, pointer)
    body = expression_body(value)

    def typed(sv: StatesVar) -> JSON:
        result = evaluate(sv)
        problem = check(result)
        if problem is None:
            return result
        if problem == "type":
            raise unexpected_type(body, field, expected, result)
        raise QueryFailure(
            f"The JSONata expression '{body}' specified for the field '{field}' returned {render(result)}, "
            f"but the field must be {problem}.",
            field,
        )

    return typed


def compile_integer(
    value: JSON, field: str, pointer: str, *, minimum: int, maximum: int | None = None
) -> Callable[[StatesVar], int]:
    """Seconds, TimeoutSeconds, MaxConcurrency, ...: a whole number within bounds."""
    if maximum is not None:
        bound = f"an integer from {minimum} to {maximum}"
    else:
        bound = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"

    def check(result: JSON) -> str | None:
        if isinstance(result, bool) or not isinstance(result, (int, float)) or result != int(result):
            return "type"
        if result < minimum or (maximum is not None and result > maximum):
            return bound
        return None

    typed = _typed(value, field, pointer, "integer", check)
    return lambda sv: int(typed(sv))


def compile_number(value: JSON, field: str, pointer: str, *, minimum: float, maximum: float) -> Builder:
    """ToleratedFailurePercentage: a number within bounds."""

    def check(result: JSON) -> str | None:
        if isinstance(result, bool) or not isinstance(result, (int, float)):
            return "type"
        if not minimum <= result <= maximum:
            return f"a number from {minimum:g} to {maximum:g}"
        return None

    return _typed(value, field, pointer, "number", check)


def compile_string(value: JSON, field: str, pointer: str) -> Builder:
    """Error, Cause, Timestamp: a string."""
    return _typed(value, field, pointer, "string", lambda r: None if type(r) is str else "type")


def compile_boolean(value: JSON, field: str, pointer: str) -> Callable[[StatesVar], bool]:
    """A Choice rule's Condition: true or false."""
    return _typed(value, field, pointer, "boolean", lambda r: None if type(r) is bool else "type")
