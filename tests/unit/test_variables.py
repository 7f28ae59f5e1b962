"""Workflow variables: Assign in both languages, references, evaluation order, scopes, history."""

from __future__ import annotations

from typing import Any

import pytest

from express import compile_workflow
from express.asl.paths import PathMissing, PathSyntaxError, compile_reference
from express.runtime.context import ExecutionContext
from express.runtime.result import ExecutionResult
from express.testing import ManualClock

Event = tuple[int, str, dict[str, Any]]


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def run(definition: dict[str, Any], data: Any = None, **options: Any) -> ExecutionResult:
    return compile_workflow(definition, **options).execute_sync({} if data is None else data)


def run_recorded(definition: dict[str, Any], data: Any = None) -> tuple[ExecutionResult, list[Event]]:
    events: list[Event] = []

    def factory(arn: str) -> Any:
        return lambda event_id, kind, details, previous, at: events.append((event_id, kind, details))

    result = compile_workflow(definition, recorder_factory=factory).execute_sync({} if data is None else data)
    return result, events


def assigned(events: list[Event]) -> list[tuple[str, dict[str, Any]]]:
    return [(d["name"], d["assignedVariables"]) for _, kind, d in events if "assignedVariables" in d]


def show(*names: str) -> dict[str, Any]:
    """A final Pass state whose output is the named variables."""
    return {"Type": "Pass", "Parameters": {f"{n}.$": f"${n}" for n in names}, "End": True}


# ----------------------------------------------------------------------------- references
def test_variable_references_in_paths() -> None:
    ctx = ExecutionContext(input={})
    ctx.assign({"v": {"a": [10, 20]}})
    assert compile_reference("$v")({}, ctx) == {"a": [10, 20]}
    assert compile_reference("$v.a[1]")({}, ctx) == 20
    assert compile_reference("$v.a[*]")({}, ctx) == [10, 20]
    with pytest.raises(PathMissing) as caught:
        compile_reference("$v.b")({}, ctx)
    assert caught.value.jayway == "No results for path: $['v']['b']"
    with pytest.raises(PathMissing) as caught:
        compile_reference("$w")({}, ctx)
    assert caught.value.jayway == "No results for path: $['w']"
    with pytest.raises(PathSyntaxError):
        compile_reference("$v.")


def test_jsonpath_assign_reads_the_result_and_the_context() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Pass",
                "Result": {"answer": 42},
                "Assign": {
                    "fromResult.$": "$.answer",
                    "name.$": "$$.State.Name",
                    "formatted.$": "States.Format('a={}', $.answer)",
                    "literal": "$.answer",
                    "jsonataText": "{% 1 %}",
                    "nested": {"deep.$": "$.answer", "k": [1]},
                },
                "Next": "Show",
            },
            "Show": show("fromResult", "name", "formatted", "literal", "jsonataText", "nested"),
        }
    )
    assert run(definition).output == {
        "fromResult": 42,
        "name": "P",
        "formatted": "a=42",
        "literal": "$.answer",
        "jsonataText": "{% 1 %}",
        "nested": {"deep": 42, "k": [1]},
    }


def test_references_in_input_path_output_path_parameters_and_intrinsics() -> None:
    definition = machine(
        {
            "Set": {
                "Type": "Pass",
                "Assign": {"obj": {"x": 1, "list": [1, 2]}, "greeting": "hi {}"},
                "Next": "In",
            },
            "In": {"Type": "Pass", "InputPath": "$obj", "Next": "Params"},
            "Params": {
                "Type": "Pass",
                "Parameters": {
                    "x.$": "$obj.x",
                    "len.$": "States.ArrayLength($obj.list)",
                    "g.$": "States.Format($greeting, $.x)",
                },
                "OutputPath": "$obj",
                "End": True,
            },
        }
    )
    assert run(definition).output == {"x": 1, "list": [1, 2]}


def test_references_in_choice_wait_map_and_fail() -> None:
    clock = ManualClock()
    definition = machine(
        {
            "Set": {
                "Type": "Pass",
                "Assign": {"limit": 3, "pause": 2, "items": ["a", "b"], "err": "Bad", "why": "because"},
                "Next": "Check",
            },
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$limit", "NumericGreaterThan": 2, "Next": "Wait"}],
                "Default": "Fail",
            },
            "Wait": {"Type": "Wait", "SecondsPath": "$pause", "Next": "Each"},
            "Each": {
                "Type": "Map",
                "ItemsPath": "$items",
                "MaxConcurrencyPath": "$limit",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "Next": "Fail",
            },
            "Fail": {"Type": "Fail", "ErrorPath": "$err", "CausePath": "States.Format('{}!', $why)"},
        }
    )
    result = run(definition, clock=clock)
    assert (result.error, result.cause) == ("Bad", "because!")
    assert clock.sleeps == [2]


def test_an_unassigned_variable_in_a_jsonpath_field() -> None:
    result = run(machine({"P": {"Type": "Pass", "InputPath": "$nothing", "End": True}}))
    assert (result.error, result.cause) == (
        "States.Runtime",
        "An error occurred while executing the state 'P' (entered at the event id #2). "
        "Invalid path '$nothing' : No results for path: $['nothing']",
    )


def test_a_numeric_string_variable_is_a_max_concurrency() -> None:
    definition = machine(
        {
            "Set": {"Type": "Pass", "Assign": {"n": "1"}, "Result": [1, 2], "Next": "M"},
            "M": {
                "Type": "Map",
                "MaxConcurrencyPath": "$n",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            },
        }
    )
    assert run(definition).output == [1, 2]


# ----------------------------------------------------------------------------- evaluation order
def test_every_expression_of_a_state_reads_the_values_it_was_entered_with() -> None:
    definition = machine(
        {
            "Init": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "Swap"},
            "Swap": {
                "Type": "Pass",
                "Assign": {"x.$": "$y", "y.$": "$x"},
                "OutputPath": "$x",
                "Next": "Show",
            },
            "Show": show("x", "y"),
        }
    )
    result, events = run_recorded(definition)
    assert result.output == {"x": 2, "y": 1}
    assert events[4][2]["output"] == 1  # Swap's OutputPath saw the old x


def test_jsonata_assign_and_output_also_read_the_entry_values() -> None:
    definition = machine(
        {
            "Init": {"Type": "Pass", "Assign": {"n": 1}, "Next": "Bump"},
            "Bump": {
                "Type": "Pass",
                "Assign": {"n": "{% $n + 1 %}", "old": "{% $n %}"},
                "Output": "{% $n %}",
                "Next": "Show",
            },
            "Show": {
                "Type": "Pass",
                "Output": {"out": "{% $states.input %}", "n": "{% $n %}", "old": "{% $old %}"},
                "End": True,
            },
        },
        QueryLanguage="JSONata",
    )
    assert run(definition).output == {"out": 1, "n": 2, "old": 1}


def test_variables_cross_query_languages() -> None:
    definition = machine(
        {
            "Path": {"Type": "Pass", "Assign": {"answer": 42}, "Next": "Ata"},
            "Ata": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Assign": {"doubled": "{% $answer * 2 %}"},
                "Next": "Show",
            },
            "Show": show("answer", "doubled"),
        }
    )
    assert run(definition).output == {"answer": 42, "doubled": 84}


# ----------------------------------------------------------------------------- scopes
def test_map_iterations_read_outer_variables_and_keep_their_own() -> None:
    definition = machine(
        {
            "Init": {"Type": "Pass", "Assign": {"bias": 10, "shared": "outer"}, "Next": "Each"},
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "ItemProcessor": {
                    "StartAt": "Mine",
                    "States": {
                        "Mine": {"Type": "Pass", "Assign": {"shared.$": "$", "local.$": "$"}, "Next": "Add"},
                        "Add": {
                            "Type": "Pass",
                            "Parameters": {"sum.$": "States.MathAdd($bias, $local)", "shared.$": "$shared"},
                            "End": True,
                        },
                    },
                },
                "ResultPath": "$.results",
                "Next": "After",
            },
            "After": {
                "Type": "Pass",
                "Parameters": {"shared.$": "$shared", "results.$": "$.results"},
                "End": True,
            },
        }
    )
    result = run(definition, {"xs": [1, 2]})
    assert result.output == {
        "shared": "outer",
        "results": [{"sum": 11, "shared": 1}, {"sum": 12, "shared": 2}],
    }
    after = run(
        {**definition, "States": {**definition["States"], "After": show("local")}},
        {"xs": [1]},
    )
    assert after.error == "States.Runtime"  # the iteration's variables do not outlive it


def test_nested_scopes_read_through_every_level() -> None:
    inner = {
        "StartAt": "Sum",
        "States": {"Sum": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($a, $b)"}, "End": True}},
    }
    definition = machine(
        {
            "Init": {"Type": "Pass", "Assign": {"a": 1}, "Next": "Outer"},
            "Outer": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "SetB",
                        "States": {
                            "SetB": {"Type": "Pass", "Assign": {"b": 2}, "Next": "Inner"},
                            "Inner": {
                                "Type": "Map",
                                "ItemsPath": "$.xs",
                                "ItemProcessor": inner,
                                "End": True,
                            },
                        },
                    }
                ],
                "End": True,
            },
        }
    )
    assert run(definition, {"xs": [0]}).output == [[{"v": 3}]]


def test_a_map_or_parallel_catch_assigns_the_enclosing_scope() -> None:
    definition = machine(
        {
            "Init": {"Type": "Pass", "Assign": {"attempts": 0}, "Next": "Work"},
            "Work": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Try",
                        "States": {
                            "Try": {"Type": "Pass", "Assign": {"attempts": 99}, "Next": "Boom"},
                            "Boom": {"Type": "Fail", "Error": "Broken", "Cause": "bad"},
                        },
                    }
                ],
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"error.$": "$.Error", "attempts.$": "States.MathAdd($attempts, 1)"},
                        "ResultPath": "$.caught",
                        "Next": "Show",
                    }
                ],
                "End": True,
            },
            "Show": show("error", "attempts"),
        }
    )
    assert run(definition).output == {"error": "Broken", "attempts": 1}


def test_executions_do_not_share_variables() -> None:
    workflow = compile_workflow(
        machine(
            {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$seen", "IsPresent": True, "Next": "Again"}],
                    "Default": "First",
                },
                "First": {"Type": "Pass", "Assign": {"seen": True}, "Result": "first", "End": True},
                "Again": {"Type": "Pass", "Result": "again", "End": True},
            }
        )
    )
    assert [workflow.execute_sync({}).output for _ in range(2)] == ["first", "first"]


def test_no_scope_is_created_for_an_execution_without_variables() -> None:
    ctx = ExecutionContext(input={})
    assert ctx.child().variables is None
    ctx.assign({"a": 1})
    child = ctx.child()
    child.assign({"a": 2, "b": 3})
    assert (ctx.variable("a"), child.variable("a"), child.variable("b")) == (1, 2, 3)
    with pytest.raises(KeyError):
        ctx.variable("b")


# ----------------------------------------------------------------------------- Choice, Wait, Task
def choice_machine(data_rule: dict[str, Any]) -> dict[str, Any]:
    return machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{**data_rule, "Next": "Show", "Assign": {"path": "rule", "rule": True}}],
                "Default": "Show",
                "Assign": {"path": "state", "state": True},
            },
            "Show": {"Type": "Pass", "Parameters": {"path.$": "$path", "state.$": "$state"}, "End": True},
        }
    )


def test_choice_assigns_its_own_and_the_matched_rules() -> None:
    definition = choice_machine({"Variable": "$.n", "NumericEquals": 1})
    assert run(definition, {"n": 1}).output == {"path": "rule", "state": True}
    assert run(definition, {"n": 2}).output == {"path": "state", "state": True}


def test_jsonata_choice_rule_assign() -> None:
    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% $states.input.ok %}", "Next": "Show", "Assign": {"how": "rule"}}
                ],
                "Default": "Show",
                "Assign": {"how": "default"},
            },
            "Show": {"Type": "Pass", "Output": "{% $how %}", "End": True},
        },
        QueryLanguage="JSONata",
    )
    assert [run(definition, {"ok": ok}).output for ok in (True, False)] == ["rule", "default"]


def test_wait_assigns() -> None:
    definition = machine(
        {"W": {"Type": "Wait", "Seconds": 0, "Assign": {"x.$": "$.v"}, "Next": "Show"}, "Show": show("x")}
    )
    assert run(definition, {"v": 5}, clock=ManualClock()).output == {"x": 5}


def test_task_assign_reads_the_selected_result() -> None:
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:Id",
                "ResultSelector": {"r.$": "$.value"},
                "Assign": {"r.$": "$.r"},
                "ResultPath": "$.ignored",
                "Next": "Show",
            },
            "Show": show("r"),
        }
    )
    assert run(definition, {"value": 7}, handlers={"Id": lambda e: e}).output == {"r": 7}


def test_a_failed_task_does_not_assign() -> None:
    definition = machine(
        {
            "Init": {"Type": "Pass", "Assign": {"x": "before"}, "Next": "T"},
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:Boom",
                "Assign": {"x": "after"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Show"}],
                "End": True,
            },
            "Show": show("x"),
        }
    )

    def boom(event: Any) -> Any:
        raise ValueError("no")

    assert run(definition, handlers={"Boom": boom}).output == {"x": "before"}


# ----------------------------------------------------------------------------- history
def test_assigned_variables_are_recorded_in_the_state_exited_event() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Assign": {"x": 1, "y.$": "$.v"}, "Next": "B"},
            "B": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Pass", "Assign": {}, "End": True},
        }
    )
    result, events = run_recorded(definition, {"v": [1]})
    assert result.status == "SUCCEEDED"
    assert assigned(events) == [("A", {"x": 1, "y": [1]}), ("C", {})]
