"""Choice rules: one comparison (or And/Or/Not) per rule, typed operands, Next on top rules.

JSONPath rules name a ``Variable`` and exactly one operator; the operand's type follows
from the operator's name (``NumericEquals`` a number, ``TimestampEquals`` an RFC 3339
string, ``...Path`` a reference path, ``Is...`` a boolean). JSONata rules hold one
``Condition``. Only top-level rules carry ``Next`` (and ``Assign``/``Output``); rules
nested in ``And``/``Or``/``Not`` do not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from express.asl.timestamps import parse_timestamp
from express.asl.validate_common import (
    Report,
    check_jsonata_value,
    check_template,
    child,
    describe,
    is_number,
    path_problem,
    required_message,
    suggestion,
)
from express.asl.validate_fields import language_message

__all__ = ["OPERATORS", "check_choices"]

_KINDS = {
    "String": ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"),
    "Numeric": ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"),
    "Boolean": ("Equals",),
    "Timestamp": ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"),
}


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _is_timestamp(value: Any) -> bool:
    return parse_timestamp(value) is not None


def _is_path(value: Any) -> bool:
    return path_problem(value, definite=True) is None


# operator -> (test of its operand, what the operand must be)
OPERATORS: dict[str, tuple[Callable[[Any], bool], str]] = {}
for _kind, _suffixes in _KINDS.items():
    for _suffix in _suffixes:
        OPERATORS[_kind + _suffix + "Path"] = (_is_path, "a reference path")
    _literal = {
        "String": (_is_string, "a string"),
        "Numeric": (is_number, "a number"),
        "Boolean": (_is_boolean, "true or false"),
        "Timestamp": (_is_timestamp, "an RFC 3339 timestamp such as '2016-03-14T01:59:00Z'"),
    }[_kind]
    for _suffix in _suffixes:
        OPERATORS[_kind + _suffix] = _literal
OPERATORS["StringMatches"] = (_is_string, "a string pattern (use * as a wildcard)")
for _test in ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"):
    OPERATORS[_test] = (_is_boolean, "true or false")

_COMBINATORS = ("And", "Or", "Not")
_JSONPATH_RULE = frozenset({"Variable", "Comment", *OPERATORS, *_COMBINATORS})
_TOP_ONLY = frozenset({"Next", "Assign", "Output"})
_JSONATA_RULE = frozenset({"Condition", "Comment"})


def check_choices(report: Report, state: dict[str, Any], pointer: str, jsonata: bool) -> None:
    """The Choices array of a Choice state (Default's target is checked with the graph)."""
    choices = state.get("Choices")
    at = child(pointer, "Choices")
    if not isinstance(choices, list) or not choices:
        report.error(at, f"Field 'Choices' must be a non-empty array of rules; got {describe(choices)}")
        return
    for index, rule in enumerate(choices):
        _check_rule(report, rule, child(at, index), jsonata, top=True)
    if "Default" in state and not isinstance(state["Default"], str):
        report.error(
            child(pointer, "Default"),
            f"Field 'Default' must be a state name; got {describe(state['Default'])}",
        )


def _check_rule(report: Report, rule: Any, at: str, jsonata: bool, *, top: bool) -> None:
    if not isinstance(rule, dict):
        report.error(at, f"A Choice rule must be an object; got {describe(rule)}")
        return
    allowed = (_JSONATA_RULE if jsonata else _JSONPATH_RULE) | (_TOP_ONLY if top else frozenset())
    for field in rule:
        if field in allowed:
            continue
        if not top and field in _TOP_ONLY:
            report.error(at, f"Field '{field}' is not supported: only top-level Choice rules have '{field}'")
        elif jsonata and field in _JSONPATH_RULE:
            report.error(child(at, field), language_message(field, True, "use 'Condition' instead"))
        elif not jsonata and field in {"Condition", "Output"}:
            report.error(at, language_message(field, False))
        else:
            report.error(at, f"Field '{field}' is not supported{suggestion(field, allowed)}")
    if "Comment" in rule and not isinstance(rule["Comment"], str):
        report.error(child(at, "Comment"), "Field 'Comment' must be a string")
    if top:
        _check_top_fields(report, rule, at, jsonata)
    if jsonata:
        _check_condition(report, rule, at)
    else:
        _check_comparison(report, rule, at)


def _check_top_fields(report: Report, rule: dict[str, Any], at: str, jsonata: bool) -> None:
    if "Next" not in rule:
        report.error(at, required_message(["Next"]))
    elif not isinstance(rule["Next"], str):
        report.error(child(at, "Next"), f"Field 'Next' must be a state name; got {describe(rule['Next'])}")
    assign = rule.get("Assign")
    if "Assign" in rule:
        if not isinstance(assign, dict):
            report.error(child(at, "Assign"), f"Field 'Assign' must be an object; got {describe(assign)}")
        elif jsonata:
            check_jsonata_value(report, assign, child(at, "Assign"))
        else:
            check_template(report, assign, child(at, "Assign"))
    if jsonata and "Output" in rule:
        check_jsonata_value(report, rule["Output"], child(at, "Output"))


def _check_condition(report: Report, rule: dict[str, Any], at: str) -> None:
    if "Condition" not in rule:
        report.error(at, required_message(["Condition"]))
        return
    condition = rule["Condition"]
    if isinstance(condition, bool):
        return
    if isinstance(condition, str):
        check_jsonata_value(report, condition, child(at, "Condition"))
        if condition.startswith("{%"):
            return
    report.error(
        child(at, "Condition"),
        "Field 'Condition' must be a JSONata expression in '{% %}' or a boolean; "
        f"got {describe(condition)}",
    )


def _check_comparison(report: Report, rule: dict[str, Any], at: str) -> None:
    operators = [field for field in rule if field in OPERATORS or field in _COMBINATORS]
    if not operators:
        report.error(
            at,
            "A Choice rule needs one comparison operator (such as 'StringEquals' or 'IsPresent') "
            "or one of 'And', 'Or', 'Not'",
        )
        return
    if len(operators) > 1:
        report.error(at, f"A Choice rule takes exactly one operator; this one has {', '.join(operators)}")
        return
    (operator,) = operators
    operand = rule[operator]
    if operator in _COMBINATORS:
        if "Variable" in rule:
            report.error(child(at, "Variable"), f"Field 'Variable' is not supported in an '{operator}' rule")
        _check_combinator(report, operator, operand, child(at, operator))
        return
    if "Variable" not in rule:
        report.error(at, required_message(["Variable"]))
    else:
        problem = path_problem(rule["Variable"])
        if problem is not None:
            report.error(child(at, "Variable"), f"Field 'Variable' must be a valid JSONPath: {problem}")
    accepts, expected = OPERATORS[operator]
    if not accepts(operand):
        if operator.startswith("Timestamp") and not operator.endswith("Path") and isinstance(operand, str):
            report.error(child(at, operator), "String does not match RFC3339 timestamp")
        elif operator.endswith("Path") and isinstance(operand, str):
            problem = path_problem(operand, definite=True)
            report.error(child(at, operator), f"Field '{operator}' must be a reference path: {problem}")
        else:
            report.error(
                child(at, operator), f"Field '{operator}' must be {expected}; got {describe(operand)}"
            )


def _check_combinator(report: Report, operator: str, operand: Any, at: str) -> None:
    if operator == "Not":
        _check_rule(report, operand, at, False, top=False)
        return
    if not isinstance(operand, list) or not operand:
        report.error(at, f"Field '{operator}' must be a non-empty array of rules; got {describe(operand)}")
        return
    for index, rule in enumerate(operand):
        _check_rule(report, rule, child(at, index), False, top=False)
