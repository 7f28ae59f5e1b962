"""JSONata states end to end: Arguments/Output, $states, Choice, Wait, Map, Parallel, Fail, Catch."""

from __future__ import annotations

from typing import Any

import pytest

from express import DefinitionError, StatesError, compile_workflow
from express.runtime.result import ExecutionResult
from express.testing import ManualClock

Event = tuple[int, str, dict[str, Any]]


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": next(iter(states)), "States": states, **top}


def run(definition: dict[str, Any], data: Any, **options: Any) -> ExecutionResult:
    return compile_workflow(definition, **options).execute_sync(data)


def run_recorded(
    definition: dict[str, Any], data: Any, **options: Any
) -> tuple[ExecutionResult, list[Event]]:
    events: list[Event] = []

    def factory(arn: str) -> Any:
        return lambda event_id, kind, details, previous, at: events.append((event_id, kind, details))

    result = compile_workflow(definition, recorder_factory=factory, **options).execute_sync(data)
    return result, events


def prefix(state: str, event_id: int) -> str:
    return f"An error occurred while executing the state '{state}' (entered at the event id #{event_id}). "


# ----------------------------------------------------------------------------- Pass
def test_pass_output_defaults_to_the_input_and_accepts_any_json() -> None:
    assert run(machine({"P": {"Type": "Pass", "End": True}}), {"a": 1}).output == {"a": 1}
    values: tuple[Any, ...] = (True, 0.1, 0, [], "text", None)
    for value in values:
        assert run(machine({"P": {"Type": "Pass", "Output": value, "End": True}}), {"a": 1}).output == value


def test_output_expressions_see_the_state_input_and_the_context() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Pass",
                "Output": {
                    "sum": "{% $sum($states.input.values) %}",
                    "state": "{% $states.context.State.Name %}",
                    "name": "{% $states.context.Execution.Name %}",
                    "literal": "$states.input",
                },
                "End": True,
            }
        }
    )
    result = compile_workflow(definition).execute_sync({"values": [1, 2]}, name="exec-1")
    assert result.output == {"sum": 3, "state": "P", "name": "exec-1", "literal": "$states.input"}


def test_an_undefined_output_fails_with_aws_wording_and_the_entered_event_id() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Output": {"result": "{% $states.input.nope %}"}, "End": True},
        }
    )
    result, events = run_recorded(definition, {})
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause == prefix("B", 4) + (
        "The JSONata expression '$states.input.nope' specified for the field 'Output/result' "
        "returned nothing (undefined)."
    )
    [failed] = [e for e in events if e[1] == "EvaluationFailed"]
    assert failed[0] == 5
    assert failed[2] == {
        "error": "States.QueryEvaluationError",
        "cause": result.cause,
        "location": "Output/result",
        "state": "B",
    }
    assert events[-1][1] == "ExecutionFailed"


def test_a_syntax_error_is_reported_when_compiling_with_its_pointer() -> None:
    definition = machine({"P": {"Type": "Pass", "Output": {"a": ["{% 1 + %}"]}, "End": True}})
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(definition)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.location) == ("INVALID_JSONATA_EXPRESSION", "/States/P/Output/a/0")


# ----------------------------------------------------------------------------- Task
def test_task_arguments_result_and_output() -> None:
    seen: list[Any] = []

    def echo(event: Any) -> Any:
        seen.append(event)
        return {"echo": event}

    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:Echo",
                "Arguments": {"v": "{% $states.input.v * 2 %}", "k": "const"},
                "Output": {"in": "{% $states.input.v %}", "out": "{% $states.result.echo.v %}"},
                "End": True,
            }
        }
    )
    result = run(definition, {"v": 2}, handlers={"Echo": echo})
    assert seen == [{"v": 4, "k": "const"}]
    assert result.output == {"in": 2, "out": 4}


def test_task_output_defaults_to_the_result_and_arguments_to_the_input() -> None:
    definition = machine(
        {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:Id", "End": True}}
    )
    assert run(definition, {"v": 1}, handlers={"Id": lambda e: [e]}).output == [{"v": 1}]


def test_lambda_invoke_function_name_from_an_expression() -> None:
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "{% $states.input.fn %}", "Payload": {"x": 1}},
                "Output": "{% $states.result.Payload %}",
                "End": True,
            }
        }
    )
    assert run(definition, {"fn": "Double"}, handlers={"Double": lambda e: e["x"] * 2}).output == 2


def test_task_timeout_seconds_from_an_expression_must_be_a_positive_integer() -> None:
    def definition(timeout: str) -> dict[str, Any]:
        return machine(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:111111111111:function:Id",
                    "TimeoutSeconds": timeout,
                    "End": True,
                }
            }
        )

    handlers = {"Id": lambda e: e}
    assert run(definition("{% $states.input.t %}"), {"t": 5}, handlers=handlers).output == {"t": 5}
    result = run(definition("{% $states.input.t %}"), {"t": 0}, handlers=handlers)
    assert result.error == "States.QueryEvaluationError"
    assert result.cause is not None and "specified for the field 'TimeoutSeconds' returned 0" in result.cause


def test_catch_output_and_assign_see_the_error_output_and_the_input() -> None:
    def boom(event: Any) -> Any:
        raise StatesError("Custom.Error", "it broke")

    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:Boom",
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Output": {"in": "{% $states.input %}", "err": "{% $states.errorOutput %}"},
                        "Assign": {"cause": "{% $states.errorOutput.Cause %}"},
                        "Next": "After",
                    }
                ],
                "Assign": {"never": 1},
                "End": True,
            },
            "After": {
                "Type": "Pass",
                "Output": {"seen": "{% $states.input %}", "cause": "{% $cause %}"},
                "End": True,
            },
        }
    )
    result = run(definition, {"k": 1}, handlers={"Boom": boom})
    assert result.output == {
        "seen": {"in": {"k": 1}, "err": {"Error": "Custom.Error", "Cause": "it broke"}},
        "cause": "it broke",
    }


def test_catch_output_defaults_to_the_error_output() -> None:
    def boom(event: Any) -> Any:
        raise StatesError("E", "c")

    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:Boom",
                "Catch": [{"ErrorEquals": ["E"], "Next": "After"}],
                "End": True,
            },
            "After": {"Type": "Succeed"},
        }
    )
    assert run(definition, {"k": 1}, handlers={"Boom": boom}).output == {"Error": "E", "Cause": "c"}


def test_a_query_evaluation_error_can_be_caught() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Output": "{% $nope %}", "End": True}}}
                ],
                "Catch": [
                    {
                        "ErrorEquals": ["States.QueryEvaluationError"],
                        "Output": "{% $states.errorOutput.Error %}",
                        "Next": "Done",
                    }
                ],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        }
    )
    assert run(definition, {}).output == "States.QueryEvaluationError"


# ----------------------------------------------------------------------------- Choice
def choice(rules: list[dict[str, Any]], **state: Any) -> dict[str, Any]:
    return machine(
        {
            "C": {"Type": "Choice", "Choices": rules, **state},
            "Yes": {"Type": "Pass", "Output": {"went": "yes", "in": "{% $states.input %}"}, "End": True},
            "No": {"Type": "Pass", "Output": {"went": "no", "in": "{% $states.input %}"}, "End": True},
        }
    )


def test_choice_conditions_in_order_and_default() -> None:
    definition = choice(
        [
            {"Condition": "{% $states.input.n > 10 %}", "Next": "Yes"},
            {"Condition": False, "Next": "Yes"},
        ],
        Default="No",
    )
    assert run(definition, {"n": 11}).output == {"went": "yes", "in": {"n": 11}}
    assert run(definition, {"n": 1}).output == {"went": "no", "in": {"n": 1}}


def test_choice_outputs_a_matched_rule_overrides_the_state() -> None:
    definition = choice(
        [
            {
                "Condition": "{% $states.input.ok %}",
                "Next": "Yes",
                "Output": {"rule": "{% $states.input.ok %}"},
            }
        ],
        Default="No",
        Output="state output",
    )
    assert run(definition, {"ok": True}).output == {"went": "yes", "in": {"rule": True}}
    assert run(definition, {"ok": False}).output == {"went": "no", "in": "state output"}


def test_a_condition_must_be_a_boolean() -> None:
    result = run(choice([{"Condition": "{% $states.input.n %}", "Next": "Yes"}], Default="No"), {"n": 1})
    assert result.error == "States.QueryEvaluationError"
    assert result.cause == prefix("C", 2) + (
        "The JSONata expression '$states.input.n' specified for the field 'Choices[0]/Condition' returned an "
        "unexpected result type. Expected 'boolean', but was 'number' for value: 1"
    )


def test_a_later_rule_is_not_evaluated_once_one_matches() -> None:
    definition = choice(
        [{"Condition": True, "Next": "Yes"}, {"Condition": "{% $states.input.missing %}", "Next": "No"}]
    )
    assert run(definition, {}).status == "SUCCEEDED"


def test_no_match_without_default() -> None:
    result = run(choice([{"Condition": False, "Next": "Yes"}, {"Condition": False, "Next": "No"}]), {})
    assert result.error == "States.NoChoiceMatched"


# ----------------------------------------------------------------------------- Wait
def test_wait_seconds_and_timestamp_from_expressions() -> None:
    clock = ManualClock(start=1_000.0)
    definition = machine(
        {
            "W1": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "Next": "W2"},
            "W2": {
                "Type": "Wait",
                "Timestamp": "{% $states.input.until %}",
                "Output": "{% $states.input.s %}",
                "End": True,
            },
        }
    )
    result = run(definition, {"s": 5, "until": "1970-01-01T00:20:00Z"}, clock=clock)
    assert result.output == 5
    assert clock.sleeps == [5, 1_200 - 1_005]


@pytest.mark.parametrize(
    ("seconds", "detail"),
    [
        (1.5, "The Seconds field cannot be parsed as a long value: 1.5"),
        ("5", "The Seconds field cannot be parsed as a long value: 5"),
        (-1, "The Seconds field references a negative value: -1"),
    ],
)
def test_wait_seconds_that_are_not_a_whole_non_negative_number(seconds: Any, detail: str) -> None:
    definition = machine({"W": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "End": True}})
    result = run(definition, {"s": seconds}, clock=ManualClock())
    assert (result.error, result.cause) == ("States.QueryEvaluationError", prefix("W", 2) + detail)


def test_wait_timestamp_that_does_not_parse() -> None:
    definition = machine({"W": {"Type": "Wait", "Timestamp": "{% $states.input.t %}", "End": True}})
    result = run(definition, {"t": "2016-12-05T21:29:29"}, clock=ManualClock())
    assert (result.error, result.cause) == (
        "States.QueryEvaluationError",
        prefix("W", 2)
        + "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: "
        "2016-12-05T21:29:29",
    )


# ----------------------------------------------------------------------------- Map and Parallel
def map_state(**fields: Any) -> dict[str, Any]:
    return machine(
        {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
                **fields,
            }
        }
    )


def test_map_items_item_selector_and_output() -> None:
    definition = map_state(
        Items="{% $states.input.xs %}",
        ItemSelector={
            "value": "{% $states.context.Map.Item.Value %}",
            "index": "{% $states.context.Map.Item.Index %}",
            "tag": "{% $states.input.tag %}",
        },
        MaxConcurrency="{% 1 %}",
        Output={"n": "{% $count($states.result) %}", "all": "{% $states.result %}"},
    )
    result = run(definition, {"xs": ["a", "b"], "tag": "t"})
    assert result.output == {
        "n": 2,
        "all": [{"value": "a", "index": 0, "tag": "t"}, {"value": "b", "index": 1, "tag": "t"}],
    }


def test_map_items_literal_array_with_expressions_and_input_default() -> None:
    assert run(map_state(Items=[1, "{% $number('2') %}"]), {}).output == [1, 2]
    assert run(map_state(), [3, 4]).output == [3, 4]


@pytest.mark.parametrize(
    ("items", "data", "cause"),
    [
        (
            "{% $states.input.x %}",
            {"x": {"a": 1}},
            "The JSONata expression '$states.input.x' specified for the field 'Items' returned an unexpected "
            "result type. Expected 'array', but was 'object' for value: {\"a\":1}",
        ),
        (None, {"x": 1}, 'Map state input must be an array but was: {"x":1}'),
    ],
)
def test_map_items_must_be_an_array(items: Any, data: Any, cause: str) -> None:
    fields = {} if items is None else {"Items": items}
    result = run(map_state(**fields), data)
    assert (result.error, result.cause) == ("States.QueryEvaluationError", prefix("M", 2) + cause)


def test_parallel_arguments_output_and_assign() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Arguments": {"v": "{% $states.input.v + 1 %}"},
                "Branches": [
                    {
                        "StartAt": "A",
                        "States": {"A": {"Type": "Pass", "Output": "{% $states.input.v %}", "End": True}},
                    },
                    {
                        "StartAt": "B",
                        "States": {
                            "B": {"Type": "Pass", "Output": "{% $states.input.v * 10 %}", "End": True}
                        },
                    },
                ],
                "Assign": {"total": "{% $sum($states.result) %}"},
                "Output": "{% $states.result %}",
                "Next": "After",
            },
            "After": {"Type": "Pass", "Output": "{% $total %}", "End": True},
        }
    )
    assert run(definition, {"v": 1}).output == 22


# ----------------------------------------------------------------------------- Fail, Succeed
def test_fail_error_and_cause_from_expressions() -> None:
    definition = machine(
        {
            "F": {
                "Type": "Fail",
                "Error": "{% $states.input.e %}",
                "Cause": "{% 'because ' & $states.input.c %}",
            }
        }
    )
    result = run(definition, {"e": "Oops", "c": "reasons"})
    assert (result.error, result.cause) == ("Oops", "because reasons")
    not_a_string = run(definition, {"e": 1, "c": "x"})
    assert not_a_string.error == "States.QueryEvaluationError"


def test_succeed_output() -> None:
    assert run(
        machine({"S": {"Type": "Succeed", "Output": {"k": "{% $states.input.v %}"}}}), {"v": 3}
    ).output == {"k": 3}


# ----------------------------------------------------------------------------- mixed machines
def test_each_state_runs_in_its_own_query_language() -> None:
    definition = {
        "StartAt": "Path",
        "States": {
            "Path": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "Next": "Ata"},
            "Ata": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": {"w": "{% $states.input.v + 1 %}"},
                "Next": "Path2",
            },
            "Path2": {"Type": "Pass", "OutputPath": "$.w", "End": True},
        },
    }
    assert run(definition, {"v": 1, "other": 0}).output == 2


def test_a_jsonpath_state_keeps_jsonata_looking_strings_literal() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Result": {"e": "{% 1 + 1 %}"}, "End": True}},
    }
    assert run(definition, {}).output == {"e": "{% 1 + 1 %}"}


def test_states_in_an_item_processor_take_the_machines_language_not_the_maps() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "QueryLanguage": "JSONata",
                "Items": "{% $states.input.xs %}",
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {"Inner": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}},
                },
                "End": True,
            }
        },
    }
    assert run(definition, {"xs": [1, 2]}).output == [{"v": 1}, {"v": 2}]
