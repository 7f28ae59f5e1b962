"""Building blocks of the validator: the diagnostic collector and value checks.

Every check here *reports* into a ``Report`` and returns; none raises for bad input, so
one pass over a definition finds every problem. Locations are JSON Pointers (RFC 6901)
into the definition; messages say what is wrong and, where possible, how to fix it.

JSONPath text is parsed with ``express.asl.paths.parse_path`` (the engine's own parser,
so the validator accepts exactly what the compiler can compile); intrinsic calls with
``express.asl.intrinsics`` when that module is present.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, TypeGuard

from express.asl.paths import PathSyntaxError, is_definite, parse_path
from express.errors import Diagnostic

__all__ = [
    "MAX_SECONDS",
    "SCHEMA",
    "Report",
    "check_jsonata_value",
    "check_template",
    "child",
    "describe",
    "expression_problem",
    "is_integer",
    "is_jsonata",
    "is_number",
    "jsonata_problem",
    "path_problem",
    "required_message",
    "suggestion",
]

SCHEMA = "SCHEMA_VALIDATION_FAILED"
MAX_SECONDS = 99_999_999  # AWS's ceiling for every seconds and attempts field


class Report:
    """Collects diagnostics; ``error`` and ``warning`` never raise."""

    __slots__ = ("diagnostics",)

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def error(self, location: str, message: str, code: str = SCHEMA) -> None:
        self.diagnostics.append(Diagnostic(code, message, location or "/"))

    def warning(self, location: str, message: str, code: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, location or "/", "WARNING"))


def child(pointer: str, *tokens: str | int) -> str:
    """``pointer`` extended by ``tokens``, escaped as RFC 6901 requires (``~`` and ``/``)."""
    for token in tokens:
        text = str(token)
        pointer = f"{pointer}/{text.replace('~', '~0').replace('/', '~1')}"
    return pointer


def describe(value: Any) -> str:
    """A value's JSON type, with the value itself when it is short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "an array" if value else "an empty array"
    if isinstance(value, dict):
        return "an object" if value else "an empty object"
    return type(value).__name__


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: Any) -> TypeGuard[int | float]:
    """An integral JSON number (``5`` or ``5.0``); booleans are not numbers."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def required_message(fields: Iterable[str]) -> str:
    """AWS's wording for missing fields: ``These fields are required: [States, StartAt]``."""
    return f"These fields are required: [{', '.join(fields)}]"


def suggestion(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'Next'?"`` for the closest candidate, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    if not close:
        close = [c for c in sorted(candidates) if c.lower() == name.lower()]
    return f"; did you mean '{close[0]}'?" if close else ""


# ----------------------------------------------------------------------------- paths
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def path_problem(
    text: Any, *, context: bool = True, variables: bool = True, definite: bool = False
) -> str | None:
    """Why ``text`` is not a usable path, or None when it is.

    ``$...`` reads the state input, ``$$...`` the context object and ``$name...`` a
    variable; ``definite`` demands a reference path (one node: names and indexes only).
    """
    if not isinstance(text, str):
        return f"expected a JSONPath string, got {describe(text)}"
    body, offset = text, 0
    if text.startswith("$$"):
        if not context:
            return "the context object ('$$') cannot be used here"
        body, offset = text[1:], 1
    else:
        variable = _VARIABLE.match(text)
        if variable is not None:
            if not variables:
                return f"a variable ('${variable.group(1)}') cannot be used here"
            body, offset = "$" + text[variable.end() :], variable.end() - 1
    try:
        segments = parse_path(body)
    except PathSyntaxError as exc:
        return f"{exc.reason} at column {exc.column + offset}"
    if definite and not is_definite(segments):
        return (
            "it must select a single node: use names and indexes only "
            "(no '*', '..', slices, unions or filters)"
        )
    return None


@functools.cache
def _intrinsics() -> ModuleType | None:
    """The intrinsic-function module, or None while it is not part of the package."""
    try:
        from express.asl import intrinsics
    except ModuleNotFoundError as exc:
        if exc.name != "express.asl.intrinsics":
            raise  # the module is there but broken: say so, do not skip its checks
        return None
    return intrinsics


def _check_variable(reference: str) -> Callable[[Any, Any], Any]:
    """A variable argument of an intrinsic call: checked, never evaluated here."""
    problem = path_problem(reference)
    if problem is not None:
        raise ValueError(problem)
    return _unused


def _unused(data: Any, ctx: Any) -> Any:
    raise AssertionError("the validator never runs what it compiles")


def expression_problem(text: Any, *, definite: bool = False) -> str | None:
    """Why the value of a ``key.$`` field is neither a path nor an intrinsic call, or None."""
    if not isinstance(text, str):
        return f"expected a string, got {describe(text)}"
    intrinsics = _intrinsics()
    if intrinsics is None:
        if text.startswith("States."):
            return None  # no parser to check it with
    elif intrinsics.looks_like_intrinsic(text):
        try:
            intrinsics.compile_intrinsic(text, variables=_check_variable)
        except (intrinsics.IntrinsicSyntaxError, ValueError) as exc:
            column = getattr(exc, "column", None)
            reason = str(getattr(exc, "reason", None) or exc).splitlines()[0]
            where = f" at column {column}" if isinstance(column, int) else ""
            return f"invalid intrinsic function call: {reason}{where}"
        return None
    return path_problem(text, definite=definite)


def check_template(report: Report, value: Any, pointer: str) -> None:
    """A JSONPath payload template: each ``key.$`` holds a path or an intrinsic call."""
    if isinstance(value, dict):
        for key, item in value.items():
            at = child(pointer, key)
            if key.endswith(".$"):
                problem = expression_problem(item)
                if problem is not None:
                    report.error(
                        at,
                        f"The value for the field '{key}' must be a valid JSONPath or a valid "
                        f"intrinsic function call: {problem}",
                    )
            elif _looks_dynamic(item):
                report.warning(
                    at,
                    f"The value of '{key}' looks like a JSONPath or an intrinsic function but is "
                    f"passed as a literal string; name the field '{key}.$' to evaluate it",
                    "NO_DOLLAR",
                )
            else:
                check_template(report, item, at)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_template(report, item, child(pointer, index))


def _looks_dynamic(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value in ("$", "$$") or value.startswith(("$.", "$$.", "$[")):
        return True
    return value.startswith("States.") and value.endswith(")") and "(" in value


# ----------------------------------------------------------------------------- JSONata
def is_jsonata(value: Any) -> bool:
    """A ``{% ... %}`` string: a JSONata expression, evaluated when the state runs."""
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


def jsonata_problem(text: str) -> str | None:
    """Why a string of a JSONata state is a malformed ``{% %}`` expression, or None."""
    if is_jsonata(text):
        if not text[2:-2].strip():
            return "the JSONata expression between '{%' and '%}' is empty"
        return None
    # A string that does not start with '{%' is a literal, even ' {% x %}' (AWS agrees);
    # one that does start with it is an expression, and must end with '%}' exactly.
    if text.startswith("{%"):
        return "a JSONata expression must end with '%}', with nothing (not even white space) after it"
    return None


def check_jsonata_value(report: Report, value: Any, pointer: str) -> None:
    """Every string in ``value`` is either plain text or a well-formed ``{% %}`` expression."""
    if isinstance(value, str):
        problem = jsonata_problem(value)
        if problem is not None:
            report.error(pointer, f"Malformed JSONata expression {describe(value)}: {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_jsonata_value(report, item, child(pointer, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_jsonata_value(report, item, child(pointer, index))
