"""Payload templates (Parameters, ResultSelector): the member-copy fast path agrees with the general one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from express.asl.io import REENCODED_GROWTH
from express.asl.templates import compile_template, member_copy_bound
from express.errors import FieldFailure
from express.runtime.context import ExecutionContext

CTX = ExecutionContext(input={})
RESHAPE = {"device.$": "$.device_id", "value.$": "$.value", "route": "timeseries", "nested": {"k": 1}}
# The same template, but one read is deeper: it goes through the general builder.
GENERAL = {**RESHAPE, "site.$": "$.where.site"}


def test_member_reads_copy_members_after_the_constants() -> None:
    build = compile_template(RESHAPE)
    out = build({"device_id": "d1", "value": 3.5, "extra": True}, CTX)
    assert out == {"route": "timeseries", "nested": {"k": 1}, "device": "d1", "value": 3.5}
    assert list(out) == ["route", "nested", "device", "value"]


@pytest.mark.parametrize("document", [{"device_id": "d1"}, [1], "text", 3, None])
def test_a_missing_member_or_a_non_object_input_fails_as_the_general_builder_does(document: Any) -> None:
    with pytest.raises(FieldFailure) as fast:
        compile_template(RESHAPE)(document, CTX)
    with pytest.raises(FieldFailure) as general:
        compile_template({**RESHAPE, "zz.$": "$.a.b"})(document, CTX)
    assert str(fast.value) == str(general.value)
    assert "The JSONPath '$.value' specified for the field 'value.$' could not be found" in str(
        fast.value
    ) or ("'$.device_id'" in str(fast.value))


@given(
    st.dictionaries(
        st.sampled_from(["device_id", "value", "where", "other"]),
        st.one_of(
            st.integers(-(2**63), 2**63 - 1),
            st.text(max_size=3),
            st.fixed_dictionaries({"site": st.booleans()}),
        ),
    )
)
def test_fast_and_general_builders_agree(document: dict[str, Any]) -> None:
    def outcome(template: dict[str, Any]) -> Any:
        try:
            out = compile_template(template)(document, CTX)
        except FieldFailure as failure:
            return ("failure", str(failure))
        return {k: v for k, v in out.items() if k != "site"}

    general = outcome(GENERAL)
    fast = outcome(RESHAPE)
    if isinstance(general, tuple) and "'$.where.site'" in general[1]:
        return  # only the general template reads that path
    assert fast == general
    if not isinstance(fast, tuple):
        assert fast == {
            "route": "timeseries",
            "nested": {"k": 1},
            "device": document["device_id"],
            "value": document["value"],
        }


@pytest.mark.parametrize(
    "template",
    [
        {"a.$": "$.a.b"},  # deeper than a member
        {"a.$": "$..a"},
        {"a.$": "$$.Execution.Id"},
        {"a.$": "$var"},
        {"a.$": "States.Format('{}', $.a)"},
        {"a": {"b.$": "$.b"}},  # a nested template
        {"a": 1},  # nothing copied: a constant
        [{"a.$": "$.a"}],
    ],
)
def test_only_constants_and_member_copies_have_a_size_bound(template: Any) -> None:
    assert member_copy_bound(template) is None


def test_the_bound_counts_each_copy_and_the_fixed_text() -> None:
    fixed, copies = member_copy_bound({"x.$": "$.a", "y.$": "$.a", "all.$": "$", "k": [1, "two"]}) or (0, 0)
    assert copies == 3
    assert fixed == len(orjson.dumps({"x": None, "y": None, "all": None, "k": [1, "two"]}))


_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e15, -9e15, 1.5e14, 1e-5, 1e16, 0.0001]),  # the ones re-encoding grows most
    st.text(),
)
_VALUE = st.recursive(
    _SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)


def _shortest_text(value: Any) -> bytes:
    """The shortest JSON text that parses to ``value``: numbers in their briefest form."""
    if isinstance(value, float) and not isinstance(value, bool):
        sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
        text = "".join(map(str, digits))
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        scientific = f"{'-' if sign else ''}{mantissa}e{int(exponent) + len(text) - 1}"
        return min(scientific.encode(), orjson.dumps(value), key=len)
    if isinstance(value, dict):
        return b"{" + b",".join(orjson.dumps(k) + b":" + _shortest_text(v) for k, v in value.items()) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(_shortest_text(v) for v in value) + b"]"
    return orjson.dumps(value)


@given(
    document=st.dictionaries(st.sampled_from(["a", "b", "c"]), _VALUE, min_size=3),
    reads=st.lists(st.sampled_from(["$.a", "$.b", "$.c", "$"]), min_size=1, max_size=5),
)
def test_a_bounded_template_never_makes_more_than_its_bound(
    document: dict[str, Any], reads: list[str]
) -> None:
    template: dict[str, Any] = {f"k{i}.$": path for i, path in enumerate(reads)} | {"const": {"n": [1, 2]}}
    bound = member_copy_bound(template)
    assert bound is not None
    fixed, copies = bound
    text = _shortest_text(document)
    assert orjson.loads(text) == document
    out = compile_template(template)(document, CTX)
    assert len(orjson.dumps(out)) <= fixed + copies * REENCODED_GROWTH * len(text)
