"""Create-time refusal of JSONata expressions that read the top-level context.

AWS refuses ``{% foo %}`` when the state machine is created, with
``UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'foo' at the top level is not supported.``
at the field's location, one diagnostic per distinct name in the order written. Names
evaluated against another value (later path steps, predicates, sort terms, group-by
objects, lambda parameters) are fine. The property test checks the rule against the
evaluator itself: a name the check lets through never reads the top-level input.
"""

from __future__ import annotations

from typing import Any

import jsonatapy
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from express import DefinitionError, compile_workflow
from express.asl import jsonata
from express.asl.jsonata import StatesVar, compile_expression
from express.asl.jsonata_references import scan
from express.runtime.context import ExecutionContext

POINTER = "/States/S/Output"
CODE = "UNSUPPORTED_JSONATA_EXPRESSION"


def refused(text: str, **options: Any) -> list[tuple[str, str, str]]:
    """The diagnostics compiling ``text`` raises, as (code, message, location)."""
    with pytest.raises(DefinitionError) as caught:
        compile_expression(text, "Output", POINTER, **options)
    return [(d.code, d.message, d.location) for d in caught.value.diagnostics]


def top_level(*names: str) -> list[tuple[str, str, str]]:
    return [(CODE, f"Reference to '{name}' at the top level is not supported.", POINTER) for name in names]


# ----------------------------------------------------------------------------- accepted
VALID = [
    # the anchored forms: $states, variables, and everything relative to them
    "$states.input",
    "$states.input.items[price > 5]",
    "$states.input.a.(b + c)",
    "$map($states.input.xs, function($v) { $v.a })",
    "$states.input.orders.items.price",
    "$count($states.input.items)",
    "$sum($states.input.items.(price * qty))",
    "$states.input.items[type = 'a' and price > 5].name",
    "$states.input.items[price > $states.input.min]",
    "$states.input.items[$contains(name, /^a/)]",
    "$states.input.items[$.price > 5]",
    "$states.input.items[$ > 5]",
    "$states.input.xs.($ * 2)",
    "$states.input.items.(price > 5 ? name : null)",
    "$states.input.a[b = 1][c = 2]",
    "$states.input.items[0]",
    "$states.input.items[-1].name",
    "$states.input.items[[0..2]]",
    "$states.input.a.b[]",
    "$states.context.Execution.Id",
    "$states.result.Payload",
    "$theAnswer",
    "$x.y.z",
    "$x[0]",
    "$x.y[z > 1]",
    # sort, group-by, focus and index bindings: their terms are relative
    "$states.input.items^(>price).name",
    "$states.input.items^(<price, >qty)",
    "$states.input.items{name: price}",
    "$states.input{`group by`: $count($)}",
    "$x{a: b}",
    "$x^(a)",
    "$states.input.items#$i[$i < 2]",
    "$states.input.items@$it.$it.name",
    # paths that only step further: names, quoted names, wildcards, parents
    "$states.input.`field with spaces`",
    "$states.input.`a.b`.c",
    '$states.input."quoted step"',
    "$states.input.a.and",
    "$states.input.in",
    "$states.input.`and`",
    "$states.input.*",
    "$states.input.**.id",
    "$states.input.a.%.b",
    "$states.input.a.{'k': v}",
    "$states.input.a.[b, c]",
    # lambdas see their own parameters; their relative paths start from them
    "$reduce($states.input.xs, function($acc, $v){ $acc + $v }, 0)",
    "$filter($states.input.xs, function($v, $i, $a){ $v > $i })",
    "$sort($states.input.xs, function($l, $r){ $l.k > $r.k })",
    "$single($states.input.xs, function($v){ $v = 1 })",
    "$each($states.input, function($v, $k){ $k & $v })",
    "function($x){ $x * 2 }($states.input.n)",
    "λ($x){ $x }(1)",
    "$f := function($x)<n:n>{ $x + 1 }",
    "$f := function($a)<a<n>:n>{ $sum($a) }",
    # chains, transforms, bindings, blocks
    "$states.input.a ~> $uppercase()",
    "$states.input.a ~> $map(function($v){ $v.b })",
    "$states.input ~> $count",
    "$states.input ~> |$|{'b': c}|",
    "$states.input ~> | items | {'total': price * qty}, ['tmp'] |",
    "$x := $states.input.a",
    "($x := $states.input.a; $y := $x * 2; $y)",
    "$fn := function($x){$x}",
    # strings, comments and regexes hide what looks like a name
    "'literal string with foo and bar'",
    '"double quoted foo"',
    "'a' & \"b\" & '/*not a comment*/'",
    '"say \\"hi\\""',
    "'\\u0041'",
    "/* a comment with foo */ $states.input",
    "$states.input /* foo */ .a",
    "$contains($states.input.s, /ab+c/i)",
    "$replace($states.input.s, /\\s+/, ' ')",
    "$split($states.input.s, /[,;]/)",
    "$contains('hello$world', /^hello\\ /)",
    "$match($states.input.s, /a(b)c/)",
    "$states.input.s ~> /x/",
    "(/abc/)",
    "[/abc/]",
    # constructors, operators, conditions and literals of anchored operands
    "{'key': $states.input.a, \"k2\": [1, 2, $x]}",
    "{ 'a': $states.input.b ? 'yes' : 'no' }",
    "$states.input.n % 2 = 0 ? 'even' : 'odd'",
    "$exists($states.input.a) ? $states.input.a : 'default'",
    "true and false or $states.input.b",
    "$states.input.a in [1, 2]",
    "-$states.input.n",
    "$states.input.a & 'x'",
    "$states.input.a = null",
    "$states.input.a ?: 1",
    "$states.input.a ?? 1",
    "[1..5]",
    "[1..$count($states.input.xs)]",
    "$merge([$states.input.part1, $states.input.part2])",
    "$partition($states.input.xs, 2)",
    "$range(0, 10, 2)",
    "$hash('a', 'SHA-256')",
    "$uuid()",
    "$parse('{\"a\":1}')",
    "$number('2')",
    "$states.input = '\"'",
    "{}",
    "[]",
    "()",
    "1",
    "1.5e3",
    "-1",
    "null",
    "true",
]


@pytest.mark.parametrize("body", VALID)
def test_expressions_that_read_no_top_level_field_are_accepted(body: str) -> None:
    jsonatapy.compile(body)  # the list holds valid JSONata only
    found = scan(body)
    assert found is not None
    assert found.top_level == []
    assert not found.root
    compile_expression(f"{{% {body} %}}", "Output", POINTER)


# ----------------------------------------------------------------------------- refused
REFUSED = [
    ("foo", ["foo"]),
    ("foo.bar", ["foo"]),
    ("phone[0]", ["phone"]),
    ("$count(items)", ["items"]),
    ("items[price > 5]", ["items"]),
    ("aaa + bbb", ["aaa", "bbb"]),
    ("a.b.c + d.e", ["a", "d"]),
    ("foo + foo.bar", ["foo"]),
    ("$states.input.a + x", ["x"]),
    ("{aaa: 1}", ["aaa"]),  # a key is an expression too
    ("{'k': v}", ["v"]),
    ("[a, b]", ["a", "b"]),
    ("[1..n]", ["n"]),
    ("(a; b).c", ["a", "b"]),
    ("a ? b : c", ["a", "b", "c"]),
    ("a and b or c", ["a", "b", "c"]),
    ("a = b", ["a", "b"]),
    ("a*b", ["a", "b"]),
    ("a%b", ["a", "b"]),
    ("a/ b /c", ["a", "b", "c"]),  # division, not a regex
    ("a ?: b", ["a", "b"]),
    ("-n", ["n"]),
    ("$x := y", ["y"]),
    ("foo()", ["foo"]),
    ("$f(?, x)", ["x"]),
    ("foo ~> $uppercase()", ["foo"]),
    ("$map($states.input.a, function($x){ b })", ["b"]),  # a lambda keeps the outer context
    ("$states.input.a ~> $map(function($v){ c })", ["c"]),
    ("`my field`.x", ["my field"]),
    ("'foo'.bar", ["foo"]),  # a string step of a path is a name
    ('"foo"[0].bar', ["foo"]),
    ("foo /* c */ . bar", ["foo"]),
    ("x{a: b}", ["x"]),
    ("x^(a)", ["x"]),
    ("x@$v.y", ["x"]),
    ("x#$i", ["x"]),
    ("and", ["and"]),  # a keyword where an operand is expected is a name
    ("in.x", ["in"]),
    ("$.phone", ["$"]),  # the context item itself
    ("$", ["$"]),
    ("$count($)", ["$"]),
]


@pytest.mark.parametrize(("body", "names"), REFUSED)
def test_top_level_fields_are_refused_once_each_in_the_order_written(body: str, names: list[str]) -> None:
    jsonatapy.compile(body)
    assert refused(f"{{% {body} %}}") == top_level(*names)


def test_an_earlier_assignment_does_not_make_the_bare_name_a_variable() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"phone": "{% 1 %}"}, "Next": "E"},
            "E": {"Type": "Pass", "Output": {"v": "{% phone %}"}, "End": True},
        },
    }
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(definition)
    assert [(d.code, d.message, d.location) for d in caught.value.diagnostics] == [
        (CODE, "Reference to 'phone' at the top level is not supported.", "/States/E/Output/v")
    ]
    definition["States"]["E"]["Output"] = {"v": "{% $phone %}"}
    assert compile_workflow(definition).execute_sync({}).output == {"v": 1}


@pytest.mark.parametrize(
    ("state", "location"),
    [
        ({"Type": "Pass", "Output": {"a": {"b": ["{% phone %}"]}}, "End": True}, "/States/S/Output/a/b/0"),
        ({"Type": "Pass", "Assign": {"v": "{% phone %}"}, "End": True}, "/States/S/Assign/v"),
        ({"Type": "Wait", "Seconds": "{% phone %}", "End": True}, "/States/S/Seconds"),
        ({"Type": "Fail", "Cause": "{% phone %}"}, "/States/S/Cause"),
        (
            {"Type": "Choice", "Choices": [{"Condition": "{% phone = 1 %}", "Next": "E"}], "Default": "E"},
            "/States/S/Choices/0/Condition",
        ),
        (
            {
                "Type": "Map",
                "Items": "{% phone %}",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            },
            "/States/S/Items",
        ),
    ],
)
def test_the_diagnostic_points_at_the_field_that_holds_the_expression(
    state: dict[str, Any], location: str
) -> None:
    states = {"S": state, "E": {"Type": "Succeed"}} if state["Type"] == "Choice" else {"S": state}
    definition = {"QueryLanguage": "JSONata", "StartAt": "S", "States": states}
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(definition)
    assert [(d.code, d.message, d.location) for d in caught.value.diagnostics] == [
        (CODE, "Reference to 'phone' at the top level is not supported.", location)
    ]


def test_a_jsonpath_state_does_not_read_its_strings_as_jsonata() -> None:
    definition = {
        "StartAt": "S",
        "States": {"S": {"Type": "Pass", "Parameters": {"v": "{% phone %}"}, "End": True}},
    }
    assert compile_workflow(definition).execute_sync({}).output == {"v": "{% phone %}"}


def test_a_syntax_error_is_reported_as_such_before_any_reference() -> None:
    with pytest.raises(DefinitionError) as caught:
        compile_expression("{% phone[1,2) %}", "Output", POINTER)
    assert [d.code for d in caught.value.diagnostics] == ["INVALID_JSONATA_EXPRESSION"]


# ----------------------------------------------------------------------------- $$
def test_the_top_level_context_is_refused_only_where_it_is_a_variable() -> None:
    root = (CODE, "Reference to '$$' is not supported.", POINTER)
    assert refused("{% $$ %}") == [root]
    assert refused("{% $$.Execution.Id %}") == [root]
    assert refused("{% $states.input.a[$$.x] %}") == [root]
    assert refused("{% foo & $$ %}") == [*top_level("foo"), root]
    for body in ("'$$'", "$contains($states.input.s, /^\\$\\$/)", "$states.input.`$$`", "/* $$ */ 1"):
        compile_expression(f"{{% {body} %}}", "Output", POINTER)


def test_an_expression_the_parser_does_not_know_is_never_refused_for_its_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsonata, "scan", lambda body: None)
    compile_expression("{% foo.bar %}", "Output", POINTER)
    # the text scan still finds $$
    assert refused("{% $$ %}") == [(CODE, "Reference to '$$' is not supported.", POINTER)]


@pytest.mark.parametrize(
    "body", ["a b", "a[1,2)", "'open", "`open", "/* open", "$f(", "function(a){1}", "1 ; 2"]
)
def test_scan_answers_none_outside_the_grammar(body: str) -> None:
    assert scan(body) is None


def test_scan_answers_none_for_an_expression_nested_beyond_the_stack() -> None:
    assert scan("(" * 5000 + "foo" + ")" * 5000) is None
    found = scan("(" * 50 + "foo" + ")" * 50)
    assert found is not None
    assert found.top_level == ["foo"]


# ----------------------------------------------------------------------------- property
NAMES = ("a", "b", "price", "items")
TOP_INPUT = {
    "a": {"a": 1, "b": [1, 2], "price": 9},
    "b": [3, 4],
    "price": 7,
    "items": [{"price": 8, "a": "x"}, {"price": 2, "b": True}],
}
STATES = {"input": {"a": {"b": 2, "price": 3}, "items": [{"price": 6, "a": "y"}, {"price": 1}], "price": 5}}

_leaf = st.sampled_from(
    [
        *NAMES,
        "$states.input",
        "$states.input.a",
        "$states.input.items",
        "$states.input.price",
        "$v",
        "1",
        "'s'",
        "true",
        "null",
        "[1, 2]",
    ]
)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    step = st.one_of(st.sampled_from(NAMES), inner.map(lambda e: f"({e})"), inner.map(lambda e: f"[{e}]"))
    return st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "=", "!=", "<", "and", "or", "&", "in"]), inner).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        st.tuples(inner, step).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}^({t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}{{'k': {t[1]}}}"),
        st.tuples(inner, inner).map(lambda t: f"$map({t[0]}, function($v){{ {t[1]} }})"),
        st.tuples(inner, inner).map(lambda t: f"$filter({t[0]}, function($v, $i){{ {t[1]} }})"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}; {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"[{t[0]}, {t[1]}]"),
        st.tuples(inner, inner).map(lambda t: f"{{'k': {t[0]}, 'j': {t[1]}}}"),
        st.tuples(inner, inner).map(lambda t: f"($v := {t[0]}; {t[1]})"),
        inner.map(lambda e: f"$count({e})"),
        inner.map(lambda e: f"$string({e})"),
        inner.map(lambda e: f"-{e}"),
        inner.map(lambda e: f"{e} ~> $string()"),
        inner.map(lambda e: f"/* a */ {e}"),
        inner.map(lambda e: f"$contains($string({e}), /a.b/)"),
    )


def _outcome(compiled: Any, data: Any) -> tuple[str, Any]:
    try:
        return "value", compiled.evaluate(data, {"states": STATES})
    except ValueError as exc:
        return "error", str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(_leaf, _extend, max_leaves=8))
def test_a_name_the_check_lets_through_never_reads_the_top_level_input(body: str) -> None:
    try:
        compiled = jsonatapy.compile(body, timeout=1_000)
    except ValueError:
        assume(False)
    found = scan(body)
    assert found is not None  # the parser covers everything this grammar writes
    if found.top_level:
        return
    # Nothing reported: giving the expression a top-level input must change nothing.
    assert _outcome(compiled, None) == _outcome(compiled, TOP_INPUT)
    expression = compile_expression(f"{{% {body} %}}", "Output", POINTER)
    assert callable(expression)


def test_the_property_can_fail() -> None:
    """A read the check would miss shows up as a different outcome with a top-level input."""
    compiled = jsonatapy.compile("$states.input.price + price")
    assert _outcome(compiled, None) != _outcome(compiled, TOP_INPUT)
    found = scan("$states.input.price + price")
    assert found is not None
    assert found.top_level == ["price"]


def test_an_evaluation_against_the_states_input_is_unchanged() -> None:
    expression = compile_expression("{% $states.input.items[price > 5].a %}", "Output", POINTER)
    assert expression(StatesVar(STATES["input"], ExecutionContext(input={}))) == "y"
