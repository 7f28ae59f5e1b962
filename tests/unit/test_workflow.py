"""End-to-end executions through compile_workflow: data flow, tasks, errors as AWS raises them."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

import express
from express import DefinitionError, StatesError, compile_workflow
from express.runtime.result import ExecutionResult
from express.testing import ManualClock


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def run(definition: dict[str, Any], data: Any, **options: Any) -> ExecutionResult:
    return compile_workflow(definition, **options).execute_sync(data)


# ----------------------------------------------------------------------------- data flow
def test_pass_applies_input_parameters_result_and_output_paths_in_order() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Pass",
                "InputPath": "$.in",
                "Parameters": {"doubled.$": "$.v", "const": [1, {"k": "x"}], "nested": {"from.$": "$.w"}},
                "ResultPath": "$.out",
                "OutputPath": "$.out",
                "End": True,
            }
        }
    )
    result = run(definition, {"in": {"v": 2, "w": "z"}, "other": 1})
    assert result.status == "SUCCEEDED"
    assert result.output == {"doubled": 2, "const": [1, {"k": "x"}], "nested": {"from": "z"}}


def test_result_path_merges_into_the_raw_input_not_the_filtered_one() -> None:
    definition = machine(
        {"P": {"Type": "Pass", "InputPath": "$.a", "Result": {"r": 1}, "ResultPath": "$.res", "End": True}}
    )
    data = {"a": {"x": 1}, "b": 2}
    result = run(definition, data)
    assert result.output == {"a": {"x": 1}, "b": 2, "res": {"r": 1}}
    assert data == {"a": {"x": 1}, "b": 2}  # the caller's input is never changed


def test_null_paths() -> None:
    definition = machine(
        {
            "Discard": {"Type": "Pass", "Result": "dropped", "ResultPath": None, "Next": "NoInput"},
            "NoInput": {"Type": "Pass", "InputPath": None, "ResultPath": "$.seen", "Next": "NoOutput"},
            "NoOutput": {"Type": "Pass", "OutputPath": None, "End": True},
        }
    )
    first = compile_workflow(machine({"D": {"Type": "Pass", "Result": 1, "ResultPath": None, "End": True}}))
    assert first.execute_sync({"k": 1}).output == {"k": 1}
    assert run(definition, {"k": 1}).output == {}


def test_result_is_literal_even_with_dollar_keys() -> None:
    definition = machine({"P": {"Type": "Pass", "Result": {"a.$": "$.x"}, "End": True}})
    assert run(definition, {"x": 1}).output == {"a.$": "$.x"}


def test_context_object_is_available_to_paths_and_templates() -> None:
    definition = machine(
        {
            "Look": {
                "Type": "Pass",
                "Parameters": {
                    "name.$": "$$.State.Name",
                    "input.$": "$$.Execution.Input",
                    "sm.$": "$$.StateMachine.Name",
                },
                "End": True,
            }
        }
    )
    result = compile_workflow(definition, name="orders").execute_sync({"q": 1}, name="exec-7")
    assert result.output == {"name": "Look", "input": {"q": 1}, "sm": "orders"}
    assert result.name == "exec-7"
    assert result.execution_arn.startswith("arn:aws:states:us-east-1:111111111111:express:orders:exec-7:")


# ----------------------------------------------------------------------------- errors
def test_missing_input_path_fails_with_aws_cause_and_event_id() -> None:
    definition = machine(
        {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {"Type": "Pass", "InputPath": "$.nope", "End": True},
        }
    )
    result = run(definition, {"a": 1})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert result.cause == (
        "An error occurred while executing the state 'Second' (entered at the event id #4). "
        "Invalid path '$.nope' : No results for path: $['nope']"
    )


def test_missing_parameter_path_names_the_field_and_the_input() -> None:
    definition = machine({"P": {"Type": "Pass", "Parameters": {"v.$": "$.missing"}, "End": True}})
    result = run(definition, {"a": 1})
    assert result.error == "States.Runtime"
    assert result.cause is not None
    assert (
        "The JSONPath '$.missing' specified for the field 'v.$' could not be found in the input '{\"a\":1}'"
        in (result.cause)
    )


def test_no_choice_matched() -> None:
    definition = machine(
        {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Done"}]},
            "Done": {"Type": "Succeed"},
        }
    )
    assert run(definition, {"n": 1}).status == "SUCCEEDED"
    result = run(definition, {"n": 2})
    assert result.error == "States.NoChoiceMatched"


def test_fail_state_with_and_without_error() -> None:
    assert run(machine({"F": {"Type": "Fail", "Error": "E", "Cause": "why"}}), {}).cause == "why"
    bare = run(machine({"F": {"Type": "Fail"}}), {})
    assert (bare.status, bare.error, bare.cause) == ("FAILED", None, None)
    dynamic = run(
        machine({"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$$.State.Name"}}), {"e": "Boom"}
    )
    assert (dynamic.error, dynamic.cause) == ("Boom", "F")


def test_payload_over_256_kib_is_data_limit_exceeded() -> None:
    definition = machine({"P": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": True}})
    result = run(definition, {"s": "é" * 70_000})  # 140,000 bytes of UTF-8, twice in the output
    assert result.error == "States.DataLimitExceeded"
    assert result.cause == (
        "The state/task 'P' returned a result with a size exceeding the maximum number of bytes "
        "service limit."
    )
    assert run(definition, {"s": "a" * 1000}).status == "SUCCEEDED"


@pytest.mark.parametrize("copies", [1, 2, 4])
@pytest.mark.parametrize("text_bytes", [40_000, 70_000, 130_000, 200_000])
def test_member_copies_over_256_kib_fail_whether_or_not_the_input_size_is_known(
    copies: int, text_bytes: int
) -> None:
    parameters = {f"c{i}.$": "$.s" for i in range(copies)} | {"whole.$": "$"} | {"route": "r"}
    workflow = compile_workflow(machine({"P": {"Type": "Pass", "Parameters": parameters, "End": True}}))
    document = {"s": "a" * text_bytes, "n": 1e15}
    text = orjson.dumps(document).replace(b"1000000000000000.0", b"1e15")  # shorter than re-encoded
    over = len(
        orjson.dumps({f"c{i}": document["s"] for i in range(copies)} | {"whole": document, "route": "r"})
    )
    expected = "States.DataLimitExceeded" if over > 262_144 else None
    for size in (len(text), None):
        result = workflow.start(document, input_size=size)
        assert isinstance(result, ExecutionResult)
        assert result.error == expected, (copies, text_bytes, size)


# ----------------------------------------------------------------------------- tasks
def handlers() -> dict[str, Any]:
    def echo(event: Any) -> Any:
        return event

    def mutate(event: Any) -> Any:
        event["touched"] = True
        return event

    class Overheated(Exception):
        pass

    def overheat(event: Any) -> Any:
        raise Overheated("too hot: 99")

    def chosen(event: Any) -> Any:
        raise StatesError("Sensor.Offline", "no reading")

    async def later(event: Any) -> Any:
        return {"async": event}

    return {"echo": echo, "mutate": mutate, "overheat": overheat, "chosen": chosen, "later": later}


LAMBDA = "arn:aws:lambda:eu-west-1:123456789012:function:"


def task(resource: str, **fields: Any) -> dict[str, Any]:
    return machine({"T": {"Type": "Task", "Resource": resource, "End": True, **fields}})


def test_lambda_arn_returns_the_handler_result() -> None:
    result = run(task(LAMBDA + "echo", Parameters={"x.$": "$.a"}), {"a": 5}, handlers=handlers())
    assert result.output == {"x": 5}


def test_lambda_invoke_wraps_the_result_and_unwraps_the_payload() -> None:
    definition = task("arn:aws:states:::lambda:invoke", Parameters={"FunctionName": "echo", "Payload.$": "$"})
    result = run(definition, {"a": 1}, handlers=handlers())
    assert result.output["Payload"] == {"a": 1}
    assert result.output["StatusCode"] == 200
    assert result.output["ExecutedVersion"] == "$LATEST"
    by_arn = task(
        "arn:aws:states:::lambda:invoke", Parameters={"FunctionName": LAMBDA + "later", "Payload": None}
    )
    assert run(by_arn, {}, handlers=handlers()).output["Payload"] == {"async": {}}


def test_dynamic_function_name_that_does_not_exist() -> None:
    definition = task("arn:aws:states:::lambda:invoke", Parameters={"FunctionName.$": "$.fn"})
    result = run(definition, {"fn": "nope"}, handlers=handlers())
    assert result.error == "Lambda.ResourceNotFoundException"
    assert result.cause is not None
    assert result.cause.startswith(
        "Function not found: arn:aws:lambda:us-east-1:111111111111:function:nope:$LATEST"
    )


def test_handler_cannot_change_the_state_input() -> None:
    definition = task(LAMBDA + "mutate", ResultPath="$.r")
    result = run(definition, {"a": 1}, handlers=handlers())
    assert result.output == {"a": 1, "r": {"a": 1, "touched": True}}


def test_handler_exception_becomes_lambda_error_and_cause() -> None:
    result = run(task(LAMBDA + "overheat"), {}, handlers=handlers())
    assert result.error == "Overheated"
    assert result.cause is not None
    cause = orjson.loads(result.cause)
    assert cause["errorMessage"] == "too hot: 99"
    assert cause["errorType"] == "Overheated"
    assert isinstance(cause["stackTrace"], list)
    request = uuid.UUID(cause["requestId"])
    assert (request.version, request.variant) == (4, uuid.RFC_4122)
    again = orjson.loads(run(task(LAMBDA + "overheat"), {}, handlers=handlers()).cause or "")
    assert again["requestId"] != cause["requestId"]
    chosen = run(task(LAMBDA + "chosen"), {}, handlers=handlers())
    assert (chosen.error, chosen.cause) == ("Sensor.Offline", "no reading")


def test_result_selector_sees_the_raw_result() -> None:
    definition = task(LAMBDA + "echo", ResultSelector={"only.$": "$.b"}, ResultPath="$.sel")
    assert run(definition, {"b": 3}, handlers=handlers()).output == {"b": 3, "sel": {"only": 3}}


def test_a_static_resource_without_handler_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError) as error:
        compile_workflow(task(LAMBDA + "ghost"), handlers=handlers())
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.code == "INVALID_RESOURCE"
    assert diagnostic.location == "/States/T/Resource"
    assert "ghost" in diagnostic.message


def test_start_runs_inline_unless_a_state_waits() -> None:
    sync = compile_workflow(task(LAMBDA + "echo"), handlers=handlers())
    assert isinstance(sync.start({"a": 1}), ExecutionResult)
    waiting = compile_workflow(task(LAMBDA + "later"), handlers=handlers())
    pending = waiting.start({"a": 1})
    assert not isinstance(pending, ExecutionResult)
    assert callable(getattr(pending, "__await__", None))  # dropping it leaves nothing behind


# ----------------------------------------------------------------------------- wait
def test_wait_uses_the_injected_clock() -> None:
    clock = ManualClock()
    definition = machine(
        {
            "W1": {"Type": "Wait", "Seconds": 5, "Next": "W2"},
            "W2": {"Type": "Wait", "SecondsPath": "$.s", "Next": "W3"},
            "W3": {"Type": "Wait", "TimestampPath": "$.at", "End": True},
        }
    )
    at = "2023-11-14T22:14:00Z"  # the ManualClock starts at 2023-11-14T22:13:20Z
    result = compile_workflow(definition, clock=clock).execute_sync({"s": 7, "at": at})
    assert result.status == "SUCCEEDED"
    assert clock.sleeps == [5, 7, pytest.approx(28)]


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (-1, "The SecondsPath parameter references a negative value: $.s == -1"),
        (1.5, "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5"),
        ("x", "The SecondsPath parameter cannot be parsed as a long value: $.s == x"),
    ],
)
def test_bad_seconds_path(value: Any, detail: str) -> None:
    definition = machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}})
    result = compile_workflow(definition, clock=ManualClock()).execute_sync({"s": value})
    assert result.error == "States.Runtime"
    assert result.cause is not None and result.cause.endswith(detail)


def test_package_exports() -> None:
    assert express.compile_workflow is compile_workflow
    assert {"Workflow", "ExecutionResult", "load_handlers"} <= set(express.__all__)
