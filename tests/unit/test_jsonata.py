"""JSONata expressions and values: compilation, evaluation, AWS's wording of every failure."""

from __future__ import annotations

from typing import Any

import jsonatapy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from express.asl.jsonata import (
    QUERY_EVALUATION_ERROR,
    QueryFailure,
    StatesVar,
    compile_expression,
    is_expression,
    references_context,
)
from express.asl.jsonata_template import (
    compile_boolean,
    compile_integer,
    compile_number,
    compile_string,
    compile_value,
    has_expression,
)
from express.errors import DefinitionError
from express.runtime.context import ExecutionContext

POINTER = "/States/S/Output"


def evaluate(text: str, data: Any = None, variables: dict[str, Any] | None = None, **states: Any) -> Any:
    ctx = ExecutionContext(input=data, execution_name="run-1")
    if variables:
        ctx.assign(variables)
    expression = compile_expression(text, "Output", POINTER, error_output="error_output" in states)
    return expression(StatesVar(data, ctx, **states))


def failure(text: str, data: Any = None, field: str = "Output", **states: Any) -> QueryFailure:
    ctx = ExecutionContext(input=data)
    expression = compile_expression(text, field, POINTER)
    with pytest.raises(QueryFailure) as caught:
        expression(StatesVar(data, ctx, **states))
    assert caught.value.error == QUERY_EVALUATION_ERROR
    assert caught.value.location == field
    return caught.value


# ----------------------------------------------------------------------------- delimiters
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% 1 %}", True),
        ("{%1%}", True),
        (" {% 1 %}", False),
        ("{% 1 %} ", False),
        ("$.a", False),
        ("{%", False),
        (1, False),
    ],
)
def test_only_a_whole_delimited_string_is_an_expression(text: Any, expected: bool) -> None:
    assert is_expression(text) is expected


def test_has_expression_looks_at_every_depth() -> None:
    assert has_expression({"a": [1, {"b": "{% 2 %}"}]})
    assert not has_expression({"a": [1, {"b": " {% 2 %}"}], "c": "$.x"})


# ----------------------------------------------------------------------------- evaluation
def test_states_input_result_error_output_and_context() -> None:
    data = {"a": [1, 2, 3]}
    assert evaluate("{% $sum($states.input.a) %}", data) == 6
    assert evaluate("{% $states.result.r %}", data, result={"r": "ok"}) == "ok"
    assert evaluate("{% $states.errorOutput.Error %}", data, error_output={"Error": "E", "Cause": ""}) == "E"
    assert evaluate("{% $states.context.Execution.Name %}", data) == "run-1"


def test_variables_are_read_from_the_scope() -> None:
    assert evaluate("{% $x + $y.n %}", None, {"x": 1, "y": {"n": 2}}) == 3
    # A local binding shadows a workflow variable of the same name, as in JSONata.
    assert evaluate("{% ($x := 10; $x) %}", None, {"x": 1}) == 10


def test_null_is_a_value_and_nothing_is_a_failure() -> None:
    assert evaluate("{% $states.input.a %}", {"a": None}) is None
    assert evaluate("{% null %}") is None
    cause = failure("{% $states.input.missing %}", {}).detail
    assert cause == (
        "The JSONata expression '$states.input.missing' specified for the field 'Output' "
        "returned nothing (undefined)."
    )


def test_an_unassigned_variable_is_nothing() -> None:
    cause = failure("{% $doesNotExist %}", field="Arguments/FunctionName").detail
    assert cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Arguments/FunctionName' "
        "returned nothing (undefined)."
    )


def test_a_function_is_not_a_result() -> None:
    cause = failure("{% $fn := function($x){$x} %}", field="Items").detail
    assert cause == (
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' "
        "returned an unsupported result type."
    )


def test_an_evaluation_error_quotes_the_expression_and_the_code() -> None:
    cause = failure("{% $states.input.s + 1 %}", {"s": "x"}).detail
    assert cause.startswith(
        "The JSONata expression '$states.input.s + 1' specified for the field 'Output' "
        "threw an error during evaluation. T2001: "
    )


def test_non_finite_numbers_are_named_as_aws_writes_them() -> None:
    assert evaluate("{% 1/0 %}") == "Infinity"
    assert evaluate("{% -1/0 %}") == "-Infinity"


def test_integers_beyond_64_bits_reach_the_expression_as_doubles() -> None:
    assert evaluate("{% $states.input.n %}", {"n": 2**70}) == float(2**70)
    assert evaluate("{% $states.input.m %}", {"n": 2**70, "m": 1}) == 1


def test_strings_and_comments_do_not_count_as_references() -> None:
    # '$$' and '$states.errorOutput' inside literals are text, not references.
    assert evaluate("{% '$$ and $states.errorOutput' /* $$ */ %}") == "$$ and $states.errorOutput"


def test_only_the_parts_of_states_an_expression_uses_are_built() -> None:
    class CountingContext(ExecutionContext):
        __slots__ = ("built",)
        built: int

        def context_object(self) -> dict[str, Any]:
            self.built += 1
            return super().context_object()

    ctx = CountingContext(input={})
    ctx.built = 0
    compile_expression("{% $states.input %}", "Output", POINTER)(StatesVar({}, ctx))
    assert ctx.built == 0
    states = StatesVar({}, ctx)
    reads_context = compile_expression("{% $states.context.State.Name %}", "Output", POINTER)
    reads_context(states)
    reads_context(states)
    assert ctx.built == 1  # built once per evaluation scope, however many expressions read it


def test_references_context() -> None:
    assert references_context("{% $states.context.Execution.Id %}")
    assert references_context("{% $states %}")
    assert not references_context("{% $states.input.context %}")


# ----------------------------------------------------------------------------- compile time
def test_syntax_errors_are_definition_errors_with_the_pointer() -> None:
    with pytest.raises(DefinitionError) as caught:
        compile_expression("{% a[1,2) %}", "Output", POINTER)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "INVALID_JSONATA_EXPRESSION"
    assert diagnostic.location == POINTER
    assert not diagnostic.message.startswith(("Parse error", "S0"))


def test_the_top_level_context_and_error_output_outside_a_catch_are_refused() -> None:
    with pytest.raises(DefinitionError) as caught:
        compile_expression("{% $$.a %}", "Output", POINTER)
    assert caught.value.diagnostics[0].code == "UNSUPPORTED_JSONATA_EXPRESSION"
    with pytest.raises(DefinitionError):
        compile_expression("{% $states.errorOutput %}", "Output", POINTER)
    compile_expression("{% $states.errorOutput %}", "Catch[0]/Output", POINTER, error_output=True)


def test_every_problem_of_a_template_is_reported_at_once() -> None:
    with pytest.raises(DefinitionError) as caught:
        compile_value({"a": "{% ( %}", "b": ["{% ] %}"], "c~/d": "{% ) %}"}, "Output", POINTER)
    assert [d.location for d in caught.value.diagnostics] == [
        f"{POINTER}/a",
        f"{POINTER}/b/0",
        f"{POINTER}/c~0~1d",
    ]


def test_no_expression_is_parsed_after_compilation(monkeypatch: pytest.MonkeyPatch) -> None:
    expression = compile_expression("{% $states.input.a %}", "Output", POINTER)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed while running")

    monkeypatch.setattr(jsonatapy, "compile", refuse)
    assert expression(StatesVar({"a": 1}, ExecutionContext(input={}))) == 1


# ----------------------------------------------------------------------------- templates
def test_templates_keep_literals_and_name_each_expression_by_its_path() -> None:
    build = compile_value(
        {"lit": " {% x %}", "path": "$states.input", "n": [1, "{% $states.input.a %}"], "deep": {"v": 2}},
        "Output",
        POINTER,
    )
    ctx = ExecutionContext(input={})
    assert build(StatesVar({"a": 5}, ctx)) == {
        "lit": " {% x %}",
        "path": "$states.input",
        "n": [1, 5],
        "deep": {"v": 2},
    }
    with pytest.raises(QueryFailure) as caught:
        build(StatesVar({}, ctx))
    assert "specified for the field 'Output/n[1]'" in caught.value.detail


def test_a_template_without_expressions_is_returned_as_it_is() -> None:
    value = {"a": [1, {"b": None}]}
    assert compile_value(value, "Output", POINTER)(StatesVar({}, ExecutionContext(input={}))) is value


def test_results_are_fresh_for_every_evaluation() -> None:
    build = compile_value({"a": "{% $states.input %}", "k": 1}, "Output", POINTER)
    ctx = ExecutionContext(input={})
    first = build(StatesVar([1], ctx))
    first["k"] = 2
    assert build(StatesVar([1], ctx)) == {"a": [1], "k": 1}


# ----------------------------------------------------------------------------- typed fields
def typed_failure(builder: Any, data: Any) -> str:
    with pytest.raises(QueryFailure) as caught:
        builder(StatesVar(data, ExecutionContext(input=data)))
    return caught.value.detail


def test_integer_fields() -> None:
    seconds = compile_integer("{% $states.input.s %}", "Seconds", POINTER, minimum=0)
    assert seconds(StatesVar({"s": 3}, ExecutionContext(input={}))) == 3
    assert seconds(StatesVar({"s": 2.0}, ExecutionContext(input={}))) == 2
    assert typed_failure(seconds, {"s": "3"}) == (
        "The JSONata expression '$states.input.s' specified for the field 'Seconds' returned an unexpected "
        "result type. Expected 'integer', but was 'string' for value: \"3\""
    )
    assert "but was 'number' for value: 1.5" in typed_failure(seconds, {"s": 1.5})
    assert "but was 'boolean'" in typed_failure(seconds, {"s": True})
    assert "returned -1, but the field must be an integer of at least 0" in typed_failure(seconds, {"s": -1})
    literal = compile_integer(7, "TimeoutSeconds", POINTER, minimum=1)
    assert literal(StatesVar({}, ExecutionContext(input={}))) == 7


def test_number_string_and_boolean_fields() -> None:
    percentage = compile_number(
        "{% $states.input.p %}", "ToleratedFailurePercentage", POINTER, minimum=0, maximum=100
    )
    assert "must be a number from 0 to 100" in typed_failure(percentage, {"p": 101})
    error = compile_string("{% $states.input.e %}", "Error", POINTER)
    assert "Expected 'string', but was 'object' for value: {\"a\":1}" in typed_failure(error, {"e": {"a": 1}})
    condition = compile_boolean("{% $states.input.c %}", "Choices[0]/Condition", POINTER)
    assert condition(StatesVar({"c": False}, ExecutionContext(input={}))) is False
    assert "Expected 'boolean', but was 'null' for value: null" in typed_failure(condition, {"c": None})


# ----------------------------------------------------------------------------- plain paths
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["a", "b", ""]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)
    ),
    max_leaves=12,
)


def _outcome(expression: Any, sv: StatesVar) -> tuple[str, Any]:
    try:
        return "value", expression(sv)
    except QueryFailure as failed:
        return "failure", failed.detail


@settings(max_examples=300)
@given(data=_json, steps=st.lists(st.sampled_from(["a", "b", "c"]), max_size=3), variable=st.booleans())
def test_plain_paths_read_directly_agree_with_the_evaluator(
    data: Any, steps: list[str], variable: bool
) -> None:
    body = ("$v" if variable else "$states.input") + "".join(f".{s}" for s in steps)
    direct = compile_expression("{% " + body + " %}", "Output", POINTER)
    # The same path in parentheses is never read directly.
    evaluated = compile_expression("{% (" + body + ") %}", "Output", POINTER)
    ctx = ExecutionContext(input=data)
    ctx.assign({"v": data})
    sv = StatesVar(data, ctx)
    kind, value = _outcome(direct, sv)
    other_kind, other = _outcome(evaluated, sv)
    assert kind == other_kind
    if kind == "value":
        assert value == other
    else:
        assert value == other.replace(f"'({body})'", f"'{body}'")
