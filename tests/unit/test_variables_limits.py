"""Size limits of workflow variables: 256 KiB a variable, 256 KiB an Assign, 10 MiB an execution.

Sizes are UTF-8 JSON, so a string of n ASCII characters weighs n + 2 bytes. A breach
fails the state with States.DataLimitExceeded before anything is committed. The
property test runs the compiled Assign (cheap bounds, then the exact measure) against a
plain model of the three limits, shrunk so that random values reach them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from express import compile_workflow
from express.asl import variables
from express.asl.variables import (
    MAX_ASSIGN_BYTES,
    MAX_EXECUTION_VARIABLES_BYTES,
    MAX_VARIABLE_BYTES,
    check_limits,
    compile_jsonpath_assign,
)
from express.errors import FieldFailure
from express.runtime.context import ExecutionContext
from express.runtime.result import ExecutionResult

LIMIT = "States.DataLimitExceeded"


def run(definition: dict[str, Any], data: Any = None) -> ExecutionResult:
    return compile_workflow(definition).execute_sync({} if data is None else data)


def prefix(state: str, event_id: int) -> str:
    return f"An error occurred while executing the state '{state}' (entered at the event id #{event_id}). "


def variable_cause(name: str, size: int) -> str:
    return (
        f"The value assigned to the variable '{name}' has a size of {size} bytes, exceeding the maximum "
        "number of bytes service limit of 262144 for a variable."
    )


def assign_cause(size: int) -> str:
    return (
        f"The variables of the Assign field have a combined size of {size} bytes, exceeding the maximum "
        "number of bytes service limit of 262144 for an Assign field."
    )


def execution_cause(size: int) -> str:
    return (
        f"Assigning these variables would bring the variables of the execution to a size of {size} bytes, "
        "exceeding the maximum number of bytes service limit of 10485760 for an execution."
    )


def pad(length: int) -> str:
    """A JSONata expression for a string of ``length`` x's (``length + 2`` bytes of JSON)."""
    return f"{{% $pad('', {length}, 'x') %}}"


def test_the_limits_are_awss() -> None:
    assert (MAX_VARIABLE_BYTES, MAX_ASSIGN_BYTES, MAX_EXECUTION_VARIABLES_BYTES) == (
        256 * 1024,
        256 * 1024,
        10 * 1024 * 1024,
    )


# ----------------------------------------------------------------------------- one variable
def test_a_variable_of_exactly_256_kib_is_assigned_and_one_byte_more_fails_the_state() -> None:
    def machine(length: int) -> dict[str, Any]:
        return {
            "QueryLanguage": "JSONata",
            "StartAt": "Big",
            "States": {
                "Big": {"Type": "Pass", "Assign": {"big": pad(length)}, "Next": "Show"},
                "Show": {"Type": "Pass", "Output": "{% $length($big) %}", "End": True},
            },
        }

    assert run(machine(262_142)).output == 262_142
    result = run(machine(262_143))
    assert (result.status, result.error) == ("FAILED", LIMIT)
    assert result.cause == prefix("Big", 2) + variable_cause("big", 262_145)


def test_a_jsonpath_variable_over_the_limit_fails_the_state() -> None:
    definition = {
        "StartAt": "Big",
        "States": {
            "Big": {
                "Type": "Pass",
                "Assign": {"small": 1, "big.$": "States.Format('{}{}', $.s, $.s)"},
                "Next": "Never",
            },
            "Never": {"Type": "Pass", "End": True},
        },
    }
    result = run(definition, {"s": "é" * 70_000})  # 140,000 bytes of input, 280,000 in the variable
    assert (result.status, result.error) == ("FAILED", LIMIT)
    assert result.cause == prefix("Big", 2) + variable_cause("big", 280_002)


# ----------------------------------------------------------------------------- one Assign
def test_the_variables_of_one_assign_together_may_not_exceed_256_kib() -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {"Type": "Pass", "Assign": {"a.$": "$.s", "b.$": "$.s"}, "Next": "Show"},
            "Show": {"Type": "Pass", "Parameters": {"same.$": "States.StringSplit($a, ',')"}, "End": True},
        },
    }
    within = run(definition, {"s": "x" * 131_070})  # 131,072 + 131,072 bytes
    assert within.succeeded
    result = run(definition, {"s": "x" * 131_071})
    assert (result.status, result.error) == ("FAILED", LIMIT)
    assert result.cause == prefix("Both", 2) + assign_cause(262_146)


def test_the_limit_is_per_assign_field_not_per_state() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "One",
        "States": {
            "One": {"Type": "Pass", "Assign": {"a": pad(200_000)}, "Next": "Two"},
            "Two": {"Type": "Pass", "Assign": {"b": pad(200_000)}, "Next": "Show"},
            "Show": {"Type": "Pass", "Output": "{% $length($a) + $length($b) %}", "End": True},
        },
    }
    assert run(definition).output == 400_000


def test_a_choice_rule_assign_is_limited_like_a_state_assign() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% true %}", "Assign": {"a": pad(200_000), "b": pad(62_143)}, "Next": "E"}
                ],
                "Default": "E",
            },
            "E": {"Type": "Succeed"},
        },
    }
    result = run(definition)
    assert (result.status, result.error) == ("FAILED", LIMIT)
    assert result.cause == prefix("C", 2) + assign_cause(262_147)


# ----------------------------------------------------------------------------- the execution
def many(count: int, length: int, last: dict[str, str] | None = None) -> dict[str, Any]:
    """``count`` Pass states assigning v0, v1, ... of ``length`` characters, then ``last``."""
    states: dict[str, Any] = {
        f"P{i}": {"Type": "Pass", "Assign": {f"v{i}": pad(length)}, "Next": f"P{i + 1}"} for i in range(count)
    }
    states[f"P{count}"] = {"Type": "Pass", "Assign": last or {"done": "{% true %}"}, "End": True}
    return {"QueryLanguage": "JSONata", "StartAt": "P0", "States": states}


def test_the_variables_of_an_execution_may_not_exceed_10_mib() -> None:
    # 40 variables of 262,002 bytes hold 10,480,080 bytes; a 41st does not fit.
    assert run(many(40, 262_000)).succeeded
    result = run(many(40, 262_000, {"v40": pad(262_000)}))
    assert (result.status, result.error) == ("FAILED", LIMIT)
    assert result.cause == prefix("P40", 82) + execution_cause(41 * 262_002)


def test_a_reassigned_variable_replaces_its_old_value_in_the_total() -> None:
    assert run(many(40, 262_000, {"v0": pad(262_000), "v1": pad(1)})).succeeded


def test_an_iteration_counts_the_enclosing_variables() -> None:
    inner = {
        "StartAt": "I0",
        "States": {
            "I0": {"Type": "Pass", "Assign": {"i0": pad(262_000)}, "Next": "I1"},
            "I1": {"Type": "Pass", "Assign": {"i1": pad(262_000)}, "End": True},
        },
    }
    definition = many(39, 262_000)
    definition["States"]["P39"] = {
        "Type": "Map",
        "Items": [1],
        "ItemProcessor": inner,
        "End": True,
    }
    result = run(definition)
    assert (result.status, result.error) == ("FAILED", LIMIT)
    assert result.cause is not None
    assert result.cause.endswith(execution_cause(41 * 262_002))
    assert "'I1'" in result.cause


# ----------------------------------------------------------------------------- the measure
def test_check_limits_measures_utf8_json() -> None:
    ctx = ExecutionContext(input={})
    check_limits({"a": "x" * 262_142}, ctx)
    check_limits({"a": "é" * 131_070}, ctx)  # 262,140 + 2 bytes
    with pytest.raises(FieldFailure) as caught:
        check_limits({"a": "é" * 131_072}, ctx)
    assert (caught.value.error, caught.value.detail) == (LIMIT, variable_cause("a", 262_146))
    check_limits({"n": 2**70, "m": [1.5, None, True]}, ctx)  # beyond orjson's integers too


def test_an_integer_beyond_64_bits_is_assigned() -> None:
    assign = compile_jsonpath_assign({"Assign": {"n.$": "$.n"}})
    assert assign is not None
    assert assign({"n": 2**70}, ExecutionContext(input={})) == {"n": 2**70}


# A model of the three limits, and the compiled Assign against it with small limits.
SMALL = {"MAX_VARIABLE_BYTES": 40, "MAX_ASSIGN_BYTES": 60, "MAX_EXECUTION_VARIABLES_BYTES": 200}

_value = st.one_of(
    st.integers(0, 45).map(lambda n: "x" * n),
    st.integers(0, 22).map(lambda n: "é" * n),  # two bytes a character
    st.lists(st.integers(0, 99), max_size=12),
    st.integers(0, 10**12),
)
_values = st.dictionaries(st.sampled_from("abcdefgh"), _value, max_size=4)
_stored = st.lists(
    st.dictionaries(st.sampled_from("abcdpqrs"), st.integers(0, 36).map(lambda n: "x" * n), max_size=6),
    max_size=3,
)


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _model(values: dict[str, Any], scopes: list[dict[str, Any]]) -> str | None:
    if any(_size(v) > SMALL["MAX_VARIABLE_BYTES"] for v in values.values()):
        return "variable"
    if sum(_size(v) for v in values.values()) > SMALL["MAX_ASSIGN_BYTES"]:
        return "assign"
    own = {**scopes[0], **values} if scopes else values
    stored = [*own.values(), *(v for outer in scopes[1:] for v in outer.values())]
    if sum(_size(v) for v in stored) > SMALL["MAX_EXECUTION_VARIABLES_BYTES"]:
        return "execution"
    return None


def _outcome(error: FieldFailure | None) -> str | None:
    if error is None:
        return None
    if "for a variable" in error.detail:
        return "variable"
    return "assign" if "for an Assign field" in error.detail else "execution"


@settings(max_examples=300, deadline=None)
@given(_stored, _values)
def test_the_compiled_assign_fails_exactly_when_a_limit_is_exceeded(
    scopes: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    # What an execution can hold: every stored value and their total within the limits.
    assume(
        sum(_size(v) for scope in scopes for v in scope.values()) <= SMALL["MAX_EXECUTION_VARIABLES_BYTES"]
    )
    ctx = ExecutionContext(input={})
    for depth, scope in enumerate(reversed(scopes)):  # outermost first
        if depth:
            ctx = ctx.child()
        ctx.assign(scope)
    chain: list[dict[str, Any]] = []
    scope_of = ctx.variables
    while scope_of is not None:
        chain.append(scope_of.values)
        scope_of = scope_of.parent
    assign = compile_jsonpath_assign({"Assign": {f"{name}.$": f"$.{name}" for name in values}})
    assert assign is not None
    with pytest.MonkeyPatch.context() as patch:
        for name, limit in SMALL.items():
            patch.setattr(variables, name, limit)
        patch.setattr(variables, "_WITHIN", 40)
        patch.setattr(variables, "_UNMEASURED", (200 - 60) // 40)
        error = None
        try:
            assert assign(values, ctx) == values
        except FieldFailure as failure:
            error = failure
    assert _outcome(error) == _model(values, chain)
