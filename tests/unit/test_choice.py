"""Choice rules compiled into predicates: AWS-recorded cases, then each operator family."""

from __future__ import annotations

import datetime
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from express.asl.choice import ChoicePredicate, compile_choice_rule
from express.asl.paths import PathMissing, compile_getter
from express.errors import DefinitionError, FieldFailure
from express.runtime.context import ExecutionContext

POINTER = "/States/Check/Choices/0"
CASES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cases" / "choice_operators"


def compile_rule(rule: Mapping[str, Any]) -> ChoicePredicate:
    return compile_choice_rule(rule, POINTER)


def holds(rule: Mapping[str, Any], data: Any, ctx: ExecutionContext | None = None) -> bool:
    return compile_rule(rule)(data, ctx or ExecutionContext(input=data))


def problems(rule: Any) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as caught:
        compile_choice_rule(rule, POINTER)
    assert caught.value.diagnostics, "a DefinitionError must say what is wrong"
    return [(d.location, d.message) for d in caught.value.diagnostics]


def missing_detail(path: str) -> str:
    return f"Invalid path '{path}': The choice state's condition path references an invalid value."


# ----------------------------------------------------------------------------- AWS-recorded cases
def same_json(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value, but a boolean never equals a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def recorded_cases() -> list[Any]:
    if not CASES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no recorded cases at {CASES}"))]
    return [pytest.param(path, id=path.stem) for path in sorted(CASES.glob("*.json"))]


def branch_outcome(states: Mapping[str, Any], target: str | None, data: Any) -> tuple[str, Any]:
    """What AWS reports when the Choice goes to ``target``: its states here are all terminal."""
    if target is None:
        return "FAILED", "States.NoChoiceMatched"
    state = states[target]
    extra = set(state) - {"Type", "Result", "End", "Comment", "Error", "Cause"}
    assert not extra, f"branch state {target!r} uses {sorted(extra)}, which this walk does not model"
    if state["Type"] == "Pass":
        assert state.get("End") is True, f"branch state {target!r} is not terminal"
        return "SUCCEEDED", state.get("Result", data)
    if state["Type"] == "Succeed":
        return "SUCCEEDED", data
    assert state["Type"] == "Fail", f"branch state {target!r} has type {state['Type']!r}"
    return "FAILED", state.get("Error")


@pytest.mark.parametrize("path", recorded_cases())
def test_recorded_branch(path: Path) -> None:
    case = orjson.loads(path.read_bytes())
    definition, data, expected = case["definition"], case["input"], case["expected"]
    states, start = definition["States"], definition["StartAt"]
    choice = states[start]
    assert choice["Type"] == "Choice"
    ctx = ExecutionContext(input=data)

    selected = choice.get("Default")
    for i, rule in enumerate(choice["Choices"]):
        if compile_choice_rule(rule, f"/States/{start}/Choices/{i}")(data, ctx):
            selected = rule["Next"]
            break

    targets = {rule["Next"] for rule in choice["Choices"]} | {choice.get("Default")}
    consistent = set()
    for target in targets:
        status, result = branch_outcome(states, target, data)
        if status != expected["status"]:
            continue
        if status == "SUCCEEDED" and same_json(result, expected["output"]):
            consistent.add(target)
        if status == "FAILED" and result == expected.get("error"):
            consistent.add(target)
    assert consistent, "no branch of this Choice produces the recorded result"
    if definition.get("Comment") == "BASE_TEMPLATE":
        # The template's two branches emit different results, so the recording names one.
        assert len(consistent) == 1
    assert selected in consistent, f"selected {selected!r}; AWS took one of {sorted(map(str, consistent))}"


def test_aws_docs_scenario_goes_to_value_in_twenties() -> None:
    # The recorded output cannot tell the pass-through branches apart; AWS's guide names this one.
    rules: list[tuple[dict[str, Any], str]] = [
        ({"Not": {"Variable": "$.type", "StringEquals": "Private"}}, "Public"),
        ({"Variable": "$.value", "NumericEquals": 0}, "ValueIsZero"),
        (
            {
                "And": [
                    {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                    {"Variable": "$.value", "NumericLessThan": 30},
                ]
            },
            "ValueInTwenties",
        ),
    ]
    data = {"type": "Private", "value": 22}
    taken = [name for rule, name in rules if holds(rule, data)]
    assert taken[0] == "ValueInTwenties"
    assert [name for rule, name in rules if holds(rule, {"type": "Public", "value": 0})] == [
        "Public",
        "ValueIsZero",
    ]


# ----------------------------------------------------------------------------- numeric
@pytest.mark.parametrize(
    ("operator", "value", "operand", "expected"),
    [
        ("NumericEquals", 1, 1.0, True),
        ("NumericEquals", 0.0, 0, True),
        ("NumericEquals", 1.1, 1, False),
        ("NumericEquals", -0.0, 0, True),
        ("NumericLessThan", 29.999, 30, True),
        ("NumericLessThan", 30, 30.0, False),
        ("NumericGreaterThan", 31, 30.5, True),
        ("NumericGreaterThan", 30, 30, False),
        ("NumericLessThanEquals", 30.0, 30, True),
        ("NumericLessThanEquals", 30.5, 30, False),
        ("NumericGreaterThanEquals", 30, 30.0, True),
        ("NumericGreaterThanEquals", -1, 0, False),
        ("NumericEquals", 2**53 + 1, 2**53 + 1, True),
        ("NumericGreaterThan", 2**63 - 1, 9.2e18, True),
    ],
)
def test_numeric_literal(operator: str, value: Any, operand: Any, expected: bool) -> None:
    assert holds({"Variable": "$.v", operator: operand}, {"v": value}) is expected
    # The *Path form reads the operand from the input and agrees with the literal form.
    assert holds({"Variable": "$.v", operator + "Path": "$.w"}, {"v": value, "w": operand}) is expected


@pytest.mark.parametrize("value", [True, False, "1", "", None, [], {}, [1], {"a": 1}])
def test_numeric_operators_are_false_on_non_numbers(value: Any) -> None:
    for operator in ("NumericEquals", "NumericLessThanEquals", "NumericGreaterThanEquals"):
        assert holds({"Variable": "$.v", operator: 1}, {"v": value}) is False
        assert holds({"Variable": "$.v", operator + "Path": "$.w"}, {"v": value, "w": 1}) is False
        assert holds({"Variable": "$.v", operator + "Path": "$.w"}, {"v": 1, "w": value}) is False


def test_booleans_are_not_numbers() -> None:
    assert holds({"Variable": "$.v", "NumericEquals": 1}, {"v": True}) is False
    assert holds({"Variable": "$.v", "NumericEquals": 0}, {"v": False}) is False
    assert holds({"Variable": "$.v", "IsNumeric": True}, {"v": True}) is False


# ----------------------------------------------------------------------------- strings
@pytest.mark.parametrize(
    ("operator", "value", "operand", "expected"),
    [
        ("StringEquals", "Hello", "Hello", True),
        ("StringEquals", "Hello", "hello", False),
        ("StringEquals", "", "", True),
        ("StringLessThan", "A", "AB", True),
        ("StringLessThan", "B", "AB", False),
        ("StringGreaterThan", "a", "B", True),  # no case folding
        ("StringGreaterThan", "A", "A ", False),
        ("StringLessThanEquals", "AB", "AB", True),
        ("StringGreaterThanEquals", "A", "AB", False),
        ("StringGreaterThanEquals", "é", "e", True),
    ],
)
def test_string_literal(operator: str, value: str, operand: str, expected: bool) -> None:
    assert holds({"Variable": "$.v", operator: operand}, {"v": value}) is expected
    assert holds({"Variable": "$.v", operator + "Path": "$.w"}, {"v": value, "w": operand}) is expected


def test_strings_compare_by_utf16_code_unit_as_java_does() -> None:
    # U+1F600 is the pair D83D DE00 in UTF-16, which sorts before U+FF01: code point order says otherwise.
    emoji, fullwidth = "\U0001f600", "\uff01"
    assert holds({"Variable": "$.v", "StringLessThan": fullwidth}, {"v": emoji}) is True
    assert holds({"Variable": "$.v", "StringGreaterThan": emoji}, {"v": fullwidth}) is True
    assert holds({"Variable": "$.v", "StringLessThanPath": "$.w"}, {"v": emoji, "w": fullwidth}) is True
    assert holds({"Variable": "$.v", "StringGreaterThanEquals": emoji}, {"v": "z"}) is False


@pytest.mark.parametrize("value", [None, 0, 1.5, True, [], ["a"], {}, {"a": "a"}])
def test_string_operators_are_false_on_non_strings(value: Any) -> None:
    for operator in ("StringEquals", "StringLessThan", "StringGreaterThanEquals"):
        assert holds({"Variable": "$.v", operator: "a"}, {"v": value}) is False
        assert holds({"Variable": "$.v", operator + "Path": "$.w"}, {"v": value, "w": "a"}) is False
    assert holds({"Variable": "$.v", "StringMatches": "*"}, {"v": value}) is False


# ----------------------------------------------------------------------------- StringMatches
@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("foo*.log", "foo23.log", True),
        ("*.log", "zebra.log", True),
        ("foo*.*", "foobar.zebra", True),
        ("foo*.log", "foo23.txt", False),
        ("*", "", True),
        ("**", "anything", True),
        ("a*b*c", "abc", True),
        ("a*b*c", "acb", False),
        ("a*a", "a", False),  # the two literal ends may not overlap
        ("a*a", "aa", True),
        ("", "", True),
        ("", "x", False),
        ("exact", "exact", True),
        ("exact", "exactly", False),
        ("*end", "line\nend", True),  # a star crosses line breaks
        ("a.c", "abc", False),  # '.' is literal
        ("a?c", "abc", False),  # '?' is literal
        ("[ab]", "[ab]", True),
        ("(x)+", "(x)+", True),
        ("^$", "^$", True),
    ],
)
def test_string_matches(pattern: str, value: str, expected: bool) -> None:
    assert holds({"Variable": "$.v", "StringMatches": pattern}, {"v": value}) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("\\*", "*", True),  # JSON "\\*": a literal star
        ("\\*", "x", False),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axxb", False),
        ("\\\\", "\\", True),  # JSON "\\\\": one literal backslash
        ("\\\\*", "\\anything", True),  # literal backslash, then a wildcard
        ("\\\\\\*", "\\*", True),  # literal backslash, then a literal star
        ("\\\\\\*", "\\x", False),
        ("*\\**", "has * inside", True),
        ("*\\**", "has none", False),
    ],
)
def test_string_matches_escapes(pattern: str, value: str, expected: bool) -> None:
    assert holds({"Variable": "$.v", "StringMatches": pattern}, {"v": value}) is expected


@pytest.mark.parametrize("pattern", ["abc\\", "a\\b", "\\d*"])
def test_string_matches_open_escape_is_a_definition_error(pattern: str) -> None:
    [(location, message)] = problems({"Variable": "$.v", "StringMatches": pattern})
    assert location == f"{POINTER}/StringMatches"
    assert "open escape" in message


@pytest.mark.timeout(20)
def test_string_matches_stays_linear_on_adversarial_patterns() -> None:
    # Nested '.*' would backtrack through ~n**20 splits here before failing.
    rule = {"Variable": "$.v", "StringMatches": "*a" * 20 + "*b"}
    assert holds(rule, {"v": "a" * 5000}) is False
    assert holds(rule, {"v": "a" * 5000 + "b"}) is True


# ----------------------------------------------------------------------------- booleans
@pytest.mark.parametrize(
    ("value", "operand", "expected"),
    [(True, True, True), (False, False, True), (True, False, False), (1, True, False), (0, False, False)],
)
def test_boolean_equals(value: Any, operand: bool, expected: bool) -> None:
    assert holds({"Variable": "$.v", "BooleanEquals": operand}, {"v": value}) is expected
    assert holds({"Variable": "$.v", "BooleanEqualsPath": "$.w"}, {"v": value, "w": operand}) is expected
    assert holds({"Variable": "$.v", "BooleanEqualsPath": "$.w"}, {"v": operand, "w": value}) is expected


# ----------------------------------------------------------------------------- timestamps
@pytest.mark.parametrize(
    ("operator", "value", "operand", "expected"),
    [
        ("TimestampEquals", "2016-03-14T01:59:00Z", "2016-03-14T01:59:00Z", True),
        ("TimestampEquals", "2016-03-14T02:59:00+01:00", "2016-03-14T01:59:00Z", True),
        ("TimestampEquals", "2016-03-13T20:29:00-05:30", "2016-03-14T01:59:00Z", True),
        ("TimestampEquals", "2016-03-14T01:59:00.000Z", "2016-03-14T01:59:00Z", True),
        ("TimestampEquals", "2016-03-14T01:59:00.5Z", "2016-03-14T01:59:00.500000000Z", True),
        ("TimestampEquals", "2016-03-14T01:59:00.243167252Z", "2016-03-14T01:59:00.243167253Z", False),
        ("TimestampLessThan", "2016-03-14T01:59:00.243167252Z", "2016-03-14T01:59:00.243167253Z", True),
        ("TimestampLessThan", "2016-03-14T01:59:00Z", "2016-03-14T01:59:00Z", False),
        ("TimestampGreaterThan", "2016-03-14T01:59:01Z", "2016-03-14T01:59:00.999999999Z", True),
        ("TimestampGreaterThan", "2016-03-14T01:59:00+00:01", "2016-03-14T01:59:00Z", False),
        ("TimestampLessThanEquals", "2016-03-14T01:59:00Z", "2016-03-14T01:59:00-00:00", True),
        ("TimestampLessThanEquals", "2016-03-15T00:00:00Z", "2016-03-14T23:59:59Z", False),
        ("TimestampGreaterThanEquals", "2000-02-29T00:00:00Z", "2000-02-28T23:59:59Z", True),
        ("TimestampGreaterThanEquals", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", False),
    ],
)
def test_timestamp_comparisons(operator: str, value: str, operand: str, expected: bool) -> None:
    assert holds({"Variable": "$.v", operator: operand}, {"v": value}) is expected
    assert holds({"Variable": "$.v", operator + "Path": "$.w"}, {"v": value, "w": operand}) is expected


NOT_TIMESTAMPS = [
    "2012-10-09T19:00:55",  # no offset
    "2023-02-24",  # no time
    "2016-12-05 21:29:29Z",  # no T
    "2016-12-05t21:29:29Z",  # lower-case t
    "2016-12-05T21:29:29z",  # lower-case z
    "2016-12-05T25:29:29Z",  # hour 25
    "2016-12-05T21:60:29Z",
    "2016-12-05T21:29:60Z",  # no leap seconds
    "2015-02-29T00:00:00Z",  # not a leap year
    "1900-02-29T00:00:00Z",  # centuries are not leap years...
    "2016-13-01T00:00:00Z",
    "2016-00-01T00:00:00Z",
    "2016-04-31T00:00:00Z",
    "05-12-2016T21:29:29Z",
    "2016-03-14T01:59:00.Z",  # a dot needs digits
    "2016-03-14T01:59:00.1234567890Z",  # more than nanoseconds
    "2016-03-14T01:59:00+0100",  # RFC 3339 offsets have a colon
    "2016-03-14T01:59:00+19:00",  # beyond +-18:00
    "2016-03-14T01:59:00+01:60",
    "2016-03-14T01:59:00Z\n",
    " 2016-03-14T01:59:00Z",
    "\uff12\uff10\uff11\uff16-03-14T01:59:00Z",  # full-width digits
    "",
]


@pytest.mark.parametrize("text", NOT_TIMESTAMPS)
def test_non_timestamps_compare_false(text: str) -> None:
    for operator in ("TimestampEquals", "TimestampLessThan", "TimestampGreaterThanEquals"):
        assert holds({"Variable": "$.v", operator: "2016-03-14T01:59:00Z"}, {"v": text}) is False
        assert (
            holds({"Variable": "$.v", operator + "Path": "$.w"}, {"v": "2016-03-14T01:59:00Z", "w": text})
            is False
        )
    assert holds({"Variable": "$.v", "IsTimestamp": True}, {"v": text}) is False
    assert holds({"Variable": "$.v", "IsTimestamp": False}, {"v": text}) is True


@pytest.mark.parametrize(
    "text",
    [
        "2016-03-14T01:59:00Z",
        "2016-03-14T01:59:00.243167252Z",
        "2016-03-14T01:59:00.1+05:45",
        "2016-03-14T01:59:00-18:00",
        "2000-02-29T00:00:00Z",  # ...but every 400th is
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
    ],
)
def test_is_timestamp(text: str) -> None:
    assert holds({"Variable": "$.v", "IsTimestamp": True}, {"v": text}) is True
    assert holds({"Variable": "$.v", "IsTimestamp": False}, {"v": text}) is False
    assert holds({"Variable": "$.v", "TimestampEquals": text}, {"v": text}) is True


@pytest.mark.parametrize("value", [None, 0, 1.5, True, [], {}, ["2016-03-14T01:59:00Z"]])
def test_timestamp_operators_are_false_on_non_strings(value: Any) -> None:
    assert holds({"Variable": "$.v", "TimestampEquals": "2016-03-14T01:59:00Z"}, {"v": value}) is False
    assert holds({"Variable": "$.v", "IsTimestamp": True}, {"v": value}) is False
    assert holds({"Variable": "$.v", "IsTimestamp": False}, {"v": value}) is True


OFFSETS = st.integers(min_value=-18 * 60, max_value=18 * 60).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
)


@given(st.datetimes(timezones=OFFSETS), st.datetimes(timezones=OFFSETS), st.booleans())
@settings(max_examples=300, deadline=None, database=None)
def test_timestamp_order_agrees_with_datetime(a: datetime.datetime, b: datetime.datetime, zulu: bool) -> None:
    left, right = a.isoformat(timespec="microseconds"), b.isoformat(timespec="microseconds")
    if zulu and left.endswith("+00:00"):
        left = left[: -len("+00:00")] + "Z"
    data = {"a": left, "b": right}
    assert holds({"Variable": "$.a", "TimestampLessThanPath": "$.b"}, data) is (a < b)
    assert holds({"Variable": "$.a", "TimestampEqualsPath": "$.b"}, data) is (a == b)


# ----------------------------------------------------------------------------- type tests
VALUES: dict[str, Any] = {
    "null": None,
    "zero": 0,
    "float": 1.5,
    "true": True,
    "string": "s",
    "timestamp": "2016-03-14T01:59:00Z",
    "array": [],
    "object": {},
}


@pytest.mark.parametrize(
    ("operator", "accepts"),
    [
        ("IsNull", {"null"}),
        ("IsNumeric", {"zero", "float"}),
        ("IsString", {"string", "timestamp"}),
        ("IsBoolean", {"true"}),
        ("IsTimestamp", {"timestamp"}),
        ("IsPresent", set(VALUES)),
    ],
)
def test_type_tests(operator: str, accepts: set[str]) -> None:
    for name, value in VALUES.items():
        assert holds({"Variable": "$.v", operator: True}, {"v": value}) is (name in accepts), name
        assert holds({"Variable": "$.v", operator: False}, {"v": value}) is (name not in accepts), name


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, False),
        ({"a": {}}, False),
        ({"a": 1}, False),
        ({"a": {"b": None}}, True),
        ([], False),
        (None, False),
    ],
)
def test_is_present(data: Any, expected: bool) -> None:
    assert holds({"Variable": "$.a.b", "IsPresent": True}, data) is expected
    assert holds({"Variable": "$.a.b", "IsPresent": False}, data) is not expected


def test_is_present_on_array_index() -> None:
    assert holds({"Variable": "$.a[1]", "IsPresent": True}, {"a": [0, 1]}) is True
    assert holds({"Variable": "$.a[2]", "IsPresent": True}, {"a": [0, 1]}) is False


# ----------------------------------------------------------------------------- missing values
@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.x", "NumericEquals": 1},
        {"Variable": "$.x", "StringEquals": "a"},
        {"Variable": "$.x", "BooleanEquals": True},
        {"Variable": "$.x", "TimestampEquals": "2016-03-14T01:59:00Z"},
        {"Variable": "$.x", "StringMatches": "*"},
        {"Variable": "$.x", "IsNull": False},
        {"Variable": "$.x", "IsString": False},
        {"Variable": "$.x", "IsTimestamp": False},
        {"Variable": "$.x", "NumericEqualsPath": "$.y"},
        {"Not": {"Variable": "$.x", "IsNumeric": True}},
    ],
)
def test_missing_variable_is_a_runtime_error(rule: Mapping[str, Any]) -> None:
    with pytest.raises(FieldFailure) as caught:
        holds(rule, {"y": 1})
    assert caught.value.error == "States.Runtime"
    assert caught.value.detail == missing_detail("$.x")


def test_missing_nested_variable_quotes_the_path_as_written() -> None:
    with pytest.raises(FieldFailure) as caught:
        holds({"Variable": "$.a['b c'][0]", "NumericEquals": 1}, {"a": {}})
    assert caught.value.detail == missing_detail("$.a['b c'][0]")


def test_missing_path_operand_is_a_runtime_error() -> None:
    with pytest.raises(FieldFailure) as caught:
        holds({"Variable": "$.x", "StringEqualsPath": "$.y"}, {"x": "a"})
    assert caught.value.detail == missing_detail("$.y")


def test_missing_context_path_is_a_runtime_error() -> None:
    with pytest.raises(FieldFailure) as caught:
        holds({"Variable": "$$.Execution.Input.nope", "IsNull": True}, {})
    assert (caught.value.error, caught.value.detail) == (
        "States.Runtime",
        missing_detail("$$.Execution.Input.nope"),
    )


# ----------------------------------------------------------------------------- And / Or / Not
def test_and_or_not() -> None:
    low = {"Variable": "$.v", "NumericLessThan": 10}
    high = {"Variable": "$.v", "NumericGreaterThan": 20}
    even = {"Variable": "$.even", "BooleanEquals": True}
    outside = {"Or": [low, high]}
    assert holds(outside, {"v": 5}) and holds(outside, {"v": 25}) and not holds(outside, {"v": 15})
    inside = {"Not": outside}
    assert holds(inside, {"v": 15}) and not holds(inside, {"v": 5})
    three = {"And": [inside, even, {"Variable": "$.v", "IsNumeric": True}]}
    assert holds(three, {"v": 15, "even": True}) and not holds(three, {"v": 15, "even": False})
    any_of_three = {"Or": [low, high, even]}
    assert holds(any_of_three, {"v": 15, "even": True}) and not holds(any_of_three, {"v": 15, "even": False})
    assert holds({"And": [low]}, {"v": 1}) and not holds({"Or": [high]}, {"v": 1})
    assert holds({"Not": {"Not": low}}, {"v": 1})


def test_and_or_stop_at_the_deciding_member() -> None:
    absent = {"Variable": "$.absent", "NumericEquals": 1}
    false = {"Variable": "$.v", "NumericEquals": 2}
    true = {"Variable": "$.v", "NumericEquals": 1}
    data = {"v": 1}
    assert holds({"And": [false, absent]}, data) is False
    assert holds({"And": [true, false, absent]}, data) is False
    assert holds({"Or": [true, absent]}, data) is True
    assert holds({"Or": [false, true, absent]}, data) is True
    with pytest.raises(FieldFailure):
        holds({"And": [true, absent]}, data)
    with pytest.raises(FieldFailure):
        holds({"Or": [false, false, absent]}, data)


# ----------------------------------------------------------------------------- references
def test_variable_from_context_object() -> None:
    ctx = ExecutionContext(input={"input-value": -1}, execution_name="run-7")
    assert holds({"Variable": "$$.Execution.Input.input-value", "NumericLessThanEquals": 0}, {}, ctx)
    assert holds({"Variable": "$$.Execution.Name", "StringMatches": "run-*"}, {}, ctx)
    assert holds({"Variable": "$$.Execution.Name", "IsPresent": True}, {}, ctx)
    assert not holds({"Variable": "$$.Map.Item.Index", "IsPresent": True}, {}, ctx)
    assert holds({"Variable": "$$.Execution.Name", "StringEqualsPath": "$.name"}, {"name": "run-7"}, ctx)
    assert not holds({"Variable": "$.name", "StringEqualsPath": "$$.Execution.Name"}, {"name": "run-8"}, ctx)


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"Variable": "$$.Execution.Nope", "StringEqualsPath": "$.name"}, "$$.Execution.Nope"),
        ({"Variable": "$$.Execution.Name", "StringEqualsPath": "$.nope"}, "$.nope"),
        ({"Variable": "$.nope", "StringEqualsPath": "$$.Execution.Name"}, "$.nope"),
    ],
)
def test_missing_paths_beside_the_context_object(rule: Mapping[str, Any], path: str) -> None:
    with pytest.raises(FieldFailure) as caught:
        holds(rule, {"name": "x"})
    assert caught.value.detail == missing_detail(path)


def test_root_and_bracket_paths() -> None:
    assert holds({"Variable": "$", "NumericEquals": 3}, 3)
    assert holds({"Variable": "$['odd key'][1]", "StringEquals": "b"}, {"odd key": ["a", "b"]})
    assert holds({"Variable": "$[0]", "IsNull": True}, [None])


def resolve_from(scope: dict[str, Any]) -> Callable[[str], Callable[[Any, Any], Any]]:
    """A variable resolver over a fixed scope, shaped like the engine's."""

    def resolve(text: str) -> Callable[[Any, Any], Any]:
        name = text[1:].split(".", 1)[0].split("[", 1)[0]
        if not name.isidentifier():
            raise ValueError(f"bad variable name {name!r}")
        rest = compile_getter("$" + text[1 + len(name) :])

        def read(data: Any, ctx: Any) -> Any:
            if name not in scope:
                raise PathMissing(text, f"No results for path: {text}")
            return rest(scope[name])

        return read

    return resolve


def test_variables_through_a_resolver() -> None:
    resolve = resolve_from({"guess": "blue", "answer": "blue", "limits": {"max": 3}})
    ctx = ExecutionContext(input={})

    def check(rule: Mapping[str, Any], data: Any) -> bool:
        return compile_choice_rule(rule, POINTER, variables=resolve)(data, ctx)

    assert check({"Variable": "$guess", "StringEqualsPath": "$answer"}, {})
    assert check({"Variable": "$.n", "NumericLessThanPath": "$limits.max"}, {"n": 2})
    assert not check({"Variable": "$limits.max", "NumericLessThan": 3}, {})
    assert check({"Variable": "$limits.min", "IsPresent": False}, {})
    with pytest.raises(FieldFailure) as caught:
        check({"Variable": "$nothing", "IsNull": True}, {})
    assert caught.value.detail == missing_detail("$nothing")


def test_variables_without_a_resolver_or_malformed_are_definition_errors() -> None:
    assert problems({"Variable": "$guess", "StringEquals": "blue"}) == [
        (f"{POINTER}/Variable", "workflow variables such as '$guess' cannot be used here")
    ]
    with pytest.raises(DefinitionError) as caught:
        compile_choice_rule({"Variable": "$a-b", "IsNull": True}, POINTER, variables=resolve_from({}))
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.location == f"{POINTER}/Variable"
    assert "bad variable name" in diagnostic.message


# ----------------------------------------------------------------------------- compile once
def test_simple_rule_on_a_member_is_one_closure_with_no_python_call() -> None:
    rule = {"Variable": "$.temp", "NumericGreaterThan": 30, "Next": "Hot"}
    predicate = compile_rule(rule)
    cells = [c.cell_contents for c in predicate.__closure__ or ()]
    assert 30 in cells
    assert "temp" in cells
    assert not any(isinstance(c, Mapping) for c in cells), "the predicate must not keep the rule"
    # ``$.temp`` is read with one dictionary lookup; the comparison is a builtin.
    assert not any(isinstance(c, types.FunctionType) for c in cells)
    rule["NumericGreaterThan"] = 1000
    rule["Variable"] = "$.other"
    assert predicate({"temp": 31}, ExecutionContext(input={})) is True


def test_simple_rule_on_a_deeper_path_is_one_closure_over_a_getter_and_the_literal() -> None:
    predicate = compile_rule({"Variable": "$.reading.temp", "NumericGreaterThan": 30, "Next": "Hot"})
    cells = [c.cell_contents for c in predicate.__closure__ or ()]
    assert 30 in cells
    [getter] = [c for c in cells if isinstance(c, types.FunctionType)]
    assert getter({"reading": {"temp": 1}}) == 1
    assert predicate({"reading": {"temp": 31}}, ExecutionContext(input={})) is True


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.temp", "NumericGreaterThan": 30},
        {"Variable": "$.temp", "IsNumeric": True},
        {"Variable": "$.temp", "StringMatches": "a*"},
        {"Variable": "$.temp", "TimestampEquals": "2026-01-01T00:00:00Z"},
    ],
)
@pytest.mark.parametrize("document", [{"other": 1}, [1, 2], "text", 7, None])
def test_a_member_rule_fails_alike_on_a_missing_member_or_a_non_object(
    rule: dict[str, Any], document: Any
) -> None:
    predicate = compile_rule({**rule, "Next": "X"})
    with pytest.raises(FieldFailure) as caught:
        predicate(document, ExecutionContext(input={}))
    assert "Invalid path '$.temp': The choice state's condition path references an invalid value." in str(
        caught.value
    )


def test_no_path_is_parsed_after_compilation(monkeypatch: pytest.MonkeyPatch) -> None:
    import express.asl.choice as choice
    import express.asl.paths as paths

    predicate = compile_rule(
        {
            "And": [
                {"Variable": "$.a.b[0]", "StringMatches": "x*"},
                {"Variable": "$.c", "NumericEqualsPath": "$.d"},
            ]
        }
    )

    def refuse(*args: object) -> None:
        raise AssertionError("a path was parsed while evaluating")

    for module in (paths, choice):
        for name in ("parse_path", "compile_getter", "compile_reference"):
            monkeypatch.setattr(module, name, refuse)
    assert predicate({"a": {"b": ["xy"]}, "c": 1, "d": 1.0}, ExecutionContext(input={})) is True


OPERANDS: dict[str, Any] = {
    "BooleanEquals": True,
    "IsBoolean": True,
    "IsNull": False,
    "IsNumeric": True,
    "IsPresent": True,
    "IsString": False,
    "IsTimestamp": True,
    "NumericEquals": 1,
    "NumericGreaterThanEquals": -1.5,
    "StringLessThan": "m",
    "StringEquals": "",
    "StringMatches": "*a*",
    "TimestampGreaterThan": "2016-03-14T01:59:00Z",
}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=8,
    )
)
@settings(max_examples=300, deadline=None, database=None)
def test_any_value_gives_a_bool_or_a_field_failure(value: Any) -> None:
    data = {"v": value, "w": value}
    for operator in sorted(OPERANDS):
        predicate = compile_rule({"Variable": "$.v", operator: OPERANDS[operator]})
        assert type(predicate(data, ExecutionContext(input=data))) is bool
    for path_operator in (
        "NumericLessThanPath",
        "StringGreaterThanPath",
        "TimestampEqualsPath",
        "BooleanEqualsPath",
    ):
        predicate = compile_rule({"Variable": "$.v", path_operator: "$.w"})
        assert type(predicate(data, ExecutionContext(input=data))) is bool
    nested = compile_rule({"Variable": "$.v.x", "NumericEquals": 1})
    try:
        outcome = nested(data, ExecutionContext(input=data))
    except FieldFailure as failure:
        assert failure.detail == missing_detail("$.v.x")
    else:
        assert type(outcome) is bool


# ----------------------------------------------------------------------------- definition errors
def test_problems_carry_pointers_and_are_all_reported() -> None:
    rule = {
        "And": [
            {"Variable": "$.a", "NumericEquals": "1"},
            {"Variable": "a", "StringEquals": "x"},
            {"Not": {"Variable": "$.b", "TimestampEquals": "2016-03-14"}},
        ],
        "Next": "X",
    }
    found = problems(rule)
    locations = [location for location, _ in found]
    assert locations == [
        f"{POINTER}/And/0/NumericEquals",
        f"{POINTER}/And/1/Variable",
        f"{POINTER}/And/2/Not/TimestampEquals",
    ]
    assert 'needs a number, not "1"' in found[0][1]
    assert "String does not match RFC3339 timestamp" in found[2][1]


@pytest.mark.parametrize(
    ("rule", "location", "fragment"),
    [
        ("not a rule", POINTER, "must be an object"),
        ({}, POINTER, "needs 'And', 'Or', 'Not'"),
        ({"Variable": "$.a", "Next": "X"}, POINTER, "needs a comparison operator"),
        ({"NumericEquals": 1}, f"{POINTER}/Variable", "needs a 'Variable'"),
        ({"Variable": "$.a", "NumericEquals": 1, "StringEquals": "a"}, POINTER, "exactly one operator"),
        ({"Variable": "$.a", "NumericEqual": 1}, f"{POINTER}/NumericEqual", "did you mean 'NumericEquals'"),
        ({"Variable": "$.a", "StringMatchesPath": "$.b"}, f"{POINTER}/StringMatchesPath", "unknown field"),
        ({"Condition": "{% true %}"}, f"{POINTER}/Condition", "JSONata"),
        ({"And": []}, f"{POINTER}/And", "non-empty array"),
        ({"Or": {"Variable": "$.a", "IsNull": True}}, f"{POINTER}/Or", "non-empty array"),
        ({"Not": [{"Variable": "$.a", "IsNull": True}]}, f"{POINTER}/Not", "must be an object"),
        (
            {"Not": {"Variable": "$.a", "IsNull": True}, "Variable": "$.a"},
            f"{POINTER}/Variable",
            "does not apply",
        ),
        ({"Variable": "$.a", "IsNull": "true"}, f"{POINTER}/IsNull", "needs true or false"),
        ({"Variable": "$.a", "IsPresent": 1}, f"{POINTER}/IsPresent", "needs true or false"),
        ({"Variable": "$.a", "BooleanEquals": 1}, f"{POINTER}/BooleanEquals", "needs true or false"),
        ({"Variable": "$.a", "NumericEquals": True}, f"{POINTER}/NumericEquals", "needs a number"),
        ({"Variable": "$.a", "StringEquals": 1}, f"{POINTER}/StringEquals", "needs a string"),
        ({"Variable": "$.a", "StringEquals": {1, 2}}, f"{POINTER}/StringEquals", "not {1, 2}"),
        ({"Variable": "$.a", "StringMatches": None}, f"{POINTER}/StringMatches", "string pattern"),
        (
            {"Variable": "$.a", "TimestampLessThan": "2016-03-14T01:59:00"},
            f"{POINTER}/TimestampLessThan",
            "RFC3339",
        ),
        ({"Variable": "$.a", "NumericEqualsPath": 3}, f"{POINTER}/NumericEqualsPath", "reference path"),
        ({"Variable": "$.a[*]", "IsNull": True}, f"{POINTER}/Variable", "selects one value"),
        ({"Variable": "$..a", "IsNull": True}, f"{POINTER}/Variable", "selects one value"),
        (
            {"Variable": "$.a", "StringEqualsPath": "$.b[?(@.c)]"},
            f"{POINTER}/StringEqualsPath",
            "selects one",
        ),
        ({"Variable": "$$.a[0:2]", "IsNull": True}, f"{POINTER}/Variable", "selects one value"),
        ({"Variable": "$.a b", "IsNull": True}, f"{POINTER}/Variable", "white space"),
        ({"Variable": 7, "IsNull": True}, f"{POINTER}/Variable", "reference path"),
    ],
)
def test_definition_errors(rule: Any, location: str, fragment: str) -> None:
    found = problems(rule)
    assert any(loc == location and fragment in message for loc, message in found), found


def test_syntax_errors_point_a_caret_at_the_bad_token() -> None:
    [(_, message)] = problems({"Variable": "$$.a..", "IsNull": True})
    lines = message.splitlines()
    assert lines[-2].strip() == "$$.a.."
    assert lines[-1].index("^") - lines[-2].index("$") == 6


def test_inert_fields_are_accepted() -> None:
    rule = {"Variable": "$.a", "IsNull": True, "Next": "X", "Comment": "why", "Assign": {"x": 1}}
    assert holds(rule, {"a": None})


def test_unknown_field_is_reported_even_beside_a_valid_operator() -> None:
    assert problems({"Variable": "$.a", "IsNull": True, "Nxt": "X"}) == [
        (f"{POINTER}/Nxt", "unknown field 'Nxt'; did you mean 'Next'?")
    ]
