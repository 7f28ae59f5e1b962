"""Which fields each state type accepts, and the checks that depend on a field alone.

The tables are the union over both query languages; ``JSONPATH_ONLY`` and
``JSONATA_ONLY`` then say which of those a state may use only under one language.
``check_fields`` reports unknown fields (suggesting the closest valid name) and fields
of the other query language (saying what replaces them). ``check_field_values`` checks
the type and range of every field whose rules do not depend on its neighbours; rules
that relate fields to each other live with the state types in ``validate_states``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from express.asl.validate_common import (
    MAX_SECONDS,
    Report,
    check_jsonata_value,
    check_template,
    child,
    describe,
    expression_problem,
    is_integer,
    is_jsonata,
    is_number,
    path_problem,
    suggestion,
)

__all__ = [
    "JSONATA_ONLY",
    "JSONPATH_ONLY",
    "STATE_FIELDS",
    "check_fields",
    "check_field_values",
    "check_jsonata_fields",
    "language_message",
]


def _fields(names: str) -> frozenset[str]:
    return frozenset(names.split())


_COMMON = _fields("Type Comment QueryLanguage")
_FLOW = _fields("Next End")

STATE_FIELDS: dict[str, frozenset[str]] = {
    "Pass": _COMMON | _FLOW | _fields("InputPath OutputPath ResultPath Parameters Result Output Assign"),
    "Task": _COMMON
    | _FLOW
    | _fields(
        "Resource Parameters Arguments ResultSelector ResultPath InputPath OutputPath Output Retry Catch "
        "TimeoutSeconds TimeoutSecondsPath HeartbeatSeconds HeartbeatSecondsPath Credentials Assign"
    ),
    "Choice": _COMMON | _fields("Choices Default InputPath OutputPath Output Assign"),
    "Wait": _COMMON
    | _FLOW
    | _fields("Seconds SecondsPath Timestamp TimestampPath InputPath OutputPath Output Assign"),
    "Succeed": _COMMON | _fields("InputPath OutputPath Output"),
    "Fail": _COMMON | _fields("Error ErrorPath Cause CausePath"),
    "Parallel": _COMMON
    | _FLOW
    | _fields(
        "Branches InputPath OutputPath ResultPath Parameters ResultSelector Arguments Output Retry Catch "
        "Assign"
    ),
    "Map": _COMMON
    | _FLOW
    | _fields(
        "ItemProcessor Iterator ItemsPath Items ItemSelector Parameters MaxConcurrency MaxConcurrencyPath "
        "ResultPath ResultSelector InputPath OutputPath Output Retry Catch Assign ToleratedFailureCount "
        "ToleratedFailureCountPath ToleratedFailurePercentage ToleratedFailurePercentagePath ItemReader "
        "ItemBatcher ResultWriter Label"
    ),
}

# JSONPath-only fields, with what a JSONata state uses instead.
JSONPATH_ONLY: dict[str, str] = {
    "InputPath": "read '$states.input' in 'Arguments' or 'Output' instead",
    "Parameters": "use 'Arguments' instead ('ItemSelector' in a Map)",
    "ResultSelector": "use 'Output' instead",
    "ResultPath": "use 'Output' instead",
    "OutputPath": "use 'Output' instead",
    "Result": "use 'Output' instead",
    "ItemsPath": "use 'Items' instead",
    "TimeoutSecondsPath": "give 'TimeoutSeconds' a JSONata expression instead",
    "HeartbeatSecondsPath": "give 'HeartbeatSeconds' a JSONata expression instead",
    "SecondsPath": "give 'Seconds' a JSONata expression instead",
    "TimestampPath": "give 'Timestamp' a JSONata expression instead",
    "MaxConcurrencyPath": "give 'MaxConcurrency' a JSONata expression instead",
    "ToleratedFailureCountPath": "give 'ToleratedFailureCount' a JSONata expression instead",
    "ToleratedFailurePercentagePath": "give 'ToleratedFailurePercentage' a JSONata expression instead",
    "ErrorPath": "give 'Error' a JSONata expression instead",
    "CausePath": "give 'Cause' a JSONata expression instead",
}
JSONATA_ONLY = frozenset({"Arguments", "Output", "Items"})


def language_message(field: str, jsonata: bool, hint: str | None = None) -> str:
    """AWS's wording for a field used under the wrong query language, with what to do."""
    if jsonata:
        return (
            f"The QueryLanguage is set to 'JSONata', but field '{field}' is only supported for the "
            f"'JSONPath' QueryLanguage; {hint or JSONPATH_ONLY.get(field, 'remove it')}"
        )
    return (
        f"The QueryLanguage is set to 'JSONPath', but field '{field}' is only supported for the "
        f"'JSONata' QueryLanguage"
    )


def check_fields(
    report: Report, state: dict[str, Any], pointer: str, allowed: frozenset[str], jsonata: bool
) -> None:
    """Unknown fields, and fields that belong to the other query language."""
    for field in state:
        if field not in allowed:
            report.error(pointer, f"Field '{field}' is not supported{suggestion(field, allowed)}")
        elif jsonata and field in JSONPATH_ONLY:
            # AWS points at the field itself here, but at the state for the reverse case.
            report.error(child(pointer, field), language_message(field, True))
        elif not jsonata and field in JSONATA_ONLY:
            report.error(pointer, language_message(field, False))


# ----------------------------------------------------------------------------- values
Check = Callable[[Report, Any, str, str, bool], None]


def _string(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    if not isinstance(value, str):
        report.error(at, f"Field '{field}' must be a string; got {describe(value)}")


def _boolean(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    if not isinstance(value, bool):
        report.error(at, f"Field '{field}' must be true or false; got {describe(value)}")


def _filter_path(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    """InputPath and OutputPath: any path, or null for an empty object."""
    if value is not None:
        problem = path_problem(value)
        if problem is not None:
            report.error(at, f"Field '{field}' must be a valid JSONPath or null: {problem}")


def _result_path(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    if value is not None:
        problem = path_problem(value, context=False, variables=False, definite=True)
        if problem is not None:
            report.error(
                at, f"Field '{field}' must be a reference path into the state input, or null: {problem}"
            )


def _reference_path(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    """Every ``...Path`` field that reads one value: SecondsPath, ItemsPath, ..."""
    problem = path_problem(value, definite=True)
    if problem is not None:
        report.error(at, f"Field '{field}' must be a reference path: {problem}")


def _path_or_intrinsic(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    """ErrorPath and CausePath: a reference path or an intrinsic function call."""
    problem = expression_problem(value, definite=True)
    if problem is not None:
        report.error(at, f"Field '{field}' must be a reference path or an intrinsic function call: {problem}")


def _template(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    """Parameters, ResultSelector, ItemSelector (JSONPath) or a JSONata-valued object."""
    if jsonata:
        if not (isinstance(value, dict) or is_jsonata(value)):
            report.error(
                at, f"Field '{field}' must be an object or a JSONata expression; got {describe(value)}"
            )
        check_jsonata_value(report, value, at)
    elif not isinstance(value, dict):
        report.error(at, f"Field '{field}' must be an object; got {describe(value)}")
    else:
        check_template(report, value, at)


def _arguments(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    if not (isinstance(value, dict) or is_jsonata(value)):
        report.error(at, f"Field '{field}' must be an object or a JSONata expression; got {describe(value)}")
    check_jsonata_value(report, value, at)


def _assign(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    if not isinstance(value, dict):
        report.error(
            at, f"Field '{field}' must be an object of variable names to values; got {describe(value)}"
        )
        return
    for key in value:
        name = key[:-2] if key.endswith(".$") and not jsonata else key
        if not name or len(name) > 80 or name.startswith("$"):
            report.error(
                child(at, key),
                f"Invalid variable name '{name}': give 1 to 80 characters, without a leading '$'",
            )
    if jsonata:
        check_jsonata_value(report, value, at)
    else:
        check_template(report, value, at)


def _any_jsonata(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    """Output (and Result): any JSON; under JSONata its strings may be expressions."""
    if jsonata:
        check_jsonata_value(report, value, at)


def _counted(minimum: int, maximum: int, what: str) -> Check:
    """An integer field in [minimum, maximum], or under JSONata an expression."""

    def check(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
        if jsonata and isinstance(value, str):
            check_jsonata_value(report, value, at)
            if is_jsonata(value):
                return
        if not is_integer(value) or not minimum <= value <= maximum:
            expr = " or a JSONata expression" if jsonata else ""
            report.error(at, f"Field '{field}' must be {what}{expr}; got {describe(value)}")

    return check


def _percentage(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    if jsonata and is_jsonata(value):
        return
    if not is_number(value) or not 0 <= value <= 100:
        report.error(at, f"Field '{field}' must be a number from 0 to 100; got {describe(value)}")


def _items(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    if not (isinstance(value, list) or is_jsonata(value)):
        report.error(at, f"Field '{field}' must be an array or a JSONata expression; got {describe(value)}")
    check_jsonata_value(report, value, at)


def _text(report: Report, value: Any, at: str, field: str, jsonata: bool) -> None:
    """Fail's Error and Cause: a string, which under JSONata may be an expression."""
    _string(report, value, at, field, jsonata)
    if jsonata and isinstance(value, str):
        check_jsonata_value(report, value, at)


_POSITIVE = _counted(1, MAX_SECONDS, f"an integer from 1 to {MAX_SECONDS}")

FIELD_CHECKS: dict[str, Check] = {
    "Comment": _string,
    "End": _boolean,
    "InputPath": _filter_path,
    "OutputPath": _filter_path,
    "ResultPath": _result_path,
    "Parameters": _template,
    "ResultSelector": _template,
    "ItemSelector": _template,
    "Arguments": _arguments,
    "Assign": _assign,
    "Output": _any_jsonata,
    "TimeoutSeconds": _POSITIVE,
    "HeartbeatSeconds": _POSITIVE,
    "Seconds": _counted(0, MAX_SECONDS, f"an integer from 0 to {MAX_SECONDS}"),
    "MaxConcurrency": _counted(0, 2**63 - 1, "a non-negative integer"),
    "ToleratedFailureCount": _counted(0, 2**63 - 1, "a non-negative integer"),
    "ToleratedFailurePercentage": _percentage,
    "Items": _items,
    "Error": _text,
    "Cause": _text,
    "ErrorPath": _path_or_intrinsic,
    "CausePath": _path_or_intrinsic,
    **dict.fromkeys(
        _fields(
            "TimeoutSecondsPath HeartbeatSecondsPath SecondsPath TimestampPath ItemsPath MaxConcurrencyPath "
            "ToleratedFailureCountPath ToleratedFailurePercentagePath"
        ),
        _reference_path,
    ),
}


def check_field_values(
    report: Report, state: dict[str, Any], pointer: str, allowed: frozenset[str], jsonata: bool
) -> None:
    """Type and range of each known field; unknown ones were reported by ``check_fields``."""
    for field, value in state.items():
        check = FIELD_CHECKS.get(field)
        if check is None or field not in allowed:
            continue
        if (field in JSONPATH_ONLY) if jsonata else (field in JSONATA_ONLY):
            continue  # already reported as belonging to the other query language
        check(report, value, child(pointer, field), field, jsonata)


def check_jsonata_fields(report: Report, obj: dict[str, Any], pointer: str, fields: tuple[str, ...]) -> None:
    """The ``{% %}`` form of the strings in ``fields`` (used for nested objects such as catchers)."""
    for field in fields:
        if field in obj:
            check_jsonata_value(report, obj[field], child(pointer, field))
