"""validate_definition: every problem at once, each with a JSON Pointer, a code and a message.

Ground truth first: the AWS-recorded validation cases (same verdict, and AWS's own
diagnostic where it was recorded) and the definitions of every execution case, which AWS
accepted and so must not draw an ERROR. Then one focused test per class of problem.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from express.asl import validate_common
from express.asl.validate import validate_definition
from express.asl.validate_fields import STATE_FIELDS
from express.errors import Diagnostic

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cases"


def _cases(kind: str) -> list[Any]:
    if not CASES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason="no conformance cases next to the project"))]
    params = []
    for file in sorted(CASES.glob("*/*.json")):
        case = orjson.loads(file.read_bytes())
        if (case["kind"] == "validation") == (kind == "validation"):
            params.append(pytest.param(case, id=f"{case['group']}/{case['name']}"))
    return params


def errors(definition: Any) -> list[tuple[str, str, str]]:
    """(location, code, message) of each ERROR, in the validator's order."""
    return [(d.location, d.code, d.message) for d in validate_definition(definition) if d.severity == "ERROR"]


def warnings(definition: Any) -> list[tuple[str, str]]:
    return [(d.location, d.code) for d in validate_definition(definition) if d.severity == "WARNING"]


def machine(*named: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A definition whose StartAt is the first state given."""
    return {"StartAt": named[0][0], "States": dict(named), **top}


def single(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    return machine(("S", state), **top)


END = {"Type": "Succeed"}
SCHEMA = "SCHEMA_VALIDATION_FAILED"
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:IdFunction"


# ----------------------------------------------------------------------------- ground truth
_RECORDED_CAUSE = re.compile(r"^Invalid State Machine Definition: '(\w+): (.*) at (/\S*)'$", re.DOTALL)


@pytest.mark.parametrize("case", _cases("validation"))
def test_recorded_validation_case(case: dict[str, Any]) -> None:
    found = validate_definition(case["definition"])
    expected = case["expected"]
    assert any(d.severity == "ERROR" for d in found) != expected["valid"], [str(d) for d in found]
    recorded = [(d["code"], d["location"], d["message"]) for d in expected.get("diagnostics", [])]
    match = _RECORDED_CAUSE.match(expected.get("cause") or "")
    if match:
        recorded.append((match[1], match[3], match[2]))
    ours = {(d.code, d.location, d.message) for d in found}
    for code, location, message in recorded:
        if location.startswith("/"):
            assert (code, location, message) in ours
        else:  # AWS locates JSON syntax errors in its parser's own terms
            assert code in {d.code for d in found}


@pytest.mark.parametrize("case", _cases("execution"))
def test_definitions_aws_ran_draw_no_error(case: dict[str, Any]) -> None:
    assert errors(case["definition"]) == []


# ----------------------------------------------------------------------------- inputs
def test_a_valid_definition_has_no_diagnostics() -> None:
    assert validate_definition(single({"Type": "Pass", "End": True})) == []


def test_json_text_is_parsed_first() -> None:
    assert validate_definition('{"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}') == []
    (diagnostic,) = validate_definition('{"StartAt": }')
    assert (diagnostic.code, diagnostic.location) == ("INVALID_JSON_DESCRIPTION", "line 1, column 13")


def test_a_file_is_read(tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_text('{"States": {}}', encoding="utf-8")
    assert errors(file)[0] == ("/", SCHEMA, "These fields are required: [StartAt]")


def test_an_unreadable_file_is_a_diagnostic_not_an_exception(tmp_path: Path) -> None:
    (diagnostic,) = validate_definition(tmp_path / "absent.json")
    assert diagnostic.code == "MISSING_DESCRIPTION"


@pytest.mark.parametrize(
    ("definition", "code", "message"),
    [
        (None, "MISSING_DESCRIPTION", "The definition is empty"),
        ([], SCHEMA, "The definition must be a JSON object with 'StartAt' and 'States'; got an empty array"),
        (7, SCHEMA, "The definition must be a JSON object with 'StartAt' and 'States'; got the number 7"),
    ],
)
def test_a_definition_that_is_not_an_object(definition: Any, code: str, message: str) -> None:
    assert errors(definition) == [("/", code, message)]


# ----------------------------------------------------------------------------- top level
def test_required_top_level_fields_in_aws_order() -> None:
    assert errors({}) == [("/", SCHEMA, "These fields are required: [States, StartAt]")]


def test_unknown_field_suggests_the_closest_valid_one() -> None:
    definition = single({"Type": "Pass", "Nxt": "T"}, Commnet="x")
    definition["States"]["T"] = END
    assert errors(definition) == [
        ("/", SCHEMA, "Field 'Commnet' is not supported; did you mean 'Comment'?"),
        ("/States/S", SCHEMA, "Field 'Nxt' is not supported; did you mean 'Next'?"),
        ("/States/S", SCHEMA, "A state needs either 'Next' (the state to run after it) or 'End': true"),
        ("/States/T", "MISSING_TRANSITION_TARGET", 'State "T" is not reachable.'),
    ]


def test_an_unknown_field_with_nothing_close_gets_no_suggestion() -> None:
    assert errors(single(END, Zzzzzz=1)) == [("/", SCHEMA, "Field 'Zzzzzz' is not supported")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "TimeoutSeconds",
            0,
            "Field 'TimeoutSeconds' must be an integer from 1 to 99999999; got the number 0",
        ),
        (
            "TimeoutSeconds",
            "5",
            "Field 'TimeoutSeconds' must be an integer from 1 to 99999999; got the string '5'",
        ),
        ("Version", 1.0, "Field 'Version' must be a string such as \"1.0\"; got the number 1.0"),
        ("Comment", ["x"], "Field 'Comment' must be a string"),
        (
            "QueryLanguage",
            "jsonata",
            "Field 'QueryLanguage' must be 'JSONPath' or 'JSONata'; got the string 'jsonata'; did you mean "
            "'JSONata'?",
        ),
    ],
)
def test_top_level_field_types(field: str, value: Any, message: str) -> None:
    assert errors(single(END, **{field: value})) == [(f"/{field}", SCHEMA, message)]


def test_top_level_timeout_and_version_accepted() -> None:
    assert errors(single(END, TimeoutSeconds=300, Version="1.0", Comment="c", QueryLanguage="JSONPath")) == []


def test_start_at_must_name_a_state() -> None:
    definition = machine(("A", END))
    definition["StartAt"] = "a"
    assert errors(definition) == [
        ("/StartAt", "MISSING_TRANSITION_TARGET", "Missing 'Next' target: a; did you mean 'A'?"),
        ("/States/A", "MISSING_TRANSITION_TARGET", 'State "A" is not reachable.'),
    ]


def test_states_must_be_a_non_empty_object() -> None:
    assert errors({"StartAt": "A", "States": {}}) == [
        ("/States", SCHEMA, "Field 'States' must be a non-empty object of states; got an empty object")
    ]


# ----------------------------------------------------------------------------- graph
def test_next_to_an_undefined_state() -> None:
    definition = machine(("A", {"Type": "Pass", "Next": "Bb"}), ("B", END))
    assert errors(definition) == [
        ("/States/A/Next", "MISSING_TRANSITION_TARGET", "Missing 'Next' target: Bb; did you mean 'B'?"),
        ("/States/B", "MISSING_TRANSITION_TARGET", 'State "B" is not reachable.'),
    ]


def test_every_kind_of_transition_is_followed_and_checked() -> None:
    definition = machine(
        (
            "C",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "T"}],
                "Default": "X1",
            },
        ),
        (
            "T",
            {
                "Type": "Task",
                "Resource": LAMBDA,
                "End": True,
                "Catch": [{"ErrorEquals": ["E"], "Next": "X2"}],
            },
        ),
    )
    definition["States"]["T"]["Catch"].append({"ErrorEquals": ["States.ALL"], "Next": "F"})
    definition["States"]["F"] = {"Type": "Fail"}
    assert errors(definition) == [
        ("/States/C/Default", "MISSING_TRANSITION_TARGET", "Missing 'Next' target: X1"),
        ("/States/T/Catch/0/Next", "MISSING_TRANSITION_TARGET", "Missing 'Next' target: X2"),
    ]


def test_no_terminal_state_is_reported_alone() -> None:
    definition = machine(("A", {"Type": "Pass", "Next": "B"}), ("B", {"Type": "Pass", "Next": "A"}))
    definition["States"]["Orphan"] = {"Type": "Pass", "Next": "A"}
    assert errors(definition) == [("/States", "MISSING_END_STATE", "Workflow has no terminal state")]


def test_a_loop_with_only_an_unreachable_end() -> None:
    definition = machine(("A", {"Type": "Pass", "Next": "A"}), ("B", END))
    assert errors(definition) == [
        (
            "/States",
            "MISSING_END_STATE",
            "Workflow has no terminal state reachable from 'StartAt': every path loops forever",
        ),
        ("/States/B", "MISSING_TRANSITION_TARGET", 'State "B" is not reachable.'),
    ]


def test_a_dangling_target_alongside_no_terminal_state() -> None:
    assert errors(single({"Type": "Pass", "Next": "NOPE"})) == [
        ("/States", "MISSING_END_STATE", "Workflow has no terminal state"),
        ("/States/S/Next", "MISSING_TRANSITION_TARGET", "Missing 'Next' target: NOPE"),
    ]


def test_state_names_are_unique_across_branches_and_processors() -> None:
    branch = {"StartAt": "S", "States": {"S": END}}
    definition = machine(
        ("S", {"Type": "Parallel", "Branches": [branch], "Next": "M"}),
        ("M", {"Type": "Map", "ItemProcessor": {"StartAt": "M", "States": {"M": END}}, "End": True}),
    )
    message = (
        "State name '{0}' is already used at /States/{0}; state names must be unique across the whole "
        "state machine, including Parallel branches and Map processors"
    )
    assert errors(definition) == [
        ("/States/M/ItemProcessor/States/M", "DUPLICATE_STATE_NAME", message.format("M")),
        ("/States/S/Branches/0/States/S", "DUPLICATE_STATE_NAME", message.format("S")),
    ]


def test_state_name_length() -> None:
    name = "N" * 81
    assert errors(machine((name, END))) == [
        (
            f"/States/{name}",
            "INVALID_STATE_NAME",
            f"State name '{name}' must be 1 to 80 characters long; it has 81",
        )
    ]
    assert errors(machine(("N" * 80, END))) == []


def test_pointers_escape_slash_and_tilde() -> None:
    assert errors(machine(("a/b~c", {"Type": "Pass", "End": 1}))) == [
        ("/States", "MISSING_END_STATE", "Workflow has no terminal state"),
        ("/States/a~1b~0c", SCHEMA, "A state needs either 'Next' (the state to run after it) or 'End': true"),
        ("/States/a~1b~0c/End", SCHEMA, "Field 'End' must be true or false; got the number 1"),
    ]


def test_next_and_end_together() -> None:
    definition = machine(("A", {"Type": "Pass", "Next": "B", "End": True}), ("B", END))
    assert errors(definition) == [
        ("/States/A", SCHEMA, "A state cannot have both 'Next' and 'End': true; keep only one")
    ]


def test_diagnostics_are_sorted_by_location_with_numeric_indexes() -> None:
    rules = [{"Variable": "$.x", "IsNull": True, "Next": "E"} for _ in range(12)]
    rules[2]["IsNull"] = rules[10]["IsNull"] = "yes"
    definition = machine(("C", {"Type": "Choice", "Choices": rules}), ("E", END), Comment=1)
    assert [location for location, _, _ in errors(definition)] == [
        "/Comment",
        "/States/C/Choices/2/IsNull",
        "/States/C/Choices/10/IsNull",
    ]


# ----------------------------------------------------------------------------- state types
def test_unknown_state_type() -> None:
    assert errors(single({"Type": "Passs", "End": True})) == [
        (
            "/States/S/Type",
            SCHEMA,
            "The string 'Passs' is not a state type; did you mean 'Pass'? "
            "(use one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map)",
        )
    ]
    assert errors(single({"End": True})) == [("/States/S", SCHEMA, "These fields are required: [Type]")]


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"Type": "Pass", "End": True, "TimeoutSeconds": 1}, "TimeoutSeconds"),
        ({"Type": "Succeed", "Next": "S"}, "Next"),
        ({"Type": "Fail", "Assign": {}}, "Assign"),
        ({"Type": "Wait", "Seconds": 1, "End": True, "Retry": []}, "Retry"),
        ({"Type": "Choice", "Choices": [{"Variable": "$", "IsNull": True, "Next": "S"}], "End": True}, "End"),
    ],
)
def test_fields_a_state_type_does_not_have(state: dict[str, Any], field: str) -> None:
    assert ("/States/S", SCHEMA, f"Field '{field}' is not supported") in errors(single(state))


def test_every_state_type_in_its_simplest_valid_form() -> None:
    definition = machine(
        ("P", {"Type": "Pass", "Next": "T"}),
        ("T", {"Type": "Task", "Resource": LAMBDA, "Next": "W"}),
        ("W", {"Type": "Wait", "Seconds": 0, "Next": "C"}),
        (
            "C",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Par"}],
                "Default": "F",
            },
        ),
        ("Par", {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": END}}], "Next": "M"}),
        ("M", {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": END}}, "Next": "Ok"}),
        ("Ok", {"Type": "Succeed"}),
        ("F", {"Type": "Fail", "Error": "E", "Cause": "C"}),
    )
    assert validate_definition(definition) == []


# ----------------------------------------------------------------------------- JSONPath fields
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "InputPath",
            "$.a b",
            "Field 'InputPath' must be a valid JSONPath or null: white space in a path at column 3",
        ),
        (
            "OutputPath",
            "a",
            "Field 'OutputPath' must be a valid JSONPath or null: a path must start with '$' at column 0",
        ),
        (
            "ResultPath",
            "$.a[*]",
            "Field 'ResultPath' must be a reference path into the state input, or null: it must select a "
            "single "
            "node: use names and indexes only (no '*', '..', slices, unions or filters)",
        ),
        (
            "ResultPath",
            "$$.Execution",
            "Field 'ResultPath' must be a reference path into the state input, or null: "
            "the context object ('$$') cannot be used here",
        ),
        (
            "ResultPath",
            "$var",
            "Field 'ResultPath' must be a reference path into the state input, or null: "
            "a variable ('$var') cannot be used here",
        ),
    ],
)
def test_path_fields(field: str, value: str, message: str) -> None:
    assert errors(single({"Type": "Pass", "End": True, field: value})) == [
        (f"/States/S/{field}", SCHEMA, message)
    ]


@pytest.mark.parametrize(
    "value", [None, "$", "$.a[0]['b c']", "$..x", "$$.Execution.Input", "$myVar.items[0]"]
)
def test_input_path_accepts_null_paths_context_and_variables(value: str | None) -> None:
    assert errors(single({"Type": "Pass", "End": True, "InputPath": value, "OutputPath": value})) == []


def test_template_keys_ending_in_dollar_must_hold_a_path_or_an_intrinsic() -> None:
    state = {
        "Type": "Pass",
        "End": True,
        "Parameters": {
            "ok.$": "$.a",
            "ctx.$": "$$.State.Name",
            "var.$": "$x.y",
            "fn.$": "States.Format('{}', $.a)",
            "literal": "$.not-evaluated-but-warned",
            "nested": [{"bad.$": "nope"}],
            "num.$": 5,
        },
    }
    prefix = "The value for the field '{}' must be a valid JSONPath or a valid intrinsic function call: "
    assert errors(single(state)) == [
        (
            "/States/S/Parameters/nested/0/bad.$",
            SCHEMA,
            prefix.format("bad.$") + "a path must start with '$' at column 0",
        ),
        (
            "/States/S/Parameters/num.$",
            SCHEMA,
            prefix.format("num.$") + "expected a string, got the number 5",
        ),
    ]
    assert warnings(single(state)) == [("/States/S/Parameters/literal", "NO_DOLLAR")]


def test_an_intrinsic_syntax_error_names_its_column() -> None:
    state = {"Type": "Pass", "End": True, "Parameters": {"x.$": "States.Format('{}', $.a"}}
    ((location, code, message),) = errors(single(state))
    assert (location, code) == ("/States/S/Parameters/x.$", SCHEMA)
    assert re.search(r"invalid intrinsic function call: .+ at column \d+$", message), message


def test_intrinsic_checks_are_skipped_without_the_intrinsics_module(monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"Type": "Pass", "End": True, "Parameters": {"x.$": "States.Format('{}', $.a"}}
    monkeypatch.setattr(validate_common, "_intrinsics", lambda: None)
    assert errors(single(state)) == []


@pytest.mark.parametrize("field", ["Parameters", "ResultSelector"])
def test_templates_must_be_objects(field: str) -> None:
    state = {"Type": "Task", "Resource": LAMBDA, "End": True, field: "$.a"}
    assert errors(single(state)) == [
        (f"/States/S/{field}", SCHEMA, f"Field '{field}' must be an object; got the string '$.a'")
    ]


def test_pass_result_is_literal_but_warned_about() -> None:
    state = {"Type": "Pass", "End": True, "Result": {"x.$": "$.a"}}
    assert errors(single(state)) == []
    assert warnings(single(state)) == [("/States/S/Result", "PASS_RESULT_IS_STATIC")]


def test_assign_in_jsonpath_checks_paths_and_names() -> None:
    state = {"Type": "Pass", "End": True, "Assign": {"ok.$": "$.a", "bad.$": "a", "$x": 1}}
    assert errors(single(state)) == [
        (
            "/States/S/Assign/$x",
            SCHEMA,
            "Invalid variable name '$x': give 1 to 80 characters, without a leading '$'",
        ),
        (
            "/States/S/Assign/bad.$",
            SCHEMA,
            "The value for the field 'bad.$' must be a valid JSONPath or a valid intrinsic function call: "
            "a path must start with '$' at column 0",
        ),
    ]


# ----------------------------------------------------------------------------- Choice
def choice(*rules: Any, **fields: Any) -> dict[str, Any]:
    return machine(("C", {"Type": "Choice", "Choices": list(rules), **fields}), ("E", END))


def test_choices_must_be_a_non_empty_array() -> None:
    assert errors(choice(Default="E")) == [
        (
            "/States/C/Choices",
            SCHEMA,
            "Field 'Choices' must be a non-empty array of rules; got an empty array",
        )
    ]


def test_top_rules_need_next_and_nested_rules_must_not_have_it() -> None:
    nested = {"Variable": "$.a", "IsPresent": True, "Next": "E"}
    assert errors(choice({"Not": nested}, Default="E")) == [
        ("/States/C/Choices/0", SCHEMA, "These fields are required: [Next]"),
        (
            "/States/C/Choices/0/Not",
            SCHEMA,
            "Field 'Next' is not supported: only top-level Choice rules have 'Next'",
        ),
    ]


def test_a_rule_has_exactly_one_operator_and_a_variable() -> None:
    assert errors(
        choice(
            {"Variable": "$.a", "Next": "E"},
            {"Variable": "$.a", "StringEquals": "x", "IsNull": False, "Next": "E"},
            {"StringEquals": "x", "Next": "E"},
            {"Variable": "$.a", "StringEqualz": "x", "Next": "E"},
        )
    ) == [
        (
            "/States/C/Choices/0",
            SCHEMA,
            "A Choice rule needs one comparison operator (such as 'StringEquals' or 'IsPresent') "
            "or one of 'And', 'Or', 'Not'",
        ),
        (
            "/States/C/Choices/1",
            SCHEMA,
            "A Choice rule takes exactly one operator; this one has StringEquals, IsNull",
        ),
        ("/States/C/Choices/2", SCHEMA, "These fields are required: [Variable]"),
        (
            "/States/C/Choices/3",
            SCHEMA,
            "Field 'StringEqualz' is not supported; did you mean 'StringEquals'?",
        ),
        (
            "/States/C/Choices/3",
            SCHEMA,
            "A Choice rule needs one comparison operator (such as 'StringEquals' or 'IsPresent') "
            "or one of 'And', 'Or', 'Not'",
        ),
    ]


@pytest.mark.parametrize(
    ("operator", "operand", "message"),
    [
        ("NumericEquals", "1", "Field 'NumericEquals' must be a number; got the string '1'"),
        ("NumericLessThan", True, "Field 'NumericLessThan' must be a number; got true"),
        ("StringEquals", 1, "Field 'StringEquals' must be a string; got the number 1"),
        ("BooleanEquals", "true", "Field 'BooleanEquals' must be true or false; got the string 'true'"),
        ("IsPresent", 1, "Field 'IsPresent' must be true or false; got the number 1"),
        (
            "StringMatches",
            None,
            "Field 'StringMatches' must be a string pattern (use * as a wildcard); got null",
        ),
        ("TimestampEquals", "2016-03-14 01:59:00Z", "String does not match RFC3339 timestamp"),
        (
            "NumericEqualsPath",
            "$.a[*]",
            "Field 'NumericEqualsPath' must be a reference path: it must select a single node: use names and "
            "indexes only (no '*', '..', slices, unions or filters)",
        ),
    ],
)
def test_operand_types(operator: str, operand: Any, message: str) -> None:
    definition = choice({"Variable": "$.a", operator: operand, "Next": "E"})
    assert errors(definition) == [(f"/States/C/Choices/0/{operator}", SCHEMA, message)]


@pytest.mark.parametrize(
    ("operator", "operand"),
    [
        ("NumericGreaterThanEquals", 1.5),
        ("TimestampLessThan", "2016-03-14T01:59:00.123456789+01:00"),
        ("StringEqualsPath", "$$.Execution.Name"),
        ("BooleanEqualsPath", "$flag"),
        ("IsTimestamp", False),
    ],
)
def test_well_typed_operands(operator: str, operand: Any) -> None:
    assert errors(choice({"Variable": "$.a", operator: operand, "Next": "E"})) == []


def test_and_or_need_non_empty_rule_arrays() -> None:
    assert errors(choice({"And": [], "Next": "E"}, {"Or": {}, "Next": "E"})) == [
        (
            "/States/C/Choices/0/And",
            SCHEMA,
            "Field 'And' must be a non-empty array of rules; got an empty array",
        ),
        (
            "/States/C/Choices/1/Or",
            SCHEMA,
            "Field 'Or' must be a non-empty array of rules; got an empty object",
        ),
    ]


def test_jsonata_choice_rules_use_condition() -> None:
    definition = choice(
        {"Condition": "{% $states.input.x > 1 %}", "Next": "E", "Output": "{% 1 %}", "Assign": {"v": 1}},
        {"Condition": True, "Next": "E"},
        {"Condition": "x > 1", "Next": "E"},
        {"Variable": "$.x", "IsNull": True, "Next": "E"},
        QueryLanguage="JSONata",
    )
    assert errors(definition) == [
        (
            "/States/C/Choices/2/Condition",
            SCHEMA,
            "Field 'Condition' must be a JSONata expression in '{% %}' or a boolean; got the string 'x > 1'",
        ),
        ("/States/C/Choices/3", SCHEMA, "These fields are required: [Condition]"),
        (
            "/States/C/Choices/3/IsNull",
            SCHEMA,
            "The QueryLanguage is set to 'JSONata', but field 'IsNull' is only supported for the 'JSONPath' "
            "QueryLanguage; use 'Condition' instead",
        ),
        (
            "/States/C/Choices/3/Variable",
            SCHEMA,
            "The QueryLanguage is set to 'JSONata', but field 'Variable' is only supported for the "
            "'JSONPath' "
            "QueryLanguage; use 'Condition' instead",
        ),
    ]


# ----------------------------------------------------------------------------- Wait
def test_wait_takes_exactly_one_duration() -> None:
    expected = "A Wait state needs exactly one of 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath'"
    assert errors(single({"Type": "Wait", "End": True})) == [("/States/S", SCHEMA, expected)]
    assert errors(single({"Type": "Wait", "End": True, "Seconds": 1, "SecondsPath": "$.s"})) == [
        ("/States/S", SCHEMA, expected + "; it has Seconds, SecondsPath")
    ]


@pytest.mark.parametrize(
    "stamp", ["2016-12-05T25:29:29Z", "2016-03-14T01:59:00", "2016-03-14", "{% '2016-03-14T01:59:00Z' %}"]
)
def test_wait_timestamp_must_be_rfc3339(stamp: str) -> None:
    assert errors(single({"Type": "Wait", "End": True, "Timestamp": stamp})) == [
        ("/States/S/Timestamp", SCHEMA, "String does not match RFC3339 timestamp")
    ]


@pytest.mark.parametrize("stamp", ["2016-03-14T01:59:00Z", "2016-03-14T01:59:00.123456789-05:30"])
def test_wait_timestamp_accepts_offsets_and_nanoseconds(stamp: str) -> None:
    assert errors(single({"Type": "Wait", "End": True, "Timestamp": stamp})) == []


def test_a_jsonata_wait_takes_expressions() -> None:
    state = {"Type": "Wait", "End": True, "Timestamp": "{% '2016-03-14T01:59:00Z' %}"}
    assert errors(single(state, QueryLanguage="JSONata")) == []
    state = {"Type": "Wait", "End": True, "Seconds": "{% $states.input.s %}"}
    assert errors(single(state, QueryLanguage="JSONata")) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "Field 'Seconds' must be an integer from 0 to 99999999; got the number -1"),
        (1.5, "Field 'Seconds' must be an integer from 0 to 99999999; got the number 1.5"),
        ("{% 1 %}", "Field 'Seconds' must be an integer from 0 to 99999999; got the string '{% 1 %}'"),
    ],
)
def test_wait_seconds_range(value: Any, message: str) -> None:
    assert errors(single({"Type": "Wait", "End": True, "Seconds": value})) == [
        ("/States/S/Seconds", SCHEMA, message)
    ]


# ----------------------------------------------------------------------------- Fail
def test_fail_error_and_cause_pairs_are_exclusive() -> None:
    state = {
        "Type": "Fail",
        "Error": "E",
        "ErrorPath": "$.e",
        "Cause": "C",
        "CausePath": "States.Format('{}', $.c)",
    }
    assert errors(single(state)) == [
        ("/States/S/Cause", SCHEMA, "Fields 'Cause' and 'CausePath' are mutually exclusive; keep only one"),
        ("/States/S/Error", SCHEMA, "Fields 'Error' and 'ErrorPath' are mutually exclusive; keep only one"),
    ]


def test_fail_paths_are_reference_paths_or_intrinsics() -> None:
    state = {"Type": "Fail", "ErrorPath": "$.e[*]", "CausePath": "$$.State.Name"}
    assert errors(single(state)) == [
        (
            "/States/S/ErrorPath",
            SCHEMA,
            "Field 'ErrorPath' must be a reference path or an intrinsic function call: it must select a "
            "single "
            "node: use names and indexes only (no '*', '..', slices, unions or filters)",
        )
    ]


# ----------------------------------------------------------------------------- Task
def task(**fields: Any) -> dict[str, Any]:
    return single({"Type": "Task", "End": True, **fields})


def test_task_needs_a_resource() -> None:
    assert errors(task()) == [("/States/S", SCHEMA, "These fields are required: [Resource]")]


@pytest.mark.parametrize(
    ("resource", "code", "message"),
    [
        (
            "arn:aws:states:us-east-1:111111111111:activity:Work",
            SCHEMA,
            "Express state machine does not support Activity ARN",
        ),
        (
            "arn:aws:states:::states:startExecution.sync",
            SCHEMA,
            "Express state machine does not support '.sync' service integration",
        ),
        (
            "arn:aws:states:::states:startExecution.sync:2",
            SCHEMA,
            "Express state machine does not support '.sync' service integration",
        ),
        (
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            SCHEMA,
            "Express state machine does not support '.waitForTaskToken' service integration ",
        ),
        (
            "arn:aws:states:::dynamodb:query",
            SCHEMA,
            "The resource provided arn:aws:states:::dynamodb:query is not recognized. The value is not a "
            "valid "
            "resource ARN, or the resource is not available in this region.",
        ),
        (
            "arn:aws:sqs:us-east-1:111111111111:queue",
            SCHEMA,
            "The resource provided arn:aws:sqs:us-east-1:111111111111:queue is not recognized. The value "
            "is not "
            "a valid resource ARN, or the resource is not available in this region.",
        ),
        (
            "IdFunction",
            "INVALID_RESOURCE",
            "'IdFunction' is not a resource ARN: use a Lambda function ARN "
            "(arn:aws:lambda:<region>:<account>:function:<name>) or an integration ARN "
            "(arn:aws:states:::<service>:<action>)",
        ),
        (5, SCHEMA, "Field 'Resource' must be an ARN string; got the number 5"),
    ],
)
def test_resources_express_cannot_run(resource: Any, code: str, message: str) -> None:
    assert errors(task(Resource=resource)) == [("/States/S/Resource", code, message)]


@pytest.mark.parametrize(
    "resource",
    [
        LAMBDA,
        LAMBDA + ":$LATEST",
        "arn:aws-cn:lambda:cn-north-1:111111111111:function:f:prod",
        "arn:aws:states:::dynamodb:getItem",
        "arn:aws:states:::sns:publish",
        "arn:aws:states:::http:invoke",
        "arn:aws:states:::aws-sdk:dynamodb:query",
        "arn:aws:states:::aws-sdk:s3:listObjectsV2",
    ],
)
def test_resources_express_can_run(resource: str) -> None:
    assert errors(task(Resource=resource)) == []


def test_lambda_invoke_needs_a_function_name() -> None:
    invoke = "arn:aws:states:::lambda:invoke"
    assert errors(task(Resource=invoke)) == [
        ("/States/S", SCHEMA, "The field 'FunctionName' is required but was missing (set it in 'Parameters')")
    ]
    assert errors(task(Resource=invoke, Parameters={"Payload.$": "$"})) == [
        (
            "/States/S/Parameters",
            SCHEMA,
            "The field 'FunctionName' is required but was missing (set it in 'Parameters')",
        )
    ]
    assert errors(task(Resource=invoke, Parameters={"FunctionName.$": "$.f"})) == []
    assert errors(
        single({"Type": "Task", "End": True, "Resource": invoke, "Arguments": {}}, QueryLanguage="JSONata")
    ) == [
        (
            "/States/S/Arguments",
            SCHEMA,
            "The field 'FunctionName' is required but was missing (set it in 'Arguments')",
        )
    ]
    jsonata = {"Type": "Task", "End": True, "Resource": invoke, "Arguments": "{% $states.input %}"}
    assert errors(single(jsonata, QueryLanguage="JSONata")) == []


def test_task_timeouts() -> None:
    assert errors(task(Resource=LAMBDA, TimeoutSeconds=5, TimeoutSecondsPath="$.t", HeartbeatSeconds=0)) == [
        (
            "/States/S/HeartbeatSeconds",
            SCHEMA,
            "Field 'HeartbeatSeconds' must be an integer from 1 to 99999999; got the number 0",
        ),
        (
            "/States/S/TimeoutSeconds",
            SCHEMA,
            "Fields 'TimeoutSeconds' and 'TimeoutSecondsPath' are mutually exclusive; keep only one",
        ),
    ]
    assert errors(task(Resource=LAMBDA, TimeoutSeconds=5, HeartbeatSeconds=5)) == [
        (
            "/States/S/HeartbeatSeconds",
            SCHEMA,
            "'HeartbeatSeconds' (5) must be smaller than 'TimeoutSeconds' (5)",
        )
    ]
    assert errors(task(Resource=LAMBDA, HeartbeatSeconds=1, HeartbeatSecondsPath="$.h")) == [
        (
            "/States/S/HeartbeatSeconds",
            SCHEMA,
            "Fields 'HeartbeatSeconds' and 'HeartbeatSecondsPath' are mutually exclusive; keep only one",
        )
    ]


def test_credentials_need_a_role_arn() -> None:
    missing = ("/States/S/Credentials", SCHEMA, "The field 'RoleArn' is required but was missing")
    assert errors(task(Resource=LAMBDA, Credentials={})) == [missing]
    assert errors(task(Resource=LAMBDA, Credentials={"Other": 1})) == [missing]
    assert errors(task(Resource=LAMBDA, Credentials={"RoleArn": "arn:aws:iam::111111111111:role/r"})) == []
    assert errors(task(Resource=LAMBDA, Credentials={"RoleArn.$": "$.role"})) == []
    assert errors(task(Resource=LAMBDA, Credentials={"RoleArn.$": "role"})) == [
        (
            "/States/S/Credentials/RoleArn.$",
            SCHEMA,
            "The value for the field 'RoleArn.$' must be a valid JSONPath or a valid intrinsic function "
            "call: "
            "a path must start with '$' at column 0",
        )
    ]


# ----------------------------------------------------------------------------- Retry, Catch
def test_retriers() -> None:
    retry = [
        {"ErrorEquals": ["States.ALL", "X"], "IntervalSeconds": 0, "MaxAttempts": -1},
        {"ErrorEquals": ["Y"], "BackoffRate": 0.5, "MaxDelaySeconds": 0, "JitterStrategy": "HALF"},
        {"MaxAttemps": 2},
    ]
    assert errors(task(Resource=LAMBDA, Retry=retry)) == [
        ("/States/S/Retry/0", SCHEMA, "The entry that matches 'States.ALL' must be the last one in 'Retry'"),
        ("/States/S/Retry/0/ErrorEquals", SCHEMA, "'States.ALL' must appear alone in 'ErrorEquals'"),
        (
            "/States/S/Retry/0/IntervalSeconds",
            SCHEMA,
            "Field 'IntervalSeconds' must be an integer from 1 to 99999999; got the number 0",
        ),
        (
            "/States/S/Retry/0/MaxAttempts",
            SCHEMA,
            "Field 'MaxAttempts' must be an integer from 0 to 99999999; got the number -1",
        ),
        (
            "/States/S/Retry/1/BackoffRate",
            SCHEMA,
            "Field 'BackoffRate' must be a number of at least 1.0; got the number 0.5",
        ),
        (
            "/States/S/Retry/1/JitterStrategy",
            SCHEMA,
            "Field 'JitterStrategy' must be 'FULL' or 'NONE'; got the string 'HALF'",
        ),
        (
            "/States/S/Retry/1/MaxDelaySeconds",
            SCHEMA,
            "Field 'MaxDelaySeconds' must be an integer from 1 to 31622400; got the number 0",
        ),
        ("/States/S/Retry/2", SCHEMA, "Field 'MaxAttemps' is not supported; did you mean 'MaxAttempts'?"),
        ("/States/S/Retry/2", SCHEMA, "These fields are required: [ErrorEquals]"),
    ]


def test_catchers() -> None:
    catch = [
        {"ErrorEquals": ["States.ALL"], "Next": "S", "ResultPath": "$.a[*]"},
        {"ErrorEquals": [], "Output": {}},
    ]
    assert errors(task(Resource=LAMBDA, Catch=catch)) == [
        ("/States/S/Catch/0", SCHEMA, "The entry that matches 'States.ALL' must be the last one in 'Catch'"),
        (
            "/States/S/Catch/0/ResultPath",
            SCHEMA,
            "Field 'ResultPath' must be a reference path into the state input, or null: it must select a "
            "single "
            "node: use names and indexes only (no '*', '..', slices, unions or filters)",
        ),
        (
            "/States/S/Catch/1",
            SCHEMA,
            "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' "
            "QueryLanguage",
        ),
        ("/States/S/Catch/1", SCHEMA, "These fields are required: [Next]"),
        (
            "/States/S/Catch/1/ErrorEquals",
            SCHEMA,
            "Field 'ErrorEquals' must be a non-empty array of error names; got an empty array",
        ),
    ]


# ----------------------------------------------------------------------------- Parallel, Map
def test_parallel_branches() -> None:
    assert errors(single({"Type": "Parallel", "End": True, "Branches": []})) == [
        (
            "/States/S/Branches",
            SCHEMA,
            "Field 'Branches' must be a non-empty array of state machines; got an empty array",
        )
    ]
    branches = [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "S"}}, "QueryLanguage": "JSONata"},
        3,
    ]
    assert errors(single({"Type": "Parallel", "End": True, "Branches": branches})) == [
        ("/States/S/Branches/0", SCHEMA, "Field 'QueryLanguage' is not supported"),
        ("/States/S/Branches/0/States", "MISSING_END_STATE", "Workflow has no terminal state"),
        ("/States/S/Branches/0/States/A/Next", "MISSING_TRANSITION_TARGET", "Missing 'Next' target: S"),
        (
            "/States/S/Branches/1",
            SCHEMA,
            "A branch must be an object with 'StartAt' and 'States'; got the number 3",
        ),
    ]


def processor(**config: Any) -> dict[str, Any]:
    return {"ProcessorConfig": config, "StartAt": "I", "States": {"I": END}}


def test_map_processor_and_its_legacy_name() -> None:
    assert errors(single({"Type": "Map", "End": True})) == [
        ("/States/S", SCHEMA, "These fields are required: [ItemProcessor]")
    ]
    legacy = {"StartAt": "J", "States": {"J": END}}
    assert errors(single({"Type": "Map", "End": True, "ItemProcessor": processor(), "Iterator": legacy})) == [
        (
            "/States/S/ItemProcessor",
            SCHEMA,
            "Fields 'ItemProcessor' and 'Iterator' are mutually exclusive ('Iterator' is the deprecated "
            "name); "
            "keep only one",
        )
    ]
    assert (
        errors(
            single(
                {"Type": "Map", "End": True, "Iterator": legacy, "Parameters": {"i.$": "$$.Map.Item.Value"}}
            )
        )
        == []
    )


def test_an_express_machine_cannot_host_a_distributed_map() -> None:
    state = {
        "Type": "Map",
        "End": True,
        "ItemProcessor": processor(Mode="DISTRIBUTED", ExecutionType="EXPRESS"),
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"},
        "Label": "x",
    }
    assert errors(single(state)) == [
        (
            "/States/S/ItemProcessor/ProcessorConfig/Mode",
            SCHEMA,
            "An Express state machine cannot host a Distributed Map; use Mode 'INLINE' (the default)",
        ),
        (
            "/States/S/ItemReader",
            SCHEMA,
            "Field 'ItemReader' belongs to a Distributed Map, which an Express state machine cannot host; "
            "remove it (an inline Map iterates over an array of its input)",
        ),
        (
            "/States/S/Label",
            SCHEMA,
            "Field 'Label' belongs to a Distributed Map, which an Express state machine cannot host; "
            "remove it (an inline Map iterates over an array of its input)",
        ),
    ]


def test_processor_config_fields() -> None:
    state = {"Type": "Map", "End": True, "ItemProcessor": processor(Mode="inline", Mod="x")}
    assert errors(single(state)) == [
        (
            "/States/S/ItemProcessor/ProcessorConfig",
            SCHEMA,
            "Field 'Mod' is not supported; did you mean 'Mode'?",
        ),
        (
            "/States/S/ItemProcessor/ProcessorConfig/Mode",
            SCHEMA,
            "Field 'Mode' must be 'INLINE' or 'DISTRIBUTED'; got the string 'inline'",
        ),
    ]
    state = {"Type": "Map", "End": True, "ItemProcessor": processor(Mode="INLINE", ExecutionType="EXPRESS")}
    assert errors(single(state)) == [
        (
            "/States/S/ItemProcessor/ProcessorConfig/ExecutionType",
            SCHEMA,
            "Field 'ExecutionType' is only supported with Mode 'DISTRIBUTED'",
        )
    ]


def test_tolerated_failure_fields_are_accepted_with_a_warning() -> None:
    # AWS accepted these on an inline Map (recorded jsonata/test_base_map_from_input_TOLERATED_*).
    state = {"Type": "Map", "End": True, "ItemProcessor": processor(), "ToleratedFailureCount": 1}
    assert errors(single(state)) == []
    assert warnings(single(state)) == [("/States/S/ToleratedFailureCount", "DISTRIBUTED_MAP_FIELD")]


def test_map_exclusive_fields_and_ranges() -> None:
    state = {
        "Type": "Map",
        "End": True,
        "ItemProcessor": processor(),
        "MaxConcurrency": -1,
        "MaxConcurrencyPath": "$.m",
        "ItemSelector": {},
        "Parameters": {},
        "ItemsPath": "$.items[*]",
    }
    assert errors(single(state)) == [
        (
            "/States/S/ItemSelector",
            SCHEMA,
            "Fields 'ItemSelector' and 'Parameters' are mutually exclusive ('Parameters' is the deprecated "
            "name); keep only one",
        ),
        (
            "/States/S/ItemsPath",
            SCHEMA,
            "Field 'ItemsPath' must be a reference path: it must select a single node: use names and "
            "indexes only "
            "(no '*', '..', slices, unions or filters)",
        ),
        (
            "/States/S/MaxConcurrency",
            SCHEMA,
            "Field 'MaxConcurrency' must be a non-negative integer; got the number -1",
        ),
        (
            "/States/S/MaxConcurrency",
            SCHEMA,
            "Fields 'MaxConcurrency' and 'MaxConcurrencyPath' are mutually exclusive; keep only one",
        ),
    ]


# ----------------------------------------------------------------------------- JSONata
def test_a_jsonpath_field_in_a_jsonata_state_is_located_at_the_field() -> None:
    state = {"Type": "Pass", "End": True, "ResultPath": "$.r", "Output": {"v": "{% $states.input %}"}}
    assert errors(single(state, QueryLanguage="JSONata")) == [
        (
            "/States/S/ResultPath",
            SCHEMA,
            "The QueryLanguage is set to 'JSONata', but field 'ResultPath' is only supported for the "
            "'JSONPath' "
            "QueryLanguage; use 'Output' instead",
        )
    ]


def test_a_jsonata_field_in_a_jsonpath_state_is_located_at_the_state() -> None:
    assert errors(single({"Type": "Pass", "End": True, "Output": 1})) == [
        (
            "/States/S",
            SCHEMA,
            "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' "
            "QueryLanguage",
        )
    ]


def test_a_state_cannot_downgrade_to_jsonpath() -> None:
    definition = single({"Type": "Pass", "End": True, "QueryLanguage": "JSONPath"}, QueryLanguage="JSONata")
    assert errors(definition) == [
        (
            "/States/S",
            SCHEMA,
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
        )
    ]


def test_states_in_branches_inherit_the_top_level_language() -> None:
    inner = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True, "Output": 1}}}
    definition = single({"Type": "Map", "End": True, "QueryLanguage": "JSONata", "ItemProcessor": inner})
    assert errors(definition) == [
        (
            "/States/S/ItemProcessor/States/I",
            SCHEMA,
            "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' "
            "QueryLanguage",
        )
    ]


def test_jsonata_expressions_must_end_exactly_with_the_closing_mark() -> None:
    arguments = {
        "ok": "{% $states.input %}",
        "literal": " {% not an expression %} ",
        "open": "{% $states.input %} ",
        "empty": "{%  %}",
        "deep": [{"x": "{% 1"}],
    }
    state = {"Type": "Task", "Resource": LAMBDA, "End": True, "Arguments": arguments}
    unclosed = "a JSONata expression must end with '%}', with nothing (not even white space) after it"
    assert errors(single(state, QueryLanguage="JSONata")) == [
        (
            "/States/S/Arguments/deep/0/x",
            SCHEMA,
            f"Malformed JSONata expression the string '{{% 1': {unclosed}",
        ),
        (
            "/States/S/Arguments/empty",
            SCHEMA,
            "Malformed JSONata expression the string '{%  %}': the JSONata expression between '{%' and "
            "'%}' is empty",
        ),
        (
            "/States/S/Arguments/open",
            SCHEMA,
            f"Malformed JSONata expression the string '{{% $states.input %}} ': {unclosed}",
        ),
    ]


def test_assign_is_allowed_in_both_languages() -> None:
    assert errors(single({"Type": "Pass", "End": True, "Assign": {"x.$": "$.a"}})) == []
    assert (
        errors(
            single(
                {"Type": "Pass", "End": True, "Assign": {"x": "{% $states.input %}"}}, QueryLanguage="JSONata"
            )
        )
        == []
    )


# ----------------------------------------------------------------------------- properties
_KEYS = sorted(set().union(*STATE_FIELDS.values()) | {"StartAt", "States", "Variable", "Condition", "x.$"})
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        ["", "$", "$$", "$.a", "$x", "{% x %}", "{%", "States.Array(1)", "Pass", "Map", "S", LAMBDA]
    ),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(
    start=st.sampled_from(["S", "T", 3]),
    states=st.dictionaries(
        st.sampled_from(["S", "T"]), st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=6)
    ),
    extra=st.dictionaries(st.sampled_from(["Comment", "QueryLanguage", "TimeoutSeconds", "Oops"]), _SCALARS),
)
def test_any_input_gives_sorted_diagnostics_and_never_raises(start: Any, states: Any, extra: Any) -> None:
    found = validate_definition({"StartAt": start, "States": states, **extra})
    assert all(isinstance(d, Diagnostic) and d.location.startswith("/") for d in found)
    assert found == sorted(
        found, key=lambda d: [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in d.location.split("/")]
    )
