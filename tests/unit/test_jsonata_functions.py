"""The functions Step Functions adds to JSONata ($partition, $range, ...) and the $eval it removes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from express.asl.jsonata import QueryFailure, StatesVar, compile_expression
from express.runtime.context import ExecutionContext


def evaluate(text: str, data: Any = None) -> Any:
    return compile_expression(text, "Output", "/States/S/Output")(
        StatesVar(data, ExecutionContext(input=data))
    )


def fails(text: str, data: Any = None) -> str:
    with pytest.raises(QueryFailure) as caught:
        evaluate(text, data)
    return caught.value.detail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $partition([0], 1) %}", [[0]]),
        ("{% $partition([0, 1, 2], 2) %}", [[0, 1], [2]]),
        ("{% $partition([0, 1, 2], 4) %}", [[0, 1, 2]]),
        ("{% $partition([0, 1, 2], 2.9) %}", [[0, 1], [2]]),
        ("{% $range(0, 9, 3) %}", [0, 3, 6, 9]),
        ("{% $range(0, 10, 3) %}", [0, 3, 6, 9]),
        ("{% $range(3, 0, -1) %}", [3, 2, 1, 0]),
        ("{% $range(1, 9, 9) %}", 1),  # a single value is not an array
        ("{% $range(-1.7, 2, 1) %}", [-1, 0, 1, 2]),
        ("{% $hash('input', 'MD5') %}", "a43c1b0aa53a0c908810c06ab1ff3967"),
        (
            "{% $hash('input', 'SHA-256') %}",
            "c96c6d5be8d08a12e7b5cdc1b207fa6b2430974c86803d8891675e76fd992c20",
        ),
        ("{% $random(42) %}", 0.7275636800328681),  # java.util.Random(42).nextDouble()
        ("{% $parse('-0') %}", 0),
        ("{% $parse('[1, 2, \"x\"]') %}", [1, 2, "x"]),
        ('{% $parse(\'{"a": {"b": null}}\') %}', {"a": {"b": None}}),
        ("{% $map(['1', '[2]'], $parse) %}", [1, [2]]),
    ],
)
def test_results(text: str, expected: Any) -> None:
    assert evaluate(text) == expected


def test_random_without_a_seed_and_uuid() -> None:
    value = evaluate("{% $random() %}")
    assert isinstance(value, float) and 0 <= value < 1
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", evaluate("{% $uuid() %}")
    )
    assert evaluate("{% $uuid() %}") != evaluate("{% $uuid() %}")


def test_parse_keeps_long_integers_exact() -> None:
    assert evaluate("{% $parse('9223372036854775807') %}") == 9223372036854775807
    assert evaluate("{% $parse('12.5e1') %}") == 125


@pytest.mark.parametrize(
    "text",
    [
        "{% $partition([], 2) %}",
        "{% $partition([1, 2], 0) %}",
        "{% $range(1, 5) %}",
        "{% $range(5, 1, 1) %}",
        "{% $hash('x') %}",
    ],
)
def test_arguments_that_give_nothing_fail_the_field(text: str) -> None:
    assert fails(text).endswith("returned nothing (undefined).")


def test_nothing_inside_a_structure_is_dropped_as_jsonata_drops_it() -> None:
    assert evaluate("{% {'a': $range(1, 5), 'b': 1} %}") == {"b": 1}
    assert evaluate("{% [$hash('x'), 2] %}") == [2]


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        (
            "{% $partition('x', 2) %}",
            'T0412: Argument 1 of function "partition" must be an array of undefined',
        ),
        ("{% $partition([1], -1) %}", "D3137: Second argument must be zero or greater"),
        (
            "{% $range('a', 2, 1) %}",
            'T0410: Argument 1 of function "range" does not match function signature',
        ),
        ("{% $hash(1, 'MD5') %}", 'T0410: Argument 1 of function "hash" does not match function signature'),
        (
            "{% $hash('x', 'SHA-3') %}",
            "D3137: Hash algorithm 'SHA-3' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5",
        ),
        ("{% $parse('{') %}", "D3137: Invalid JSON"),
        ("{% $uuid(1) %}", 'T0410: Argument 1 of function "uuid" does not match function signature'),
        ("{% $eval('1 + 1') %}", "T1006: Attempted to invoke a non-function"),
    ],
)
def test_errors_carry_the_jsonata_code(text: str, tail: str) -> None:
    detail = fails(text)
    assert "threw an error during evaluation. " in detail
    assert detail.endswith(tail), detail
